//! `/admin/jobs`: the background job queue, newest first, optionally by status, a page at a
//! time; a failed job is retried from here. The filter, the page (its cursor) and the page size
//! are in the address (`?status=failed&cursor=…&limit=…`), so a reload, a shared link, Back and
//! Forward keep them.

use leptos::prelude::*;
use shared_types::{Job, JobPage, JobStatus};

use super::{admin_nav, encode, RequireAdmin};
use crate::api::{self, ApiError};
use crate::components::{date_time, dynamic, error_slot, set_title, ErrorBox, Loading};
use crate::router;

/// Jobs a page unless the address says `limit`.
const PAGE: &str = "25";

/// The page's own address for a filter, a page and a page size (the empty ones left out).
fn page_href(status: &str, cursor: Option<&str>, limit: Option<&str>) -> String {
    let mut query = Vec::new();
    if !status.is_empty() {
        query.push(format!("status={}", encode(status)));
    }
    if let Some(limit) = limit {
        query.push(format!("limit={}", encode(limit)));
    }
    if let Some(cursor) = cursor {
        query.push(format!("cursor={}", encode(cursor)));
    }
    if query.is_empty() {
        "/admin/jobs".to_owned()
    } else {
        format!("/admin/jobs?{}", query.join("&"))
    }
}

#[component]
pub fn Jobs() -> impl IntoView {
    set_title("Admin · Jobs");
    view! { <RequireAdmin><JobTable/></RequireAdmin> }
}

#[component]
fn JobTable() -> impl IntoView {
    let status = router::query_memo("status");
    let cursor = router::query_memo("cursor");
    let limit = router::query_memo("limit");
    let jobs = api::resource(move || {
        let mut path = format!(
            "/api/v1/admin/jobs?limit={}",
            encode(limit.get().as_deref().unwrap_or(PAGE))
        );
        if let Some(s) = status.get().filter(|s| !s.is_empty()) {
            path.push_str(&format!("&status={}", encode(&s)));
        }
        if let Some(c) = cursor.get() {
            path.push_str(&format!("&cursor={}", encode(&c)));
        }
        path
    });
    let (error, set_error) = signal(None::<ApiError>);
    let (notice, set_notice) = signal(None::<String>);
    // A new filter is a new address (Back returns to the last one), from its first page.
    let choose = move |ev: leptos::ev::Event| {
        set_notice.set(None);
        let chosen = event_target_value(&ev);
        router::navigate(
            &page_href(&chosen, None, limit.get_untracked().as_deref()),
            false,
        );
    };
    let retry = move |job: Job| {
        set_notice.set(None);
        leptos::task::spawn_local(async move {
            match api::post_empty::<Job>(&format!("/api/v1/admin/jobs/{}/retry", encode(&job.id)))
                .await
            {
                Ok(queued) => {
                    set_error.set(None);
                    set_notice.set(Some(format!(
                        "{} is queued again, with {} attempts.",
                        queued.kind, queued.max_attempts
                    )));
                    jobs.refetch();
                }
                Err(e) => set_error.set(Some(e)),
            }
        });
    };
    let selected =
        move |value: &'static str| move || status.with(|s| s.as_deref().unwrap_or("") == value);
    view! {
        <section>
            <h1>"Jobs"</h1>
            {admin_nav()}
            <div class="list-tools">
                <div class="field inline">
                    <label for="job-filter">"Status"</label>
                    <select id="job-filter" on:change=choose>
                        <option value="" prop:selected=selected("")>"All"</option>
                        {JobStatus::ALL.map(|s| {
                            let value = s.as_str();
                            view! { <option value=value prop:selected=selected(value)>{value}</option> }
                        }).collect_view()}
                    </select>
                </div>
                <button id="refresh-jobs" class="button small secondary" on:click=move |_| jobs.refetch()>"Refresh"</button>
            </div>
            {dynamic(move || match notice.get() {
                Some(m) => view! { <div class="notice saved" role="status" id="job-notice">{m}</div> }.into_any(),
                None => ().into_any(),
            })}
            {error_slot(error)}
            {dynamic(move || match api::parsed::<JobPage>(jobs.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(page)) => {
                    let (status, cursor, limit) = (
                        status.get_untracked().unwrap_or_default(),
                        cursor.get_untracked(),
                        limit.get_untracked(),
                    );
                    let newest = cursor.is_some().then(|| view! {
                        <a href=page_href(&status, None, limit.as_deref()) id="newest-jobs" class="button small secondary">"Newest"</a>
                    });
                    let older = page.next_cursor.as_deref().map(|next| view! {
                        <a href=page_href(&status, Some(next), limit.as_deref()) id="older-jobs" class="button small secondary">"Older jobs"</a>
                    });
                    let list = if page.items.is_empty() {
                        let text = if status.is_empty() { "No jobs.".to_owned() } else { format!("No {status} jobs.") };
                        view! { <p class="empty">{text}</p> }.into_any()
                    } else {
                        view! { <div class="table-wrap">{job_table(page.items, retry)}</div> }.into_any()
                    };
                    view! {
                        {list}
                        <nav class="pager" aria-label="Pages">{newest}{older}</nav>
                    }.into_any()
                }
            })}
        </section>
    }
}

fn job_table(items: Vec<Job>, retry: impl Fn(Job) + Copy + Send + 'static) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr><th>"Job"</th><th>"Status"</th><th>"Attempts"</th><th>"Runs at"</th><th>"Last error"</th><th><span class="visually-hidden">"Actions"</span></th></tr></thead>
            <tbody>
                {items.into_iter().map(|job| {
                    let failed = job.status == JobStatus::Failed;
                    let status = job.status.as_str();
                    let error_label = job.last_error.is_some().then_some("Last error");
                    let for_retry = job.clone();
                    view! {
                        <tr class="admin-job" data-job=job.id.clone() data-status=status>
                            <td class="cell-title"><code>{job.kind.clone()}</code></td>
                            <td data-label="Status"><span class=format!("status status-{status}")>{status}</span></td>
                            <td data-label="Attempts">{format!("{} of {}", job.attempts, job.max_attempts)}</td>
                            <td data-label="Runs at">{date_time(&job.run_at)}</td>
                            <td data-label=error_label class="cell-error">{job.last_error.clone()}</td>
                            <td class="row-actions">
                                {failed.then(|| view! {
                                    <button class="button small retry" on:click=move |_| retry(for_retry.clone())>"Retry"</button>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

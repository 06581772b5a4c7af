//! `/admin/customers`: the shop's customers, newest first, with their paid orders; a search by
//! part of the email (`?q=…`, in the address so a reload and Back keep it; `&limit=…` sets the
//! page size), "Load more" for the next page, and the list as CSV.

use leptos::prelude::*;
use shared_types::{Customer, CustomerPage};

use super::{admin_nav, encode, export_button, RequireAdmin};
use crate::api::{self, ApiError};
use crate::components::{date, dynamic, error_slot, set_title, ErrorBox, Loading};
use crate::router;

/// Customers a page unless the address says `limit`.
const PAGE: &str = "50";

fn list_path(q: &str, cursor: Option<&str>, limit: Option<String>) -> String {
    let mut path = format!(
        "/api/v1/admin/customers?limit={}",
        encode(limit.as_deref().unwrap_or(PAGE))
    );
    if !q.is_empty() {
        path.push_str(&format!("&q={}", encode(q)));
    }
    if let Some(c) = cursor {
        path.push_str(&format!("&cursor={}", encode(c)));
    }
    path
}

#[component]
pub fn Customers() -> impl IntoView {
    set_title("Admin · Customers");
    view! { <RequireAdmin><CustomerList/></RequireAdmin> }
}

#[component]
fn CustomerList() -> impl IntoView {
    let q = router::query_memo("q");
    let limit = router::query_memo("limit");
    let search = move || q.get().unwrap_or_default();
    let first = api::resource(move || list_path(&search(), None, limit.get()));
    // The pages loaded after the first (their customers, and the cursor after the last), for
    // the search shown: a new search starts from its first page.
    let more = RwSignal::new(None::<(Vec<Customer>, Option<String>)>);
    Effect::new(move |_| {
        q.track();
        limit.track();
        more.set(None);
    });
    let (error, set_error) = signal(None::<ApiError>);
    let (busy, set_busy) = signal(false);
    let typed = RwSignal::new(q.get_untracked().unwrap_or_default());
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let wanted = typed.get_untracked().trim().to_owned();
        let href = if wanted.is_empty() {
            "/admin/customers".to_owned()
        } else {
            format!("/admin/customers?q={}", encode(&wanted))
        };
        router::navigate(&href, false);
    };
    // Back and Forward change the search: the box says it.
    Effect::new(move |_| typed.set(q.get().unwrap_or_default()));
    let load_more = move |cursor: String| {
        set_busy.set(true);
        let path = list_path(
            &q.get_untracked().unwrap_or_default(),
            Some(&cursor),
            limit.get_untracked(),
        );
        leptos::task::spawn_local(async move {
            match api::get::<CustomerPage>(&path).await {
                Ok(page) => {
                    set_error.set(None);
                    more.update(|m| {
                        let items = match m.take() {
                            Some((mut items, _)) => {
                                items.extend(page.items);
                                items
                            }
                            None => page.items,
                        };
                        *m = Some((items, page.next_cursor));
                    });
                }
                Err(e) => set_error.set(Some(e)),
            }
            set_busy.set(false);
        });
    };
    view! {
        <section>
            <h1>"Customers"</h1>
            {admin_nav()}
            <div class="list-tools">
                <form class="search" role="search" on:submit=submit>
                    <label for="customer-q" class="visually-hidden">"Search by email"</label>
                    <input id="customer-q" type="search" placeholder="Search by email" autocomplete="off"
                        prop:value=typed on:input=move |ev| typed.set(event_target_value(&ev))/>
                    <button type="submit" class="button small secondary" id="customer-search">"Search"</button>
                </form>
                {export_button("export-customers", move || {
                    let q = q.get_untracked().unwrap_or_default();
                    if q.is_empty() {
                        "/api/v1/admin/customers.csv".to_owned()
                    } else {
                        format!("/api/v1/admin/customers.csv?q={}", encode(&q))
                    }
                }, "customers.csv")}
            </div>
            {error_slot(error)}
            {dynamic(move || match api::parsed::<CustomerPage>(first.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(page)) => {
                    let (mut items, mut next) = (page.items, page.next_cursor);
                    if let Some((extra, after)) = more.get() {
                        items.extend(extra);
                        next = after;
                    }
                    if items.is_empty() {
                        let q = search();
                        let text = if q.is_empty() { "No customers yet.".to_owned() } else { format!("No customer’s email contains “{q}”.") };
                        return view! { <p class="empty" id="no-customers">{text}</p> }.into_any();
                    }
                    let button = next.map(|cursor| view! {
                        <button type="button" id="load-more-customers" class="button small secondary"
                            disabled=move || busy.get() on:click=move |_| load_more(cursor.clone())>"Load more"</button>
                    });
                    view! {
                        <div class="table-wrap">{customer_table(items)}</div>
                        <nav class="pager" aria-label="Pages">{button}</nav>
                    }.into_any()
                }
            })}
        </section>
    }
}

fn customer_table(items: Vec<Customer>) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr><th>"Email"</th><th>"Joined"</th><th>"Paid orders"</th><th>"Last paid"</th></tr></thead>
            <tbody>
                {items.into_iter().map(|c| {
                    let unverified = (!c.email_verified).then(|| view! { <span class="row-note">"Email not confirmed"</span> });
                    view! {
                        <tr class="admin-customer" data-id=c.id.to_string() data-email=c.email.clone()>
                            <td class="cell-title"><span class="cell-stack"><span class="customer-email">{c.email.clone()}</span>{unverified}</span></td>
                            <td data-label="Joined">{date(&c.created_at)}</td>
                            <td data-label="Paid orders" class="customer-orders">{c.paid_orders}</td>
                            <td data-label="Last paid">{c.last_paid_at.as_ref().map(date).unwrap_or_else(|| "—".to_owned())}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

//! Outbound webhooks: `/admin/webhooks` lists the endpoints Folio posts events to (each with
//! its events, whether it is on and why not, and since when its deliveries fail), turns one on
//! or off, rotates its signing secret (the old one keeps signing for a day), deletes it, and
//! makes a new one; a secret is shown once, when made. `/admin/webhooks/{id}` lists an
//! endpoint's delivery attempts, newest first, a page at a time (`?cursor=…`, in the address),
//! with what was sent and answered, and sends an event again.

use leptos::prelude::*;
use shared_types::{
    DeliveryOutcome, WebhookDelivery, WebhookDeliveryPage, WebhookEndpoint, WebhookEndpointList,
    WebhookEndpointRequest, WebhookEventType, WebhookSecret, MAX_KEY_NAME, MAX_WEBHOOK_URL,
};

use super::api_keys::scroll_to_top;
use super::{
    admin_nav, clear_message, encode, field_message, problems_of, secret_once, show_refusal,
};
use super::{Problems, RequireAdmin, Secret};
use crate::api::{self, ApiError};
use crate::components::{
    date_time, dynamic, error_slot, form_error_slot, set_title, text, ErrorBox, FieldMessage,
    Loading,
};
use crate::router;
use wasm_bindgen::JsValue;

const HOOKS: &str = "/api/v1/admin/webhooks";

fn events_text(events: &[WebhookEventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The endpoint as a request that writes it again, on or off.
fn request_of(endpoint: &WebhookEndpoint, enabled: bool) -> WebhookEndpointRequest {
    WebhookEndpointRequest {
        url: endpoint.url.clone(),
        description: endpoint.description.clone(),
        events: endpoint.events.clone(),
        enabled,
    }
}

fn confirm(question: &str) -> bool {
    window().confirm_with_message(question).unwrap_or(false)
}

#[component]
pub fn Webhooks() -> impl IntoView {
    set_title("Admin · Webhooks");
    view! { <RequireAdmin><HooksPage/></RequireAdmin> }
}

#[component]
fn HooksPage() -> impl IntoView {
    let hooks = api::resource(|| HOOKS.to_owned());
    let (error, set_error) = signal(None::<ApiError>);
    let (notice, set_notice) = signal(None::<String>);
    let secret = RwSignal::new(None::<Secret>);
    let busy = RwSignal::new(false);
    // Each action: its call, then the list again (or the server's refusal above it).
    let act = move |call: std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<String, ApiError>>>,
    >| {
        set_error.set(None);
        set_notice.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            match call.await {
                Ok(said) => {
                    set_notice.set(Some(said));
                    hooks.refetch();
                }
                Err(e) => set_error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let toggle = move |hook: WebhookEndpoint| {
        let on = !hook.enabled;
        act(Box::pin(async move {
            let saved: WebhookEndpoint =
                api::put(&format!("{HOOKS}/{}", hook.id), &request_of(&hook, on)).await?;
            Ok(if saved.enabled {
                format!("{} is on: it receives its events again.", saved.url)
            } else {
                format!("{} is off: nothing is sent to it.", saved.url)
            })
        }));
    };
    let rotate = move |hook: WebhookEndpoint| {
        if !confirm(&format!(
            "Make a new signing secret for {}? The old one keeps signing for 24 hours, beside the new one.",
            hook.url
        )) {
            return;
        }
        act(Box::pin(async move {
            let rotated: WebhookSecret =
                api::post_empty(&format!("{HOOKS}/{}/rotate-secret", hook.id)).await?;
            let until = rotated
                .endpoint
                .previous_secret_expires_at
                .as_ref()
                .map(|t| format!(" The old secret keeps signing until {}.", date_time(t)))
                .unwrap_or_default();
            secret.set(Some(Secret {
                what: format!("The new signing secret of {}.{until}", rotated.endpoint.url),
                value: rotated.secret,
            }));
            scroll_to_top();
            Ok(format!("{}’s secret is rotated.", rotated.endpoint.url))
        }));
    };
    let remove = move |hook: WebhookEndpoint| {
        if !confirm(&format!(
            "Delete the endpoint {}? Nothing more is sent to it, and its delivery history goes too.",
            hook.url
        )) {
            return;
        }
        act(Box::pin(async move {
            api::delete(&format!("{HOOKS}/{}", hook.id)).await?;
            Ok(format!("{} is deleted.", hook.url))
        }));
    };
    view! {
        <section>
            <h1>"Webhooks"</h1>
            {admin_nav()}
            <p class="hint page-hint">"Folio posts each event it is told to send to the endpoint as JSON, signed with the endpoint’s secret in the "<code>"Folio-Signature"</code>" header. Failed deliveries are tried again; after three days of failures the endpoint is turned off."</p>
            {secret_once(secret)}
            {dynamic(move || match notice.get() {
                Some(m) => view! { <div class="notice saved" role="status" id="webhook-notice">{m}</div> }.into_any(),
                None => ().into_any(),
            })}
            {error_slot(error)}
            {dynamic(move || match api::parsed::<WebhookEndpointList>(hooks.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(list)) if list.items.is_empty() => view! { <p class="empty" id="no-webhooks">"No webhook endpoints yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap">{hook_table(list.items, busy, toggle, rotate, remove)}</div>
                }.into_any(),
            })}
        </section>
        <HookForm hooks=hooks secret=secret/>
    }
}

fn hook_table(
    items: Vec<WebhookEndpoint>,
    busy: RwSignal<bool>,
    toggle: impl Fn(WebhookEndpoint) + Copy + Send + 'static,
    rotate: impl Fn(WebhookEndpoint) + Copy + Send + 'static,
    remove: impl Fn(WebhookEndpoint) + Copy + Send + 'static,
) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr>
                <th>"Endpoint"</th><th>"Events"</th><th>"Status"</th><th>"Failing since"</th>
                <th><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {items.into_iter().map(|hook| {
                    let state = if hook.enabled { "enabled" } else { "disabled" };
                    let reason = hook.disabled_reason.clone().filter(|_| !hook.enabled)
                        .map(|r| view! { <span class="row-note hook-reason">{r}</span> });
                    let description = (!hook.description.is_empty())
                        .then(|| view! { <span class="row-note">{hook.description.clone()}</span> });
                    let (t, r, d) = (hook.clone(), hook.clone(), hook.clone());
                    view! {
                        <tr class="webhook" data-id=hook.id.to_string() data-url=hook.url.clone() data-enabled=hook.enabled.to_string()>
                            <td class="cell-title cell-url">
                                <span class="cell-stack">
                                    <a href=format!("/admin/webhooks/{}", encode(hook.id.as_ref()))>{hook.url.clone()}</a>
                                    {description}
                                </span>
                            </td>
                            <td data-label="Events" class="hook-events">{events_text(&hook.events)}</td>
                            <td data-label="Status">
                                <span class="amount-stack">
                                    <span class=format!("status status-{state}")>{state}</span>
                                    {reason}
                                </span>
                            </td>
                            <td data-label="Failing since" class="hook-failing">{hook.failing_since.as_ref().map(date_time).unwrap_or_else(|| "—".to_owned())}</td>
                            <td class="row-actions">
                                <a href=format!("/admin/webhooks/{}", encode(hook.id.as_ref())) class="button small secondary hook-deliveries">"Deliveries"</a>
                                <button type="button" class="button small secondary toggle-hook" disabled=move || busy.get()
                                    on:click=move |_| toggle(t.clone())>{if hook.enabled { "Disable" } else { "Enable" }}</button>
                                <button type="button" class="button small secondary rotate-hook" disabled=move || busy.get()
                                    on:click=move |_| rotate(r.clone())>"Rotate secret"</button>
                                <button type="button" class="button small danger delete-hook" disabled=move || busy.get()
                                    on:click=move |_| remove(d.clone())>"Delete"</button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn HookForm(hooks: api::Resource, secret: RwSignal<Option<Secret>>) -> impl IntoView {
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let events = RwSignal::new(Vec::<WebhookEventType>::new());
    let errors: Problems = RwSignal::new(Vec::new());
    let (form_error, set_form_error) = signal(None::<String>);
    let busy = RwSignal::new(false);
    let message = move |field: &'static str| field_message(errors, field);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_form_error.set(None);
        let request = WebhookEndpointRequest {
            url: url.get_untracked(),
            description: description.get_untracked(),
            events: events.get_untracked(),
            enabled: true,
        };
        if let Err(found) = request.check() {
            errors.set(problems_of(found));
            return;
        }
        errors.set(Vec::new());
        busy.set(true);
        leptos::task::spawn_local(async move {
            match api::post::<_, WebhookSecret>(HOOKS, &request).await {
                Ok(made) => {
                    secret.set(Some(Secret {
                        what: format!(
                            "Folio now posts to {}. Check each delivery’s signature with this secret.",
                            made.endpoint.url
                        ),
                        value: made.secret,
                    }));
                    url.set(String::new());
                    description.set(String::new());
                    events.set(Vec::new());
                    hooks.refetch();
                    scroll_to_top();
                }
                Err(e) => show_refusal(e, errors, set_form_error),
            }
            busy.set(false);
        });
    };
    view! {
        <section class="card form-card" id="new-webhook">
            <h2>"New endpoint"</h2>
            <form class="form" on:submit=submit novalidate>
                <div class="field">
                    <label for="url">"URL"</label>
                    <input id="url" name="url" type="url" inputmode="url" maxlength=MAX_WEBHOOK_URL.to_string() autocomplete="off"
                        placeholder="https://example.com/folio-events" aria-describedby="url-error"
                        prop:value=url on:input=move |ev| {
                            url.set(event_target_value(&ev));
                            clear_message(errors, "url");
                        }/>
                    <FieldMessage field="url" message=message("url")/>
                </div>
                <div class="field">
                    <label for="description">"Description"</label>
                    <input id="description" name="description" maxlength=MAX_KEY_NAME.to_string() autocomplete="off"
                        aria-describedby="description-error" placeholder="Optional"
                        prop:value=description on:input=move |ev| {
                            description.set(event_target_value(&ev));
                            clear_message(errors, "description");
                        }/>
                    <FieldMessage field="description" message=message("description")/>
                </div>
                <fieldset class="delivery-fields" id="events" aria-describedby="events-error">
                    <legend>"Events"</legend>
                    <div class="event-choices">
                        {WebhookEventType::ALL.map(|event| {
                            let id = format!("event-{}", event.as_str().replace(['.', '_'], "-"));
                            view! {
                                <label class="check">
                                    <input type="checkbox" class="event" id=id value=event.as_str()
                                        prop:checked=move || events.with(|s| s.contains(&event))
                                        on:change=move |ev| {
                                            let on = event_target_checked(&ev);
                                            events.update(|s| {
                                                s.retain(|x| *x != event);
                                                if on {
                                                    s.push(event);
                                                }
                                            });
                                            clear_message(errors, "events");
                                        }/>
                                    <code>{event.as_str()}</code>
                                </label>
                            }
                        }).collect_view()}
                    </div>
                </fieldset>
                <FieldMessage field="events" message=message("events")/>
                {form_error_slot(form_error)}
                <div class="inline-form">
                    <button id="create-webhook" class="button primary" type="submit" disabled=move || busy.get()>
                        {text(move || if busy.get() { "Adding…" } else { "Add endpoint" })}
                    </button>
                </div>
            </form>
        </section>
    }
}

#[component]
pub fn Deliveries() -> impl IntoView {
    set_title("Admin · Webhook deliveries");
    view! { <RequireAdmin><DeliveryList/></RequireAdmin> }
}

/// Deliveries a page.
const PAGE: usize = 25;

fn deliveries_href(id: &str, cursor: Option<&str>) -> String {
    match cursor {
        Some(c) => format!("/admin/webhooks/{}?cursor={}", encode(id), encode(c)),
        None => format!("/admin/webhooks/{}", encode(id)),
    }
}

#[component]
fn DeliveryList() -> impl IntoView {
    let id = router::param("/admin/webhooks/", "");
    let cursor = router::query_memo("cursor");
    let hook = api::resource(move || format!("{HOOKS}/{}", encode(&id.get())));
    let deliveries = api::resource(move || {
        let mut path = format!("{HOOKS}/{}/deliveries?limit={PAGE}", encode(&id.get()));
        if let Some(c) = cursor.get() {
            path.push_str(&format!("&cursor={}", encode(&c)));
        }
        path
    });
    let (error, set_error) = signal(None::<ApiError>);
    let (notice, set_notice) = signal(None::<String>);
    let redeliver = move |d: WebhookDelivery| {
        set_error.set(None);
        set_notice.set(None);
        let endpoint = id.get_untracked();
        leptos::task::spawn_local(async move {
            let path = format!(
                "{HOOKS}/{}/deliveries/{}/redeliver",
                encode(&endpoint),
                encode(&d.id)
            );
            match api::post_no_content(&path).await {
                Ok(()) => {
                    set_notice.set(Some(format!(
                        "{} ({}) is queued to be sent again.",
                        d.event_type.as_str(),
                        d.event_id
                    )));
                    deliveries.refetch();
                }
                Err(e) => set_error.set(Some(e)),
            }
        });
    };
    let endpoint = move || match api::parsed::<WebhookEndpoint>(hook.get()) {
        Some(Ok(h)) => {
            let state = if h.enabled { "enabled" } else { "disabled" };
            view! {
                <p class="hook-head" id="webhook-url">
                    <code>{h.url.clone()}</code>" "
                    <span class=format!("status status-{state}")>{state}</span>
                    <span class="row-note">{events_text(&h.events)}</span>
                </p>
            }
            .into_any()
        }
        _ => ().into_any(),
    };
    view! {
        <section>
            <h1>"Webhook deliveries"</h1>
            {admin_nav()}
            <div class="list-tools">
                {dynamic(endpoint)}
                <div class="inline-form">
                    <a href="/admin/webhooks" class="button small secondary" id="all-webhooks">"All endpoints"</a>
                    <button type="button" id="refresh-deliveries" class="button small secondary" on:click=move |_| deliveries.refetch()>"Refresh"</button>
                </div>
            </div>
            {dynamic(move || match notice.get() {
                Some(m) => view! { <div class="notice saved" role="status" id="delivery-notice">{m}</div> }.into_any(),
                None => ().into_any(),
            })}
            {error_slot(error)}
            {dynamic(move || match api::parsed::<WebhookDeliveryPage>(deliveries.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(page)) => {
                    let here = id.get_untracked();
                    let newest = cursor.get_untracked().is_some().then(|| view! {
                        <a href=deliveries_href(&here, None) id="newest-deliveries" class="button small secondary">"Newest"</a>
                    });
                    let older = page.next_cursor.as_deref().map(|next| view! {
                        <a href=deliveries_href(&here, Some(next)) id="older-deliveries" class="button small secondary">"Older deliveries"</a>
                    });
                    let list = if page.items.is_empty() {
                        view! { <p class="empty" id="no-deliveries">"Nothing has been sent to this endpoint yet."</p> }.into_any()
                    } else {
                        view! { <div class="table-wrap">{delivery_table(page.items, redeliver)}</div> }.into_any()
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

/// An excerpt as written, or indented when it is whole JSON (the browser's parser does it).
fn readable(excerpt: &str) -> String {
    js_sys::JSON::parse(excerpt)
        .ok()
        .filter(|v| v.is_object() || v.is_array())
        .and_then(|v| {
            js_sys::JSON::stringify_with_replacer_and_space(&v, &JsValue::NULL, &2.into()).ok()
        })
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| excerpt.to_owned())
}

fn outcome_word(o: DeliveryOutcome) -> &'static str {
    match o {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::Failed => "failed",
        DeliveryOutcome::Refused => "refused",
    }
}

fn delivery_table(
    items: Vec<WebhookDelivery>,
    redeliver: impl Fn(WebhookDelivery) + Copy + Send + 'static,
) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr>
                <th>"Event"</th><th>"Attempt"</th><th>"Outcome"</th><th>"HTTP"</th><th>"Took"</th><th>"Sent"</th>
                <th><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {items.into_iter().map(|d| {
                    let outcome = outcome_word(d.outcome);
                    let again = d.clone();
                    view! {
                        <tr class="delivery" data-id=d.id.clone() data-event=d.event_id.clone() data-outcome=outcome>
                            <td class="cell-title"><code>{d.event_type.as_str()}</code></td>
                            <td data-label="Attempt">{d.attempt}</td>
                            <td data-label="Outcome"><span class=format!("status status-{outcome}")>{outcome}</span></td>
                            <td data-label="HTTP">{d.response_status.map_or_else(|| "—".to_owned(), |s| s.to_string())}</td>
                            <td data-label="Took">{format!("{} ms", d.duration_ms)}</td>
                            <td data-label="Sent">{date_time(&d.created_at)}</td>
                            <td class="row-actions">
                                <button type="button" class="button small secondary redeliver" on:click=move |_| redeliver(again.clone())>"Redeliver"</button>
                            </td>
                        </tr>
                        <tr class="delivery-detail" data-id=d.id.clone()>
                            <td colspan="7" class="cell-detail">
                                <details>
                                    <summary>{format!("Request and response of {}", d.event_id)}</summary>
                                    <div class="excerpts">
                                        <div><h3>"Sent"</h3><pre class="excerpt request-excerpt">{readable(&d.request_excerpt)}</pre></div>
                                        <div><h3>"Answered"</h3><pre class="excerpt response-excerpt">{readable(&d.response_excerpt)}</pre></div>
                                    </div>
                                </details>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

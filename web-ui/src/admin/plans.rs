//! Membership plans and their members: `/admin/plans` lists the plans (price per interval, what
//! each unlocks, its members now) with activate, deactivate and delete; `/admin/plans/new` and
//! `/admin/plans/{id}/edit` hold the form; `/admin/members` lists the subscriptions, newest
//! first, of every plan or one (`?plan_id=…`), a page at a time (`&cursor=…`): the filter and
//! the page are in the address, so a reload, Back and Forward keep them. A plan anyone has
//! subscribed to cannot be deleted (`plan_in_use`): the list offers to deactivate it instead,
//! and its interval and currency stay (`plan_billing_fixed`).

use std::cell::RefCell;

use leptos::prelude::*;
use shared_types::{
    BillingInterval, ClientConfig, Currency, Membership, MembershipPage, Plan, PlanList,
    PlanRequest, ProductId,
};

use super::{
    admin_nav, encode, field_message, show_refusal, Problems, ProductPicker, RequireAdmin,
};
use crate::api::{self, ApiError};
use crate::components::{
    date, decimal, dynamic, error_slot, form_error_slot, set_title, text, when, ErrorBox,
    FieldMessage, Loading,
};
use crate::pages::membership::{per_interval, status_words};
use crate::router;

const PLANS: &str = "/api/v1/admin/plans";

thread_local! {
    /// What the list says once the form has saved (and sent the admin back to it).
    static SAVED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// "Every product", or the products' titles.
fn unlocks(plan: &Plan) -> String {
    if plan.all_products {
        return "Every product, and those added later".to_owned();
    }
    plan.products
        .iter()
        .map(|p| p.title.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The plan as a request that writes it again unchanged (a PUT replaces the whole plan).
fn request_of(plan: &Plan) -> PlanRequest {
    PlanRequest {
        name: plan.name.clone(),
        description: plan.description.clone(),
        interval: Some(plan.interval),
        price: decimal(plan.price.amount_cents),
        currency: Some(plan.price.currency),
        all_products: plan.all_products,
        product_ids: (!plan.all_products)
            .then(|| plan.products.iter().map(|p| p.id.clone()).collect()),
        active: Some(plan.active),
    }
}

#[component]
pub fn Plans() -> impl IntoView {
    set_title("Admin · Plans");
    view! { <RequireAdmin><PlanTable/></RequireAdmin> }
}

#[component]
fn PlanTable() -> impl IntoView {
    let plans = api::resource(|| PLANS.to_owned());
    let (error, set_error) = signal(None::<ApiError>);
    let (notice, set_notice) = signal(SAVED.with(|s| s.borrow_mut().take()));
    // A plan members have, which could not be deleted, and the server's words.
    let in_use = RwSignal::new(None::<(Plan, String)>);
    let busy = RwSignal::new(false);
    let set_active = move |plan: Plan, active: bool| {
        set_error.set(None);
        set_notice.set(None);
        in_use.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let body = PlanRequest {
                active: Some(active),
                ..request_of(&plan)
            };
            match api::put::<_, Plan>(&format!("{PLANS}/{}", plan.id), &body).await {
                Ok(saved) => {
                    set_notice.set(Some(if saved.active {
                        format!("{} is active: shoppers may subscribe.", saved.name)
                    } else {
                        format!(
                            "{} is deactivated: nobody new can subscribe; its members keep it.",
                            saved.name
                        )
                    }));
                    plans.refetch();
                }
                Err(e) => set_error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let remove = move |plan: Plan| {
        let confirmed = window()
            .confirm_with_message(&format!(
                "Delete the plan {}? Shoppers can no longer subscribe to it.",
                plan.name
            ))
            .unwrap_or(false);
        if !confirmed {
            return;
        }
        set_error.set(None);
        set_notice.set(None);
        in_use.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            match api::delete(&format!("{PLANS}/{}", plan.id)).await {
                Ok(()) => {
                    set_notice.set(Some(format!("{} is deleted.", plan.name)));
                    plans.refetch();
                }
                Err(e) if e.code == "plan_in_use" => in_use.set(Some((plan, e.message))),
                Err(e) => set_error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <section>
            <h1>"Membership plans"</h1>
            {admin_nav()}
            <div class="list-tools">
                <p class="hint">"Members pay each month or year and download what their plan unlocks while it lasts. Shoppers see the active plans on the Membership page."</p>
                <a href="/admin/plans/new" id="new-plan" class="button small">"New plan"</a>
            </div>
            {dynamic(move || match notice.get() {
                Some(m) => view! { <div class="notice saved" role="status" id="plan-notice">{m}</div> }.into_any(),
                None => ().into_any(),
            })}
            {dynamic(move || match in_use.get() {
                Some((plan, message)) => {
                    let offer = plan.active.then(|| {
                        let label = format!("Deactivate {}", plan.name);
                        view! {
                            <button type="button" id="deactivate-instead" class="button small"
                                disabled=move || busy.get() on:click=move |_| set_active(plan.clone(), false)>{label}</button>
                        }
                    });
                    view! {
                        <div class="error-box" role="alert" id="plan-in-use">
                            <p>{message}</p>
                            {offer}
                        </div>
                    }.into_any()
                }
                None => ().into_any(),
            })}
            {error_slot(error)}
            {dynamic(move || match api::parsed::<PlanList>(plans.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(list)) if list.items.is_empty() => view! { <p class="empty">"No membership plans yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap">{plan_table(list.items, busy, set_active, remove)}</div>
                }.into_any(),
            })}
        </section>
    }
}

fn plan_table(
    items: Vec<Plan>,
    busy: RwSignal<bool>,
    set_active: impl Fn(Plan, bool) + Copy + Send + 'static,
    remove: impl Fn(Plan) + Copy + Send + 'static,
) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr>
                <th>"Plan"</th><th>"Price"</th><th>"Unlocks"</th><th>"Members"</th><th>"Status"</th>
                <th><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {items.into_iter().map(|plan| {
                    let active = plan.active;
                    let state = if active { "active" } else { "inactive" };
                    let (for_toggle, for_remove) = (plan.clone(), plan.clone());
                    view! {
                        <tr class="admin-plan" data-id=plan.id.to_string() data-name=plan.name.clone() data-active=active.to_string()>
                            <td class="cell-title">{plan.name.clone()}</td>
                            <td data-label="Price" class="plan-price">{per_interval(&plan.price, plan.interval)}</td>
                            <td data-label="Unlocks" class="plan-unlocks">{unlocks(&plan)}</td>
                            <td data-label="Members" class="plan-members">{plan.members.unwrap_or(0)}</td>
                            <td data-label="Status"><span class=format!("status status-{state}")>{state}</span></td>
                            <td class="row-actions">
                                <a href=format!("/admin/plans/{}/edit", plan.id) class="button small secondary edit-plan">"Edit"</a>
                                <a href=members_href(plan.id.as_ref(), None) class="button small secondary plan-members-link">"Members"</a>
                                <button type="button" class="button small secondary toggle-plan" disabled=move || busy.get()
                                    on:click=move |_| set_active(for_toggle.clone(), !active)>
                                    {if active { "Deactivate" } else { "Activate" }}
                                </button>
                                <button type="button" class="button small danger delete-plan" disabled=move || busy.get()
                                    on:click=move |_| remove(for_remove.clone())>"Delete"</button>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
pub fn NewPlan() -> impl IntoView {
    set_title("Admin · New plan");
    view! { <RequireAdmin><PlanForm existing=None/></RequireAdmin> }
}

#[component]
pub fn EditPlan() -> impl IntoView {
    set_title("Admin · Edit plan");
    let id = router::param("/admin/plans/", "/edit");
    let plan = api::resource(move || format!("{PLANS}/{}", encode(&id.get())));
    view! {
        <RequireAdmin>
            {dynamic(move || match api::parsed::<Plan>(plan.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(p)) => view! { <PlanForm existing=Some(p)/> }.into_any(),
            })}
        </RequireAdmin>
    }
}

/// The request's problems keyed by its fields, by the rules the server applies
/// (`PlanRequest::check`): the messages are the server's.
fn check(request: &PlanRequest) -> Result<(), Vec<(String, String)>> {
    request
        .check()
        .map(drop)
        .map_err(|problems| problems.into_iter().map(|p| (p.field, p.message)).collect())
}

#[component]
fn PlanForm(existing: Option<Plan>) -> impl IntoView {
    let p = existing.as_ref();
    let name = RwSignal::new(p.map(|p| p.name.clone()).unwrap_or_default());
    let description = RwSignal::new(p.map(|p| p.description.clone()).unwrap_or_default());
    let yearly = RwSignal::new(p.is_some_and(|p| p.interval == BillingInterval::Year));
    let price = RwSignal::new(p.map(|p| decimal(p.price.amount_cents)).unwrap_or_default());
    let currency = RwSignal::new(
        p.map_or(Currency::default(), |p| p.price.currency)
            .code()
            .to_owned(),
    );
    let some_products = RwSignal::new(p.is_some_and(|p| !p.all_products));
    let products = RwSignal::new(
        p.map(|p| {
            p.products
                .iter()
                .map(|r| r.id.clone())
                .collect::<Vec<ProductId>>()
        })
        .unwrap_or_default(),
    );
    let active = RwSignal::new(p.is_none_or(|p| p.active));
    let errors: Problems = RwSignal::new(Vec::new());
    let (form_error, set_form_error) = signal(None::<String>);
    let busy = RwSignal::new(false);
    let id = p.map(|p| p.id.clone());
    let message = move |field: &'static str| field_message(errors, field);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_form_error.set(None);
        let request = PlanRequest {
            name: name.get_untracked().trim().to_owned(),
            description: description.get_untracked(),
            interval: Some(if yearly.get_untracked() {
                BillingInterval::Year
            } else {
                BillingInterval::Month
            }),
            price: price.get_untracked().trim().to_owned(),
            currency: currency.get_untracked().parse::<Currency>().ok(),
            all_products: !some_products.get_untracked(),
            product_ids: some_products
                .get_untracked()
                .then(|| products.get_untracked()),
            active: Some(active.get_untracked()),
        };
        if let Err(found) = check(&request) {
            errors.set(found);
            return;
        }
        errors.set(Vec::new());
        busy.set(true);
        let id = id.clone();
        leptos::task::spawn_local(async move {
            let saved = match &id {
                None => api::post::<_, Plan>(PLANS, &request).await,
                Some(id) => api::put::<_, Plan>(&format!("{PLANS}/{id}"), &request).await,
            };
            busy.set(false);
            match saved {
                Ok(plan) => {
                    SAVED.with(|s| *s.borrow_mut() = Some(format!("Saved {}.", plan.name)));
                    // The form is done with: Back returns to the page before it.
                    router::navigate("/admin/plans", true);
                }
                Err(e) => show_refusal(e, errors, set_form_error),
            }
        });
    };

    let heading = if existing.is_some() {
        "Edit plan"
    } else {
        "New plan"
    };
    let currencies = move || {
        Currency::ALL
            .into_iter()
            .map(|c| view! { <option value=c.code()>{c.code().to_ascii_uppercase()}</option> })
            .collect_view()
    };
    view! {
        <div class="edit-page">
        <section class="card">
            <h1>{heading}</h1>
            {admin_nav()}
            <form class="form plan-form" on:submit=submit novalidate>
                <div class="field">
                    <label for="name">"Name"</label>
                    <input id="name" name="name" required maxlength="120" autocomplete="off" aria-describedby="name-error"
                        prop:value=name on:input=move |ev| name.set(event_target_value(&ev))/>
                    <FieldMessage field="name" message=message("name")/>
                </div>
                <div class="field">
                    <label for="description">"Description"</label>
                    <textarea id="description" name="description" rows="4" maxlength="2000" aria-describedby="description-hint description-error"
                        prop:value=description on:input=move |ev| description.set(event_target_value(&ev))></textarea>
                    <p class="hint" id="description-hint">"What members get, in a sentence or two: the Membership page shows it."</p>
                    <FieldMessage field="description" message=message("description")/>
                </div>
                <fieldset class="delivery-fields">
                    <legend>"Billing"</legend>
                    <div class="choice-row" role="radiogroup" aria-label="Billed" aria-describedby="interval-error">
                        <label class="check">
                            <input type="radio" id="interval-month" name="interval" prop:checked=move || !yearly.get()
                                on:change=move |_| yearly.set(false)/>
                            "Each month"
                        </label>
                        <label class="check">
                            <input type="radio" id="interval-year" name="interval" prop:checked=move || yearly.get()
                                on:change=move |_| yearly.set(true)/>
                            "Each year"
                        </label>
                    </div>
                    <FieldMessage field="interval" message=message("interval")/>
                    <div class="field-row">
                        <div class="field">
                            <label for="price">"Price each time"</label>
                            <input id="price" name="price" inputmode="decimal" placeholder="9.99" aria-describedby="price-error"
                                prop:value=price on:input=move |ev| price.set(event_target_value(&ev))/>
                            <FieldMessage field="price" message=message("price")/>
                        </div>
                        <div class="field">
                            <label for="currency">"Currency"</label>
                            <select id="currency" aria-describedby="currency-error" prop:value=currency
                                on:change=move |ev| currency.set(event_target_value(&ev))>
                                {currencies()}
                            </select>
                            <FieldMessage field="currency" message=message("currency")/>
                        </div>
                    </div>
                    <p class="hint">"A new price applies to new members; members keep the price they subscribed at. Once anyone has subscribed, the interval and currency stay."</p>
                </fieldset>
                <fieldset class="delivery-fields">
                    <legend>"Unlocks"</legend>
                    <div class="choice-row">
                        <label class="check">
                            <input type="radio" id="unlocks-all" name="unlocks" prop:checked=move || !some_products.get()
                                on:change=move |_| some_products.set(false)/>
                            "Every product, and those added later"
                        </label>
                        <label class="check">
                            <input type="radio" id="unlocks-some" name="unlocks" prop:checked=move || some_products.get()
                                on:change=move |_| some_products.set(true)/>
                            "Only some products"
                        </label>
                    </div>
                    {when(move || some_products.get(), move || view! {
                        <ProductPicker selected=products field="product_ids" legend="Products it unlocks"/>
                        <p class="hint">"A bundle brings the products in it."</p>
                    }.into_any())}
                    <FieldMessage field="product_ids" message=message("product_ids")/>
                </fieldset>
                <label class="check">
                    <input id="active" type="checkbox" prop:checked=active on:change=move |ev| active.set(event_target_checked(&ev))/>
                    "Active: shoppers may subscribe (members of an inactive plan keep it)"
                </label>
                <FieldMessage field="active" message=message("active")/>
                {form_error_slot(form_error)}
                <div class="inline-form">
                    <button id="submit" class="button primary" type="submit" disabled=move || busy.get()>
                        {text(move || if busy.get() { "Saving…" } else { "Save plan" })}
                    </button>
                    <a href="/admin/plans" class="button secondary" id="cancel-plan">"Cancel"</a>
                </div>
            </form>
        </section>
        </div>
    }
}

#[component]
pub fn Members() -> impl IntoView {
    set_title("Admin · Members");
    view! { <RequireAdmin><MemberTable/></RequireAdmin> }
}

/// Members a page.
const PAGE: usize = 50;

/// The members page's own address for a plan (or all) and a page.
fn members_href(plan: &str, cursor: Option<&str>) -> String {
    let mut query = Vec::new();
    if !plan.is_empty() {
        query.push(format!("plan_id={}", encode(plan)));
    }
    if let Some(c) = cursor {
        query.push(format!("cursor={}", encode(c)));
    }
    if query.is_empty() {
        "/admin/members".to_owned()
    } else {
        format!("/admin/members?{}", query.join("&"))
    }
}

#[component]
fn MemberTable() -> impl IntoView {
    let plan = router::query_memo("plan_id");
    let cursor = router::query_memo("cursor");
    let plans = api::resource(|| PLANS.to_owned());
    let config = api::resource(|| "/api/v1/config".to_owned());
    let members = api::resource(move || {
        let mut path = format!("/api/v1/admin/members?limit={PAGE}");
        if let Some(p) = plan.get().filter(|p| !p.is_empty()) {
            path.push_str(&format!("&plan_id={}", encode(&p)));
        }
        if let Some(c) = cursor.get() {
            path.push_str(&format!("&cursor={}", encode(&c)));
        }
        path
    });
    // A new filter is a new address (Back returns to the last one), from its first page.
    let choose = move |ev: leptos::ev::Event| {
        router::navigate(&members_href(&event_target_value(&ev), None), false);
    };
    let chosen = move || plan.get().unwrap_or_default();
    let options = move || {
        match api::parsed::<PlanList>(plans.get()) {
            Some(Ok(list)) => list
                .items
                .into_iter()
                .map(|p| {
                    let value = p.id.to_string();
                    let is = value.clone();
                    view! { <option value=value prop:selected=move || chosen() == is>{p.name.clone()}</option> }
                })
                .collect_view()
                .into_any(),
            _ => ().into_any(),
        }
    };
    view! {
        <section>
            <h1>"Members"</h1>
            {admin_nav()}
            <div class="list-tools">
                <div class="field inline">
                    <label for="member-plan">"Plan"</label>
                    <select id="member-plan" on:change=choose>
                        <option value="" prop:selected=move || chosen().is_empty()>"All plans"</option>
                        {dynamic(options)}
                    </select>
                </div>
                <a href="/admin/plans" class="button small secondary" id="all-plans">"Plans"</a>
            </div>
            {dynamic(move || match api::parsed::<MembershipPage>(members.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(page)) => {
                    let (plan, cursor) = (plan.get_untracked().unwrap_or_default(), cursor.get_untracked());
                    let newest = cursor.is_some().then(|| view! {
                        <a href=members_href(&plan, None) id="newest-members" class="button small secondary">"Newest"</a>
                    });
                    let more = page.next_cursor.as_deref().map(|next| view! {
                        <a href=members_href(&plan, Some(next)) id="more-members" class="button small secondary">"More members"</a>
                    });
                    let list = if page.items.is_empty() {
                        view! { <p class="empty">"No members yet."</p> }.into_any()
                    } else {
                        let dashboard = match api::parsed::<ClientConfig>(config.get()) {
                            Some(Ok(c)) => c.stripe_dashboard_url,
                            _ => String::new(),
                        };
                        view! { <div class="table-wrap">{member_table(page.items, dashboard)}</div> }.into_any()
                    };
                    view! {
                        {list}
                        <nav class="pager" aria-label="Pages">{newest}{more}</nav>
                    }.into_any()
                }
            })}
        </section>
    }
}

/// "Until Jan 1, 2027", "Yes" (renewing), "No".
fn access_text(m: &Membership) -> String {
    match (&m.access_until, m.access) {
        (_, false) => "No".to_owned(),
        (Some(t), true) => format!("Until {}", date(t)),
        (None, true) => "Yes".to_owned(),
    }
}

/// The members, each with a link to its subscription in Stripe's dashboard (`dashboard`, from
/// the server's config; in development the emulator's pages, which can also move its clock).
fn member_table(items: Vec<Membership>, dashboard: String) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr>
                <th>"Member"</th><th>"Plan"</th><th>"Status"</th><th>"Access"</th><th>"Period ends"</th><th>"Since"</th>
                <th><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {items.into_iter().map(|m| {
                    let status = m.status.as_str();
                    let (_, words) = status_words(&m);
                    let stripe = m.stripe_id.as_ref().filter(|_| !dashboard.is_empty()).map(|id| view! {
                        <a href=format!("{}/subscriptions/{}", dashboard.trim_end_matches('/'), encode(id))
                            class="button small secondary stripe-link" target="_blank" rel="noopener external">
                            "In Stripe"<span class="visually-hidden">{format!(": {}’s subscription (opens in a new tab)", m.member_email.clone().unwrap_or_default())}</span>
                        </a>
                    });
                    view! {
                        <tr class="admin-member" data-id=m.id.to_string() data-status=status data-access=m.access.to_string()>
                            <td class="cell-title cell-email">{m.member_email.clone().unwrap_or_default()}</td>
                            <td data-label="Plan">{m.plan.name.clone()}</td>
                            <td data-label="Status">
                                <span class="amount-stack">
                                    <span class=format!("status status-{status}")>{status.replace('_', " ")}</span>
                                    <span class="row-note">{words}</span>
                                </span>
                            </td>
                            <td data-label="Access" class="member-access">{access_text(&m)}</td>
                            <td data-label="Period ends">{m.current_period_end.as_ref().map(date).unwrap_or_else(|| "—".to_owned())}</td>
                            <td data-label="Since">{date(&m.created_at)}</td>
                            <td class="row-actions">{stripe}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

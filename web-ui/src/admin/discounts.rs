//! Discount codes: `/admin/discounts` lists them (what each takes off, its window, caps and
//! redemptions) with activate, deactivate and delete; `/admin/discounts/new` and
//! `/admin/discounts/{id}/edit` hold the form; `/admin/discounts/{id}/redemptions` lists the
//! orders that used a code, a page at a time (`?cursor=…` in the address, so a reload, Back and
//! Forward keep it). A code that orders used cannot be deleted (`discount_in_use`): the list
//! offers to deactivate it instead.

use std::cell::RefCell;

use leptos::prelude::*;
use shared_types::{Currency, Discount, DiscountList, DiscountRequest, OrderPage, ProductId};

use super::{
    admin_nav, encode, field_message, show_refusal, Problems, ProductPicker, RequireAdmin,
};
use crate::api::{self, ApiError};
use crate::components::{
    date, date_time, decimal, dynamic, error_slot, form_error_slot, is_past, set_title, text, when,
    ErrorBox, FieldMessage, Loading,
};
use crate::router;

const DISCOUNTS: &str = "/api/v1/admin/discounts";

thread_local! {
    /// What the list says once a form has saved (and sent the admin back to it).
    static SAVED: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// "25% off", "$5.00 off".
fn takes_off(d: &Discount) -> String {
    match (d.percent_off, &d.amount_off) {
        (Some(p), _) => format!("{p}% off"),
        (None, Some(m)) => format!("{} off", m.display),
        (None, None) => "—".to_owned(),
    }
}

/// When a code may be used, and whether that time has not come or is over.
fn window_text(d: &Discount) -> String {
    let span = match (&d.starts_at, &d.ends_at) {
        (None, None) => return "Any time".to_owned(),
        (Some(s), None) => format!("From {}", date(s)),
        (None, Some(e)) => format!("Until {}", date(e)),
        (Some(s), Some(e)) => format!("{} – {}", date(s), date(e)),
    };
    if d.ends_at.as_ref().is_some_and(is_past) {
        format!("{span} (ended)")
    } else if d.starts_at.as_ref().is_some_and(|s| !is_past(s)) {
        format!("{span} (not started)")
    } else {
        span
    }
}

/// "3 / 10" with a cap, else the redemptions alone.
fn uses_text(d: &Discount) -> String {
    match d.max_redemptions {
        Some(cap) => format!("{} / {cap}", d.redemptions),
        None => d.redemptions.to_string(),
    }
}

fn applies_text(d: &Discount) -> String {
    match &d.products {
        None => "All products".to_owned(),
        Some(list) => list
            .iter()
            .map(|p| p.title.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    }
}

/// The discount as a request that writes it again unchanged (a PUT replaces the whole code).
fn request_of(d: &Discount) -> DiscountRequest {
    DiscountRequest {
        code: d.code.clone(),
        percent_off: d.percent_off,
        amount_off: d.amount_off.as_ref().map(|m| decimal(m.amount_cents)),
        currency: d.amount_off.as_ref().map(|m| m.currency),
        starts_at: d.starts_at.clone(),
        ends_at: d.ends_at.clone(),
        max_redemptions: d.max_redemptions,
        max_per_customer: d.max_per_customer,
        product_ids: d
            .products
            .as_ref()
            .map(|list| list.iter().map(|p| p.id.clone()).collect()),
        active: Some(d.active),
    }
}

#[component]
pub fn Discounts() -> impl IntoView {
    set_title("Admin · Discounts");
    view! { <RequireAdmin><DiscountTable/></RequireAdmin> }
}

#[component]
fn DiscountTable() -> impl IntoView {
    let discounts = api::resource(|| DISCOUNTS.to_owned());
    let (error, set_error) = signal(None::<ApiError>);
    let (notice, set_notice) = signal(SAVED.with(|s| s.borrow_mut().take()));
    // A code that orders used, which could not be deleted, and the server's words.
    let in_use = RwSignal::new(None::<(Discount, String)>);
    let busy = RwSignal::new(false);
    let set_active = move |d: Discount, active: bool| {
        set_error.set(None);
        set_notice.set(None);
        in_use.set(None);
        busy.set(true);
        leptos::task::spawn_local(async move {
            let body = DiscountRequest {
                active: Some(active),
                ..request_of(&d)
            };
            match api::put::<_, Discount>(&format!("{DISCOUNTS}/{}", d.id), &body).await {
                Ok(saved) => {
                    set_notice.set(Some(if saved.active {
                        format!("{} is active: buyers may use it.", saved.code)
                    } else {
                        format!(
                            "{} is deactivated: buyers can no longer use it.",
                            saved.code
                        )
                    }));
                    discounts.refetch();
                }
                Err(e) => set_error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    let remove = move |d: Discount| {
        let confirmed = window()
            .confirm_with_message(&format!(
                "Delete the code {}? Buyers can no longer use it.",
                d.code
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
            match api::delete(&format!("{DISCOUNTS}/{}", d.id)).await {
                Ok(()) => {
                    set_notice.set(Some(format!("{} is deleted.", d.code)));
                    discounts.refetch();
                }
                Err(e) if e.code == "discount_in_use" => in_use.set(Some((d, e.message))),
                Err(e) => set_error.set(Some(e)),
            }
            busy.set(false);
        });
    };
    view! {
        <section>
            <h1>"Discount codes"</h1>
            {admin_nav()}
            <div class="list-tools">
                <p class="hint">"Codes buyers type on a product page for a fixed-price item. Redemptions count paid orders and open checkouts."</p>
                <a href="/admin/discounts/new" id="new-discount" class="button small">"New code"</a>
            </div>
            {dynamic(move || match notice.get() {
                Some(m) => view! { <div class="notice saved" role="status" id="discount-notice">{m}</div> }.into_any(),
                None => ().into_any(),
            })}
            {dynamic(move || match in_use.get() {
                Some((d, message)) => {
                    let offer = d.active.then(|| {
                        let label = format!("Deactivate {}", d.code);
                        view! {
                            <button type="button" id="deactivate-instead" class="button small"
                                disabled=move || busy.get() on:click=move |_| set_active(d.clone(), false)>{label}</button>
                        }
                    });
                    view! {
                        <div class="error-box" role="alert" id="discount-in-use">
                            <p>{message}</p>
                            {offer}
                        </div>
                    }.into_any()
                }
                None => ().into_any(),
            })}
            {error_slot(error)}
            {dynamic(move || match api::parsed::<DiscountList>(discounts.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(list)) if list.items.is_empty() => view! { <p class="empty">"No discount codes yet."</p> }.into_any(),
                Some(Ok(list)) => view! {
                    <div class="table-wrap">{discount_table(list.items, busy, set_active, remove)}</div>
                }.into_any(),
            })}
        </section>
    }
}

fn discount_table(
    items: Vec<Discount>,
    busy: RwSignal<bool>,
    set_active: impl Fn(Discount, bool) + Copy + Send + 'static,
    remove: impl Fn(Discount) + Copy + Send + 'static,
) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr>
                <th>"Code"</th><th>"Takes off"</th><th>"Applies to"</th><th>"Window"</th><th>"Uses"</th><th>"Per customer"</th><th>"Status"</th>
                <th><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {items.into_iter().map(|d| {
                    let (state, state_text) = if d.active { ("active", "active") } else { ("inactive", "inactive") };
                    let (for_toggle, for_remove) = (d.clone(), d.clone());
                    let active = d.active;
                    view! {
                        <tr class="admin-discount" data-code=d.code.clone() data-id=d.id.to_string() data-active=active.to_string()>
                            <td class="cell-title"><code>{d.code.clone()}</code></td>
                            <td data-label="Takes off" class="discount-off">{takes_off(&d)}</td>
                            <td data-label="Applies to" class="discount-products">{applies_text(&d)}</td>
                            <td data-label="Window" class="discount-window">{window_text(&d)}</td>
                            <td data-label="Uses" class="discount-uses">{uses_text(&d)}</td>
                            <td data-label="Per customer" class="discount-per-customer">{d.max_per_customer.map_or_else(|| "No cap".to_owned(), |n| n.to_string())}</td>
                            <td data-label="Status"><span class=format!("status status-{state}")>{state_text}</span></td>
                            <td class="row-actions">
                                <a href=format!("/admin/discounts/{}/edit", d.id) class="button small secondary edit-discount">"Edit"</a>
                                <a href=format!("/admin/discounts/{}/redemptions", d.id) class="button small secondary discount-orders">"Orders"</a>
                                <button type="button" class="button small secondary toggle-discount" disabled=move || busy.get()
                                    on:click=move |_| set_active(for_toggle.clone(), !active)>
                                    {if active { "Deactivate" } else { "Activate" }}
                                </button>
                                <button type="button" class="button small danger delete-discount" disabled=move || busy.get()
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
pub fn NewDiscount() -> impl IntoView {
    set_title("Admin · New discount code");
    view! { <RequireAdmin><DiscountForm existing=None/></RequireAdmin> }
}

#[component]
pub fn EditDiscount() -> impl IntoView {
    set_title("Admin · Edit discount code");
    let id = router::param("/admin/discounts/", "/edit");
    let discount = api::resource(move || format!("{DISCOUNTS}/{}", encode(&id.get())));
    view! {
        <RequireAdmin>
            {dynamic(move || match api::parsed::<Discount>(discount.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(d)) => view! { <DiscountForm existing=Some(d)/> }.into_any(),
            })}
        </RequireAdmin>
    }
}

/// A timestamp as a `datetime-local` field holds it, in the browser's time zone
/// (`2026-12-01T09:30`).
fn local_input(t: &impl std::fmt::Display) -> String {
    let when = js_sys::Date::new(&t.to_string().as_str().into());
    if when.get_time().is_nan() {
        return String::new();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}",
        when.get_full_year(),
        when.get_month() + 1,
        when.get_date(),
        when.get_hours(),
        when.get_minutes()
    )
}

/// A `datetime-local` field's value (the browser's time zone) as the instant it names, in
/// milliseconds and as RFC 3339 UTC text; `None` when empty.
fn instant(local: &str) -> Option<Result<(f64, String), String>> {
    let local = local.trim();
    if local.is_empty() {
        return None;
    }
    let when = js_sys::Date::new(&local.into());
    Some(if when.get_time().is_nan() {
        Err("enter a date and a time".to_owned())
    } else {
        Ok((when.get_time(), String::from(when.to_iso_string())))
    })
}

/// RFC 3339 text as the DTOs' timestamp type (the server's text on wasm).
fn timestamp<T: serde::de::DeserializeOwned>(rfc3339: String) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(rfc3339)).ok()
}

/// A cap as typed: empty is none; the range is the shared rules' to check.
fn parse_cap(raw: &str) -> Result<Option<i32>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse::<i32>()
        .map(Some)
        .map_err(|_| "a cap is a whole number from 1 to 1,000,000 (empty: no cap)".to_owned())
}

/// What the form holds, as typed.
struct Typed {
    code: String,
    by_amount: bool,
    percent: String,
    amount: String,
    currency: String,
    starts: String,
    ends: String,
    max_total: String,
    max_each: String,
    some_products: bool,
    products: Vec<ProductId>,
    active: bool,
}

/// The request the form makes, or its problems keyed by the request's fields: what the form
/// reads from its text here, then the rules the server applies (`DiscountRequest::check`), so
/// the messages are the server's.
fn check(t: Typed) -> Result<DiscountRequest, Vec<(String, String)>> {
    let mut found = Vec::new();
    let mut bad = |field: &str, message: String| found.push((field.to_owned(), message));
    let (mut percent_off, mut amount_off, mut currency) = (None, None, None);
    if t.by_amount {
        match t.currency.parse::<Currency>() {
            Ok(c) => currency = Some(c),
            Err(e) => bad("currency", e.message),
        }
        amount_off = Some(t.amount.trim().to_owned());
    } else {
        match t.percent.trim().parse::<i32>() {
            Ok(p) => percent_off = Some(p),
            Err(_) => bad(
                "percent_off",
                "percent off is a whole number from 1 to 100".into(),
            ),
        }
    }
    let mut at = |field: &str, raw: &str| match instant(raw) {
        None => None,
        Some(Ok(when)) => Some(when),
        Some(Err(m)) => {
            bad(field, m);
            None
        }
    };
    let starts = at("starts_at", &t.starts);
    let ends = at("ends_at", &t.ends);
    if let (Some((s, _)), Some((e, _))) = (&starts, &ends) {
        if e <= s {
            bad("ends_at", shared_types::forms::ENDS_BEFORE_START.into());
        }
    }
    let max_redemptions = parse_cap(&t.max_total)
        .map_err(|m| bad("max_redemptions", m))
        .unwrap_or(None);
    let max_per_customer = parse_cap(&t.max_each)
        .map_err(|m| bad("max_per_customer", m))
        .unwrap_or(None);
    let request = DiscountRequest {
        code: t.code.trim().to_owned(),
        percent_off,
        amount_off,
        currency,
        starts_at: starts.and_then(|(_, text)| timestamp(text)),
        ends_at: ends.and_then(|(_, text)| timestamp(text)),
        max_redemptions,
        max_per_customer,
        product_ids: t.some_products.then_some(t.products),
        active: Some(t.active),
    };
    if let Err(problems) = request.check() {
        for p in problems {
            // A field the form could not read already has its message.
            if !found.iter().any(|(f, _)| *f == p.field) {
                found.push((p.field, p.message));
            }
        }
    }
    if found.is_empty() {
        Ok(request)
    } else {
        Err(found)
    }
}

#[component]
fn DiscountForm(existing: Option<Discount>) -> impl IntoView {
    let d = existing.as_ref();
    let amount_off = d.and_then(|d| d.amount_off.as_ref());
    let count = |n: Option<i32>| n.map(|n| n.to_string()).unwrap_or_default();
    let code = RwSignal::new(d.map(|d| d.code.clone()).unwrap_or_default());
    let by_amount = RwSignal::new(amount_off.is_some());
    let percent = RwSignal::new(
        d.and_then(|d| d.percent_off)
            .map(|p| p.to_string())
            .unwrap_or_default(),
    );
    let amount = RwSignal::new(
        amount_off
            .map(|m| decimal(m.amount_cents))
            .unwrap_or_default(),
    );
    let currency = RwSignal::new(
        amount_off
            .map_or(Currency::default(), |m| m.currency)
            .code()
            .to_owned(),
    );
    let starts = RwSignal::new(
        d.and_then(|d| d.starts_at.as_ref())
            .map(local_input)
            .unwrap_or_default(),
    );
    let ends = RwSignal::new(
        d.and_then(|d| d.ends_at.as_ref())
            .map(local_input)
            .unwrap_or_default(),
    );
    let max_total = RwSignal::new(count(d.and_then(|d| d.max_redemptions)));
    let max_each = RwSignal::new(count(d.and_then(|d| d.max_per_customer)));
    let some_products = RwSignal::new(d.is_some_and(|d| d.products.is_some()));
    let products = RwSignal::new(
        d.and_then(|d| d.products.as_ref())
            .map(|list| list.iter().map(|p| p.id.clone()).collect())
            .unwrap_or_default(),
    );
    let active = RwSignal::new(d.is_none_or(|d| d.active));
    let errors: Problems = RwSignal::new(Vec::new());
    let (form_error, set_form_error) = signal(None::<String>);
    let busy = RwSignal::new(false);
    let id = d.map(|d| d.id.clone());
    let message = move |field: &'static str| field_message(errors, field);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        set_form_error.set(None);
        let typed = Typed {
            code: code.get_untracked(),
            by_amount: by_amount.get_untracked(),
            percent: percent.get_untracked(),
            amount: amount.get_untracked(),
            currency: currency.get_untracked(),
            starts: starts.get_untracked(),
            ends: ends.get_untracked(),
            max_total: max_total.get_untracked(),
            max_each: max_each.get_untracked(),
            some_products: some_products.get_untracked(),
            products: products.get_untracked(),
            active: active.get_untracked(),
        };
        let request = match check(typed) {
            Ok(r) => r,
            Err(found) => {
                errors.set(found);
                return;
            }
        };
        errors.set(Vec::new());
        busy.set(true);
        let id = id.clone();
        leptos::task::spawn_local(async move {
            let saved = match &id {
                None => api::post::<_, Discount>(DISCOUNTS, &request).await,
                Some(id) => api::put::<_, Discount>(&format!("{DISCOUNTS}/{id}"), &request).await,
            };
            busy.set(false);
            match saved {
                Ok(d) => {
                    SAVED.with(|s| *s.borrow_mut() = Some(format!("Saved {}.", d.code)));
                    // The form is done with: Back returns to the page before it.
                    router::navigate("/admin/discounts", true);
                }
                Err(e) => show_refusal(e, errors, set_form_error),
            }
        });
    };

    let heading = if existing.is_some() {
        "Edit discount code"
    } else {
        "New discount code"
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
            <form class="form discount-form" on:submit=submit novalidate>
                <div class="field">
                    <label for="code">"Code"</label>
                    <input id="code" name="code" required maxlength="32" autocomplete="off" autocapitalize="characters" spellcheck="false"
                        aria-describedby="code-hint code-error"
                        prop:value=code on:input=move |ev| code.set(event_target_value(&ev))/>
                    <p class="hint" id="code-hint">"3 to 32 letters, digits, - or _. Buyers may type it in any case."</p>
                    <FieldMessage field="code" message=message("code")/>
                </div>
                <fieldset class="delivery-fields">
                    <legend>"Takes off"</legend>
                    <div class="choice-row">
                        <label class="check">
                            <input type="radio" id="kind-percent" name="kind" prop:checked=move || !by_amount.get()
                                on:change=move |_| by_amount.set(false)/>
                            "A percentage"
                        </label>
                        <label class="check">
                            <input type="radio" id="kind-amount" name="kind" prop:checked=move || by_amount.get()
                                on:change=move |_| by_amount.set(true)/>
                            "An amount"
                        </label>
                    </div>
                    {dynamic(move || if by_amount.get() {
                        view! {
                            <div class="field-row">
                                <div class="field">
                                    <label for="amount_off">"Amount off"</label>
                                    <input id="amount_off" inputmode="decimal" placeholder="5.00" aria-describedby="amount_off-error"
                                        prop:value=amount on:input=move |ev| amount.set(event_target_value(&ev))/>
                                    <FieldMessage field="amount_off" message=message("amount_off")/>
                                </div>
                                <div class="field">
                                    <label for="currency">"Currency"</label>
                                    <select id="currency" aria-describedby="currency-hint currency-error" prop:value=currency
                                        on:change=move |ev| currency.set(event_target_value(&ev))>
                                        {currencies()}
                                    </select>
                                    <FieldMessage field="currency" message=message("currency")/>
                                </div>
                            </div>
                            <p class="hint" id="currency-hint">"It applies only to prices in this currency."</p>
                        }.into_any()
                    } else {
                        view! {
                            <div class="field">
                                <label for="percent_off">"Percent off"</label>
                                <input id="percent_off" inputmode="numeric" placeholder="25" aria-describedby="percent_off-error"
                                    prop:value=percent on:input=move |ev| percent.set(event_target_value(&ev))/>
                                <FieldMessage field="percent_off" message=message("percent_off")/>
                            </div>
                        }.into_any()
                    })}
                </fieldset>
                <fieldset class="delivery-fields">
                    <legend>"When and how often"</legend>
                    <div class="field-row">
                        <div class="field">
                            <label for="starts_at">"Starts"</label>
                            <input id="starts_at" type="datetime-local" aria-describedby="window-hint starts_at-error"
                                prop:value=starts on:input=move |ev| starts.set(event_target_value(&ev))/>
                            <FieldMessage field="starts_at" message=message("starts_at")/>
                        </div>
                        <div class="field">
                            <label for="ends_at">"Ends"</label>
                            <input id="ends_at" type="datetime-local" aria-describedby="window-hint ends_at-error"
                                prop:value=ends on:input=move |ev| ends.set(event_target_value(&ev))/>
                            <FieldMessage field="ends_at" message=message("ends_at")/>
                        </div>
                    </div>
                    <p class="hint" id="window-hint">"In your time zone. Empty: from now on, and for ever."</p>
                    <div class="field-row">
                        <div class="field">
                            <label for="max_redemptions">"Uses in all"</label>
                            <input id="max_redemptions" inputmode="numeric" placeholder="No cap" aria-describedby="max_redemptions-error"
                                prop:value=max_total on:input=move |ev| max_total.set(event_target_value(&ev))/>
                            <FieldMessage field="max_redemptions" message=message("max_redemptions")/>
                        </div>
                        <div class="field">
                            <label for="max_per_customer">"Uses per customer"</label>
                            <input id="max_per_customer" inputmode="numeric" placeholder="No cap" aria-describedby="max_per_customer-error"
                                prop:value=max_each on:input=move |ev| max_each.set(event_target_value(&ev))/>
                            <FieldMessage field="max_per_customer" message=message("max_per_customer")/>
                        </div>
                    </div>
                </fieldset>
                <fieldset class="delivery-fields">
                    <legend>"Applies to"</legend>
                    <div class="choice-row">
                        <label class="check">
                            <input type="radio" id="applies-all" name="applies" prop:checked=move || !some_products.get()
                                on:change=move |_| some_products.set(false)/>
                            "Every product"
                        </label>
                        <label class="check">
                            <input type="radio" id="applies-some" name="applies" prop:checked=move || some_products.get()
                                on:change=move |_| some_products.set(true)/>
                            "Only some products"
                        </label>
                    </div>
                    {when(move || some_products.get(), move || view! {
                        <ProductPicker selected=products field="product_ids" legend="Products it applies to"/>
                    }.into_any())}
                    <FieldMessage field="product_ids" message=message("product_ids")/>
                </fieldset>
                <label class="check">
                    <input id="active" type="checkbox" prop:checked=active on:change=move |ev| active.set(event_target_checked(&ev))/>
                    "Active: buyers may use it"
                </label>
                <FieldMessage field="active" message=message("active")/>
                {form_error_slot(form_error)}
                <div class="inline-form">
                    <button id="submit" class="button primary" type="submit" disabled=move || busy.get()>
                        {text(move || if busy.get() { "Saving…" } else { "Save code" })}
                    </button>
                    <a href="/admin/discounts" class="button secondary" id="cancel-discount">"Cancel"</a>
                </div>
            </form>
        </section>
        </div>
    }
}

#[component]
pub fn Redemptions() -> impl IntoView {
    set_title("Admin · Discount orders");
    view! { <RequireAdmin><RedemptionTable/></RequireAdmin> }
}

/// The page's own address for one page of a code's orders.
fn redemptions_href(id: &str, cursor: Option<&str>) -> String {
    match cursor {
        Some(c) => format!("/admin/discounts/{id}/redemptions?cursor={}", encode(c)),
        None => format!("/admin/discounts/{id}/redemptions"),
    }
}

#[component]
fn RedemptionTable() -> impl IntoView {
    let id = router::param("/admin/discounts/", "/redemptions");
    let cursor = router::query_memo("cursor");
    let discount = api::resource(move || format!("{DISCOUNTS}/{}", encode(&id.get())));
    let orders = api::resource(move || {
        let mut path = format!("{DISCOUNTS}/{}/redemptions?limit=50", encode(&id.get()));
        if let Some(c) = cursor.get() {
            path.push_str(&format!("&cursor={}", encode(&c)));
        }
        path
    });
    let heading = move || match api::parsed::<Discount>(discount.get()) {
        Some(Ok(d)) => format!("Orders with {}", d.code),
        _ => "Orders with this code".to_owned(),
    };
    let summary = move || match api::parsed::<Discount>(discount.get()) {
        Some(Ok(d)) => format!(
            "{} · {} · used {}",
            takes_off(&d),
            applies_text(&d),
            uses_text(&d)
        ),
        _ => String::new(),
    };
    view! {
        <section>
            <h1 id="redemptions-heading">{heading}</h1>
            {admin_nav()}
            <div class="list-tools">
                <p class="hint" id="redemptions-summary">{summary}</p>
                <a href="/admin/discounts" class="button small secondary" id="all-discounts">"All codes"</a>
            </div>
            {dynamic(move || match api::parsed::<OrderPage>(orders.get()) {
                None => view! { <Loading/> }.into_any(),
                Some(Err(e)) => view! { <ErrorBox error=e/> }.into_any(),
                Some(Ok(page)) => {
                    let id = id.get_untracked();
                    let newest = cursor.get_untracked().is_some().then(|| view! {
                        <a href=redemptions_href(&id, None) id="newest-redemptions" class="button small secondary">"Newest"</a>
                    });
                    let older = page.next_cursor.as_deref().map(|next| view! {
                        <a href=redemptions_href(&id, Some(next)) id="older-redemptions" class="button small secondary">"Older orders"</a>
                    });
                    let list = if page.items.is_empty() {
                        view! { <p class="empty">"No orders used this code yet."</p> }.into_any()
                    } else {
                        view! { <div class="table-wrap">{redemption_table(page)}</div> }.into_any()
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

fn redemption_table(page: OrderPage) -> impl IntoView {
    view! {
        <table class="table">
            <thead><tr>
                <th>"Item"</th><th>"Buyer"</th><th>"List price"</th><th>"Discount"</th><th>"Amount"</th><th>"Status"</th><th>"Date"</th>
            </tr></thead>
            <tbody>
                {page.items.into_iter().map(|o| {
                    let off = o.discount.as_ref().map(|d| format!("−{}", d.amount.display));
                    view! {
                        <tr class="redemption" data-order=o.id.to_string()>
                            <td class="cell-title">{o.product.title.clone()}</td>
                            <td data-label="Buyer" class="cell-email">{o.buyer_email.clone().unwrap_or_default()}</td>
                            <td data-label="List price">{o.list_price.display.clone()}</td>
                            <td data-label="Discount" class="redemption-discount">{off}</td>
                            <td data-label="Amount">{o.amount.display.clone()}</td>
                            <td data-label="Status"><span class=format!("status status-{}", o.status.as_str())>{o.status.as_str()}</span></td>
                            <td data-label="Date">{date_time(&o.created_at)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

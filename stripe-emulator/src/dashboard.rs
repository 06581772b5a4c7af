//! The emulator's dashboard, `GET /dashboard`: what Stripe's dashboard and its test clocks are
//! for a developer. Like the other pages it needs no API key, and it is plain HTML forms with no
//! scripts or external assets.
//!
//! - `GET /dashboard` (also `GET /dashboard/subscriptions`): the subscriptions, newest first (id,
//!   customer email, price per interval, status, current period end, cancel at period end), each
//!   linking to its page; the payments (`#payments`: each successful charge, newest first as
//!   `GET /v1/charges` lists them, with amount, amount refunded, status, payment intent and
//!   Checkout Session, row `#payment-{charge}`), each with a refund form while something is
//!   left to refund; a checkbox for the knob `drop_webhooks`; and the last 20 events (type, id,
//!   created; dropped ones marked `data-dropped="true"`), each linking to the subscription it is
//!   about.
//! - `POST /dashboard/charges/{id}/refund`: a refund made on Stripe's side, what a payment's
//!   form (button `#refund-{charge}`) posts: `amount` (optional, in major units, `5.00` or `5`;
//!   whole units for zero-decimal currencies; empty refunds all that remains) and `reason`
//!   (optional: `requested_by_customer`, `duplicate`, `fraudulent`). It is exactly
//!   `POST /v1/refunds` with `charge` (the same checks, `charge.refunded`, no `request` on the
//!   event). Done, it redirects (303) to `/dashboard?refunded={refund}&events={from}-{to}`, whose
//!   `#notice` says "Refunded €5.00 of charge ch_… (re_…); events sent: charge.refunded"; a
//!   refused refund answers 400 with the dashboard and the message in `#error`; an unknown
//!   charge is a 404 page.
//! - `POST /dashboard/knobs`: the checkbox `drop_webhooks` (`on` when checked; absent turns the
//!   knob off), the other knobs kept; redirects (303) to `/dashboard?drop_webhooks=on|off`.
//! - `GET /dashboard/subscriptions/{id}`: the subscription (status, customer, price, current
//!   period, cancellation, latest invoice with a link to its hosted page `/invoices/{id}`), its
//!   invoices and its last 20 events, and a "Test clock" with one form per action that applies
//!   in its state (the rules of `POST /_emulator/subscriptions/{id}/advance`). An unknown
//!   subscription is a 404 page.
//! - `POST /dashboard/subscriptions/{id}/advance`: what the forms post, the fields of the control
//!   route: `action` (`renew`, `fail`, `recover`, `give_up`, `cancel_at_period_end`, `resume`,
//!   `cancel`), `then` (`canceled` or `unpaid`, with `give_up`) and `days_ago` (optional, a
//!   whole number: the action happened that many days ago, `at = now - days_ago × 86400`; the
//!   forms of `renew` and `fail` offer it). Done, it redirects (303) to
//!   `/dashboard/subscriptions/{id}?done={action}&events={from}-{to}`, which shows a notice
//!   (`#notice`) saying what happened and which events were sent, read from the events
//!   `from..to` (positions in [`crate::Emulator::events`]); a refused action answers 400 with
//!   the page and the message in `#error`.
//!
//! | button (`id`)          | shown when                                   | posts                         |
//! |------------------------|----------------------------------------------|-------------------------------|
//! | `renew`                | active, or set to cancel at period end ("End the period now") | `action=renew` |
//! | `fail`                 | not set to cancel at period end: active ("Fail the renewal"), past due or unpaid ("Fail another payment attempt") | `action=fail` |
//! | `recover`              | an invoice is open (past due, unpaid)        | `action=recover`              |
//! | `give-up-cancel`       | past due                                     | `action=give_up&then=canceled` |
//! | `give-up-unpaid`       | past due                                     | `action=give_up&then=unpaid`  |
//! | `cancel-at-period-end` | not set to cancel at period end              | `action=cancel_at_period_end` |
//! | `resume`               | set to cancel at period end                  | `action=resume`               |
//! | `cancel`               | not canceled                                 | `action=cancel`               |
//!
//! A canceled subscription has none.

use std::collections::{HashMap, HashSet};

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{Map, Value};

use crate::billing::{Subscription, SubscriptionStatus};
use crate::error::EmulatorError;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::objects::{Cause, Charge, Session};
use crate::pages::{escape, format_amount, html, wide_layout, zero_decimal};
use crate::params::Params;
use crate::portal::price;
use crate::store::{RefundRequest, Store};
use crate::subscriptions::StatusFilter;
use crate::{Advance, Emulator};

/// How many events the pages list.
const RECENT_EVENTS: usize = 20;

/// How many payments the dashboard lists (`GET /v1/charges` lists them all).
const RECENT_PAYMENTS: usize = 50;

/// `reason` of a refund, as the dashboard's form offers it.
const REFUND_REASONS: [(&str, &str); 4] = [
    ("", "No reason"),
    ("requested_by_customer", "Requested by customer"),
    ("duplicate", "Duplicate"),
    ("fraudulent", "Fraudulent"),
];

const DAY: i64 = 24 * 3600;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(index))
        .route("/dashboard/charges/{id}/refund", web::post().to(refund))
        .route("/dashboard/knobs", web::post().to(set_knobs))
        .route("/dashboard/subscriptions", web::get().to(index))
        .route("/dashboard/subscriptions/{id}", web::get().to(show))
        .route(
            "/dashboard/subscriptions/{id}/advance",
            web::post().to(advance),
        );
}

/// One form of the test clock.
struct Button {
    action: &'static str,
    then: Option<&'static str>,
    id: &'static str,
    label: &'static str,
    /// Offers "as of N days ago", with this hint.
    dated: Option<&'static str>,
}

impl Button {
    const fn new(action: &'static str, id: &'static str, label: &'static str) -> Self {
        Self {
            action,
            then: None,
            id,
            label,
            dated: None,
        }
    }

    const fn dated(self, hint: &'static str) -> Self {
        Self {
            dated: Some(hint),
            ..self
        }
    }

    const fn then(self, then: &'static str) -> Self {
        Self {
            then: Some(then),
            ..self
        }
    }
}

const RENEWS: &str = "Empty or 0: now. The period ends then, and the next one starts then.";
const ENDS: &str = "Empty or 0: now. The period, and with it the subscription, ends then.";

/// The actions that apply to the subscription now: those `Store::advance` does not refuse
/// (renewing and failing a subscription set to cancel at period end both end it, so only one is
/// offered).
fn buttons(sub: &Subscription) -> Vec<Button> {
    if sub.status == SubscriptionStatus::Canceled {
        return Vec::new();
    }
    let pending = sub.cancel_at_period_end;
    let open = sub.open_invoice.is_some();
    let mut out = Vec::new();
    if pending {
        out.push(
            Button::new(
                "renew",
                "renew",
                "End the period now (the subscription cancels, as set)",
            )
            .dated(ENDS),
        );
    } else if sub.status == SubscriptionStatus::Active {
        out.push(Button::new("renew", "renew", "Renew now (payment succeeds)").dated(RENEWS));
        out.push(Button::new("fail", "fail", "Fail the renewal").dated(RENEWS));
    } else if open {
        out.push(
            Button::new("fail", "fail", "Fail another payment attempt")
                .dated("Empty or 0: now. When the attempt failed."),
        );
    }
    if open {
        out.push(Button::new(
            "recover",
            "recover",
            "Recover (pay the open invoice)",
        ));
    }
    if sub.status == SubscriptionStatus::PastDue {
        out.push(
            Button::new(
                "give_up",
                "give-up-cancel",
                "Give up after retries (cancel)",
            )
            .then("canceled"),
        );
        out.push(
            Button::new(
                "give_up",
                "give-up-unpaid",
                "Give up after retries (mark unpaid)",
            )
            .then("unpaid"),
        );
    }
    if pending {
        out.push(Button::new("resume", "resume", "Resume"));
    } else {
        out.push(Button::new(
            "cancel_at_period_end",
            "cancel-at-period-end",
            "Cancel at period end",
        ));
    }
    out.push(Button::new("cancel", "cancel", "Cancel now"));
    out
}

async fn index(req: HttpRequest, em: web::Data<Emulator>) -> HttpResponse {
    let events = em.events();
    let notice = index_notice(&em, req.query_string(), &events);
    render_index(&em, &events, StatusCode::OK, notice.as_deref(), None)
}

fn render_index(
    em: &Emulator,
    events: &[Value],
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let dropped = dropped_events(em);
    let body = em.with_store(|store, _| {
        Ok((
            index_page(store, em, events, &dropped, notice, error),
            Vec::new(),
        ))
    });
    match body {
        Ok(body) => html(status, &wide_layout("Dashboard", &body)),
        Err(err) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            &wide_layout("Dashboard", &error_paragraph(&err.to_string())),
        ),
    }
}

/// The ids of the events the knob `drop_webhooks` kept from being sent.
fn dropped_events(em: &Emulator) -> HashSet<String> {
    em.deliveries()
        .into_iter()
        .filter(|d| d.dropped)
        .map(|d| d.event_id)
        .collect()
}

/// An amount typed in the refund form, in major units (`5`, `5.5`, `5.50`, `5,50`; whole units
/// for zero-decimal currencies) → minor units. Empty: `None`, all that remains.
fn parse_amount(text: &str, currency: &str) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let unit = currency.to_uppercase();
    let wrong = || {
        if zero_decimal(currency) {
            format!("\"{text}\" is not an amount: write whole {unit}, e.g. 500.")
        } else {
            format!("\"{text}\" is not an amount: write it in {unit} with up to two decimals, e.g. 5.00.")
        }
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let normalized = text.replace(',', ".");
    let minor = if zero_decimal(currency) {
        if !digits(&normalized) {
            return Err(wrong());
        }
        normalized.parse::<i64>().ok()
    } else {
        let (whole, fraction) = normalized.split_once('.').unwrap_or((&normalized, ""));
        let whole_ok = digits(whole) || (whole.is_empty() && !fraction.is_empty());
        let fraction_ok = fraction.is_empty() || (fraction.len() <= 2 && digits(fraction));
        if !whole_ok || !fraction_ok || normalized.ends_with('.') {
            return Err(wrong());
        }
        let whole: i64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| wrong())?
        };
        let cents: i64 = format!("{fraction:0<2}").parse().map_err(|_| wrong())?;
        whole.checked_mul(100).and_then(|w| w.checked_add(cents))
    };
    match minor {
        Some(0) => Err("The amount to refund must be more than 0.".to_string()),
        Some(minor) => Ok(Some(minor)),
        None => Err(wrong()),
    }
}

/// What a refund form posts: `amount` (major units, optional) and `reason` (optional).
fn read_refund_form(body: &[u8], currency: &str) -> Result<(Option<i64>, Option<String>), String> {
    let text = std::str::from_utf8(body).map_err(|_| "The form is not valid UTF-8.".to_string())?;
    let mut params = Params::parse(text).map_err(|e| e.message)?;
    let amount = params.string("amount").map_err(|e| e.message)?;
    let amount = parse_amount(amount.as_deref().unwrap_or_default(), currency)?;
    let reason = params
        .string("reason")
        .map_err(|e| e.message)?
        .filter(|r| !r.is_empty());
    if let Some(reason) = &reason {
        if !REFUND_REASONS.iter().any(|(value, _)| value == reason) {
            return Err(format!(
                "Invalid reason {reason:?}: must be one of duplicate, fraudulent, requested_by_customer"
            ));
        }
    }
    Ok((amount, reason))
}

/// `POST /dashboard/charges/{id}/refund`: a refund made on Stripe's side, exactly what
/// `POST /v1/refunds` with `charge` does (`charge.refunded`), then back to the dashboard.
async fn refund(
    path: web::Path<String>,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> HttpResponse {
    let charge_id = path.into_inner();
    let currency = em
        .with_store(|store, _| {
            let currency = store.charges.get(&charge_id).map(|c| c.currency.clone());
            Ok((currency, Vec::new()))
        })
        .ok()
        .flatten();
    let Some(currency) = currency else {
        return payment_not_found();
    };
    let refused = |message: &str| {
        let events = em.events();
        render_index(&em, &events, StatusCode::BAD_REQUEST, None, Some(message))
    };
    let (amount, reason) = match read_refund_form(&body, &currency) {
        Ok(form) => form,
        Err(message) => return refused(&message),
    };
    let request = RefundRequest {
        payment_intent: None,
        charge: Some(charge_id.clone()),
        amount,
        metadata: Map::new(),
        reason,
    };
    let from = em.inner().outbox.event_count();
    match em.with_store(|store, now| store.refund(request, &Cause::default(), now)) {
        Ok(refund) => {
            let to = em.inner().outbox.event_count();
            let id = refund["id"].as_str().unwrap_or_default();
            // A refund id is letters, digits and `_`: nothing to encode.
            HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!("/dashboard?refunded={id}&events={from}-{to}"),
                ))
                .finish()
        }
        Err(err) => refused(&err.to_string()),
    }
}

/// `POST /dashboard/knobs`: the checkbox `drop_webhooks` (checked: `on`), the other knobs kept.
async fn set_knobs(body: web::Bytes, em: web::Data<Emulator>) -> HttpResponse {
    let text = String::from_utf8_lossy(&body);
    let on = Params::parse(&text)
        .ok()
        .and_then(|mut p| p.string("drop_webhooks").ok().flatten())
        .is_some_and(|v| matches!(v.as_str(), "on" | "true" | "1"));
    let mut knobs = em.knobs();
    knobs.drop_webhooks = on;
    em.set_knobs(knobs);
    HttpResponse::SeeOther()
        .insert_header((
            header::LOCATION,
            format!("/dashboard?drop_webhooks={}", if on { "on" } else { "off" }),
        ))
        .finish()
}

/// The notice after a redirect from the dashboard's own forms: `refunded={id}&events={from}-{to}`
/// or `drop_webhooks=on|off`.
fn index_notice(em: &Emulator, query: &str, events: &[Value]) -> Option<String> {
    let mut params = Params::parse(query).ok()?;
    if let Some(state) = params.string("drop_webhooks").ok()? {
        return Some(match state.as_str() {
            "on" => "Webhooks are dropped from now on (knob drop_webhooks): events are recorded, not sent.".to_string(),
            _ => "Webhooks are sent again. The events dropped meanwhile are not resent: the application finds out through GET /v1/checkout/sessions, /v1/charges and /v1/refunds.".to_string(),
        });
    }
    let refund_id = params.string("refunded").ok()??;
    let range = params.string("events").ok()??;
    let (from, to) = range.split_once('-')?;
    let (from, to): (usize, usize) = (from.parse().ok()?, to.parse().ok()?);
    let refund = em
        .with_store(|store, _| Ok((store.refunds.get(&refund_id).cloned(), Vec::new())))
        .ok()??;
    let raised: Vec<&Value> = events
        .get(from..to)?
        .iter()
        .filter(|e| e["data"]["object"]["id"].as_str() == Some(refund.charge.as_str()))
        .collect();
    Some(format!(
        "Refunded {} of charge {} ({}); {}",
        format_amount(refund.amount, &refund.currency),
        refund.charge,
        refund.id,
        sent(em, &raised)
    ))
}

fn payment_not_found() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        &wide_layout(
            "Payment not found",
            "<h1>Payment not found</h1>\n<p id=\"status\">There is no charge with this id.</p>\n<p><a href=\"/dashboard\">Dashboard</a></p>\n",
        ),
    )
}

async fn show(req: HttpRequest, path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    let events = em.events();
    let notice = done_notice(&em, &path, req.query_string(), &events);
    render(&em, &path, &events, StatusCode::OK, notice.as_deref(), None)
}

/// What a test clock form posts.
#[derive(Debug)]
struct Form {
    action: String,
    advance: Advance,
    days_ago: Option<u32>,
}

/// Reads a posted form; the message is for the page. Other fields (a button's name) are ignored,
/// as a browser sends them.
fn read_form(body: &[u8]) -> Result<Form, String> {
    let text = std::str::from_utf8(body).map_err(|_| "The form is not valid UTF-8.".to_string())?;
    let mut params = Params::parse(text).map_err(|e| e.message)?;
    let mut take = |key: &str| {
        params
            .string(key)
            .map(|v| v.filter(|v| !v.is_empty()))
            .map_err(|e| e.message)
    };
    let action = take("action")?.ok_or("Choose an action: the form had no `action`.")?;
    let then = take("then")?;
    let days_ago = match take("days_ago")? {
        None => None,
        Some(days) => Some(days.trim().parse::<u32>().map_err(|_| {
            format!("\"Days ago\" must be a whole number of days, 0 or more (not \"{days}\").")
        })?),
    };
    let advance = Advance::parse(&action, then.as_deref()).ok_or_else(|| match then {
        Some(_) if action == "give_up" => "Invalid then: must be one of canceled, unpaid".to_string(),
        Some(_) => "`then` is only used with `action=give_up`.".to_string(),
        None => format!(
            "Invalid action {action:?}: must be one of renew, fail, recover, give_up, cancel_at_period_end, resume, cancel"
        ),
    })?;
    Ok(Form {
        action,
        advance,
        days_ago,
    })
}

async fn advance(
    path: web::Path<String>,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> HttpResponse {
    let id = path.into_inner();
    if em.subscription(&id).is_none() {
        return not_found();
    }
    let refused = |message: &str| {
        let events = em.events();
        render(
            &em,
            &id,
            &events,
            StatusCode::BAD_REQUEST,
            None,
            Some(message),
        )
    };
    let form = match read_form(&body) {
        Ok(form) => form,
        Err(message) => return refused(&message),
    };
    let at = form
        .days_ago
        .map(|days| chrono::Utc::now().timestamp() - i64::from(days) * DAY);
    let from = em.inner().outbox.event_count();
    match em.advance_subscription(&id, form.advance, at) {
        Ok(_) => {
            let to = em.inner().outbox.event_count();
            // The id is a subscription's and the action one of the known names: nothing to
            // encode.
            HttpResponse::SeeOther()
                .insert_header((
                    header::LOCATION,
                    format!(
                        "/dashboard/subscriptions/{id}?done={}&events={from}-{to}",
                        form.action
                    ),
                ))
                .finish()
        }
        Err(EmulatorError::NotFound { .. }) => not_found(),
        Err(err) => refused(&err.to_string()),
    }
}

fn not_found() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        &wide_layout(
            "Subscription not found",
            "<h1>Subscription not found</h1>\n<p id=\"status\">There is no subscription with this id.</p>\n<p><a href=\"/dashboard\">All subscriptions</a></p>\n",
        ),
    )
}

fn error_paragraph(message: &str) -> String {
    format!(
        "<p id=\"error\" class=\"error\" role=\"alert\">{}</p>\n",
        escape(message)
    )
}

fn render(
    em: &Emulator,
    id: &str,
    events: &[Value],
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let dropped = dropped_events(em);
    let page = em.with_store(|store, _| {
        let sub = store.subscription(id)?;
        Ok((
            subscription_page(store, sub, events, &dropped, notice, error),
            Vec::new(),
        ))
    });
    match page {
        Ok(body) => html(status, &wide_layout(&format!("Subscription {id}"), &body)),
        Err(_) => not_found(),
    }
}

/// "1 November 2025, 14:03:05 UTC", machine-readable in `datetime` and `data-unix`.
fn time(timestamp: i64) -> String {
    let Some(t) = chrono::DateTime::from_timestamp(timestamp, 0) else {
        return timestamp.to_string();
    };
    format!(
        "<time datetime=\"{}\" data-unix=\"{timestamp}\">{}</time>",
        t.format("%Y-%m-%dT%H:%M:%SZ"),
        t.format("%-d %B %Y, %H:%M:%S UTC")
    )
}

fn status_label(status: SubscriptionStatus) -> &'static str {
    match status {
        SubscriptionStatus::Active => "Active",
        SubscriptionStatus::PastDue => "Past due",
        SubscriptionStatus::Unpaid => "Unpaid",
        SubscriptionStatus::Canceled => "Canceled",
    }
}

fn invoice_status_label(status: InvoiceStatus) -> &'static str {
    match status {
        InvoiceStatus::Paid => "Paid",
        InvoiceStatus::Open => "Open",
        InvoiceStatus::Draft => "Draft",
    }
}

fn customer_email<'a>(store: &'a Store, sub: &'a Subscription) -> &'a str {
    store
        .customer(&sub.customer)
        .ok()
        .and_then(|c| c.email.as_deref())
        .unwrap_or(&sub.customer)
}

/// The subscription an event is about: its object, or the subscription of its invoice or
/// checkout session.
fn subscription_of(event: &Value) -> Option<&str> {
    let object = &event["data"]["object"];
    match object["object"].as_str()? {
        "subscription" => object["id"].as_str(),
        "invoice" | "checkout.session" => object["subscription"].as_str(),
        _ => None,
    }
}

fn kind(event: &Value) -> &str {
    event["type"].as_str().unwrap_or_default()
}

/// The events table, newest first; events in `dropped` (knob `drop_webhooks`) are marked.
fn events_table(
    table_id: &str,
    events: &[&Value],
    dropped: &HashSet<String>,
    with_subscription: bool,
) -> String {
    let mut out = format!(
        "<table id=\"{table_id}\" class=\"list\">\n<thead><tr><th scope=\"col\">Type</th><th scope=\"col\">Event</th><th scope=\"col\">Created</th>{}</tr></thead>\n<tbody>\n",
        if with_subscription {
            "<th scope=\"col\">Subscription</th>"
        } else {
            ""
        }
    );
    for event in events {
        let subscription = if with_subscription {
            let link = subscription_of(event)
                .map(|s| {
                    let s = escape(s);
                    format!("<a href=\"/dashboard/subscriptions/{s}\">{s}</a>")
                })
                .unwrap_or_default();
            format!("<td>{link}</td>")
        } else {
            String::new()
        };
        let id = event["id"].as_str().unwrap_or_default();
        let (mark, note) = if dropped.contains(id) {
            (
                " data-dropped=\"true\"",
                " <small class=\"dropped\">not sent (drop_webhooks)</small>",
            )
        } else {
            ("", "")
        };
        out.push_str(&format!(
            "<tr class=\"event\" data-type=\"{0}\"{mark}><td>{0}{note}</td><td><code>{1}</code></td><td>{2}</td>{subscription}</tr>\n",
            escape(kind(event)),
            escape(id),
            time(event["created"].as_i64().unwrap_or_default()),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Where events go, for the developer wondering why nothing arrived.
fn delivery_note(em: &Emulator) -> String {
    let knobs = em.knobs();
    let text = match (em.inner().webhook_url(), knobs.hold) {
        _ if knobs.drop_webhooks => "Webhooks are dropped (knob `drop_webhooks`): new events are recorded here but never sent, not even once the knob is off.".to_string(),
        (None, _) => "No webhook URL is set: events wait until one is.".to_string(),
        (Some(url), true) => {
            format!("Events are held (knob `hold`) until released; then they go to {url}.")
        }
        (Some(url), false) => format!("Events are sent to {url}."),
    };
    format!("<p id=\"webhook\">{}</p>\n", escape(&text))
}

fn index_page(
    store: &Store,
    em: &Emulator,
    events: &[Value],
    dropped: &HashSet<String>,
    notice: Option<&str>,
    error: Option<&str>,
) -> String {
    let mut body = String::from("<h1>Stripe emulator</h1>\n");
    body.push_str("<p>The emulator's dashboard: its subscriptions, each with a test clock, its payments, to refund on Stripe's side, and the events it sent.</p>\n");
    if let Some(notice) = notice {
        body.push_str(&format!(
            "<p id=\"notice\" role=\"status\">{}</p>\n",
            escape(notice)
        ));
    }
    if let Some(error) = error {
        body.push_str(&error_paragraph(error));
    }
    body.push_str("<h2 id=\"subscriptions-title\">Subscriptions</h2>\n");
    let subs = store.subscriptions_filtered(None, StatusFilter::All);
    if subs.is_empty() {
        body.push_str("<p id=\"no-subscriptions\">No subscriptions yet: pay a subscription-mode Checkout Session to make one.</p>\n");
    } else {
        body.push_str("<table id=\"subscriptions\" class=\"list\" aria-labelledby=\"subscriptions-title\">\n<thead><tr><th scope=\"col\">Subscription</th><th scope=\"col\">Customer</th><th scope=\"col\">Price</th><th scope=\"col\">Status</th><th scope=\"col\">Current period end</th><th scope=\"col\">Cancel at period end</th></tr></thead>\n<tbody>\n");
        for sub in subs {
            let id = escape(&sub.id);
            body.push_str(&format!(
                "<tr class=\"subscription\" id=\"subscription-{id}\" data-status=\"{}\"><td><a href=\"/dashboard/subscriptions/{id}\">{id}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                sub.status.as_str(),
                escape(customer_email(store, sub)),
                escape(&price(sub)),
                status_label(sub.status),
                time(sub.period_end),
                if sub.cancel_at_period_end { "Yes" } else { "No" },
            ));
        }
        body.push_str("</tbody>\n</table>\n");
    }
    body.push_str(&payments_section(store));
    body.push_str("<h2 id=\"events-title\">Recent events</h2>\n");
    body.push_str(&delivery_note(em));
    body.push_str(&knobs_form(em.knobs().drop_webhooks));
    if events.is_empty() {
        body.push_str("<p id=\"no-events\">No events yet.</p>\n");
    } else {
        let recent: Vec<&Value> = events.iter().rev().take(RECENT_EVENTS).collect();
        body.push_str(&events_table("events", &recent, dropped, true));
    }
    body
}

/// The checkbox of the knob `drop_webhooks`.
fn knobs_form(drop_webhooks: bool) -> String {
    format!(
        "<form method=\"post\" action=\"/dashboard/knobs\" class=\"knobs\" id=\"knobs\">\n<label><input type=\"checkbox\" id=\"drop-webhooks\" name=\"drop_webhooks\" value=\"on\"{}> Drop webhooks: record new events but never send them (knob <code>drop_webhooks</code>; turning it off does not resend them)</label>\n<button type=\"submit\" id=\"save-knobs\">Save</button>\n</form>\n",
        if drop_webhooks { " checked" } else { "" }
    )
}

/// The state of a charge, for people and for `data-status`.
fn charge_status(charge: &Charge) -> (&'static str, &'static str) {
    match charge.amount_refunded {
        0 => ("paid", "Paid"),
        r if r >= charge.amount => ("refunded", "Refunded"),
        _ => ("partially_refunded", "Partially refunded"),
    }
}

/// The session a charge came from: a payment-mode session by its payment intent, a
/// subscription's first invoice by the session that subscribed.
fn session_of<'a>(
    store: &'a Store,
    by_intent: &HashMap<&str, &'a Session>,
    charge: &Charge,
) -> Option<&'a Session> {
    by_intent
        .get(charge.payment_intent.as_str())
        .copied()
        .or_else(|| {
            let invoice = charge.invoice.as_deref()?;
            store
                .sessions
                .values()
                .find(|s| s.invoice.as_deref() == Some(invoice))
        })
}

/// The Payments section: successful charges, newest first (as `GET /v1/charges`), each with a
/// refund form while something is left to refund.
fn payments_section(store: &Store) -> String {
    let mut body = String::from("<h2 id=\"payments-title\">Payments</h2>\n");
    let mut charges: Vec<&Charge> = store.charges.values().collect();
    if charges.is_empty() {
        body.push_str(
            "<p id=\"no-payments\">No payments yet: pay a Checkout Session to make one.</p>\n",
        );
        return body;
    }
    charges.sort_by_key(|c| std::cmp::Reverse((c.created, c.order)));
    body.push_str("<p>Successful charges, newest first. A refund made here is made on Stripe's side, as in Stripe's dashboard: it is what <code>POST /v1/refunds</code> does, and it raises <code>charge.refunded</code>. Leave the amount empty to refund all that remains.</p>\n");
    let by_intent: HashMap<&str, &Session> = store
        .sessions
        .values()
        .filter_map(|s| Some((s.payment_intent.as_deref()?, s)))
        .collect();
    body.push_str("<table id=\"payments\" class=\"list\" aria-labelledby=\"payments-title\">\n<thead><tr><th scope=\"col\">Charge</th><th scope=\"col\">Created</th><th scope=\"col\" class=\"amount\">Amount</th><th scope=\"col\" class=\"amount\">Refunded</th><th scope=\"col\">Status</th><th scope=\"col\">Payment intent</th><th scope=\"col\">Checkout Session</th><th scope=\"col\">Refund</th></tr></thead>\n<tbody>\n");
    for charge in charges.iter().take(RECENT_PAYMENTS) {
        let id = escape(&charge.id);
        let (status, label) = charge_status(charge);
        let label = if charge.disputed {
            format!("{label}, disputed")
        } else {
            label.to_string()
        };
        let session = session_of(store, &by_intent, charge)
            .map(|s| format!("<code>{}</code>", escape(&s.id)))
            .unwrap_or_default();
        let subscription = charge
            .invoice
            .as_ref()
            .and_then(|i| store.invoices.get(i))
            .and_then(|inv| inv.subscription.as_ref())
            .map(|sub| {
                let sub = escape(&sub.id);
                format!(" <small>(subscription <a href=\"/dashboard/subscriptions/{sub}\">{sub}</a>)</small>")
            })
            .unwrap_or_default();
        let remaining = charge.amount - charge.amount_refunded;
        let form = if remaining > 0 {
            refund_form(charge, remaining)
        } else {
            String::new()
        };
        body.push_str(&format!(
            "<tr class=\"payment\" id=\"payment-{id}\" data-status=\"{status}\" data-payment-intent=\"{}\" data-amount=\"{}\" data-amount-refunded=\"{}\"><td><code>{id}</code></td><td>{}</td><td class=\"amount\">{}</td><td class=\"amount\">{}</td><td>{}</td><td><code>{}</code></td><td>{session}{subscription}</td><td>{form}</td></tr>\n",
            escape(&charge.payment_intent),
            charge.amount,
            charge.amount_refunded,
            time(charge.created),
            format_amount(charge.amount, &charge.currency),
            format_amount(charge.amount_refunded, &charge.currency),
            escape(&label),
            escape(&charge.payment_intent),
        ));
    }
    body.push_str("</tbody>\n</table>\n");
    if charges.len() > RECENT_PAYMENTS {
        body.push_str(&format!(
            "<p id=\"more-payments\">The newest {RECENT_PAYMENTS} of {} payments; <code>GET /v1/charges</code> lists them all.</p>\n",
            charges.len()
        ));
    }
    body
}

/// The refund form of a charge: an amount in major units (empty: all of `remaining`) and a
/// reason.
fn refund_form(charge: &Charge, remaining: i64) -> String {
    let id = escape(&charge.id);
    let unit = charge.currency.to_uppercase();
    let placeholder = if zero_decimal(&charge.currency) {
        remaining.to_string()
    } else {
        format!("{}.{:02}", remaining / 100, remaining % 100)
    };
    let options: String = REFUND_REASONS
        .iter()
        .map(|(value, label)| format!("<option value=\"{value}\">{label}</option>"))
        .collect();
    format!(
        "<form method=\"post\" action=\"/dashboard/charges/{id}/refund\" class=\"refund\"><input type=\"text\" id=\"refund-{id}-amount\" name=\"amount\" inputmode=\"decimal\" placeholder=\"{placeholder}\" aria-label=\"Amount to refund in {unit} (empty: all that remains, {})\"><select id=\"refund-{id}-reason\" name=\"reason\" aria-label=\"Reason\">{options}</select><button type=\"submit\" id=\"refund-{id}\">Refund</button></form>",
        escape(&format_amount(remaining, &charge.currency))
    )
}

fn subscription_page(
    store: &Store,
    sub: &Subscription,
    events: &[Value],
    dropped: &HashSet<String>,
    notice: Option<&str>,
    error: Option<&str>,
) -> String {
    let id = escape(&sub.id);
    let mut body = format!(
        "<p><a href=\"/dashboard\">All subscriptions</a></p>\n<h1>Subscription <code id=\"subscription-id\">{id}</code></h1>\n"
    );
    if let Some(notice) = notice {
        body.push_str(&format!(
            "<p id=\"notice\" role=\"status\">{}</p>\n",
            escape(notice)
        ));
    }
    if let Some(error) = error {
        body.push_str(&error_paragraph(error));
    }
    let row = |label: &str, id: &str, value: &str| {
        format!("<dt>{label}</dt><dd id=\"{id}\">{value}</dd>\n")
    };
    body.push_str("<dl id=\"details\">\n");
    body.push_str(&format!(
        "<dt>Status</dt><dd id=\"status\" data-status=\"{}\">{}</dd>\n",
        sub.status.as_str(),
        status_label(sub.status)
    ));
    let email = store
        .customer(&sub.customer)
        .ok()
        .and_then(|c| c.email.as_deref());
    let customer = match email {
        Some(email) => format!("{} (<code>{}</code>)", escape(email), escape(&sub.customer)),
        None => format!("<code>{}</code>", escape(&sub.customer)),
    };
    body.push_str(&row("Customer", "customer", &customer));
    let products = sub
        .items
        .iter()
        .map(|si| escape(&si.item.name))
        .collect::<Vec<_>>()
        .join(", ");
    body.push_str(&row("Product", "product", &products));
    body.push_str(&row("Price", "price", &escape(&price(sub))));
    body.push_str(&row(
        "Current period start",
        "period-start",
        &time(sub.period_start),
    ));
    body.push_str(&row(
        "Current period end",
        "period-end",
        &time(sub.period_end),
    ));
    let pending = match sub.cancel_at.filter(|_| sub.cancel_at_period_end) {
        Some(at) => format!("Yes, on {}", time(at)),
        None if sub.cancel_at_period_end => "Yes".to_string(),
        None => "No".to_string(),
    };
    body.push_str(&format!(
        "<dt>Cancel at period end</dt><dd id=\"cancel-at-period-end\" data-value=\"{}\">{pending}</dd>\n",
        sub.cancel_at_period_end
    ));
    if let Some(at) = sub.canceled_at {
        body.push_str(&row("Canceled at", "canceled-at", &time(at)));
    }
    if let Some(at) = sub.ended_at {
        body.push_str(&row("Ended at", "ended-at", &time(at)));
    }
    let latest = sub
        .latest_invoice
        .as_ref()
        .and_then(|i| store.invoices.get(i));
    if let Some(inv) = latest {
        body.push_str(&row(
            "Latest invoice",
            "latest-invoice",
            &latest_invoice(inv),
        ));
    }
    body.push_str("</dl>\n");

    body.push_str("<h2 id=\"clock-title\">Test clock</h2>\n");
    let buttons = buttons(sub);
    if buttons.is_empty() {
        body.push_str("<p id=\"no-actions\">This subscription is canceled: nothing more can happen to it.</p>\n");
    } else {
        body.push_str("<p>The emulator has no clock of its own: each button makes the next thing happen now, or, where it asks, the given number of days ago. The events go to the webhook as Stripe would send them.</p>\n");
        body.push_str("<div id=\"clock\">\n");
        for button in &buttons {
            body.push_str(&clock_form(&id, button));
        }
        body.push_str("</div>\n");
    }

    body.push_str("<h2 id=\"invoices-title\">Invoices</h2>\n");
    let invoices = store.invoices_filtered(None, Some(&sub.id), None);
    body.push_str("<table id=\"invoices\" class=\"list\" aria-labelledby=\"invoices-title\">\n<thead><tr><th scope=\"col\">Invoice</th><th scope=\"col\">Created</th><th scope=\"col\">Reason</th><th scope=\"col\">Status</th><th scope=\"col\">Attempts</th><th scope=\"col\" class=\"amount\">Amount</th></tr></thead>\n<tbody>\n");
    for inv in invoices {
        body.push_str(&format!(
            "<tr class=\"invoice\" id=\"invoice-{0}\" data-status=\"{1}\"><td><a href=\"/invoices/{0}\">{2}</a> <code>{0}</code></td><td>{3}</td><td>{4}</td><td>{5}</td><td>{6}</td><td class=\"amount\">{7}</td></tr>\n",
            escape(&inv.id),
            inv.status.as_str(),
            escape(&inv.number),
            time(inv.created),
            escape(inv.billing_reason),
            invoice_status_label(inv.status),
            inv.attempt_count,
            format_amount(inv.total(), &inv.currency),
        ));
    }
    body.push_str("</tbody>\n</table>\n");

    body.push_str("<h2 id=\"sub-events-title\">Events</h2>\n");
    let mine: Vec<&Value> = events
        .iter()
        .rev()
        .filter(|e| subscription_of(e) == Some(sub.id.as_str()))
        .take(RECENT_EVENTS)
        .collect();
    if mine.is_empty() {
        body.push_str("<p id=\"no-events\">No events yet.</p>\n");
    } else {
        body.push_str(&events_table("subscription-events", &mine, dropped, false));
    }
    body
}

/// "FOLIO-0002 (in_…) · Open · €9.00 · 1 failed attempt, next on …", linking to the hosted page.
fn latest_invoice(inv: &Invoice) -> String {
    let mut out = format!(
        "<a href=\"/invoices/{0}\">{1}</a> (<code>{0}</code>) · <span class=\"invoice-status\" data-status=\"{2}\">{3}</span> · {4}",
        escape(&inv.id),
        escape(&inv.number),
        inv.status.as_str(),
        invoice_status_label(inv.status),
        format_amount(inv.total(), &inv.currency),
    );
    if inv.status == InvoiceStatus::Open && inv.attempt_count > 0 {
        out.push_str(&match inv.attempt_count {
            1 => " · 1 failed attempt".to_string(),
            n => format!(" · {n} failed attempts"),
        });
        match inv.next_payment_attempt {
            Some(t) => out.push_str(&format!(", next on {}", time(t))),
            None => out.push_str(", no further attempt"),
        }
    }
    out
}

fn clock_form(sub_id: &str, button: &Button) -> String {
    let mut out = format!(
        "<form method=\"post\" action=\"/dashboard/subscriptions/{sub_id}/advance\" class=\"clock\">\n<input type=\"hidden\" name=\"action\" value=\"{}\">\n",
        button.action
    );
    if let Some(then) = button.then {
        out.push_str(&format!(
            "<input type=\"hidden\" name=\"then\" value=\"{then}\">\n"
        ));
    }
    if let Some(hint) = button.dated {
        let input = format!("{}-days", button.id);
        out.push_str(&format!(
            "<div class=\"field\"><label for=\"{input}\">As of how many days ago (optional)</label><input type=\"number\" id=\"{input}\" name=\"days_ago\" min=\"0\" step=\"1\" inputmode=\"numeric\" aria-describedby=\"{input}-hint\"><small id=\"{input}-hint\">{}</small></div>\n",
            escape(hint)
        ));
    }
    out.push_str(&format!(
        "<button type=\"submit\" id=\"{}\">{}</button>\n</form>\n",
        button.id,
        escape(button.label)
    ));
    out
}

/// The notice after a redirect from an action: `done={action}&events={from}-{to}`, told from
/// the events of this subscription among `events[from..to]`. `None` when the query is not one.
fn done_notice(em: &Emulator, sub_id: &str, query: &str, events: &[Value]) -> Option<String> {
    let mut params = Params::parse(query).ok()?;
    let action = params.string("done").ok()??;
    let range = params.string("events").ok()??;
    let (from, to) = range.split_once('-')?;
    let (from, to): (usize, usize) = (from.parse().ok()?, to.parse().ok()?);
    let raised: Vec<&Value> = events
        .get(from..to)?
        .iter()
        .filter(|e| subscription_of(e) == Some(sub_id))
        .collect();
    let what = what_happened(&action, &raised)?;
    Some(format!("{what}; {}", sent(em, &raised)))
}

/// "events sent: a, b", or what became of them instead.
fn sent(em: &Emulator, raised: &[&Value]) -> String {
    let types = raised
        .iter()
        .map(|e| kind(e))
        .collect::<Vec<_>>()
        .join(", ");
    if types.is_empty() {
        return "no events were raised".to_string();
    }
    let dropped = dropped_events(em);
    if raised
        .iter()
        .all(|e| e["id"].as_str().is_some_and(|id| dropped.contains(id)))
    {
        return format!("events raised but not sent (knob drop_webhooks): {types}");
    }
    match (em.inner().webhook_url(), em.knobs().hold) {
        (None, _) => format!("events raised (waiting for a webhook URL): {types}"),
        (Some(_), true) => format!("events raised (held until released): {types}"),
        (Some(_), false) => format!("events sent: {types}"),
    }
}

/// "Renewal failed: invoice in_… is open", from the events an action raised.
fn what_happened(action: &str, raised: &[&Value]) -> Option<String> {
    let has = |kind_: &str| raised.iter().any(|e| kind(e) == kind_);
    let invoice = raised
        .iter()
        .find(|e| kind(e).starts_with("invoice."))
        .map(|e| &e["data"]["object"]);
    let invoice_id = invoice
        .and_then(|i| i["id"].as_str())
        .unwrap_or("(none)")
        .to_string();
    let sub = raised
        .iter()
        .rev()
        .find(|e| kind(e).starts_with("customer.subscription."))
        .map(|e| &e["data"]["object"]);
    let date = |key: &str| {
        sub.and_then(|s| s[key].as_i64())
            .and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.format("%-d %B %Y, %H:%M:%S UTC").to_string())
            .unwrap_or_else(|| "(unknown)".to_string())
    };
    let ended = has("customer.subscription.deleted");
    Some(match action {
        "renew" | "fail" if ended => "The period ended: the subscription was set to cancel at period end, so it is canceled now, with no renewal invoice".to_string(),
        "renew" => format!(
            "Renewed: invoice {invoice_id} is paid; the new period ends on {}",
            date("current_period_end")
        ),
        "fail" if has("invoice.created") => {
            format!("Renewal failed: invoice {invoice_id} is open")
        }
        "fail" => format!(
            "The payment failed again: invoice {invoice_id} is still open ({} attempts)",
            invoice
                .and_then(|i| i["attempt_count"].as_i64())
                .unwrap_or_default()
        ),
        "recover" => format!(
            "Recovered: invoice {invoice_id} is paid and the subscription is active"
        ),
        "give_up" => {
            let open = sub
                .and_then(|s| s["latest_invoice"].as_str())
                .unwrap_or("(none)");
            let outcome = if ended { "canceled" } else { "unpaid" };
            format!("Gave up after retries: the subscription is {outcome}; invoice {open} stays open")
        }
        "cancel_at_period_end" => format!(
            "The subscription will cancel at the end of its period, on {}",
            date("cancel_at")
        ),
        "resume" => format!(
            "Resumed: the subscription renews at the end of its period, on {}",
            date("current_period_end")
        ),
        "cancel" => "Canceled now".to_string(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_are_read() {
        let form = read_form(b"action=renew&days_ago=4").unwrap();
        assert_eq!(
            (form.action.as_str(), form.advance, form.days_ago),
            ("renew", Advance::Renew, Some(4))
        );
        let form = read_form(b"action=give_up&then=unpaid&days_ago=").unwrap();
        assert_eq!(
            form.advance,
            Advance::GiveUp(crate::AfterRetries::MarkUnpaid)
        );
        assert_eq!(form.days_ago, None);
        assert!(read_form(b"").unwrap_err().contains("action"));
        assert!(read_form(b"action=pause").unwrap_err().contains("pause"));
        assert!(read_form(b"action=renew&days_ago=-1")
            .unwrap_err()
            .contains("whole number"));
        assert!(read_form(b"action=renew&then=unpaid")
            .unwrap_err()
            .contains("give_up"));
    }
}

//! The emulator's dashboard, `GET /dashboard`: what Stripe's dashboard and its test clocks are
//! for a developer. Like the other pages it needs no API key, and it is plain HTML forms with no
//! scripts or external assets.
//!
//! - `GET /dashboard` (also `GET /dashboard/subscriptions`): the subscriptions, newest first (id,
//!   customer email, price per interval, status, current period end, cancel at period end), each
//!   linking to its page, and the last 20 events (type, id, created), each linking to the
//!   subscription it is about.
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

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::billing::{Subscription, SubscriptionStatus};
use crate::error::EmulatorError;
use crate::invoice::{Invoice, InvoiceStatus};
use crate::pages::{escape, format_amount, html, wide_layout};
use crate::params::Params;
use crate::portal::price;
use crate::store::Store;
use crate::subscriptions::StatusFilter;
use crate::{Advance, Emulator};

/// How many events the pages list.
const RECENT_EVENTS: usize = 20;

const DAY: i64 = 24 * 3600;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/dashboard", web::get().to(index))
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

async fn index(em: web::Data<Emulator>) -> HttpResponse {
    let events = em.events();
    let body = em.with_store(|store, _| Ok((index_page(store, &em, &events), Vec::new())));
    match body {
        Ok(body) => html(StatusCode::OK, &wide_layout("Dashboard", &body)),
        Err(err) => html(
            StatusCode::INTERNAL_SERVER_ERROR,
            &wide_layout("Dashboard", &error_paragraph(&err.to_string())),
        ),
    }
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
    let page = em.with_store(|store, _| {
        let sub = store.subscription(id)?;
        Ok((
            subscription_page(store, sub, events, notice, error),
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

/// The events table, newest first.
fn events_table(table_id: &str, events: &[&Value], with_subscription: bool) -> String {
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
        out.push_str(&format!(
            "<tr class=\"event\" data-type=\"{0}\"><td>{0}</td><td><code>{1}</code></td><td>{2}</td>{subscription}</tr>\n",
            escape(kind(event)),
            escape(event["id"].as_str().unwrap_or_default()),
            time(event["created"].as_i64().unwrap_or_default()),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

/// Where events go, for the developer wondering why nothing arrived.
fn delivery_note(em: &Emulator) -> String {
    let text = match (em.inner().webhook_url(), em.knobs().hold) {
        (None, _) => "No webhook URL is set: events wait until one is.".to_string(),
        (Some(url), true) => {
            format!("Events are held (knob `hold`) until released; then they go to {url}.")
        }
        (Some(url), false) => format!("Events are sent to {url}."),
    };
    format!("<p id=\"webhook\">{}</p>\n", escape(&text))
}

fn index_page(store: &Store, em: &Emulator, events: &[Value]) -> String {
    let mut body = String::from("<h1>Stripe emulator</h1>\n");
    body.push_str("<p>The emulator's dashboard: its subscriptions, each with a test clock, and the events it sent.</p>\n");
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
    body.push_str("<h2 id=\"events-title\">Recent events</h2>\n");
    body.push_str(&delivery_note(em));
    if events.is_empty() {
        body.push_str("<p id=\"no-events\">No events yet.</p>\n");
    } else {
        let recent: Vec<&Value> = events.iter().rev().take(RECENT_EVENTS).collect();
        body.push_str(&events_table("events", &recent, true));
    }
    body
}

fn subscription_page(
    store: &Store,
    sub: &Subscription,
    events: &[Value],
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
        body.push_str(&events_table("subscription-events", &mine, false));
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
    let types = raised
        .iter()
        .map(|e| kind(e))
        .collect::<Vec<_>>()
        .join(", ");
    let sent = if types.is_empty() {
        "no events were raised".to_string()
    } else {
        match (em.inner().webhook_url(), em.knobs().hold) {
            (None, _) => format!("events raised (waiting for a webhook URL): {types}"),
            (Some(_), true) => format!("events raised (held until released): {types}"),
            (Some(_), false) => format!("events sent: {types}"),
        }
    };
    Some(format!("{what}; {sent}"))
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

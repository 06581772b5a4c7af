//! The billing portal, `GET /portal/{id}`: what a billing portal session's `url` points at. Like
//! Stripe's, it needs no API key (the URL is the secret). It lists the customer's subscriptions
//! (price per interval, status, when the period renews or the subscription cancels) and invoices,
//! and links back to the session's `return_url`.
//!
//! Plain HTML forms, no scripts. Each button posts to
//! `POST /portal/{id}/subscriptions/{subscription}/{action}` and, done, redirects (303) back to
//! the portal with a notice (`#notice`); a refused action answers 400 with the page and the
//! message in `#error`:
//!
//! | action                 | shown when                          | effect (events)                                    |
//! |------------------------|-------------------------------------|----------------------------------------------------|
//! | `cancel-at-period-end` | active or past due, not yet pending | `cancel_at_period_end` (`customer.subscription.updated`) |
//! | `resume`               | a cancellation is pending           | pending cancellation withdrawn (`...updated`)      |
//! | `cancel`               | not canceled                        | canceled now (`customer.subscription.deleted`)     |
//! | `pay`                  | past due or unpaid                  | "Update card and pay": the open invoice is paid (`invoice.paid`, `invoice.payment_succeeded`, `...updated` to active) |

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::billing::{Subscription, SubscriptionStatus};
use crate::invoice::InvoiceStatus;
use crate::objects::Cause;
use crate::pages::{escape, format_amount, html, layout};
use crate::store::Store;
use crate::subscriptions::{Advance, StatusFilter};
use crate::Emulator;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/portal/{id}", web::get().to(show)).route(
        "/portal/{id}/subscriptions/{subscription}/{action}",
        web::post().to(act),
    );
}

/// "1 November 2025".
pub(crate) fn long_date(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.format("%-d %B %Y").to_string())
        .unwrap_or_default()
}

/// "€9.00 per month": a subscription's price per interval, before tax.
pub(crate) fn price(sub: &Subscription) -> String {
    format!(
        "{} {}",
        format_amount(sub.amount(), &sub.currency),
        sub.recurring.per()
    )
}

fn action_of(name: &str) -> Option<(Advance, &'static str)> {
    Some(match name {
        "cancel-at-period-end" => (
            Advance::CancelAtPeriodEnd,
            "Your subscription will be canceled at the end of the current period.",
        ),
        "resume" => (Advance::Resume, "Your subscription will continue."),
        "cancel" => (Advance::Cancel, "Your subscription has been canceled."),
        "pay" => (
            Advance::Recover,
            "Thank you: your card was updated and the invoice is paid.",
        ),
        _ => return None,
    })
}

async fn show(req: HttpRequest, path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    let notice = req
        .query_string()
        .strip_prefix("done=")
        .and_then(action_of)
        .map(|(_, text)| text);
    render(&em, &path, StatusCode::OK, notice, None)
}

async fn act(path: web::Path<(String, String, String)>, em: web::Data<Emulator>) -> HttpResponse {
    let (portal, subscription, action) = path.into_inner();
    let Some((advance, _)) = action_of(&action) else {
        return not_found("There is no such portal action.");
    };
    let result = em.with_store(|store, now| {
        let customer = store.portal_session(&portal)?.customer.clone();
        let sub = store.subscription(&subscription)?;
        if sub.customer != customer {
            return Err(crate::EmulatorError::not_found(
                "subscription",
                &subscription,
            ));
        }
        store.advance(&subscription, advance, now, &Cause::default())
    });
    match result {
        Ok(_) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/portal/{portal}?done={action}")))
            .finish(),
        Err(crate::EmulatorError::NotFound { .. }) => {
            not_found("There is no such portal session or subscription.")
        }
        Err(err) => render(
            &em,
            &portal,
            StatusCode::BAD_REQUEST,
            None,
            Some(&err.to_string()),
        ),
    }
}

fn not_found(message: &str) -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        &layout(
            "Billing portal not found",
            &format!(
                "<h1>Billing portal not found</h1><p id=\"status\">{}</p>",
                escape(message)
            ),
        ),
    )
}

fn render(
    em: &Emulator,
    portal: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> HttpResponse {
    let body = em.with_store(|store, _| Ok((page(store, portal, notice, error), Vec::new())));
    match body {
        Ok(Some(body)) => html(status, &layout("Billing", &body)),
        _ => not_found("There is no billing portal session with this id."),
    }
}

/// The page's body, or `None` for an unknown portal session.
fn page(store: &Store, portal: &str, notice: Option<&str>, error: Option<&str>) -> Option<String> {
    let session = store.portal_session(portal).ok()?;
    let customer = store.customer(&session.customer).ok()?;
    let mut body = String::from("<h1>Manage your subscription</h1>\n");
    if let Some(email) = &customer.email {
        body.push_str(&format!(
            "<p>Signed in as <span id=\"customer-email\">{}</span></p>\n",
            escape(email)
        ));
    }
    if let Some(notice) = notice {
        body.push_str(&format!(
            "<p id=\"notice\" role=\"status\">{}</p>\n",
            escape(notice)
        ));
    }
    if let Some(error) = error {
        body.push_str(&format!(
            "<p id=\"error\" class=\"error\" role=\"alert\">{}</p>\n",
            escape(error)
        ));
    }
    body.push_str("<h2>Subscriptions</h2>\n");
    let subs = store.subscriptions_filtered(Some(&customer.id), StatusFilter::All);
    if subs.is_empty() {
        body.push_str("<p id=\"no-subscriptions\">You have no subscriptions.</p>\n");
    }
    for sub in subs {
        body.push_str(&subscription_section(store, portal, sub));
    }
    let invoices = store.invoices_filtered(Some(&customer.id), None, None);
    if !invoices.is_empty() {
        body.push_str("<h2>Invoices</h2>\n<table id=\"invoices\">\n<thead><tr><th scope=\"col\">Date</th><th scope=\"col\">Invoice</th><th scope=\"col\">Status</th><th scope=\"col\" class=\"amount\">Amount</th></tr></thead>\n<tbody>\n");
        for inv in invoices {
            let status = match inv.status {
                InvoiceStatus::Paid => "Paid",
                InvoiceStatus::Open => "Open",
                InvoiceStatus::Draft => "Draft",
            };
            body.push_str(&format!(
                "<tr class=\"invoice\"><td>{}</td><td><a href=\"/invoices/{}\">{}</a></td><td>{status}</td><td class=\"amount\">{}</td></tr>\n",
                long_date(inv.created),
                escape(&inv.id),
                escape(&inv.number),
                format_amount(inv.total(), &inv.currency)
            ));
        }
        body.push_str("</tbody>\n</table>\n");
    }
    if let Some(url) = &session.return_url {
        body.push_str(&format!(
            "<p><a id=\"return\" href=\"{}\">Return to the shop</a></p>\n",
            escape(url)
        ));
    }
    Some(body)
}

fn subscription_section(store: &Store, portal: &str, sub: &Subscription) -> String {
    let id = escape(&sub.id);
    let name = sub
        .items
        .iter()
        .map(|si| si.item.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let price = price(sub);
    let open = sub
        .open_invoice
        .as_ref()
        .and_then(|i| store.invoices.get(i))
        .filter(|i| i.status == InvoiceStatus::Open);
    let failed = open.map(|inv| {
        format!(
            "The payment of {} on {} failed",
            format_amount(inv.amount_remaining(), &inv.currency),
            long_date(inv.finalized_at.unwrap_or(inv.created))
        )
    });
    let pending = sub
        .cancel_at
        .filter(|_| sub.cancel_at_period_end)
        .map(|t| format!("Cancels on {}", long_date(t)));
    let state = match sub.status {
        SubscriptionStatus::Active => match &pending {
            Some(cancels) => format!("Active · {cancels}"),
            None => format!("Active · Renews on {}", long_date(sub.period_end)),
        },
        SubscriptionStatus::PastDue => {
            let next = open
                .and_then(|i| i.next_payment_attempt)
                .map(|t| format!("; we will try again on {}", long_date(t)))
                .unwrap_or_default();
            let mut text = format!("Past due · {}{next}.", failed.clone().unwrap_or_default());
            if let Some(cancels) = &pending {
                text.push_str(&format!(" {cancels}."));
            }
            text
        }
        SubscriptionStatus::Unpaid => format!(
            "Unpaid · {}; there will be no further attempts.",
            failed.clone().unwrap_or_default()
        ),
        SubscriptionStatus::Canceled => format!(
            "Canceled · Ended on {}",
            long_date(sub.ended_at.unwrap_or(sub.period_end))
        ),
    };
    let mut out = format!(
        "<section class=\"subscription\" id=\"subscription-{id}\" data-status=\"{}\" aria-labelledby=\"title-{id}\">\n<h3 id=\"title-{id}\">{}</h3>\n<p class=\"price\">{}</p>\n<p class=\"state\">{}</p>\n",
        sub.status.as_str(),
        escape(&name),
        escape(&price),
        escape(&state),
    );
    let button = |action: &str, label: &str| {
        format!(
            "<form method=\"post\" action=\"/portal/{}/subscriptions/{id}/{action}\"><button type=\"submit\" class=\"{action}\" id=\"{action}-{id}\">{label}</button></form>\n",
            escape(portal)
        )
    };
    if open.is_some()
        && matches!(
            sub.status,
            SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid
        )
    {
        out.push_str(&button("pay", "Update card and pay"));
    }
    match sub.status {
        SubscriptionStatus::Canceled => {}
        SubscriptionStatus::Unpaid => out.push_str(&button("cancel", "Cancel now")),
        _ => {
            if sub.cancel_at_period_end {
                out.push_str(&button("resume", "Resume"));
            } else {
                out.push_str(&button("cancel-at-period-end", "Cancel at period end"));
            }
            out.push_str(&button("cancel", "Cancel now"));
        }
    }
    out.push_str("</section>\n");
    out
}

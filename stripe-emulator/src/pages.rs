//! The hosted checkout page, `GET /pay/{id}`: what the customer sees after the application
//! redirects to the session's `url`.
//!
//! Plain HTML with real forms and buttons and no scripts or external assets, so that a person,
//! an HTTP client and a WebDriver test can all use it. Each button posts to its own action:
//!
//! | button (`id`) | action                  | effect                                                         |
//! |---------------|-------------------------|----------------------------------------------------------------|
//! | `pay`         | `POST /pay/{id}/pay`       | paid by card, `checkout.session.completed`, 303 to success URL |
//! | `pay-async`   | `POST /pay/{id}/pay-async` | completed unpaid, settles later (`outcome=fail` to fail), 303 |
//! | `decline`     | `POST /pay/{id}/decline`   | 402 and "Your card was declined."; the session stays open      |
//! | `cancel`      | `POST /pay/{id}/cancel`    | 303 to the cancel URL; the session stays open                  |

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};

use crate::error::EmulatorError;
use crate::objects::{Session, SessionStatus};
use crate::params::Params;
use crate::Emulator;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pay/{id}", web::get().to(show))
        .route("/pay/{id}/pay", web::post().to(pay))
        .route("/pay/{id}/pay-async", web::post().to(pay_async))
        .route("/pay/{id}/decline", web::post().to(decline))
        .route("/pay/{id}/cancel", web::post().to(cancel));
}

/// A snapshot of the session for rendering, taken under the lock.
fn snapshot(em: &Emulator, id: &str) -> Option<Session> {
    em.with_store(|store, _| Ok((store.session(id)?.clone(), Vec::new())))
        .ok()
}

async fn show(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    match snapshot(&em, &path) {
        Some(session) => page(StatusCode::OK, &session, None),
        None => not_found(),
    }
}

async fn pay(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    let result = em.pay(&path);
    after_payment(&em, &path, result)
}

async fn pay_async(
    path: web::Path<String>,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> HttpResponse {
    // `outcome=fail` makes the delayed payment fail; anything else (or nothing) succeeds.
    let fail = std::str::from_utf8(&body)
        .ok()
        .and_then(|text| Params::parse(text).ok())
        .and_then(|mut params| params.string("outcome").ok().flatten())
        .is_some_and(|outcome| outcome == "fail");
    let result = em.pay_async(&path, !fail);
    after_payment(&em, &path, result)
}

/// Redirects to the success URL after a payment, and also when the session was already
/// complete (a second click or a resubmitted form must not look like a failure).
fn after_payment(em: &Emulator, id: &str, result: Result<(), EmulatorError>) -> HttpResponse {
    let Some(session) = snapshot(em, id) else {
        return not_found();
    };
    match (result, session.status) {
        (Ok(()), _) | (Err(_), SessionStatus::Complete) => redirect(
            &session
                .success_url
                .replace("{CHECKOUT_SESSION_ID}", &session.id),
        ),
        (Err(_), _) => page(StatusCode::CONFLICT, &session, None),
    }
}

async fn decline(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    match snapshot(&em, &path) {
        Some(session) if session.status == SessionStatus::Open => page(
            StatusCode::PAYMENT_REQUIRED,
            &session,
            Some("Your card was declined."),
        ),
        Some(session) => page(StatusCode::CONFLICT, &session, None),
        None => not_found(),
    }
}

async fn cancel(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    match snapshot(&em, &path) {
        Some(session) => match &session.cancel_url {
            Some(url) => redirect(url),
            None => page(
                StatusCode::OK,
                &session,
                Some("No cancel URL was given for this session."),
            ),
        },
        None => not_found(),
    }
}

fn redirect(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

fn not_found() -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        &layout(
            "Checkout not found",
            "<h1>Checkout not found</h1><p id=\"status\">There is no checkout session with this id.</p>",
        ),
    )
}

fn html(status: StatusCode, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body.to_string())
}

fn page(status: StatusCode, session: &Session, message: Option<&str>) -> HttpResponse {
    let mut body = String::from("<h1>Checkout</h1>\n");
    body.push_str("<table id=\"items\">\n");
    for item in &session.items {
        body.push_str(&format!(
            "<tr class=\"item\"><td><span class=\"name\">{}</span>{}</td><td class=\"qty\">{} × {}</td><td class=\"amount\">{}</td></tr>\n",
            escape(&item.name),
            item.description
                .as_deref()
                .map(|d| format!("<br><small>{}</small>", escape(d)))
                .unwrap_or_default(),
            item.quantity,
            format_amount(item.unit_amount, &session.currency),
            format_amount(item.amount(), &session.currency),
        ));
    }
    body.push_str(&format!(
        "<tr class=\"total\"><td colspan=\"2\">Total</td><td id=\"total\">{}</td></tr>\n</table>\n",
        format_amount(session.amount_total(), &session.currency)
    ));
    if let Some(email) = &session.customer_email {
        body.push_str(&format!(
            "<p>Email: <span id=\"email\">{}</span></p>\n",
            escape(email)
        ));
    }
    if let Some(message) = message {
        body.push_str(&format!(
            "<p id=\"error\" class=\"error\" role=\"alert\">{}</p>\n",
            escape(message)
        ));
    }
    if session.status == SessionStatus::Open {
        let id = escape(&session.id);
        body.push_str(&format!(
            r#"<form method="post" action="/pay/{id}/pay"><button type="submit" id="pay" name="pay">Pay</button></form>
<form method="post" action="/pay/{id}/pay-async"><button type="submit" id="pay-async" name="pay-async">Pay later (bank transfer)</button>
<label><input type="checkbox" id="async-fail" name="outcome" value="fail"> the transfer will fail</label></form>
<form method="post" action="/pay/{id}/decline"><button type="submit" id="decline" name="decline">Decline</button></form>
<form method="post" action="/pay/{id}/cancel"><button type="submit" id="cancel" name="cancel">Cancel</button></form>
"#
        ));
    } else {
        body.push_str(&format!(
            "<p id=\"status\" data-status=\"{0}\">This checkout session is no longer payable (status: {0}).</p>\n",
            session.status.as_str()
        ));
    }
    html(status, &layout("Checkout", &body))
}

fn layout(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Stripe emulator</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }}
table {{ width: 100%; border-collapse: collapse; margin-bottom: 1rem; }}
td {{ padding: .4rem 0; border-bottom: 1px solid #ddd; }} td.amount, #total {{ text-align: right; }}
tr.total td {{ font-weight: bold; border-bottom: none; }}
form {{ margin: .5rem 0; }} button {{ width: 100%; padding: .6rem; font-size: 1rem; cursor: pointer; }}
#pay {{ background: #635bff; color: white; border: none; border-radius: 4px; }}
.error {{ color: #b00020; font-weight: bold; }} small {{ color: #555; }}
.banner {{ background: #fff4d6; padding: .4rem .6rem; border-radius: 4px; font-size: .9rem; }}
</style></head>
<body><p class="banner">Test mode: this is the Stripe emulator, no real payment happens.</p>
{body}</body></html>
"#
    )
}

/// `$19.99`, `€5.00`, `£1.50`, `1000 JPY`-style amounts from minor units.
fn format_amount(minor: i64, currency: &str) -> String {
    const ZERO_DECIMAL: [&str; 16] = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ];
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let number = if ZERO_DECIMAL.contains(&currency) {
        abs.to_string()
    } else {
        format!("{}.{:02}", abs / 100, abs % 100)
    };
    match currency {
        "usd" => format!("{sign}${number}"),
        "eur" => format!("{sign}€{number}"),
        "gbp" => format!("{sign}£{number}"),
        other => format!("{sign}{number} {}", other.to_uppercase()),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(format_amount(1999, "usd"), "$19.99");
        assert_eq!(format_amount(5, "eur"), "€0.05");
        assert_eq!(format_amount(1000, "jpy"), "1000 JPY");
        assert_eq!(format_amount(250, "cad"), "2.50 CAD");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<b>\"A&B\"</b>"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
        );
    }
}

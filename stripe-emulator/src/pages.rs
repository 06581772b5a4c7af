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
//!
//! A subscription-mode session's page says "Subscribe", shows each price per interval
//! ("€9.00 per month") and the total due today, and has no Pay later button (delayed payment
//! methods are not emulated for subscriptions): `pay` (labelled "Subscribe"), `decline` and
//! `cancel` work as above.
//!
//! Sessions with `automatic_tax`, `billing_address_collection` or `tax_id_collection` also get
//! a billing form whose fields the Pay and Pay later buttons submit (one form, Pay later via
//! `formaction`): `name`, `line1`, `postal_code`, `city`, `country` (a select of the configured
//! countries), and with `tax_id_collection` `business_name` and `tax_id` (an EU VAT number).
//! Every field is optional, so that a bare POST (what HTTP clients and [`Emulator::pay`] do)
//! still pays, from the default country. With automatic tax the page shows subtotal, tax and
//! total for the selected country; "Update total" (`id="update"`) reloads the page with the
//! form as query string (`GET /pay/{id}?country=FR&...`) to recompute them without scripts.
//! Invalid details (a malformed VAT number) answer 400 with the page, the message in
//! `#error`, and the session open.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::EmulatorError;
use crate::objects::{Mode, Session, SessionStatus};
use crate::params::Params;
use crate::tax::{
    country_code, country_name, format_rate, CustomerDetails, Quote, TaxBehavior, TaxSettings,
};
use crate::Emulator;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/pay/{id}", web::get().to(show))
        .route("/pay/{id}/pay", web::post().to(pay))
        .route("/pay/{id}/pay-async", web::post().to(pay_async))
        .route("/pay/{id}/decline", web::post().to(decline))
        .route("/pay/{id}/cancel", web::post().to(cancel))
        .route("/favicon.ico", web::get().to(favicon));
}

/// Browsers ask every origin for an icon; a 404 would be an error in the buyer's console.
async fn favicon() -> HttpResponse {
    const ICON: &str = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 16 16\"><rect width=\"16\" height=\"16\" rx=\"3\" fill=\"#635bff\"/></svg>";
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header(("Cache-Control", "public, max-age=86400"))
        .body(ICON)
}

/// A snapshot of the session and the tax settings for rendering, taken under the lock.
struct Snapshot {
    session: Session,
    tax: TaxSettings,
}

fn snapshot(em: &Emulator, id: &str) -> Option<Snapshot> {
    em.with_store(|store, _| {
        let snap = Snapshot {
            session: store.session(id)?.clone(),
            tax: store.tax.clone(),
        };
        Ok((snap, Vec::new()))
    })
    .ok()
}

/// The billing fields of a form body or query string (unknown fields, such as a button's name,
/// are ignored, as a browser sends them).
fn read_form(text: &str) -> Result<(CustomerDetails, Option<String>), String> {
    let mut params = Params::parse(text).map_err(|e| e.message)?;
    let mut take = |key: &str| params.string(key).map_err(|e| e.message);
    let details = CustomerDetails {
        country: take("country")?,
        name: take("name")?,
        line1: take("line1")?,
        postal_code: take("postal_code")?,
        city: take("city")?,
        business_name: take("business_name")?,
        tax_id: take("tax_id")?,
    };
    Ok((details, take("outcome")?))
}

/// The form of a POST. Sessions that collect nothing read only `outcome`, leniently, as they
/// always did; the others refuse a form they cannot read (the message is for the page).
fn posted_form(snap: &Snapshot, body: &[u8]) -> Result<(CustomerDetails, Option<String>), String> {
    let text = std::str::from_utf8(body).map_err(|_| "The form is not valid UTF-8.".to_string());
    if !snap.session.collects_details() {
        let outcome = text
            .ok()
            .and_then(|text| Params::parse(text).ok())
            .and_then(|mut params| params.string("outcome").ok().flatten());
        return Ok((CustomerDetails::default(), outcome));
    }
    text.and_then(read_form)
}

async fn show(req: HttpRequest, path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    let Some(snap) = snapshot(&em, &path) else {
        return not_found();
    };
    if !snap.session.collects_details() {
        return page(StatusCode::OK, &snap, None, &CustomerDetails::default());
    }
    // "Update total" submits the form here; check it as paying would, to show what is wrong.
    let (form, problem) = match read_form(req.query_string()) {
        Ok((form, _)) => {
            let problem = form
                .billing(
                    &snap.tax.default_country,
                    snap.session.tax_id_collection.enabled,
                )
                .err()
                .map(|err| err.to_string());
            (form, problem)
        }
        Err(message) => (CustomerDetails::default(), Some(message)),
    };
    match problem {
        None => page(StatusCode::OK, &snap, None, &form),
        Some(message) => page(StatusCode::BAD_REQUEST, &snap, Some(&message), &form),
    }
}

async fn pay(path: web::Path<String>, body: web::Bytes, em: web::Data<Emulator>) -> HttpResponse {
    let Some(snap) = snapshot(&em, &path) else {
        return not_found();
    };
    let (details, _) = match posted_form(&snap, &body) {
        Ok(form) => form,
        Err(message) => return bad_form(&snap, &message),
    };
    let result = em.pay_with(&path, &details);
    after_payment(&em, &path, result, &details)
}

async fn pay_async(
    path: web::Path<String>,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> HttpResponse {
    let Some(snap) = snapshot(&em, &path) else {
        return not_found();
    };
    let (details, outcome) = match posted_form(&snap, &body) {
        Ok(form) => form,
        Err(message) => return bad_form(&snap, &message),
    };
    // `outcome=fail` makes the delayed payment fail; anything else (or nothing) succeeds.
    let fail = outcome.is_some_and(|outcome| outcome == "fail");
    let result = em.pay_async_with(&path, !fail, &details);
    after_payment(&em, &path, result, &details)
}

fn bad_form(snap: &Snapshot, message: &str) -> HttpResponse {
    page(
        StatusCode::BAD_REQUEST,
        snap,
        Some(message),
        &CustomerDetails::default(),
    )
}

/// Redirects to the success URL after a payment, and also when the session was already
/// complete (a second click or a resubmitted form must not look like a failure). A session
/// still open after a failed payment had invalid details: the page again, with the message.
fn after_payment(
    em: &Emulator,
    id: &str,
    result: Result<(), EmulatorError>,
    form: &CustomerDetails,
) -> HttpResponse {
    let Some(snap) = snapshot(em, id) else {
        return not_found();
    };
    let session = &snap.session;
    match (result, session.status) {
        (Ok(()), _) | (Err(_), SessionStatus::Complete) => redirect(
            &session
                .success_url
                .replace("{CHECKOUT_SESSION_ID}", &session.id),
        ),
        (Err(err), SessionStatus::Open) => {
            page(StatusCode::BAD_REQUEST, &snap, Some(&err.to_string()), form)
        }
        (Err(_), _) => page(StatusCode::CONFLICT, &snap, None, form),
    }
}

async fn decline(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    let none = CustomerDetails::default();
    match snapshot(&em, &path) {
        Some(snap) if snap.session.status == SessionStatus::Open => page(
            StatusCode::PAYMENT_REQUIRED,
            &snap,
            Some("Your card was declined."),
            &none,
        ),
        Some(snap) => page(StatusCode::CONFLICT, &snap, None, &none),
        None => not_found(),
    }
}

async fn cancel(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    match snapshot(&em, &path) {
        Some(snap) => match &snap.session.cancel_url {
            Some(url) => redirect(url),
            None => page(
                StatusCode::OK,
                &snap,
                Some("No cancel URL was given for this session."),
                &CustomerDetails::default(),
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

pub(crate) fn html(status: StatusCode, body: &str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .body(body.to_string())
}

fn page(
    status: StatusCode,
    snap: &Snapshot,
    message: Option<&str>,
    form: &CustomerDetails,
) -> HttpResponse {
    let session = &snap.session;
    // The country the form shows, and with automatic tax the tax for it (the recorded tax once
    // paid).
    let country = form
        .country
        .as_deref()
        .and_then(|c| country_code(c, "country").ok())
        .unwrap_or_else(|| snap.tax.default_country.clone());
    let quote = session.automatic_tax.then(|| {
        session
            .tax
            .clone()
            .unwrap_or_else(|| Quote::new(&session.items, &country, snap.tax.rate(&country)))
    });
    let subscribing = session.mode == Mode::Subscription;
    let title = if subscribing { "Subscribe" } else { "Checkout" };
    let mut body = format!("<h1>{title}</h1>\n");
    body.push_str("<table id=\"items\">\n");
    for item in &session.items {
        // "€9.00 per month" for a subscription's price.
        let per = item
            .recurring
            .map(|r| format!(" {}", r.per()))
            .unwrap_or_default();
        body.push_str(&format!(
            "<tr class=\"item\"><td><span class=\"name\">{}</span>{}</td><td class=\"qty\">{} × {}</td><td class=\"amount\">{}{per}</td></tr>\n",
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
    let total_label = if subscribing {
        "Total due today"
    } else {
        "Total"
    };
    match &quote {
        Some(quote) => body.push_str(&tax_rows(quote, &session.currency, total_label)),
        None => body.push_str(&format!(
            "<tr class=\"total\"><td colspan=\"2\">{total_label}</td><td id=\"total\">{}</td></tr>\n</table>\n",
            format_amount(session.amount_total(), &session.currency)
        )),
    }
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
    if session.status == SessionStatus::Open && session.collects_details() {
        body.push_str(&details_form(snap, form, &country));
    } else if session.status == SessionStatus::Open && subscribing {
        let id = escape(&session.id);
        body.push_str(&format!(
            r#"<form method="post" action="/pay/{id}/pay"><button type="submit" id="pay" name="pay">Subscribe</button></form>
<form method="post" action="/pay/{id}/decline"><button type="submit" id="decline" name="decline">Decline</button></form>
<form method="post" action="/pay/{id}/cancel"><button type="submit" id="cancel" name="cancel">Cancel</button></form>
"#
        ));
    } else if session.status == SessionStatus::Open {
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
        if let Some(invoice) = &session.invoice {
            body.push_str(&format!(
                "<p><a id=\"invoice\" href=\"/invoices/{}\">View the invoice</a></p>\n",
                escape(invoice)
            ));
        }
    }
    html(status, &layout(title, &body))
}

/// Subtotal, tax and total rows (closing the items table), with the amounts in minor units as
/// `data-amount` for tests.
fn tax_rows(quote: &Quote, currency: &str, total_label: &str) -> String {
    let included = quote
        .lines
        .iter()
        .all(|l| l.behavior == TaxBehavior::Inclusive);
    let label = format!(
        "Tax {} ({}){}",
        format_rate(quote.rate),
        country_name(&quote.country),
        if included { ", included" } else { "" }
    );
    let row = |class: &str, label: &str, id: &str, amount: i64| {
        format!(
            "<tr class=\"{class}\"><td colspan=\"2\">{}</td><td id=\"{id}\" class=\"amount\" data-amount=\"{amount}\">{}</td></tr>\n",
            escape(label),
            format_amount(amount, currency)
        )
    };
    let mut rows = row("subtotal", "Subtotal", "subtotal", quote.subtotal());
    rows.push_str(&row("tax", &label, "tax", quote.tax()));
    rows.push_str(&row("total", total_label, "total", quote.total()));
    rows.push_str("</table>\n");
    rows
}

/// The billing form with the Pay and Pay later buttons, then Decline and Cancel.
fn details_form(snap: &Snapshot, form: &CustomerDetails, country: &str) -> String {
    let session = &snap.session;
    let id = escape(&session.id);
    let input = |key: &str, label: &str, value: &Option<String>, autocomplete: &str| {
        format!(
            "<div class=\"field\"><label for=\"{key}\">{label}</label><input type=\"text\" id=\"{key}\" name=\"{key}\" autocomplete=\"{autocomplete}\" value=\"{}\"></div>\n",
            escape(value.as_deref().unwrap_or_default())
        )
    };
    let mut countries = snap.tax.countries();
    if !countries.iter().any(|c| c == country) {
        countries.push(country.to_string());
    }
    let options: String = countries
        .iter()
        .map(|c| {
            format!(
                "<option value=\"{0}\"{1}>{2} ({0})</option>",
                escape(c),
                if c == country { " selected" } else { "" },
                escape(country_name(c))
            )
        })
        .collect();
    let mut out = format!(
        "<form method=\"post\" action=\"/pay/{id}/pay\" id=\"checkout\">\n<fieldset id=\"billing\"><legend>Billing address</legend>\n"
    );
    out.push_str(&input("name", "Name", &form.name, "name"));
    out.push_str(&input("line1", "Address", &form.line1, "address-line1"));
    out.push_str(&input(
        "postal_code",
        "Postal code",
        &form.postal_code,
        "postal-code",
    ));
    out.push_str(&input("city", "City", &form.city, "address-level2"));
    out.push_str(&format!(
        "<div class=\"field\"><label for=\"country\">Country</label><select id=\"country\" name=\"country\" autocomplete=\"country\">{options}</select></div>\n</fieldset>\n"
    ));
    if session.tax_id_collection.enabled {
        out.push_str(
            "<fieldset id=\"business\"><legend>Buying as a business (optional)</legend>\n",
        );
        out.push_str(&input(
            "business_name",
            "Business name",
            &form.business_name,
            "organization",
        ));
        out.push_str(&format!(
            "<div class=\"field\"><label for=\"tax_id\">VAT number</label><input type=\"text\" id=\"tax_id\" name=\"tax_id\" autocomplete=\"off\" aria-describedby=\"tax_id-hint\" value=\"{}\"><small id=\"tax_id-hint\">EU VAT number, e.g. DE123456789</small></div>\n</fieldset>\n",
            escape(form.tax_id.as_deref().unwrap_or_default())
        ));
    }
    if session.automatic_tax {
        // First in the form, so that Enter in a field recomputes rather than pays.
        out.push_str(&format!(
            "<button type=\"submit\" id=\"update\" formmethod=\"get\" formaction=\"/pay/{id}\">Update total</button>\n"
        ));
    }
    if session.mode == Mode::Subscription {
        out.push_str(&format!(
            r#"<button type="submit" id="pay" name="pay">Subscribe</button></form>
<form method="post" action="/pay/{id}/decline"><button type="submit" id="decline" name="decline">Decline</button></form>
<form method="post" action="/pay/{id}/cancel"><button type="submit" id="cancel" name="cancel">Cancel</button></form>
"#
        ));
        return out;
    }
    out.push_str(&format!(
        r#"<button type="submit" id="pay" name="pay">Pay</button>
<button type="submit" id="pay-async" name="pay-async" formaction="/pay/{id}/pay-async">Pay later (bank transfer)</button>
<label><input type="checkbox" id="async-fail" name="outcome" value="fail"> the transfer will fail</label></form>
<form method="post" action="/pay/{id}/decline"><button type="submit" id="decline" name="decline">Decline</button></form>
<form method="post" action="/pay/{id}/cancel"><button type="submit" id="cancel" name="cancel">Cancel</button></form>
"#
    ));
    out
}

pub(crate) fn layout(title: &str, body: &str) -> String {
    document(title, "32rem", body)
}

/// [`layout`] with room for tables of several columns (the dashboard).
pub(crate) fn wide_layout(title: &str, body: &str) -> String {
    document(title, "64rem", body)
}

fn document(title: &str, width: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · Stripe emulator</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: {width}; margin: 2rem auto; padding: 0 1rem; color: #1a1a1a; }}
table {{ width: 100%; border-collapse: collapse; margin-bottom: 1rem; }}
td, th {{ padding: .4rem 0; border-bottom: 1px solid #ddd; }} td.amount, #total {{ text-align: right; }}
th {{ text-align: left; }}
tr.total td {{ font-weight: bold; border-bottom: none; }}
form {{ margin: .5rem 0; }} button {{ width: 100%; padding: .6rem; font-size: 1rem; cursor: pointer; }}
#checkout button {{ margin: .25rem 0; }} .field {{ margin: .4rem 0; }}
fieldset {{ border: 1px solid #ddd; border-radius: 4px; margin: 0 0 .75rem; }}
.field label {{ display: block; font-size: .9rem; }}
.field input, .field select {{ width: 100%; padding: .4rem; font-size: 1rem; box-sizing: border-box; }}
#pay {{ background: #635bff; color: white; border: none; border-radius: 4px; }}
.error {{ color: #b00020; font-weight: bold; }} small {{ color: #555; }}
.banner {{ background: #fff4d6; padding: .4rem .6rem; border-radius: 4px; font-size: .9rem; }}
table.list td, table.list th {{ padding-right: .75rem; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .3rem 1rem; }} dt {{ font-weight: bold; }} dd {{ margin: 0; }}
form.clock {{ border-bottom: 1px solid #ddd; padding-bottom: .5rem; }}
form.refund {{ display: flex; gap: .3rem; margin: 0; }} form.refund input, form.refund select {{ width: 6rem; padding: .2rem; }}
form.refund button, form.knobs button {{ width: auto; padding: .3rem .8rem; font-size: .9rem; }}
</style></head>
<body><p class="banner">Test mode: this is the Stripe emulator, no real payment happens.</p>
{body}</body></html>
"#
    )
}

/// `$19.99`, `€5.00`, `£1.50`, `1000 JPY`-style amounts from minor units.
pub(crate) fn format_amount(minor: i64, currency: &str) -> String {
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let number = if zero_decimal(currency) {
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

/// Currencies whose amounts have no minor unit (1 JPY is `1`, not `100`).
pub(crate) fn zero_decimal(currency: &str) -> bool {
    const ZERO_DECIMAL: [&str; 16] = [
        "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
        "xaf", "xof", "xpf",
    ];
    ZERO_DECIMAL.contains(&currency)
}

pub(crate) fn escape(text: &str) -> String {
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

//! The hosted invoice page, `GET /invoices/{id}`: what `hosted_invoice_url` points at. Like
//! Stripe's, it needs no API key (the URL is the secret) and shows the invoice as a customer
//! reads it: seller, buyer with address and tax ID, lines (with their period, for a
//! subscription), subtotal, tax, total and status. An open invoice (a subscription's failed
//! renewal) has a Pay button (`#pay`, `POST /invoices/{id}/pay`): the card is charged, the
//! invoice paid, and a past-due subscription active again; it redirects (303) to the page.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpResponse};

use crate::invoice::{Invoice, InvoiceStatus, ACCOUNT_COUNTRY, ACCOUNT_NAME};
use crate::objects::Cause;
use crate::pages::{escape, format_amount, html, layout};
use crate::tax::{country_name, format_rate, TaxBehavior};
use crate::Emulator;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invoices/{id}", web::get().to(show))
        .route("/invoices/{id}/pay", web::post().to(pay));
}

async fn show(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    page(&em, &path, StatusCode::OK, None)
}

async fn pay(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    match em.with_store(|store, now| store.pay_invoice(&path, now, &Cause::default())) {
        Ok(()) => HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("/invoices/{path}")))
            .finish(),
        Err(err) => page(&em, &path, StatusCode::BAD_REQUEST, Some(&err.to_string())),
    }
}

fn page(em: &Emulator, id: &str, status: StatusCode, error: Option<&str>) -> HttpResponse {
    let invoice = em.with_store(|store, _| Ok((store.invoice(id)?.clone(), Vec::new())));
    match invoice {
        Ok(invoice) => {
            let mut body = render(&invoice);
            if let Some(error) = error {
                body.insert_str(
                    0,
                    &format!(
                        "<p id=\"error\" class=\"error\" role=\"alert\">{}</p>\n",
                        escape(error)
                    ),
                );
            }
            html(
                status,
                &layout(&format!("Invoice {}", invoice.number), &body),
            )
        }
        Err(_) => html(
            StatusCode::NOT_FOUND,
            &layout(
                "Invoice not found",
                "<h1>Invoice not found</h1><p id=\"status\">There is no invoice with this id.</p>",
            ),
        ),
    }
}

fn date(timestamp: i64) -> String {
    chrono::DateTime::from_timestamp(timestamp, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default()
}

/// Lines of text, escaped, joined with `<br>`; empty ones left out.
fn lines(parts: &[Option<String>]) -> String {
    parts
        .iter()
        .flatten()
        .map(|p| escape(p))
        .collect::<Vec<_>>()
        .join("<br>")
}

fn render(inv: &Invoice) -> String {
    let money = |amount: i64| format_amount(amount, &inv.currency);
    let status = match inv.status {
        InvoiceStatus::Paid => format!(
            "<p id=\"invoice-status\" data-status=\"paid\"><strong>Paid</strong> on {} · {}</p>\n",
            date(inv.paid_at.unwrap_or(inv.created)),
            money(inv.total()),
        ),
        InvoiceStatus::Open => {
            let attempts = match inv.attempt_count {
                0 => String::new(),
                1 => " · the payment failed".to_string(),
                n => format!(" · the payment failed {n} times"),
            };
            format!(
                "<p id=\"invoice-status\" data-status=\"open\"><strong>Due</strong> since {} · {}{attempts}</p>\n<form method=\"post\" action=\"/invoices/{}/pay\"><button type=\"submit\" id=\"pay\">Pay {}</button></form>\n",
                date(inv.finalized_at.unwrap_or(inv.created)),
                money(inv.amount_remaining()),
                escape(&inv.id),
                money(inv.amount_remaining()),
            )
        }
        InvoiceStatus::Draft => {
            "<p id=\"invoice-status\" data-status=\"draft\"><strong>Draft</strong></p>\n"
                .to_string()
        }
    };
    let mut body = format!(
        "<h1>Invoice <span id=\"number\">{}</span></h1>\n{status}",
        escape(&inv.number),
    );
    body.push_str(&format!(
        "<section id=\"seller\"><h2>From</h2><p>{}<br>{}</p></section>\n",
        escape(ACCOUNT_NAME),
        escape(country_name(ACCOUNT_COUNTRY)),
    ));
    let buyer = match &inv.billing {
        Some(b) => {
            let place = [b.postal_code.clone(), b.city.clone()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            lines(&[
                b.business_name.clone(),
                b.name.clone(),
                b.line1.clone(),
                Some(place).filter(|p| !p.is_empty()),
                Some(country_name(&b.country).to_string()),
                b.tax_id.as_ref().map(|id| format!("VAT number: {id}")),
                inv.email.clone(),
            ])
        }
        None => lines(std::slice::from_ref(&inv.email)),
    };
    body.push_str(&format!(
        "<section id=\"buyer\"><h2>Billed to</h2><p>{buyer}</p></section>\n"
    ));
    body.push_str("<table id=\"lines\">\n<thead><tr><th scope=\"col\">Description</th><th scope=\"col\">Qty</th><th scope=\"col\">Unit price</th><th scope=\"col\" class=\"amount\">Amount</th></tr></thead>\n<tbody>\n");
    for line in &inv.lines {
        let period = match line.subscription_item {
            Some(_) => format!(
                "<br><small class=\"period\">{} – {}</small>",
                date(line.period.0),
                date(line.period.1)
            ),
            None => String::new(),
        };
        body.push_str(&format!(
            "<tr class=\"line\"><td>{}{period}</td><td>{}</td><td>{}</td><td class=\"amount\">{}</td></tr>\n",
            escape(&line.item.name),
            line.item.quantity,
            money(line.item.unit_amount),
            money(line.item.amount()),
        ));
    }
    body.push_str("</tbody>\n<tfoot>\n");
    let row = |label: &str, id: &str, amount: i64| {
        format!(
            "<tr class=\"{id}\"><th scope=\"row\" colspan=\"3\">{}</th><td id=\"{id}\" class=\"amount\" data-amount=\"{amount}\">{}</td></tr>\n",
            escape(label),
            money(amount)
        )
    };
    body.push_str(&row("Subtotal", "subtotal", inv.subtotal()));
    if let Some(quote) = &inv.tax {
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
        body.push_str(&row(&label, "tax", inv.tax()));
    }
    body.push_str(&row("Total", "total", inv.total()));
    let paid = if inv.paid() { inv.total() } else { 0 };
    body.push_str(&row("Amount paid", "amount-paid", paid));
    if !inv.paid() {
        body.push_str(&row("Amount due", "amount-due", inv.amount_remaining()));
    }
    body.push_str("</tfoot>\n</table>\n");
    for (name, value) in &inv.custom_fields {
        body.push_str(&format!(
            "<p class=\"custom-field\">{}: {}</p>\n",
            escape(name),
            escape(value)
        ));
    }
    if let Some(description) = &inv.description {
        body.push_str(&format!(
            "<p id=\"description\">{}</p>\n",
            escape(description)
        ));
    }
    if let Some(footer) = &inv.footer {
        body.push_str(&format!(
            "<p id=\"footer\"><small>{}</small></p>\n",
            escape(footer)
        ));
    }
    body
}

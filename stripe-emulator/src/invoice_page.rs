//! The hosted invoice page, `GET /invoices/{id}`: what `hosted_invoice_url` points at. Like
//! Stripe's, it needs no API key (the URL is the secret) and shows the invoice as a customer
//! reads it: seller, buyer with address and tax ID, lines, subtotal, tax, total and status.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use crate::invoice::{Invoice, ACCOUNT_COUNTRY, ACCOUNT_NAME};
use crate::pages::{escape, format_amount, html, layout};
use crate::tax::{country_name, format_rate, TaxBehavior};
use crate::Emulator;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/invoices/{id}", web::get().to(show));
}

async fn show(path: web::Path<String>, em: web::Data<Emulator>) -> HttpResponse {
    let invoice = em.with_store(|store, _| Ok((store.invoice(&path)?.clone(), Vec::new())));
    match invoice {
        Ok(invoice) => html(
            StatusCode::OK,
            &layout(&format!("Invoice {}", invoice.number), &render(&invoice)),
        ),
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
    let mut body = format!(
        "<h1>Invoice <span id=\"number\">{}</span></h1>\n<p id=\"invoice-status\" data-status=\"paid\"><strong>Paid</strong> on {} · {}</p>\n",
        escape(&inv.number),
        date(inv.created),
        money(inv.total()),
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
        body.push_str(&format!(
            "<tr class=\"line\"><td>{}</td><td>{}</td><td>{}</td><td class=\"amount\">{}</td></tr>\n",
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
    body.push_str(&row("Amount paid", "amount-paid", inv.total()));
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

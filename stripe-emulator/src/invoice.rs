//! Invoices: those of sessions created with `invoice_creation[enabled]=true` (Stripe's
//! post-payment invoices, created once the payment succeeded, finalized and marked paid at once),
//! and those of subscriptions (`billing_reason` `subscription_create` or `subscription_cycle`),
//! which are finalized, then paid by card or left open when the payment fails.
//!
//! Like the other objects, the JSON carries every property of the published `invoice` schema
//! (2025-10-15), plus those async-stripe's newer `Invoice` requires (`issuer`,
//! `amount_overpaid`, `lines.data[].subtotal`, ...).

use serde_json::{json, Map, Value};

use crate::billing::Subscription;
use crate::objects::{price_json, LineItem, Session};
use crate::pages::format_amount;
use crate::tax::{Billing, LineTax, Quote, TaxBehavior};

/// Who sells: the emulated Stripe account.
pub(crate) const ACCOUNT_NAME: &str = "Folio";
pub(crate) const ACCOUNT_COUNTRY: &str = "DE";

#[derive(Debug, Clone)]
pub(crate) struct InvoiceLine {
    pub id: String,
    /// The invoice item of a one-time line; subscription lines have none.
    pub invoice_item: Option<String>,
    /// The subscription item a subscription line bills.
    pub subscription_item: Option<String>,
    pub item: LineItem,
    /// `None` without automatic tax.
    pub tax: Option<LineTax>,
    /// The service period: the subscription period it bills, or the invoice's creation.
    pub period: (i64, i64),
}

impl InvoiceLine {
    fn total(&self) -> i64 {
        self.tax.as_ref().map_or(self.item.amount(), LineTax::total)
    }

    fn tax_amount(&self) -> i64 {
        self.tax.as_ref().map_or(0, |t| t.tax)
    }
}

/// The invoice's subscription, for `parent.subscription_details`.
#[derive(Debug, Clone)]
pub(crate) struct SubscriptionParent {
    pub id: String,
    /// The subscription's metadata when the invoice was made.
    pub metadata: Map<String, Value>,
}

/// `status` (`uncollectible` and `void` are not emulated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvoiceStatus {
    Draft,
    Open,
    Paid,
}

impl InvoiceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvoiceStatus::Draft => "draft",
            InvoiceStatus::Open => "open",
            InvoiceStatus::Paid => "paid",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Invoice {
    pub id: String,
    /// `FOLIO-0001`, counted per emulator.
    pub number: String,
    pub created: i64,
    /// Creation order, for lists (`created` may repeat, or lie in the past).
    pub order: u64,
    pub currency: String,
    /// Session invoices have one from the start; subscription invoices from finalization.
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub customer: Option<String>,
    pub subscription: Option<SubscriptionParent>,
    /// `manual` (sessions), `subscription_create` or `subscription_cycle`.
    pub billing_reason: &'static str,
    /// `period_start`, `period_end`: for a renewal, the period that just ended.
    pub period: (i64, i64),
    pub status: InvoiceStatus,
    pub finalized_at: Option<i64>,
    pub paid_at: Option<i64>,
    /// Payment attempts by card (session invoices are paid before they exist: 0).
    pub attempt_count: u32,
    pub next_payment_attempt: Option<i64>,
    pub auto_advance: bool,
    pub email: Option<String>,
    pub billing: Option<Billing>,
    pub lines: Vec<InvoiceLine>,
    pub tax: Option<Quote>,
    pub description: Option<String>,
    pub footer: Option<String>,
    pub metadata: Map<String, Value>,
    pub custom_fields: Vec<(String, String)>,
    pub amount_tax_display: Option<String>,
    /// `{base}/invoices/{id}`, the page `invoice_page.rs` serves.
    pub hosted_url: String,
}

impl Invoice {
    /// The invoice of a paid session, as a draft.
    pub fn for_session(
        session: &Session,
        id: String,
        sequence: u32,
        charge: Option<String>,
        now: i64,
    ) -> Self {
        let creation = session.invoice_creation.clone().unwrap_or_default();
        let lines = session
            .items
            .iter()
            .enumerate()
            .map(|(i, item)| InvoiceLine {
                id: crate::objects::new_id("il_"),
                invoice_item: Some(crate::objects::new_id("ii_")),
                subscription_item: None,
                item: item.clone(),
                tax: session.tax.as_ref().and_then(|q| q.lines.get(i).cloned()),
                period: (now, now),
            })
            .collect();
        Self {
            hosted_url: format!("{}/invoices/{id}", session.base_url),
            id,
            number: format!("FOLIO-{sequence:04}"),
            created: now,
            order: 0,
            currency: session.currency.clone(),
            payment_intent: session.payment_intent.clone(),
            charge,
            customer: session.customer.clone(),
            subscription: None,
            billing_reason: "manual",
            period: (now, now),
            status: InvoiceStatus::Draft,
            finalized_at: None,
            paid_at: None,
            attempt_count: 0,
            next_payment_attempt: None,
            auto_advance: false,
            email: Some(session.email()),
            billing: session.billing.clone(),
            lines,
            tax: session.tax.clone(),
            description: creation.description,
            footer: creation.footer,
            metadata: creation.metadata,
            custom_fields: creation.custom_fields,
            amount_tax_display: creation.amount_tax_display,
        }
    }

    /// A subscription's invoice for its current period, as a draft: one line per item, taxed
    /// by `quote` (automatic tax) if given. `period` is the invoice's own `period_start` and
    /// `period_end`.
    #[allow(clippy::too_many_arguments)]
    pub fn for_subscription(
        sub: &Subscription,
        email: Option<String>,
        id: String,
        sequence: u32,
        billing_reason: &'static str,
        created: i64,
        period: (i64, i64),
        quote: Option<Quote>,
    ) -> Self {
        let lines = sub
            .items
            .iter()
            .enumerate()
            .map(|(i, si)| InvoiceLine {
                id: crate::objects::new_id("il_"),
                invoice_item: None,
                subscription_item: Some(si.id.clone()),
                item: si.item.clone(),
                tax: quote.as_ref().and_then(|q| q.lines.get(i).cloned()),
                period: (sub.period_start, sub.period_end),
            })
            .collect();
        Self {
            hosted_url: format!("{}/invoices/{id}", sub.base_url),
            id,
            number: format!("FOLIO-{sequence:04}"),
            created,
            order: 0,
            currency: sub.currency.clone(),
            payment_intent: None,
            charge: None,
            customer: Some(sub.customer.clone()),
            subscription: Some(SubscriptionParent {
                id: sub.id.clone(),
                metadata: sub.metadata.clone(),
            }),
            billing_reason,
            period,
            status: InvoiceStatus::Draft,
            finalized_at: None,
            paid_at: None,
            attempt_count: 0,
            next_payment_attempt: None,
            auto_advance: true,
            email,
            billing: sub.billing.clone(),
            lines,
            tax: quote,
            description: None,
            footer: None,
            metadata: Map::new(),
            custom_fields: Vec::new(),
            amount_tax_display: None,
        }
    }

    pub fn paid(&self) -> bool {
        self.status == InvoiceStatus::Paid
    }

    /// What is still to pay.
    pub fn amount_remaining(&self) -> i64 {
        if self.paid() {
            0
        } else {
            self.total()
        }
    }

    /// The sum of the lines' amounts: what the prices say, inclusive tax included.
    pub fn subtotal(&self) -> i64 {
        self.lines.iter().map(|l| l.item.amount()).sum()
    }

    pub fn tax(&self) -> i64 {
        self.lines.iter().map(InvoiceLine::tax_amount).sum()
    }

    pub fn total(&self) -> i64 {
        self.lines.iter().map(InvoiceLine::total).sum()
    }

    /// The part of the subtotal that is inclusive tax.
    fn inclusive_tax(&self) -> i64 {
        self.tax
            .as_ref()
            .and_then(|q| q.by_behavior(TaxBehavior::Inclusive))
            .map_or(0, |(tax, _)| tax)
    }
}

/// `total_tax_amounts` (the published schema) and `total_taxes` (async-stripe's newer API): one
/// entry per tax behavior used.
fn tax_summaries(quote: Option<&Quote>) -> (Vec<Value>, Vec<Value>) {
    let Some(quote) = quote else {
        return (Vec::new(), Vec::new());
    };
    [TaxBehavior::Exclusive, TaxBehavior::Inclusive]
        .into_iter()
        .filter_map(|behavior| {
            let (tax, taxable) = quote.by_behavior(behavior)?;
            Some(tax_entries(quote, behavior, tax, taxable))
        })
        .unzip()
}

fn tax_entries(quote: &Quote, behavior: TaxBehavior, tax: i64, taxable: i64) -> (Value, Value) {
    // A country without a rate is one the seller is not registered in.
    let reason = if quote.rate > 0 {
        "standard_rated"
    } else {
        "not_collecting"
    };
    (
        json!({
            "amount": tax,
            "inclusive": behavior == TaxBehavior::Inclusive,
            "tax_rate": quote.tax_rate_id,
            "taxability_reason": reason,
            "taxable_amount": taxable
        }),
        json!({
            "amount": tax,
            "tax_behavior": behavior.as_str(),
            "tax_rate_details": {"tax_rate": quote.tax_rate_id},
            "taxability_reason": reason,
            "taxable_amount": taxable,
            "type": "tax_rate_details"
        }),
    )
}

fn line_json(inv: &Invoice, line: &InvoiceLine) -> Value {
    let item = &line.item;
    let (tax_amounts, taxes) = match (&inv.tax, &line.tax) {
        (Some(quote), Some(tax)) => {
            let (old, new) = tax_entries(quote, tax.behavior, tax.tax, tax.excluding_tax());
            (vec![old], vec![new])
        }
        _ => (Vec::new(), Vec::new()),
    };
    let excluding_tax = line.total() - line.tax_amount();
    let subscription = inv.subscription.as_ref().map(|s| &s.id);
    // Stripe describes a subscription line as "1 × Membership (at €9.00 / month)".
    let (description, parent) = match (&line.subscription_item, item.recurring) {
        (Some(si), Some(recurring)) => (
            format!(
                "{} × {} (at {} / {})",
                item.quantity,
                item.name,
                format_amount(item.unit_amount, &inv.currency),
                recurring.describe()
            ),
            json!({
                "invoice_item_details": null,
                "subscription_item_details": {
                    "invoice_item": null,
                    "proration": false,
                    "proration_details": {"credited_items": null},
                    "subscription": subscription,
                    "subscription_item": si
                },
                "type": "subscription_item_details"
            }),
        ),
        _ => (item.name.clone(), Value::Null),
    };
    let mut v = json!({
        "id": line.id,
        "object": "line_item",
        "amount": item.amount(),
        "amount_excluding_tax": excluding_tax,
        "currency": inv.currency,
        "description": description,
        "discount_amounts": [],
        "discountable": true,
        "discounts": [],
        "invoice": inv.id,
        "livemode": false,
        "metadata": {},
        "parent": parent,
        "period": {"end": line.period.1, "start": line.period.0},
        "pretax_credit_amounts": [],
        "price": price_json(item, &inv.currency, inv.created),
        "pricing": {
            "price_details": {"price": item.price_id, "product": item.product_id},
            "type": "price_details",
            "unit_amount_decimal": item.unit_amount.to_string()
        },
        "proration": false,
        "proration_details": null,
        "quantity": item.quantity,
        "subscription": subscription,
        "subtotal": item.amount(),
        "tax_amounts": tax_amounts,
        "tax_rates": [],
        "taxes": taxes,
        "type": if line.subscription_item.is_some() { "subscription" } else { "invoiceitem" },
        "unit_amount_excluding_tax": decimal(excluding_tax, item.quantity)
    });
    if let Some(ii) = &line.invoice_item {
        v["invoice_item"] = json!(ii);
    }
    if let Some(si) = &line.subscription_item {
        v["subscription_item"] = json!(si);
    }
    v
}

/// `payments` (`expand[]=payments`): the invoice's one payment, by its payment intent.
pub(crate) fn payments_json(inv: &Invoice) -> Value {
    let data: Vec<Value> = inv
        .payment_intent
        .iter()
        .map(|pi| {
            json!({
                // Derived from the intent, so that every read shows the same id.
                "id": format!("inpay_{}", pi.trim_start_matches("pi_")),
                "object": "invoice_payment",
                "amount_paid": inv.paid().then(|| inv.total()),
                "amount_requested": inv.total(),
                "created": inv.finalized_at.unwrap_or(inv.created),
                "currency": inv.currency,
                "invoice": inv.id,
                "is_default": true,
                "livemode": false,
                "payment": {"charge": inv.charge, "payment_intent": pi, "type": "payment_intent"},
                "status": if inv.paid() { "paid" } else { "open" },
                "status_transitions": {"canceled_at": null, "paid_at": inv.paid_at}
            })
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "has_more": false,
        "url": format!("/v1/invoices/{}/payments", inv.id)
    })
}

/// `n / d` as a decimal string with at most 12 decimal places, as Stripe writes decimals.
fn decimal(n: i64, d: i64) -> String {
    let d = d.max(1);
    let whole = n / d;
    let mut rest = n % d;
    if rest == 0 {
        return whole.to_string();
    }
    let mut out = format!("{whole}.");
    for _ in 0..12 {
        rest *= 10;
        out.push(char::from(b'0' + (rest / d) as u8));
        rest %= d;
        if rest == 0 {
            break;
        }
    }
    out
}

pub(crate) fn invoice_json(inv: &Invoice) -> Value {
    let finalized = inv.status != InvoiceStatus::Draft;
    let paid = inv.paid();
    let total = inv.total();
    let tax = inv.tax();
    let (total_tax_amounts, total_taxes) = tax_summaries(inv.tax.as_ref());
    let automatic = inv.tax.is_some();
    let custom_fields: Option<Vec<Value>> = (!inv.custom_fields.is_empty()).then(|| {
        inv.custom_fields
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect()
    });
    let billing = inv.billing.as_ref();
    json!({
        "id": inv.id,
        "object": "invoice",
        "account_country": ACCOUNT_COUNTRY,
        "account_name": ACCOUNT_NAME,
        "account_tax_ids": null,
        "amount_due": total,
        "amount_overpaid": 0,
        "amount_paid": if paid { total } else { 0 },
        "amount_paid_off_stripe": 0,
        "amount_remaining": inv.amount_remaining(),
        "amount_shipping": 0,
        "application": null,
        "application_fee_amount": null,
        "attempt_count": inv.attempt_count,
        "attempted": paid || inv.attempt_count > 0,
        "auto_advance": inv.auto_advance,
        "automatic_tax": {
            "disabled_reason": null,
            "enabled": automatic,
            "liability": if automatic { json!({"type": "self"}) } else { Value::Null },
            "provider": automatic.then_some("stripe"),
            "status": automatic.then_some("complete")
        },
        "automatically_finalizes_at": null,
        "billing_reason": inv.billing_reason,
        "charge": inv.charge,
        "collection_method": "charge_automatically",
        "confirmation_secret": null,
        "created": inv.created,
        "currency": inv.currency,
        "custom_fields": custom_fields,
        "customer": inv.customer,
        "customer_account": null,
        "customer_address": billing.map(Billing::address_json),
        "customer_email": inv.email,
        "customer_name": billing.and_then(Billing::display_name),
        "customer_phone": null,
        "customer_shipping": null,
        "customer_tax_exempt": "none",
        "customer_tax_ids": billing.map_or(json!([]), Billing::tax_ids_json),
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": inv.description,
        "discount": null,
        "discounts": [],
        "due_date": null,
        "effective_at": inv.finalized_at,
        "ending_balance": finalized.then_some(0),
        "footer": inv.footer,
        "from_invoice": null,
        "hosted_invoice_url": finalized.then_some(&inv.hosted_url),
        "invoice_pdf": null,
        "issuer": {"type": "self"},
        "last_finalization_error": null,
        "latest_revision": null,
        "lines": {
            "object": "list",
            "data": inv.lines.iter().map(|l| line_json(inv, l)).collect::<Vec<_>>(),
            "has_more": false,
            "url": format!("/v1/invoices/{}/lines", inv.id)
        },
        "livemode": false,
        "metadata": inv.metadata,
        "next_payment_attempt": inv.next_payment_attempt,
        "number": finalized.then_some(&inv.number),
        "on_behalf_of": null,
        "paid": paid,
        "paid_out_of_band": false,
        "parent": inv.subscription.as_ref().map(|s| json!({
            "quote_details": null,
            "subscription_details": {
                "metadata": s.metadata,
                "subscription": s.id,
                "subscription_proration_date": null
            },
            "type": "subscription_details"
        })),
        "payment_intent": inv.payment_intent,
        "payment_settings": {
            "default_mandate": null,
            "payment_method_options": null,
            "payment_method_types": null
        },
        "period_end": inv.period.1,
        "period_start": inv.period.0,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "quote": null,
        "receipt_number": null,
        "rendering": null,
        "rendering_options": inv
            .amount_tax_display
            .as_ref()
            .map(|d| json!({"amount_tax_display": d})),
        "shipping_cost": null,
        "shipping_details": null,
        "starting_balance": 0,
        "statement_descriptor": null,
        "status": inv.status.as_str(),
        "status_transitions": {
            "finalized_at": inv.finalized_at,
            "marked_uncollectible_at": null,
            "paid_at": inv.paid_at,
            "voided_at": null
        },
        "subscription": inv.subscription.as_ref().map(|s| &s.id),
        "subtotal": inv.subtotal(),
        "subtotal_excluding_tax": inv.subtotal() - inv.inclusive_tax(),
        "tax": automatic.then_some(tax),
        "test_clock": null,
        "total": total,
        "total_discount_amounts": [],
        "total_excluding_tax": total - tax,
        "total_pretax_credit_amounts": [],
        "total_tax_amounts": total_tax_amounts,
        "total_taxes": total_taxes,
        "transfer_data": null,
        "webhooks_delivered_at": null
    })
}

#[cfg(test)]
mod tests {
    use super::decimal;

    #[test]
    fn decimals() {
        assert_eq!(decimal(1680, 1), "1680");
        assert_eq!(decimal(1680, 2), "840");
        assert_eq!(decimal(1681, 2), "840.5");
        assert_eq!(decimal(1000, 3), "333.333333333333");
    }
}

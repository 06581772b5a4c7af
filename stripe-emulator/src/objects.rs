//! The emulator's records and their Stripe JSON.
//!
//! Records hold only what the emulator tracks; the JSON functions write every property that
//! Stripe's published schema (2025-10-15) lists for the object, with `null`, `false` or empty
//! values for features the emulator does not model, because typed clients (async-stripe) refuse
//! objects that lack a required field. Properties that async-stripe needs but the schema predates
//! (`enhanced_eligibility_types`, `evidence.enhanced_evidence`, ...) are written too; the schema
//! allows additional properties.

use serde_json::{json, Map, Value};

use crate::tax::{Billing, Quote, TaxBehavior};

/// The API version async-stripe 1.0.0-rc.10 pins (`stripe_shared::version::VERSION`); events
/// carry it so that the client does not log a version mismatch for every webhook.
pub const API_VERSION: &str = "2026-09-30.endive";

/// Random Stripe-style id: `prefix` followed by 24 alphanumerics.
pub(crate) fn new_id(prefix: &str) -> String {
    use rand::distributions::{Alphanumeric, DistString};
    format!(
        "{prefix}{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 24)
    )
}

/// `mode` of a Checkout Session (`setup` is not emulated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Payment,
    Subscription,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Payment => "payment",
            Mode::Subscription => "subscription",
        }
    }
}

/// `recurring[interval]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntervalUnit {
    Day,
    Week,
    Month,
    Year,
}

impl IntervalUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            IntervalUnit::Day => "day",
            IntervalUnit::Week => "week",
            IntervalUnit::Month => "month",
            IntervalUnit::Year => "year",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "day" => Some(IntervalUnit::Day),
            "week" => Some(IntervalUnit::Week),
            "month" => Some(IntervalUnit::Month),
            "year" => Some(IntervalUnit::Year),
            _ => None,
        }
    }

    /// The most of this unit one billing period may have: Stripe's maximum is one year.
    pub fn max_count(self) -> u32 {
        match self {
            IntervalUnit::Day => 365,
            IntervalUnit::Week => 52,
            IntervalUnit::Month => 12,
            IntervalUnit::Year => 1,
        }
    }
}

/// The billing interval of a recurring price: `recurring[interval]` and
/// `recurring[interval_count]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Recurring {
    pub unit: IntervalUnit,
    pub count: u32,
}

impl Recurring {
    /// `t` plus one interval. Months and years are calendar months, clamped to the end of a
    /// shorter month (Jan 31 + 1 month = Feb 28), as Stripe bills them.
    pub fn after(&self, t: i64) -> i64 {
        let count = self.count.max(1);
        let start = chrono::DateTime::from_timestamp(t, 0);
        let end = match self.unit {
            IntervalUnit::Day => start.map(|s| s + chrono::Duration::days(count.into())),
            IntervalUnit::Week => start.map(|s| s + chrono::Duration::weeks(count.into())),
            IntervalUnit::Month => {
                start.and_then(|s| s.checked_add_months(chrono::Months::new(count)))
            }
            IntervalUnit::Year => {
                start.and_then(|s| s.checked_add_months(chrono::Months::new(12 * count)))
            }
        };
        end.map_or(t, |e| e.timestamp())
    }

    /// "per month", "every 3 months".
    pub fn per(&self) -> String {
        match self.count {
            1 => format!("per {}", self.unit.as_str()),
            n => format!("every {n} {}s", self.unit.as_str()),
        }
    }

    /// "month", "3 months": how invoice lines describe the interval.
    pub fn describe(&self) -> String {
        match self.count {
            1 => self.unit.as_str().to_string(),
            n => format!("{n} {}s", self.unit.as_str()),
        }
    }
}

/// `subscription_data[...]`, applied to the subscription a subscription-mode session creates.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubscriptionData {
    pub metadata: Map<String, Value>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SessionStatus {
    Open,
    Complete,
    Expired,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Open => "open",
            SessionStatus::Complete => "complete",
            SessionStatus::Expired => "expired",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct LineItem {
    pub id: String,
    pub price_id: String,
    pub product_id: String,
    pub name: String,
    pub description: Option<String>,
    pub unit_amount: i64,
    pub quantity: i64,
    /// `price_data[tax_behavior]` as given (`exclusive`, `inclusive`, `unspecified`).
    pub tax_behavior: Option<String>,
    /// `price_data[recurring]`: `None` for one-time prices.
    pub recurring: Option<Recurring>,
}

impl LineItem {
    pub fn amount(&self) -> i64 {
        self.unit_amount.saturating_mul(self.quantity)
    }

    /// How automatic tax treats the price. `unspecified` (or nothing) counts as exclusive: the
    /// emulated account's default tax behavior, which Stripe would otherwise ask to be set.
    pub fn tax_behavior(&self) -> TaxBehavior {
        match self.tax_behavior.as_deref() {
            Some("inclusive") => TaxBehavior::Inclusive,
            _ => TaxBehavior::Exclusive,
        }
    }
}

/// `tax_id_collection[...]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TaxIdCollection {
    pub enabled: bool,
    /// `never` or `if_supported`.
    pub required: &'static str,
}

impl Default for TaxIdCollection {
    fn default() -> Self {
        Self {
            enabled: false,
            required: "never",
        }
    }
}

/// `invoice_creation[...]`: whether paying creates an invoice, and what goes on it.
#[derive(Debug, Clone, Default)]
pub(crate) struct InvoiceCreation {
    pub enabled: bool,
    pub description: Option<String>,
    pub footer: Option<String>,
    pub metadata: Map<String, Value>,
    /// `custom_fields[n][name|value]`, shown on the invoice.
    pub custom_fields: Vec<(String, String)>,
    /// `rendering_options[amount_tax_display]`.
    pub amount_tax_display: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub id: String,
    pub mode: Mode,
    pub created: i64,
    /// Creation order, the tiebreak of lists between objects of the same `created` second (set
    /// when the session is stored).
    pub order: u64,
    pub expires_at: i64,
    pub currency: String,
    pub items: Vec<LineItem>,
    pub success_url: String,
    pub cancel_url: Option<String>,
    pub client_reference_id: Option<String>,
    pub customer_email: Option<String>,
    pub metadata: Map<String, Value>,
    pub payment_method_types: Vec<String>,
    /// `payment_intent_data[...]`, applied to the payment intent and charge on payment.
    pub intent_metadata: Map<String, Value>,
    pub intent_description: Option<String>,
    pub intent_receipt_email: Option<String>,
    pub status: SessionStatus,
    pub paid: bool,
    pub payment_intent: Option<String>,
    /// The hosted page, `{base}/pay/{id}`.
    pub page_url: String,
    /// `{base}`, for the hosted page of the session's invoice.
    pub base_url: String,
    /// `automatic_tax[enabled]`.
    pub automatic_tax: bool,
    pub tax_id_collection: TaxIdCollection,
    /// `auto` or `required`.
    pub billing_address_collection: Option<String>,
    pub invoice_creation: Option<InvoiceCreation>,
    /// What the customer entered, once paid (only on sessions that collect details).
    pub billing: Option<Billing>,
    /// The tax, once paid (only with automatic tax).
    pub tax: Option<Quote>,
    /// The invoice's id, once created (in subscription mode, the subscription's first invoice).
    pub invoice: Option<String>,
    /// `customer` as given, or the customer created when a subscription-mode session is paid.
    pub customer: Option<String>,
    /// The email of the customer given as `customer`, for `customer_details` and receipts.
    pub customer_on_file_email: Option<String>,
    /// The subscription created on payment (subscription mode).
    pub subscription: Option<String>,
    pub subscription_data: SubscriptionData,
}

impl Session {
    pub fn amount_subtotal(&self) -> i64 {
        self.items.iter().map(LineItem::amount).sum()
    }

    /// What the customer pays: the subtotal plus exclusive tax, once the tax is known.
    pub fn amount_total(&self) -> i64 {
        match &self.tax {
            Some(quote) => quote.total(),
            None => self.amount_subtotal(),
        }
    }

    /// Whether the hosted page asks for an address (and, with `tax_id_collection`, a tax ID).
    pub fn collects_details(&self) -> bool {
        self.automatic_tax
            || self.billing_address_collection.is_some()
            || self.tax_id_collection.enabled
    }

    pub fn invoice_wanted(&self) -> bool {
        self.invoice_creation.as_ref().is_some_and(|c| c.enabled)
    }

    /// The email the customer pays with: the one given, the customer's, or a placeholder (the
    /// hosted page collects none).
    pub fn email(&self) -> String {
        self.customer_email
            .clone()
            .or_else(|| self.customer_on_file_email.clone())
            .unwrap_or_else(|| "customer@example.com".to_string())
    }
}

/// A payment intent is only tracked to link sessions and invoices to charges and refunds; the
/// emulator does not serve payment intent objects. An invoice's intent has no charge while its
/// payment has failed.
#[derive(Debug, Clone, Default)]
pub(crate) struct PaymentIntent {
    pub charge: Option<String>,
}

/// What a successful charge is made of: the session's or the invoice's amounts and details.
#[derive(Debug, Clone)]
pub(crate) struct ChargeSpec {
    pub amount: i64,
    pub currency: String,
    pub metadata: Map<String, Value>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub billing: Option<Billing>,
    pub customer: Option<String>,
    pub invoice: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Charge {
    pub id: String,
    pub payment_intent: String,
    pub amount: i64,
    pub currency: String,
    /// When the payment succeeded: now, or the `at` of a subscription renewal (its invoice's
    /// time), which may lie in the past.
    pub created: i64,
    /// Creation order, the tiebreak of lists.
    pub order: u64,
    pub amount_refunded: i64,
    pub refunds: Vec<String>,
    pub disputed: bool,
    pub metadata: Map<String, Value>,
    pub description: Option<String>,
    pub email: Option<String>,
    pub balance_transaction: String,
    pub payment_method: String,
    /// The billing details of the session, when it collected them.
    pub billing: Option<Billing>,
    pub customer: Option<String>,
    /// The invoice this charge paid (subscription invoices).
    pub invoice: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Refund {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: String,
    pub created: i64,
    /// Creation order, the tiebreak of lists.
    pub order: u64,
    pub metadata: Map<String, Value>,
    pub reason: Option<String>,
    pub balance_transaction: String,
}

#[derive(Debug, Clone)]
pub(crate) struct Dispute {
    pub id: String,
    pub amount: i64,
    pub currency: String,
    pub charge: String,
    pub payment_intent: String,
    pub created: i64,
    pub status: &'static str,
}

pub(crate) fn session_json(s: &Session, expand_line_items: bool) -> Value {
    let open = s.status == SessionStatus::Open;
    let subscription = s.mode == Mode::Subscription;
    let email = || s.email();
    let completed = s.status == SessionStatus::Complete;
    let customer_details = match (completed, &s.billing) {
        (true, Some(billing)) => json!({
            "address": billing.address_json(),
            "business_name": billing.business_name,
            "email": email(),
            "individual_name": billing.business_name.as_ref().and(billing.name.as_ref()),
            "name": billing.display_name(),
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": billing.tax_ids_json()
        }),
        (true, None) => json!({
            "address": null,
            "email": email(),
            "name": null,
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": []
        }),
        (false, _) => Value::Null,
    };
    let automatic_tax = if s.automatic_tax {
        json!({
            "enabled": true,
            "liability": {"type": "self"},
            "provider": s.tax.as_ref().map(|_| "stripe"),
            // Stripe computes tax once it knows where the customer is, i.e. on the page.
            "status": if s.tax.is_some() { "complete" } else { "requires_location_inputs" }
        })
    } else {
        json!({"enabled": false, "liability": null, "status": null})
    };
    let invoice_creation = s.invoice_creation.as_ref().map(invoice_creation_json);
    let mut v = json!({
        "id": s.id,
        "object": "checkout.session",
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": s.amount_subtotal(),
        "amount_total": s.amount_total(),
        "automatic_tax": automatic_tax,
        "billing_address_collection": s.billing_address_collection,
        "cancel_url": s.cancel_url,
        "client_reference_id": s.client_reference_id,
        "client_secret": null,
        "consent": null,
        "consent_collection": null,
        "created": s.created,
        "currency": s.currency,
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null,
            "shipping_address": null,
            "submit": null,
            "terms_of_service_acceptance": null
        },
        "customer": s.customer,
        // `customer_creation` is a payment-mode setting; subscriptions always have a customer.
        "customer_creation": if subscription { None } else { Some("if_required") },
        "customer_details": customer_details,
        "customer_email": s.customer_email,
        "expires_at": s.expires_at,
        "invoice": s.invoice,
        "invoice_creation": invoice_creation,
        "livemode": false,
        "locale": null,
        "metadata": s.metadata,
        "mode": s.mode.as_str(),
        "payment_intent": s.payment_intent,
        "payment_link": null,
        "payment_method_collection": if subscription { "always" } else { "if_required" },
        "payment_method_configuration_details": null,
        "payment_method_options": {},
        "payment_method_types": s.payment_method_types,
        "payment_status": if s.paid { "paid" } else { "unpaid" },
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_details": null,
        "shipping_options": [],
        "status": s.status.as_str(),
        "submit_type": null,
        "subscription": s.subscription,
        "success_url": s.success_url,
        "tax_id_collection": {
            "enabled": s.tax_id_collection.enabled,
            "required": s.tax_id_collection.required
        },
        "total_details": {
            "amount_discount": 0,
            "amount_shipping": 0,
            "amount_tax": s.tax.as_ref().map_or(0, Quote::tax)
        },
        "ui_mode": "hosted",
        // Stripe clears the URL once the session can no longer be paid.
        "url": if open { Some(&s.page_url) } else { None },
    });
    if expand_line_items {
        v["line_items"] = line_items_json(s);
    }
    v
}

/// `invoice_creation` as the session shows it.
fn invoice_creation_json(c: &InvoiceCreation) -> Value {
    let custom_fields: Option<Vec<Value>> = (!c.custom_fields.is_empty()).then(|| {
        c.custom_fields
            .iter()
            .map(|(name, value)| json!({"name": name, "value": value}))
            .collect()
    });
    json!({
        "enabled": c.enabled,
        "invoice_data": {
            "account_tax_ids": null,
            "custom_fields": custom_fields,
            "description": c.description,
            "footer": c.footer,
            "issuer": null,
            "metadata": c.metadata,
            "rendering_options": c.amount_tax_display.as_ref().map(|display| json!({
                "amount_tax_display": display,
                "template": null
            }))
        }
    })
}

/// The inline price of a line item, as Stripe creates it for `price_data`.
pub(crate) fn price_json(item: &LineItem, currency: &str, created: i64) -> Value {
    json!({
        "id": item.price_id,
        "object": "price",
        "active": false,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": null,
        "product": item.product_id,
        "recurring": item.recurring.map(|r| json!({
            "interval": r.unit.as_str(),
            "interval_count": r.count,
            "meter": null,
            "trial_period_days": null,
            "usage_type": "licensed"
        })),
        "tax_behavior": item.tax_behavior.as_deref().unwrap_or("unspecified"),
        "tiers_mode": null,
        "transform_quantity": null,
        "type": if item.recurring.is_some() { "recurring" } else { "one_time" },
        "unit_amount": item.unit_amount,
        "unit_amount_decimal": item.unit_amount.to_string()
    })
}

/// The `list` of `item`s, as embedded with `expand[]=line_items` and served by
/// `GET /v1/checkout/sessions/{id}/line_items`.
pub(crate) fn line_items_json(s: &Session) -> Value {
    let data: Vec<Value> = s
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let line_tax = s.tax.as_ref().and_then(|quote| quote.lines.get(i));
            json!({
                "id": item.id,
                "object": "item",
                "amount_discount": 0,
                "amount_subtotal": item.amount(),
                "amount_tax": line_tax.map_or(0, |l| l.tax),
                "amount_total": line_tax.map_or(item.amount(), |l| l.total()),
                "currency": s.currency,
                // Stripe describes an item by its product's name.
                "description": item.name,
                "price": price_json(item, &s.currency, s.created),
                "quantity": item.quantity
            })
        })
        .collect();
    json!({
        "object": "list",
        "data": data,
        "has_more": false,
        "url": format!("/v1/checkout/sessions/{}/line_items", s.id)
    })
}

pub(crate) fn charge_json(c: &Charge, refunds: &[&Refund]) -> Value {
    json!({
        "id": c.id,
        "object": "charge",
        "amount": c.amount,
        "amount_captured": c.amount,
        "amount_refunded": c.amount_refunded,
        "application": null,
        "application_fee": null,
        "application_fee_amount": null,
        "balance_transaction": c.balance_transaction,
        "billing_details": {
            "address": c.billing.as_ref().map(Billing::address_json),
            "email": c.email,
            "name": c.billing.as_ref().and_then(Billing::display_name),
            "phone": null
        },
        "calculated_statement_descriptor": "FOLIO",
        "captured": true,
        "created": c.created,
        "currency": c.currency,
        "customer": c.customer,
        "description": c.description,
        "disputed": c.disputed,
        "failure_balance_transaction": null,
        "failure_code": null,
        "failure_message": null,
        "fraud_details": {},
        "invoice": c.invoice,
        "livemode": false,
        "metadata": c.metadata,
        "on_behalf_of": null,
        "outcome": null,
        "paid": true,
        "payment_intent": c.payment_intent,
        "payment_method": c.payment_method,
        "payment_method_details": null,
        "receipt_email": c.email,
        "receipt_number": null,
        "receipt_url": null,
        "refunded": c.amount_refunded >= c.amount,
        "refunds": {
            "object": "list",
            "data": refunds.iter().map(|r| refund_json(r)).collect::<Vec<_>>(),
            "has_more": false,
            "url": format!("/v1/charges/{}/refunds", c.id)
        },
        "review": null,
        "shipping": null,
        "source_transfer": null,
        "statement_descriptor": null,
        "statement_descriptor_suffix": null,
        "status": "succeeded",
        "transfer_data": null,
        "transfer_group": null
    })
}

pub(crate) fn refund_json(r: &Refund) -> Value {
    json!({
        "id": r.id,
        "object": "refund",
        "amount": r.amount,
        "balance_transaction": r.balance_transaction,
        "charge": r.charge,
        "created": r.created,
        "currency": r.currency,
        "metadata": r.metadata,
        "payment_intent": r.payment_intent,
        "reason": r.reason,
        "receipt_number": null,
        "source_transfer_reversal": null,
        "status": "succeeded",
        "transfer_reversal": null
    })
}

pub(crate) fn dispute_json(d: &Dispute) -> Value {
    const EVIDENCE_FIELDS: [&str; 27] = [
        "access_activity_log",
        "billing_address",
        "cancellation_policy",
        "cancellation_policy_disclosure",
        "cancellation_rebuttal",
        "customer_communication",
        "customer_email_address",
        "customer_name",
        "customer_purchase_ip",
        "customer_signature",
        "duplicate_charge_documentation",
        "duplicate_charge_explanation",
        "duplicate_charge_id",
        "product_description",
        "receipt",
        "refund_policy",
        "refund_policy_disclosure",
        "refund_refusal_explanation",
        "service_date",
        "service_documentation",
        "shipping_address",
        "shipping_carrier",
        "shipping_date",
        "shipping_documentation",
        "shipping_tracking_number",
        "uncategorized_file",
        "uncategorized_text",
    ];
    let mut evidence: Map<String, Value> = EVIDENCE_FIELDS
        .iter()
        .map(|f| (f.to_string(), Value::Null))
        .collect();
    evidence.insert("enhanced_evidence".into(), json!({}));
    json!({
        "id": d.id,
        "object": "dispute",
        "amount": d.amount,
        "balance_transactions": [],
        "charge": d.charge,
        "created": d.created,
        "currency": d.currency,
        "enhanced_eligibility_types": [],
        "evidence": evidence,
        "evidence_details": {
            "due_by": d.created + 7 * 24 * 3600,
            "enhanced_eligibility": {},
            "has_evidence": false,
            "past_due": false,
            "submission_count": 0
        },
        "is_charge_refundable": false,
        "livemode": false,
        "metadata": {},
        "payment_intent": d.payment_intent,
        "reason": "fraudulent",
        "status": d.status
    })
}

/// Who caused an event: `request.id` and `request.idempotency_key` of the API call, or nothing
/// for events caused by the customer or by time.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cause {
    pub request_id: Option<String>,
    pub idempotency_key: Option<String>,
}

/// An event before it gets its id and timestamp.
#[derive(Debug, Clone)]
pub(crate) struct EventDraft {
    pub kind: &'static str,
    pub object: Value,
    pub cause: Cause,
    /// `data.previous_attributes` of `*.updated` events: the changed fields' former values.
    pub previous: Option<Value>,
}

pub(crate) fn event_json(id: &str, created: i64, draft: &EventDraft) -> Value {
    let mut data = json!({"object": draft.object});
    if let Some(previous) = &draft.previous {
        data["previous_attributes"] = previous.clone();
    }
    json!({
        "id": id,
        "object": "event",
        "api_version": API_VERSION,
        "created": created,
        "data": data,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {
            "id": draft.cause.request_id,
            "idempotency_key": draft.cause.idempotency_key
        },
        "type": draft.kind
    })
}

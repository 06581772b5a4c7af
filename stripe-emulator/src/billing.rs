//! Stripe Billing records: customers, subscriptions and billing portal sessions, and their JSON.
//!
//! As for the other objects, the JSON carries every property of the published schemas
//! (2025-10-15), plus what async-stripe's newer types require: a subscription has its period both
//! on itself (the published schema) and on each item (API 2025-03-31 and later, which
//! async-stripe reads), `billing_mode`, `invoice_settings` and the like. A customer leaves out
//! `sources`, `subscriptions`, `tax` and `tax_ids`, which Stripe only includes when expanded.

use serde_json::{json, Map, Value};

use crate::objects::{price_json, LineItem, Recurring};
use crate::tax::Billing;

#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub id: String,
    pub created: i64,
    pub email: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub phone: Option<String>,
    pub metadata: Map<String, Value>,
    /// Set by the first subscription, as Stripe does.
    pub currency: Option<String>,
    /// The billing address entered at checkout, when the session collected one.
    pub address: Option<Billing>,
    /// The prefix Stripe gives each customer's invoices (8 characters).
    pub invoice_prefix: String,
}

/// What `customer_json` needs to know from the rest of the store.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CustomerStanding {
    /// An invoice of the customer's is open after a failed payment.
    pub delinquent: bool,
    /// The customer's invoices so far.
    pub invoices: u32,
}

pub(crate) fn customer_json(c: &Customer, standing: CustomerStanding) -> Value {
    json!({
        "id": c.id,
        "object": "customer",
        "address": c.address.as_ref().map(Billing::address_json),
        "balance": 0,
        "created": c.created,
        "currency": c.currency,
        "default_source": null,
        "delinquent": standing.delinquent,
        "description": c.description,
        "discount": null,
        "email": c.email,
        "invoice_credit_balance": {},
        "invoice_prefix": c.invoice_prefix,
        "invoice_settings": {
            "custom_fields": null,
            "default_payment_method": null,
            "footer": null,
            "rendering_options": null
        },
        "livemode": false,
        "metadata": c.metadata,
        "name": c.name,
        "next_invoice_sequence": standing.invoices + 1,
        "phone": c.phone,
        "preferred_locales": [],
        "shipping": null,
        "tax_exempt": "none",
        "test_clock": null
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SubscriptionStatus {
    Active,
    PastDue,
    Unpaid,
    Canceled,
}

impl SubscriptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Canceled => "canceled",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SubscriptionItem {
    pub id: String,
    pub created: i64,
    /// The price (always recurring), product and quantity.
    pub item: LineItem,
}

/// `cancellation_details`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Cancellation {
    /// `cancellation_requested` or `payment_failed`.
    pub reason: Option<&'static str>,
    pub comment: Option<String>,
    pub feedback: Option<String>,
}

#[derive(Debug, Clone)]
pub(crate) struct Subscription {
    pub id: String,
    pub customer: String,
    pub created: i64,
    /// Creation order, for lists.
    pub order: u64,
    pub currency: String,
    pub items: Vec<SubscriptionItem>,
    /// The items' common billing interval.
    pub recurring: Recurring,
    /// The current period, shared by all items.
    pub period_start: i64,
    pub period_end: i64,
    pub status: SubscriptionStatus,
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub cancellation: Cancellation,
    pub metadata: Map<String, Value>,
    pub description: Option<String>,
    pub latest_invoice: Option<String>,
    /// The invoice whose payment failed and is still open.
    pub open_invoice: Option<String>,
    /// `automatic_tax[enabled]` of the session: renewals are taxed for `billing`'s country.
    pub automatic_tax: bool,
    pub billing: Option<Billing>,
    pub default_payment_method: String,
    /// `{base}`, for the hosted pages of its invoices.
    pub base_url: String,
}

impl Subscription {
    /// The amount of one period, before tax.
    pub fn amount(&self) -> i64 {
        self.items.iter().map(|si| si.item.amount()).sum()
    }
}

/// The legacy `plan` that Stripe still shows on subscription items, mirroring the price.
fn plan_json(item: &LineItem, recurring: Recurring, currency: &str, created: i64) -> Value {
    json!({
        "id": item.price_id,
        "object": "plan",
        "active": false,
        "aggregate_usage": null,
        "amount": item.unit_amount,
        "amount_decimal": item.unit_amount.to_string(),
        "billing_scheme": "per_unit",
        "created": created,
        "currency": currency,
        "interval": recurring.unit.as_str(),
        "interval_count": recurring.count,
        "livemode": false,
        "metadata": {},
        "meter": null,
        "nickname": null,
        "product": item.product_id,
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": "licensed"
    })
}

pub(crate) fn subscription_json(s: &Subscription) -> Value {
    let items: Vec<Value> = s
        .items
        .iter()
        .map(|si| {
            json!({
                "id": si.id,
                "object": "subscription_item",
                "billing_thresholds": null,
                "created": si.created,
                "current_period_end": s.period_end,
                "current_period_start": s.period_start,
                "discounts": [],
                "metadata": {},
                "plan": plan_json(&si.item, s.recurring, &s.currency, s.created),
                "price": price_json(&si.item, &s.currency, s.created),
                "quantity": si.item.quantity,
                "subscription": s.id,
                "tax_rates": []
            })
        })
        .collect();
    let automatic_tax = if s.automatic_tax {
        json!({"disabled_reason": null, "enabled": true, "liability": {"type": "self"}})
    } else {
        json!({"disabled_reason": null, "enabled": false, "liability": null})
    };
    json!({
        "id": s.id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": automatic_tax,
        "billing_cycle_anchor": s.created,
        "billing_cycle_anchor_config": null,
        "billing_mode": {"flexible": null, "type": "classic", "updated_at": null},
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": s.cancel_at,
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": s.canceled_at,
        "cancellation_details": {
            "comment": s.cancellation.comment,
            "feedback": s.cancellation.feedback,
            "reason": s.cancellation.reason
        },
        "collection_method": "charge_automatically",
        "created": s.created,
        "currency": s.currency,
        // The published schema has the period here; API 2025-03-31 and later on the items.
        "current_period_end": s.period_end,
        "current_period_start": s.period_start,
        "customer": s.customer,
        "customer_account": null,
        "days_until_due": null,
        "default_payment_method": s.default_payment_method,
        "default_source": null,
        "default_tax_rates": [],
        "description": s.description,
        "discount": null,
        "discounts": [],
        "ended_at": s.ended_at,
        "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": items,
            "has_more": false,
            "total_count": s.items.len(),
            "url": format!("/v1/subscription_items?subscription={}", s.id)
        },
        "latest_invoice": s.latest_invoice,
        "livemode": false,
        "metadata": s.metadata,
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {
            "payment_method_options": null,
            "payment_method_types": null,
            "save_default_payment_method": "off"
        },
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": s.created,
        "status": s.status.as_str(),
        "test_clock": null,
        "transfer_data": null,
        "trial_end": null,
        "trial_settings": {"end_behavior": {"missing_payment_method": "create_invoice"}},
        "trial_start": null
    })
}

/// A billing portal session: `url` is the portal page, `{base}/portal/{id}`.
#[derive(Debug, Clone)]
pub(crate) struct PortalSession {
    pub id: String,
    pub customer: String,
    pub created: i64,
    pub return_url: Option<String>,
    pub locale: Option<String>,
    pub url: String,
}

/// The emulated account's one portal configuration.
pub(crate) const PORTAL_CONFIGURATION: &str = "bpc_emulator_default";

pub(crate) fn portal_session_json(p: &PortalSession) -> Value {
    json!({
        "id": p.id,
        "object": "billing_portal.session",
        "configuration": PORTAL_CONFIGURATION,
        "created": p.created,
        "customer": p.customer,
        "customer_account": null,
        "flow": null,
        "livemode": false,
        "locale": p.locale,
        "on_behalf_of": null,
        "return_url": p.return_url,
        "url": p.url
    })
}

/// `data.previous_attributes`: for each property that changed from `old` to `new`, its old
/// value; nested objects only with their changed properties, lists whole (as Stripe reports
/// `items`). `None` when nothing changed.
pub(crate) fn previous_attributes(old: &Value, new: &Value) -> Option<Value> {
    let (Value::Object(old), Value::Object(new)) = (old, new) else {
        return (old != new).then(|| old.clone());
    };
    let mut changed = Map::new();
    for (key, before) in old {
        let after = new.get(key).unwrap_or(&Value::Null);
        let diff = match (before, after) {
            (Value::Object(_), Value::Object(_)) => previous_attributes(before, after),
            _ => (before != after).then(|| before.clone()),
        };
        if let Some(diff) = diff {
            changed.insert(key.clone(), diff);
        }
    }
    (!changed.is_empty()).then_some(Value::Object(changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::objects::IntervalUnit;

    #[test]
    fn previous_attributes_name_what_changed() {
        let old = json!({"a": 1, "b": {"x": 1, "y": 2}, "c": [1], "d": "same"});
        let new = json!({"a": 2, "b": {"x": 1, "y": 3}, "c": [1, 2], "d": "same"});
        assert_eq!(
            previous_attributes(&old, &new),
            Some(json!({"a": 1, "b": {"y": 2}, "c": [1]}))
        );
        assert_eq!(previous_attributes(&old, &old), None);
    }

    #[test]
    fn periods_follow_the_calendar() {
        let jan31 = 1_738_281_600; // 2025-01-31T00:00:00Z
        let month = Recurring {
            unit: IntervalUnit::Month,
            count: 1,
        };
        assert_eq!(month.after(jan31), 1_740_700_800); // 2025-02-28
        let year = Recurring {
            unit: IntervalUnit::Year,
            count: 1,
        };
        assert_eq!(year.after(jan31), 1_769_817_600); // 2026-01-31
        let fortnight = Recurring {
            unit: IntervalUnit::Week,
            count: 2,
        };
        assert_eq!(fortnight.after(jan31), jan31 + 14 * 86_400);
        assert_eq!(month.per(), "per month");
        assert_eq!(
            Recurring {
                unit: IntervalUnit::Month,
                count: 3
            }
            .per(),
            "every 3 months"
        );
    }
}

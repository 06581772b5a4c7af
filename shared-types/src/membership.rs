//! Memberships: plans a shopper subscribes to through Stripe Billing, and the subscriptions
//! that unlock a plan's products while they last.

use serde::{Deserialize, Serialize};

#[cfg(target_arch = "wasm32")]
use crate::wire_time::{DateTime, Utc};
#[cfg(not(target_arch = "wasm32"))]
use chrono::{DateTime, Utc};

use crate::dto::ProductRef;
use crate::ids::{PlanId, ProductId, SubscriptionId};
use crate::money::{Currency, Money, Price};
use crate::problem::FieldError;
use crate::validate::ValidationError;

/// How often a plan bills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::AsExpression, diesel::FromSqlRow),
    diesel(sql_type = diesel::sql_types::Text)
)]
#[serde(rename_all = "lowercase")]
pub enum BillingInterval {
    Month,
    Year,
}

impl BillingInterval {
    pub const ALL: [BillingInterval; 2] = [BillingInterval::Month, BillingInterval::Year];

    /// Stripe's word for it, and the stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            BillingInterval::Month => "month",
            BillingInterval::Year => "year",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

/// A subscription's status, as Stripe reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::AsExpression, diesel::FromSqlRow),
    diesel(sql_type = diesel::sql_types::Text)
)]
#[serde(rename_all = "snake_case")]
pub enum SubscriptionStatus {
    Incomplete,
    IncompleteExpired,
    Trialing,
    Active,
    PastDue,
    Canceled,
    Unpaid,
    Paused,
}

impl SubscriptionStatus {
    pub const ALL: [SubscriptionStatus; 8] = [
        SubscriptionStatus::Incomplete,
        SubscriptionStatus::IncompleteExpired,
        SubscriptionStatus::Trialing,
        SubscriptionStatus::Active,
        SubscriptionStatus::PastDue,
        SubscriptionStatus::Canceled,
        SubscriptionStatus::Unpaid,
        SubscriptionStatus::Paused,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionStatus::Incomplete => "incomplete",
            SubscriptionStatus::IncompleteExpired => "incomplete_expired",
            SubscriptionStatus::Trialing => "trialing",
            SubscriptionStatus::Active => "active",
            SubscriptionStatus::PastDue => "past_due",
            SubscriptionStatus::Canceled => "canceled",
            SubscriptionStatus::Unpaid => "unpaid",
            SubscriptionStatus::Paused => "paused",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }

    /// Whether a subscription in this status can still be paid for (it may come back to
    /// active): every status but the three that end it.
    pub fn is_over(self) -> bool {
        matches!(
            self,
            SubscriptionStatus::Canceled
                | SubscriptionStatus::IncompleteExpired
                | SubscriptionStatus::Unpaid
        )
    }
}

#[cfg(feature = "diesel")]
mod columns {
    use super::{BillingInterval, SubscriptionStatus};

    crate::db::text_column!(BillingInterval, as_str, |s: String| {
        BillingInterval::from_db(&s).ok_or_else(|| format!("unknown interval {s:?}"))
    });
    crate::db::text_column!(SubscriptionStatus, as_str, |s: String| {
        SubscriptionStatus::from_db(&s).ok_or_else(|| format!("unknown subscription status {s:?}"))
    });
}

/// A membership plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Plan {
    pub id: PlanId,
    pub name: String,
    pub description: String,
    pub interval: BillingInterval,
    /// What each interval costs.
    pub price: Money,
    /// Every published product, present and future; otherwise the products in `products`
    /// (a bundle in the list brings its items).
    pub all_products: bool,
    /// The products it unlocks when it is not for all of them; empty otherwise.
    pub products: Vec<ProductRef>,
    /// Whether new members can subscribe (members of an inactive plan keep it).
    pub active: bool,
    /// Members with access now; only in the admin listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Plans, cheapest first (the admin listing: every plan, newest first).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanList {
    pub items: Vec<Plan>,
}

/// Longest plan name.
pub const MAX_PLAN_NAME: usize = 120;
/// Longest plan description.
pub const MAX_PLAN_DESCRIPTION: usize = 2000;
/// Most products a plan names.
pub const MAX_PLAN_PRODUCTS: usize = 500;

/// Body of `POST /api/v1/admin/plans` and `PUT /api/v1/admin/plans/{id}` (the whole plan).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlanRequest {
    /// 1 to 120 characters (not only spaces).
    pub name: String,
    /// Up to 2000 characters.
    #[serde(default)]
    pub description: String,
    #[cfg_attr(feature = "openapi", schema(value_type = BillingInterval))]
    pub interval: Option<BillingInterval>,
    /// The price per interval as a decimal string, at least 0.50 ("9" or "9.99"). A new price
    /// applies to new members; members keep the price they subscribed at.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(0\\.[5-9][0-9]?|[1-9][0-9]{0,5}(\\.[0-9]{1,2})?)$")
    )]
    pub price: String,
    /// Default usd.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    /// Every published product, present and future (default false: give `product_ids`).
    #[serde(default)]
    pub all_products: bool,
    /// The products it unlocks (1 to 500), when not `all_products`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub product_ids: Option<Vec<ProductId>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// A plan request, checked.
#[derive(Debug, Clone)]
pub struct PlanTerms {
    pub name: String,
    pub description: String,
    pub interval: BillingInterval,
    pub price: Price,
    /// None: every product.
    pub products: Option<Vec<ProductId>>,
    pub active: bool,
}

/// The least Stripe charges.
const MIN_PLAN_CENTS: i64 = 50;

impl PlanRequest {
    /// Every rule of a plan that needs nothing but the request, all problems at once (that
    /// its products exist is the server's to say).
    pub fn check(&self) -> Result<PlanTerms, Vec<FieldError>> {
        let mut problems: Vec<FieldError> = Vec::new();
        let mut fail =
            |field: &str, message: String| problems.push(FieldError::new(field, message));
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > MAX_PLAN_NAME {
            fail("name", format!("a name is 1 to {MAX_PLAN_NAME} characters"));
        }
        if self.description.chars().count() > MAX_PLAN_DESCRIPTION {
            fail(
                "description",
                format!("a description is at most {MAX_PLAN_DESCRIPTION} characters"),
            );
        }
        if self.interval.is_none() {
            fail("interval", "choose month or year".into());
        }
        let currency = self.currency.unwrap_or_default();
        let price = match Price::parse(&self.price, currency) {
            Ok(p) if p.cents() >= MIN_PLAN_CENTS => Some(p),
            Ok(_) => {
                fail(
                    "price",
                    "a plan costs at least 0.50 (Stripe's least charge)".into(),
                );
                None
            }
            Err(ValidationError { message }) => {
                fail("price", message);
                None
            }
        };
        let products = match (&self.product_ids, self.all_products) {
            (_, true) => None,
            (Some(ids), false) if !ids.is_empty() && ids.len() <= MAX_PLAN_PRODUCTS => {
                Some(ids.clone())
            }
            (Some(ids), false) if ids.len() > MAX_PLAN_PRODUCTS => {
                fail(
                    "product_ids",
                    format!("at most {MAX_PLAN_PRODUCTS} products"),
                );
                None
            }
            _ => {
                fail(
                    "product_ids",
                    "choose the products it unlocks, or make it unlock every product".into(),
                );
                None
            }
        };
        match (price, self.interval) {
            (Some(price), Some(interval)) if problems.is_empty() => Ok(PlanTerms {
                name: name.to_owned(),
                description: self.description.clone(),
                interval,
                price,
                products,
                active: self.active.unwrap_or(true),
            }),
            _ => Err(problems),
        }
    }
}

/// The plan a membership is of.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PlanSummary {
    pub id: PlanId,
    pub name: String,
    pub interval: BillingInterval,
    pub price: Money,
}

/// One subscription to a plan.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Membership {
    pub id: SubscriptionId,
    pub plan: PlanSummary,
    pub status: SubscriptionStatus,
    /// When the period paid for ends (it renews then, unless it is cancelled).
    pub current_period_end: Option<DateTime<Utc>>,
    /// Cancelled by the member: it ends at `current_period_end`.
    pub cancel_at_period_end: bool,
    /// Whether it unlocks the plan's products now.
    pub access: bool,
    /// When access ends unless something changes: the period's end when cancelled, the end of
    /// the grace after a failed payment; null while it renews (or once it is over).
    pub access_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The member's email; only in the admin listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_email: Option<String>,
    /// Stripe's id of the subscription (`sub_…`); only in the admin listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stripe_id: Option<String>,
}

/// Subscriptions, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MembershipPage {
    pub items: Vec<Membership>,
    /// Pass as `cursor` for the next page; null on the last.
    pub next_cursor: Option<String>,
}

/// Body of `POST /api/v1/subscriptions/checkout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubscribeRequest {
    pub plan_id: PlanId,
}

/// Where to subscribe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubscribeResponse {
    /// Stripe Checkout's page.
    pub checkout_url: String,
    pub session_id: String,
}

/// A Stripe billing portal session.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PortalResponse {
    /// Stripe's page where the member changes card, cancels or resumes; valid for a short time.
    pub url: String,
}

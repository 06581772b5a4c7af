//! Seller tools: the sales dashboard's figures, the customer list, API keys for programs and
//! outbound webhooks.

use serde::{Deserialize, Serialize};

#[cfg(target_arch = "wasm32")]
use crate::wire_time::{DateTime, Utc};
#[cfg(not(target_arch = "wasm32"))]
use chrono::{DateTime, Utc};

use crate::dto::ProductRef;
use crate::ids::{ApiKeyId, UserId, WebhookEndpointId};
use crate::money::{Currency, Money};
use crate::problem::FieldError;

/// How the dashboard's series are cut: by UTC day, ISO week (from Monday) or calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum StatsInterval {
    #[default]
    Day,
    Week,
    Month,
}

impl StatsInterval {
    pub const ALL: [StatsInterval; 3] = [
        StatsInterval::Day,
        StatsInterval::Week,
        StatsInterval::Month,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            StatsInterval::Day => "day",
            StatsInterval::Week => "week",
            StatsInterval::Month => "month",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|i| i.as_str() == s)
    }
}

/// Takings in one currency: what was paid, what was given back, and the difference.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Revenue {
    pub currency: Currency,
    /// Totals of the orders paid in the period (tax included, as Stripe charged them).
    pub gross: Money,
    /// Refunds made in the period, whatever the order's date.
    pub refunds: Money,
    /// Gross less refunds.
    pub net: Money,
}

/// One step of the series: the interval that starts on `start`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatsBucket {
    /// The first day of the interval (`YYYY-MM-DD`, UTC).
    pub start: String,
    pub paid_orders: i64,
    /// Per currency, only currencies with takings in this interval.
    pub revenue: Vec<Revenue>,
}

/// A product among the period's best sellers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TopProduct {
    pub product: ProductRef,
    /// What its paid orders brought in, in one currency (a product sold in two appears twice).
    pub gross: Money,
    pub paid_orders: i64,
}

/// The shop's figures over a period, computed in the database.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Stats {
    /// First day of the period (`YYYY-MM-DD`, UTC, included).
    pub from: String,
    /// Last day of the period (`YYYY-MM-DD`, UTC, included).
    pub to: String,
    pub interval: StatsInterval,
    /// Per currency, over the whole period.
    pub revenue: Vec<Revenue>,
    /// Orders paid in the period.
    pub paid_orders: i64,
    /// Checkouts begun in the period (one per order made).
    pub checkouts_started: i64,
    /// Of those, the ones that were paid.
    pub checkouts_completed: i64,
    /// `checkouts_completed / checkouts_started`; null when none was started.
    pub conversion: Option<f64>,
    /// Customer accounts made in the period.
    pub new_customers: i64,
    /// Downloads served in the period.
    pub downloads: i64,
    /// Every interval of the period, oldest first (those with nothing included).
    pub series: Vec<StatsBucket>,
    /// The best sellers by gross takings, at most [`TOP_PRODUCTS`].
    pub top_products: Vec<TopProduct>,
}

/// How many products the dashboard ranks.
pub const TOP_PRODUCTS: usize = 5;

/// A customer in the admin list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Customer {
    pub id: UserId,
    pub email: String,
    pub created_at: DateTime<Utc>,
    /// Whether the customer has confirmed their address (signed in by link, or verified).
    pub email_verified: bool,
    /// Orders paid (refunded and disputed ones included).
    pub paid_orders: i64,
    pub last_paid_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CustomerPage {
    pub items: Vec<Customer>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// What an API key may do. Each admin operation names the one it needs in the OpenAPI document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum ApiScope {
    #[serde(rename = "catalog:read")]
    CatalogRead,
    #[serde(rename = "catalog:write")]
    CatalogWrite,
    #[serde(rename = "orders:read")]
    OrdersRead,
    #[serde(rename = "orders:refund")]
    OrdersRefund,
    #[serde(rename = "customers:read")]
    CustomersRead,
    #[serde(rename = "stats:read")]
    StatsRead,
    #[serde(rename = "webhooks:write")]
    WebhooksWrite,
}

impl ApiScope {
    pub const ALL: [ApiScope; 7] = [
        ApiScope::CatalogRead,
        ApiScope::CatalogWrite,
        ApiScope::OrdersRead,
        ApiScope::OrdersRefund,
        ApiScope::CustomersRead,
        ApiScope::StatsRead,
        ApiScope::WebhooksWrite,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ApiScope::CatalogRead => "catalog:read",
            ApiScope::CatalogWrite => "catalog:write",
            ApiScope::OrdersRead => "orders:read",
            ApiScope::OrdersRefund => "orders:refund",
            ApiScope::CustomersRead => "customers:read",
            ApiScope::StatsRead => "stats:read",
            ApiScope::WebhooksWrite => "webhooks:write",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// What the scope allows, in a sentence for the admin page and the OpenAPI document.
    pub fn description(self) -> &'static str {
        match self {
            ApiScope::CatalogRead => "Read products, files, discounts and plans",
            ApiScope::CatalogWrite => "Create and change products, files, discounts and plans",
            ApiScope::OrdersRead => "Read orders and export them",
            ApiScope::OrdersRefund => {
                "Refund orders and act on them (receipts, download counts, reconciliation)"
            }
            ApiScope::CustomersRead => "Read customers, members and who owns what",
            ApiScope::StatsRead => "Read the sales dashboard's figures",
            ApiScope::WebhooksWrite => "Manage outbound webhook endpoints",
        }
    }
}

/// The longest name an API key or webhook endpoint may have.
pub const MAX_KEY_NAME: usize = 100;

/// An API key as listed (its secret is shown once, at creation, and never again).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub name: String,
    /// The secret's first characters (`folio_sk_` and four more), to tell keys apart.
    pub prefix: String,
    pub scopes: Vec<ApiScope>,
    pub created_at: DateTime<Utc>,
    /// The last request made with it (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
    /// Once set the key is refused (401 `api_key_revoked`).
    pub revoked_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyList {
    /// Newest first, revoked keys included.
    pub items: Vec<ApiKey>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ApiKeyRequest {
    /// What the key is for (1 to 100 characters).
    pub name: String,
    /// At least one.
    pub scopes: Vec<ApiScope>,
}

impl ApiKeyRequest {
    /// The trimmed name and the scopes, sorted and without repeats.
    pub fn check(&self) -> Result<(String, Vec<ApiScope>), Vec<FieldError>> {
        let mut problems = Vec::new();
        let name = check_name(&self.name, &mut problems);
        let mut scopes = self.scopes.clone();
        scopes.sort();
        scopes.dedup();
        if scopes.is_empty() {
            problems.push(FieldError::new("scopes", "Choose at least one scope."));
        }
        if problems.is_empty() {
            Ok((name, scopes))
        } else {
            Err(problems)
        }
    }
}

fn check_name(name: &str, problems: &mut Vec<FieldError>) -> String {
    let name = name.trim();
    if name.is_empty() {
        problems.push(FieldError::new("name", "Give it a name."));
    } else if name.chars().count() > MAX_KEY_NAME {
        problems.push(FieldError::new(
            "name",
            format!("At most {MAX_KEY_NAME} characters."),
        ));
    }
    name.to_owned()
}

/// A new key with its secret: the only time the secret is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedApiKey {
    pub key: ApiKey,
    /// `folio_sk_…`: send it as `Authorization: Bearer folio_sk_…`.
    pub secret: String,
}

/// What an outbound webhook can tell an endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WebhookEventType {
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.refunded")]
    OrderRefunded,
    #[serde(rename = "order.disputed")]
    OrderDisputed,
    #[serde(rename = "product.created")]
    ProductCreated,
    #[serde(rename = "product.updated")]
    ProductUpdated,
    #[serde(rename = "product.archived")]
    ProductArchived,
    #[serde(rename = "subscription.started")]
    SubscriptionStarted,
    #[serde(rename = "subscription.renewed")]
    SubscriptionRenewed,
    #[serde(rename = "subscription.past_due")]
    SubscriptionPastDue,
    #[serde(rename = "subscription.ended")]
    SubscriptionEnded,
}

impl WebhookEventType {
    pub const ALL: [WebhookEventType; 10] = [
        WebhookEventType::OrderPaid,
        WebhookEventType::OrderRefunded,
        WebhookEventType::OrderDisputed,
        WebhookEventType::ProductCreated,
        WebhookEventType::ProductUpdated,
        WebhookEventType::ProductArchived,
        WebhookEventType::SubscriptionStarted,
        WebhookEventType::SubscriptionRenewed,
        WebhookEventType::SubscriptionPastDue,
        WebhookEventType::SubscriptionEnded,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::OrderPaid => "order.paid",
            WebhookEventType::OrderRefunded => "order.refunded",
            WebhookEventType::OrderDisputed => "order.disputed",
            WebhookEventType::ProductCreated => "product.created",
            WebhookEventType::ProductUpdated => "product.updated",
            WebhookEventType::ProductArchived => "product.archived",
            WebhookEventType::SubscriptionStarted => "subscription.started",
            WebhookEventType::SubscriptionRenewed => "subscription.renewed",
            WebhookEventType::SubscriptionPastDue => "subscription.past_due",
            WebhookEventType::SubscriptionEnded => "subscription.ended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// The longest endpoint URL accepted.
pub const MAX_WEBHOOK_URL: usize = 2048;

/// An endpoint Folio posts events to.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEventType>,
    /// False once disabled by an admin or after three days of failed deliveries.
    pub enabled: bool,
    /// Why it was disabled, if it was.
    pub disabled_reason: Option<String>,
    /// When its deliveries began to fail, while they still do.
    pub failing_since: Option<DateTime<Utc>>,
    /// Until when the secret replaced by the last rotation still signs (beside the new one).
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpointList {
    pub items: Vec<WebhookEndpoint>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookEndpointRequest {
    /// `http://` or `https://`; in production not a loopback, link-local or private address.
    pub url: String,
    #[serde(default)]
    pub description: String,
    /// At least one.
    pub events: Vec<WebhookEventType>,
    /// Turning an endpoint back on clears its failure record.
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

/// An endpoint's terms once checked: the URL parsed, the events sorted without repeats.
#[derive(Debug, Clone)]
pub struct WebhookTerms {
    pub url: String,
    pub description: String,
    pub events: Vec<WebhookEventType>,
    pub enabled: bool,
}

impl WebhookEndpointRequest {
    /// Checks the shape of the URL (the address rules are the server's, at delivery too).
    pub fn check(&self) -> Result<WebhookTerms, Vec<FieldError>> {
        let mut problems = Vec::new();
        let url = self.url.trim();
        let lower = url.to_ascii_lowercase();
        if url.is_empty() {
            problems.push(FieldError::new("url", "Give the endpoint's URL."));
        } else if url.chars().count() > MAX_WEBHOOK_URL {
            problems.push(FieldError::new(
                "url",
                format!("At most {MAX_WEBHOOK_URL} characters."),
            ));
        } else if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            problems.push(FieldError::new(
                "url",
                "Only http:// and https:// URLs can receive webhooks.",
            ));
        } else if url.chars().any(char::is_whitespace) {
            problems.push(FieldError::new("url", "A URL has no spaces."));
        }
        let description = self.description.trim();
        if description.chars().count() > MAX_KEY_NAME {
            problems.push(FieldError::new(
                "description",
                format!("At most {MAX_KEY_NAME} characters."),
            ));
        }
        let mut events = self.events.clone();
        events.sort();
        events.dedup();
        if events.is_empty() {
            problems.push(FieldError::new("events", "Choose at least one event."));
        }
        if problems.is_empty() {
            Ok(WebhookTerms {
                url: url.to_owned(),
                description: description.to_owned(),
                events,
                enabled: self.enabled,
            })
        } else {
            Err(problems)
        }
    }
}

/// A new endpoint, or a rotated one, with its signing secret: the only time it is shown.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookSecret {
    pub endpoint: WebhookEndpoint,
    /// `whsec_…`: the key of the `Folio-Signature` HMAC.
    pub secret: String,
}

/// How one delivery attempt went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DeliveryOutcome {
    /// A 2xx answer.
    Delivered,
    /// Any other answer, a timeout, or no connection; tried again on the schedule.
    Failed,
    /// Not sent: the address is not allowed.
    Refused,
}

/// One attempt to deliver one event to one endpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    pub id: String,
    /// The event's id (`evt_…`), the same on every attempt and redelivery.
    pub event_id: String,
    pub event_type: WebhookEventType,
    /// 1 for the first attempt.
    pub attempt: i32,
    pub outcome: DeliveryOutcome,
    /// The endpoint's HTTP status, when it answered.
    pub response_status: Option<i32>,
    /// The first KiB of the body sent.
    pub request_excerpt: String,
    /// The first KiB of the answer, or what went wrong.
    pub response_excerpt: String,
    pub duration_ms: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDeliveryPage {
    pub items: Vec<WebhookDelivery>,
    pub next_cursor: Option<String>,
}

/// What to reconcile: Stripe's records from this day on (UTC) against Folio's orders.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileRequest {
    /// `YYYY-MM-DD`; at most 400 days ago.
    pub since: String,
}

/// One thing reconciliation changed or found.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileFinding {
    /// `fulfilled` (a paid session whose order was not paid: fulfilled as the webhook would),
    /// `refund_applied` (a refund Stripe has and Folio lacked), `amount_mismatch`,
    /// `missing_at_stripe` (paid in Folio, no such charge at Stripe).
    pub kind: String,
    pub order_id: Option<crate::ids::OrderId>,
    /// Stripe's object (`cs_…`, `ch_…`).
    pub stripe_id: String,
    pub folio_cents: Option<i64>,
    pub stripe_cents: Option<i64>,
    pub detail: String,
}

/// Per currency: what Stripe charged and refunded for Folio's orders, and what Folio records.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileTotal {
    pub currency: Currency,
    pub stripe_charged: Money,
    pub folio_charged: Money,
    pub stripe_refunded: Money,
    pub folio_refunded: Money,
    /// Both pairs equal to the cent.
    pub agree: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReconcileReport {
    pub since: String,
    pub sessions_checked: i64,
    pub charges_checked: i64,
    pub refunds_checked: i64,
    pub findings: Vec<ReconcileFinding>,
    pub totals: Vec<ReconcileTotal>,
    /// Every total agrees (after the repairs) and no mismatch was found.
    pub agree: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_and_events_read_back_from_their_names() {
        for scope in ApiScope::ALL {
            assert_eq!(ApiScope::parse(scope.as_str()), Some(scope));
            let json = serde_json::to_string(&scope).unwrap();
            assert_eq!(json, format!("\"{}\"", scope.as_str()));
        }
        for event in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(event.as_str()), Some(event));
            let json = serde_json::to_string(&event).unwrap();
            assert_eq!(json, format!("\"{}\"", event.as_str()));
        }
    }

    #[test]
    fn a_key_request_needs_a_name_and_a_scope() {
        let req = ApiKeyRequest {
            name: "  ".into(),
            scopes: vec![],
        };
        let problems = req.check().unwrap_err();
        assert_eq!(problems.len(), 2);
        let req = ApiKeyRequest {
            name: " Zapier ".into(),
            scopes: vec![
                ApiScope::StatsRead,
                ApiScope::OrdersRead,
                ApiScope::StatsRead,
            ],
        };
        assert_eq!(
            req.check().unwrap(),
            (
                "Zapier".to_owned(),
                vec![ApiScope::OrdersRead, ApiScope::StatsRead]
            )
        );
    }

    #[test]
    fn endpoints_take_only_http_urls() {
        let req = |url: &str| WebhookEndpointRequest {
            url: url.into(),
            description: String::new(),
            events: vec![WebhookEventType::OrderPaid],
            enabled: true,
        };
        assert!(req("https://example.com/hook").check().is_ok());
        assert!(req("http://example.com/hook").check().is_ok());
        for bad in [
            "",
            "ftp://example.com",
            "file:///etc/passwd",
            "javascript:x",
            "https://a b",
        ] {
            assert!(req(bad).check().is_err(), "{bad}");
        }
    }
}

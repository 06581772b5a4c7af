//! The Stripe client: async-stripe's checkout crate for Checkout Sessions, and one plain request
//! for refunds. The API version is the one async-stripe pins (`stripe::VERSION`), sent on every
//! call, so responses always have the shape the types expect.

use std::collections::HashMap;
use std::time::Duration;

use stripe::{IdempotencyKey, RequestStrategy, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAutomaticTax, CreateCheckoutSessionInvoiceCreation,
    CreateCheckoutSessionLineItems, CreateCheckoutSessionLineItemsPriceData,
    CreateCheckoutSessionLineItemsPriceDataTaxBehavior, CreateCheckoutSessionPaymentIntentData,
    CreateCheckoutSessionTaxIdCollection, ProductData, RetrieveCheckoutSession,
};
use stripe_client_core::{RequestBuilder, StripeMethod};
use stripe_shared::{CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus};

use shared_types::{Currency, OrderId, ProductId, UserId};

use crate::config::StripeSettings;

/// What Folio needs of a Checkout Session, whether it came from the API or from a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: String,
    /// Folio's order id (`client_reference_id`, or `metadata.order_id`), when it is one.
    pub order_id: Option<OrderId>,
    pub paid: bool,
    pub payment_intent: Option<String>,
    pub url: Option<String>,
    /// What Stripe reported of the amounts, once the buyer has paid: before tax, the tax, and
    /// the total charged.
    pub amount_subtotal: Option<i64>,
    pub amount_tax: Option<i64>,
    pub amount_total: Option<i64>,
    /// The invoice made for the payment (with invoice creation on).
    pub invoice: Option<String>,
}

/// Why Stripe could not do what was asked. The message is for logs only.
#[derive(Debug, thiserror::Error)]
#[error("stripe: {message}")]
pub struct GatewayError {
    message: String,
    /// Stripe's HTTP status, when Stripe answered with an error.
    status: Option<u16>,
}

impl GatewayError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            status: None,
        }
    }

    /// Stripe has no such object (404): the caller named something that does not exist.
    pub fn is_not_found(&self) -> bool {
        self.status == Some(404)
    }
}

impl From<stripe::StripeError> for GatewayError {
    fn from(e: stripe::StripeError) -> Self {
        let status = match &e {
            stripe::StripeError::Stripe(_, status) => Some(*status),
            _ => None,
        };
        GatewayError {
            message: e.to_string(),
            status,
        }
    }
}

/// A Checkout Session to create for one order.
pub struct NewSession<'a> {
    pub order_id: &'a OrderId,
    pub user_id: &'a UserId,
    pub product_id: &'a ProductId,
    pub product_name: &'a str,
    pub image_url: Option<&'a str>,
    pub amount_cents: i64,
    pub currency: Currency,
    pub customer_email: &'a str,
    pub success_url: String,
    pub cancel_url: String,
    /// Stripe Tax, the buyer's address and tax id, and an invoice.
    pub tax: Option<TaxMode>,
    /// When the session must end at the latest (Unix time; Stripe allows 30 min to 24 h), so a
    /// reserved discount redemption comes back soon when nobody pays.
    pub expires_at: Option<i64>,
}

/// A Checkout Session to create for a subscription to a plan.
pub struct NewSubscription<'a> {
    pub plan_id: &'a shared_types::PlanId,
    pub user_id: &'a UserId,
    pub customer: &'a str,
    pub plan_name: &'a str,
    pub interval: shared_types::BillingInterval,
    pub amount_cents: i64,
    pub currency: Currency,
    pub success_url: String,
    pub cancel_url: String,
    /// The same key for the same attempt: a retried request gets the same session.
    pub idempotency_key: &'a str,
}

/// What Folio keeps of a subscription, read from Stripe (times are Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub customer: String,
    /// `metadata.user_id` and `metadata.plan_id`, set at checkout.
    pub user_id: Option<String>,
    pub plan_id: Option<String>,
    pub status: shared_types::SubscriptionStatus,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
    pub cancel_at_period_end: bool,
    pub ended_at: Option<i64>,
    /// When the latest invoice, still unpaid, was finalized (its payment first tried): when a
    /// failed renewal began.
    pub unpaid_invoice_since: Option<i64>,
}

/// How Stripe Tax treats the price.
#[derive(Debug, Clone, Copy)]
pub struct TaxMode {
    /// The price includes the tax (else the tax is added to it).
    pub inclusive: bool,
}

#[derive(Clone)]
pub struct Gateway {
    client: stripe::Client,
}

fn idempotent(key: &str) -> Result<RequestStrategy, GatewayError> {
    IdempotencyKey::new(key)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| GatewayError::new(format!("idempotency key: {e}")))
}

impl Gateway {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        let key = String::from_utf8(settings.secret_key.expose().to_vec())?;
        let client = stripe::ClientBuilder::new(key)
            .url(settings.api_base.as_str())
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| anyhow::anyhow!("building the Stripe client: {e}"))?;
        Ok(Self { client })
    }

    #[tracing::instrument(skip_all, fields(order_id = %new.order_id))]
    pub async fn create_session(&self, new: NewSession<'_>) -> Result<SessionInfo, GatewayError> {
        let code = new.currency.code();
        let currency: stripe_types::Currency = code
            .parse()
            .map_err(|_| GatewayError::new(format!("unknown currency {code}")))?;
        let mut product = ProductData::new(new.product_name);
        if let Some(url) = new.image_url {
            product.images = Some(vec![url.to_owned()]);
        }
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
        price.unit_amount = Some(new.amount_cents);
        price.product_data = Some(product);
        if let Some(tax) = new.tax {
            price.tax_behavior = Some(if tax.inclusive {
                CreateCheckoutSessionLineItemsPriceDataTaxBehavior::Inclusive
            } else {
                CreateCheckoutSessionLineItemsPriceDataTaxBehavior::Exclusive
            });
        }
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(1);
        let metadata: HashMap<String, String> = [
            ("order_id", new.order_id.as_str()),
            ("user_id", new.user_id.as_str()),
            ("product_id", new.product_id.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut intent = CreateCheckoutSessionPaymentIntentData::new();
        intent.metadata = Some(metadata.clone());
        let mut create = CreateCheckoutSession::new();
        if new.tax.is_some() {
            create = create
                .automatic_tax(CreateCheckoutSessionAutomaticTax::new(true))
                .tax_id_collection(CreateCheckoutSessionTaxIdCollection::new(true))
                .billing_address_collection(
                    stripe_shared::CheckoutSessionBillingAddressCollection::Required,
                )
                .invoice_creation(CreateCheckoutSessionInvoiceCreation::new(true));
        }
        if let Some(at) = new.expires_at {
            create = create.expires_at(at);
        }
        let session = create
            .mode(CheckoutSessionMode::Payment)
            .line_items(vec![item])
            .client_reference_id(new.order_id.as_str())
            .metadata(metadata)
            .payment_intent_data(intent)
            .customer_email(new.customer_email)
            .success_url(new.success_url)
            .cancel_url(new.cancel_url)
            .customize()
            // One order, one session: a retried request cannot create a second one.
            .request_strategy(idempotent(&format!("folio-checkout-{}", new.order_id))?)
            .send(&self.client)
            .await?;
        Ok(session_info(&session))
    }

    pub async fn retrieve_session(&self, id: &str) -> Result<SessionInfo, GatewayError> {
        let session = RetrieveCheckoutSession::new(id).send(&self.client).await?;
        Ok(session_info(&session))
    }

    /// The hosted page of an invoice; None while Stripe has not finalized it.
    pub async fn invoice_url(&self, id: &str) -> Result<Option<String>, GatewayError> {
        let invoice = RequestBuilder::new(StripeMethod::Get, format!("/invoices/{id}"))
            .customize::<stripe_shared::Invoice>()
            .send(&self.client)
            .await?;
        Ok(invoice.hosted_invoice_url)
    }

    /// The user's Stripe customer, made for them (idempotent per user: a retried or concurrent
    /// request gets the same customer).
    pub async fn create_customer(
        &self,
        user_id: &UserId,
        email: &str,
    ) -> Result<String, GatewayError> {
        #[derive(serde::Serialize)]
        struct CustomerParams<'a> {
            email: &'a str,
            metadata: HashMap<&'a str, &'a str>,
        }
        let params = CustomerParams {
            email,
            metadata: [("user_id", user_id.as_str())].into_iter().collect(),
        };
        let customer = RequestBuilder::new(StripeMethod::Post, "/customers")
            .form(&params)
            .customize::<stripe_shared::Customer>()
            .request_strategy(idempotent(&format!("folio-customer-{user_id}"))?)
            .send(&self.client)
            .await?;
        Ok(customer.id.as_str().to_owned())
    }

    /// A Checkout Session in subscription mode for one plan, with its price inline.
    #[tracing::instrument(skip_all, fields(plan_id = %new.plan_id))]
    pub async fn create_subscription_session(
        &self,
        new: NewSubscription<'_>,
    ) -> Result<SessionInfo, GatewayError> {
        use stripe_checkout::checkout_session::{
            CreateCheckoutSessionLineItemsPriceDataRecurring as Recurring,
            CreateCheckoutSessionLineItemsPriceDataRecurringInterval as Interval,
            CreateCheckoutSessionSubscriptionData,
        };
        let code = new.currency.code();
        let currency: stripe_types::Currency = code
            .parse()
            .map_err(|_| GatewayError::new(format!("unknown currency {code}")))?;
        let mut price = CreateCheckoutSessionLineItemsPriceData::new(currency);
        price.unit_amount = Some(new.amount_cents);
        price.product_data = Some(ProductData::new(new.plan_name));
        price.recurring = Some(Recurring::new(match new.interval {
            shared_types::BillingInterval::Month => Interval::Month,
            shared_types::BillingInterval::Year => Interval::Year,
        }));
        let mut item = CreateCheckoutSessionLineItems::new();
        item.price_data = Some(price);
        item.quantity = Some(1);
        let metadata: HashMap<String, String> = [
            ("user_id", new.user_id.as_str()),
            ("plan_id", new.plan_id.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let mut subscription = CreateCheckoutSessionSubscriptionData::new();
        subscription.metadata = Some(metadata.clone());
        let session = CreateCheckoutSession::new()
            .mode(CheckoutSessionMode::Subscription)
            .customer(new.customer)
            .line_items(vec![item])
            .client_reference_id(new.user_id.as_str())
            .metadata(metadata)
            .subscription_data(subscription)
            .success_url(new.success_url)
            .cancel_url(new.cancel_url)
            .customize()
            .request_strategy(idempotent(new.idempotency_key)?)
            .send(&self.client)
            .await?;
        Ok(session_info(&session))
    }

    /// The subscription a completed subscription-mode session made, and who it was for.
    pub async fn session_subscription(
        &self,
        session_id: &str,
    ) -> Result<Option<String>, GatewayError> {
        let session = RetrieveCheckoutSession::new(session_id)
            .send(&self.client)
            .await?;
        if session.mode != CheckoutSessionMode::Subscription {
            return Ok(None);
        }
        Ok(session.subscription.map(|s| s.id().as_str().to_owned()))
    }

    /// A subscription as Stripe holds it now, with its latest invoice.
    pub async fn retrieve_subscription(&self, id: &str) -> Result<Snapshot, GatewayError> {
        use shared_types::SubscriptionStatus as F;
        use stripe_shared::SubscriptionStatus as S;
        let sub = stripe_billing::subscription::RetrieveSubscription::new(id)
            .expand(vec!["latest_invoice".to_owned()])
            .send(&self.client)
            .await?;
        let status = match &sub.status {
            S::Active => F::Active,
            S::Canceled => F::Canceled,
            S::Incomplete => F::Incomplete,
            S::IncompleteExpired => F::IncompleteExpired,
            S::PastDue => F::PastDue,
            S::Paused => F::Paused,
            S::Trialing => F::Trialing,
            S::Unpaid => F::Unpaid,
            other => {
                return Err(GatewayError::new(format!(
                    "unknown subscription status {}",
                    other.as_str()
                )))
            }
        };
        let item = sub.items.data.first();
        let latest = match &sub.latest_invoice {
            Some(stripe_types::Expandable::Object(invoice)) => Some(invoice.as_ref()),
            _ => None,
        };
        Ok(Snapshot {
            id: sub.id.as_str().to_owned(),
            customer: sub.customer.id().as_str().to_owned(),
            user_id: sub.metadata.get("user_id").cloned(),
            plan_id: sub.metadata.get("plan_id").cloned(),
            status,
            current_period_start: item.map(|i| i.current_period_start),
            current_period_end: item.map(|i| i.current_period_end),
            cancel_at_period_end: sub.cancel_at_period_end,
            ended_at: sub.ended_at,
            unpaid_invoice_since: latest
                .filter(|i| i.status == Some(stripe_shared::InvoiceStatus::Open))
                .map(|i| i.status_transitions.finalized_at.unwrap_or(i.created)),
        })
    }

    /// A billing portal session for `customer`, returning to `return_url`.
    pub async fn portal_session(
        &self,
        customer: &str,
        return_url: &str,
    ) -> Result<String, GatewayError> {
        let session = stripe_billing::billing_portal_session::CreateBillingPortalSession::new()
            .customer(customer)
            .return_url(return_url)
            .send(&self.client)
            .await?;
        Ok(session.url)
    }

    /// Refunds a payment in full. Idempotent per order, so a retried refund is not paid twice.
    #[tracing::instrument(skip_all, fields(order_id))]
    pub async fn refund(
        &self,
        payment_intent: &str,
        order_id: &OrderId,
    ) -> Result<(), GatewayError> {
        #[derive(serde::Serialize)]
        struct RefundParams<'a> {
            payment_intent: &'a str,
            metadata: HashMap<&'a str, &'a str>,
        }
        let params = RefundParams {
            payment_intent,
            metadata: [("order_id", order_id.as_str())].into_iter().collect(),
        };
        RequestBuilder::new(StripeMethod::Post, "/refunds")
            .form(&params)
            .customize::<stripe_shared::Refund>()
            .request_strategy(idempotent(&format!("folio-refund-{order_id}"))?)
            .send(&self.client)
            .await?;
        Ok(())
    }
}

/// A payment as Stripe's charge list reports it.
#[derive(Debug, Clone)]
pub struct ChargeInfo {
    pub id: String,
    pub payment_intent: Option<String>,
    pub currency: String,
    /// Charged (0 for a charge that did not succeed).
    pub amount: i64,
    pub amount_refunded: i64,
}

/// A refund as Stripe's refund list reports it.
#[derive(Debug, Clone)]
pub struct RefundInfo {
    pub id: String,
    pub charge: Option<String>,
    pub amount: i64,
    pub succeeded: bool,
}

/// Most objects one reconciliation reads of one kind (a period that long is refused).
pub const MAX_LISTED: usize = 200_000;

/// Every object a Stripe list endpoint has, made since `since` (Unix seconds), a page of 100 at
/// a time, each turned into what Folio keeps.
macro_rules! list_all {
    ($client:expr, $path:expr, $since:expr, $ty:ty, |$item:ident| $map:expr) => {{
        #[derive(serde::Serialize)]
        struct Params<'a> {
            limit: u32,
            #[serde(rename = "created[gte]")]
            created_gte: i64,
            #[serde(skip_serializing_if = "Option::is_none")]
            starting_after: Option<&'a str>,
        }
        let mut out = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page: stripe_types::List<$ty> = RequestBuilder::new(StripeMethod::Get, $path)
                .query(&Params {
                    limit: 100,
                    created_gte: $since,
                    starting_after: after.as_deref(),
                })
                .customize::<stripe_types::List<$ty>>()
                .send($client)
                .await?;
            let last = page.data.last().map(|o| o.id.as_str().to_owned());
            for $item in &page.data {
                out.push($map);
            }
            if out.len() > MAX_LISTED {
                return Err(GatewayError::new(format!(
                    "more than {MAX_LISTED} objects at {}: reconcile a shorter period",
                    $path
                )));
            }
            match (page.has_more, last) {
                (true, Some(last)) => after = Some(last),
                _ => break,
            }
        }
        Ok::<_, GatewayError>(out)
    }};
}

impl Gateway {
    /// The Checkout Sessions in payment mode made since `since`, newest first.
    pub async fn list_sessions(&self, since: i64) -> Result<Vec<SessionInfo>, GatewayError> {
        let all: Vec<Option<SessionInfo>> = list_all!(
            &self.client,
            "/checkout/sessions",
            since,
            CheckoutSession,
            |s| (s.mode == CheckoutSessionMode::Payment).then(|| session_info(s))
        )?;
        Ok(all.into_iter().flatten().collect())
    }

    pub async fn list_charges(&self, since: i64) -> Result<Vec<ChargeInfo>, GatewayError> {
        list_all!(
            &self.client,
            "/charges",
            since,
            stripe_shared::Charge,
            |c| charge_info(c)
        )
    }

    pub async fn list_refunds(&self, since: i64) -> Result<Vec<RefundInfo>, GatewayError> {
        list_all!(
            &self.client,
            "/refunds",
            since,
            stripe_shared::Refund,
            |r| {
                RefundInfo {
                    id: r.id.as_str().to_owned(),
                    charge: r.charge.as_ref().map(|c| c.id().as_str().to_owned()),
                    amount: r.amount,
                    succeeded: r.status.as_deref() == Some("succeeded"),
                }
            }
        )
    }

    pub async fn retrieve_charge(&self, id: &str) -> Result<ChargeInfo, GatewayError> {
        let charge = RequestBuilder::new(StripeMethod::Get, format!("/charges/{id}"))
            .customize::<stripe_shared::Charge>()
            .send(&self.client)
            .await?;
        Ok(charge_info(&charge))
    }
}

fn charge_info(c: &stripe_shared::Charge) -> ChargeInfo {
    let succeeded = c.paid && c.status == stripe_shared::ChargeStatus::Succeeded;
    ChargeInfo {
        id: c.id.as_str().to_owned(),
        payment_intent: c
            .payment_intent
            .as_ref()
            .map(|p| p.id().as_str().to_owned()),
        currency: c.currency.to_string(),
        amount: if succeeded { c.amount } else { 0 },
        amount_refunded: c.amount_refunded,
    }
}

fn session_info(session: &CheckoutSession) -> SessionInfo {
    SessionInfo {
        id: session.id.as_str().to_owned(),
        order_id: session
            .client_reference_id
            .as_deref()
            .or_else(|| {
                session
                    .metadata
                    .as_ref()
                    .and_then(|m| m.get("order_id"))
                    .map(String::as_str)
            })
            .and_then(|id| OrderId::parse(id).ok()),
        paid: matches!(
            session.payment_status,
            CheckoutSessionPaymentStatus::Paid | CheckoutSessionPaymentStatus::NoPaymentRequired
        ),
        payment_intent: session
            .payment_intent
            .as_ref()
            .map(|p| p.id().as_str().to_owned()),
        url: session.url.clone(),
        amount_subtotal: session.amount_subtotal,
        amount_tax: session.total_details.as_ref().map(|t| t.amount_tax),
        amount_total: session.amount_total,
        invoice: session
            .invoice
            .as_ref()
            .and_then(|i| i.id().as_ref().map(|id| id.as_str().to_owned())),
    }
}

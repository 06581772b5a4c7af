//! Memberships: plans sold as Stripe Billing subscriptions. A subscription's state is always
//! read from Stripe: every event about it (and the buyer's return from Checkout) is only the cue
//! to read it again, so events that come late, twice or out of order all end in Stripe's state.
//! Reads are stamped with the time they began and a read older than the one stored is not
//! applied. Access is decided from the stored state and the clock when a download asks (one
//! query, see [`repo::covers`]); the mails go through the job queue, once each.

pub mod mails;
pub mod repo;
pub mod routes;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime};
use diesel::Connection;
use serde::{Deserialize, Serialize};
use shared_types::{
    Membership, MembershipPage, Plan, PlanId, PlanList, PlanRequest, PlanSummary, PortalResponse,
    ProductRef, SubscribeResponse, SubscriptionId, SubscriptionStatus, UserId,
};

use crate::auth::AuthUser;
use crate::config::JobSettings;
use crate::db::{now, DbConnection};
use crate::error::ApiError;
use crate::jobs::Task;
use crate::pagination::{self, Cursor};
use crate::payments::gateway::{NewSubscription, Snapshot};
use crate::payments::webhook::{Envelope, Ref};
use crate::AppState;
use repo::{AccessAt, PlanRow, SubscriptionRow};

/// How long a Checkout attempt keeps its idempotency key: a second click within it gets the
/// same session.
const ATTEMPT_WINDOW_SECS: i64 = 600;

/// The moment access is judged at, by the state's clock (tests move it).
pub fn access_at(state: &AppState) -> AccessAt {
    AccessAt::new(
        state.clock.now(),
        state.settings.pricing.past_due_grace_secs,
    )
}

fn utc(t: NaiveDateTime) -> DateTime<chrono::Utc> {
    t.and_utc()
}

fn plan_dto(row: PlanRow, products: Vec<ProductRef>, members: Option<i64>) -> Plan {
    Plan {
        price: shared_types::Money::new(row.price_cents, row.currency),
        products: if row.all_products {
            Vec::new()
        } else {
            products
        },
        id: row.id,
        name: row.name,
        description: row.description,
        interval: row.billing_interval,
        all_products: row.all_products,
        active: row.active,
        members,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    }
}

fn membership_dto(
    row: SubscriptionRow,
    plan: PlanRow,
    email: Option<String>,
    at: AccessAt,
    grace_secs: i64,
) -> Membership {
    Membership {
        access: repo::row_grants(&row, at),
        access_until: repo::access_until(&row, grace_secs).map(utc),
        plan: PlanSummary {
            price: shared_types::Money::new(plan.price_cents, plan.currency),
            id: plan.id,
            name: plan.name,
            interval: plan.billing_interval,
        },
        status: row.status,
        current_period_end: row.current_period_end.map(utc),
        cancel_at_period_end: row.cancel_at_period_end,
        created_at: utc(row.created_at),
        stripe_id: email.is_some().then(|| row.stripe_subscription_id.clone()),
        member_email: email,
        id: row.id,
    }
}

/// Plans with their product lists (and, for admins, their members now).
fn plans_with(
    conn: &mut DbConnection,
    rows: Vec<PlanRow>,
    members_at: Option<AccessAt>,
) -> Result<Vec<Plan>, ApiError> {
    let ids: Vec<PlanId> = rows.iter().map(|r| r.id.clone()).collect();
    let mut products: HashMap<PlanId, Vec<ProductRef>> = HashMap::new();
    for (plan, product) in repo::products_of(conn, &ids)? {
        products.entry(plan).or_default().push(product);
    }
    let members = match members_at {
        Some(at) => Some(repo::members_now(conn, &ids, at)?),
        None => None,
    };
    Ok(rows
        .into_iter()
        .map(|row| {
            let listed = products.remove(&row.id).unwrap_or_default();
            let n = members
                .as_ref()
                .map(|m| m.get(&row.id).copied().unwrap_or(0));
            plan_dto(row, listed, n)
        })
        .collect())
}

/// The plans on offer, cheapest first.
pub async fn public_plans(state: &AppState) -> Result<PlanList, ApiError> {
    let items = state
        .db
        .run(|conn| {
            let rows = repo::list_plans(conn, true)?;
            plans_with(conn, rows, None)
        })
        .await?;
    Ok(PlanList { items })
}

/// Every plan, newest first, with its members now.
pub async fn admin_plans(state: &AppState) -> Result<PlanList, ApiError> {
    let at = access_at(state);
    let items = state
        .db
        .run(move |conn| {
            let rows = repo::list_plans(conn, false)?;
            plans_with(conn, rows, Some(at))
        })
        .await?;
    Ok(PlanList { items })
}

fn one_plan(conn: &mut DbConnection, id: &PlanId, at: AccessAt) -> Result<Plan, ApiError> {
    let row = repo::find_plan(conn, id)?.ok_or(ApiError::NotFound("plan"))?;
    plans_with(conn, vec![row], Some(at))?
        .pop()
        .ok_or(ApiError::NotFound("plan"))
}

pub async fn admin_plan(state: &AppState, id: PlanId) -> Result<Plan, ApiError> {
    let at = access_at(state);
    state.db.run(move |conn| one_plan(conn, &id, at)).await
}

/// Creates a plan (`existing` None) or replaces one. A plan that has had subscribers keeps its
/// interval and currency: Stripe bills them in those.
pub async fn write_plan(
    state: &AppState,
    existing: Option<PlanId>,
    request: PlanRequest,
) -> Result<Plan, ApiError> {
    let terms = request.check().map_err(ApiError::Validation)?;
    let at = access_at(state);
    let plan = state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                if let Some(ids) = &terms.products {
                    let found = repo::existing_products(conn, ids)?;
                    if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
                        return Err(ApiError::validation(
                            "product_ids",
                            format!("no product has the id {missing}"),
                        ));
                    }
                }
                let t = now();
                let row = match &existing {
                    None => PlanRow {
                        id: PlanId::generate(),
                        name: terms.name.clone(),
                        description: terms.description.clone(),
                        billing_interval: terms.interval,
                        price_cents: terms.price.cents(),
                        currency: terms.price.currency(),
                        all_products: terms.products.is_none(),
                        active: terms.active,
                        created_at: t,
                        updated_at: t,
                    },
                    Some(id) => {
                        let old = repo::find_plan(conn, id)?.ok_or(ApiError::NotFound("plan"))?;
                        let billing_changed = old.billing_interval != terms.interval
                            || old.currency != terms.price.currency();
                        if billing_changed && repo::subscriptions_to(conn, id)? > 0 {
                            return Err(ApiError::PlanBillingFixed);
                        }
                        PlanRow {
                            name: terms.name.clone(),
                            description: terms.description.clone(),
                            billing_interval: terms.interval,
                            price_cents: terms.price.cents(),
                            currency: terms.price.currency(),
                            all_products: terms.products.is_none(),
                            active: terms.active,
                            updated_at: t,
                            ..old
                        }
                    }
                };
                if existing.is_none() {
                    repo::insert_plan(conn, &row)?;
                } else {
                    repo::update_plan(conn, &row)?;
                }
                repo::set_plan_products(conn, &row.id, terms.products.as_deref())?;
                one_plan(conn, &row.id, at)
            })
        })
        .await?;
    // What members may download changed.
    state.catalog.invalidate_owners();
    Ok(plan)
}

/// Deletes a plan nobody ever subscribed to (one with subscriptions is deactivated instead).
pub async fn delete_plan(state: &AppState, id: PlanId) -> Result<(), ApiError> {
    state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                if repo::subscriptions_to(conn, &id)? > 0 {
                    return Err(ApiError::PlanInUse);
                }
                if !repo::delete_plan(conn, &id)? {
                    return Err(ApiError::NotFound("plan"));
                }
                Ok(())
            })
        })
        .await
}

/// `folio demo`: an all-access monthly plan, when there is no plan yet. Whether one was added.
pub fn seed_demo_plan(conn: &mut DbConnection) -> diesel::QueryResult<bool> {
    if !repo::list_plans(conn, false)?.is_empty() {
        return Ok(false);
    }
    let t = now();
    repo::insert_plan(
        conn,
        &PlanRow {
            id: PlanId::generate(),
            name: "All access".into(),
            description: "Every guide and course in the shop, and everything added later, for as long as you are a member. Cancel at any time.".into(),
            billing_interval: shared_types::BillingInterval::Month,
            price_cents: 900,
            currency: shared_types::Currency::Usd,
            all_products: true,
            active: true,
            created_at: t,
            updated_at: t,
        },
    )?;
    Ok(true)
}

/// The user's Stripe customer: the one kept on the user, or one made now and kept.
async fn customer_of(state: &AppState, user: &UserId) -> Result<String, ApiError> {
    let id = user.clone();
    let (kept, email) = state
        .db
        .run(move |conn| {
            let user = crate::auth::repo::find_user(conn, &id)?.ok_or(ApiError::Unauthenticated)?;
            Ok((repo::stripe_customer(conn, &id)?, user.email))
        })
        .await?;
    if let Some(customer) = kept {
        return Ok(customer);
    }
    let made = state
        .payments
        .gateway
        .create_customer(user, &email)
        .await
        .map_err(ApiError::PaymentProvider)?;
    let id = user.clone();
    state
        .db
        .write(move |conn| {
            repo::keep_stripe_customer(conn, &id, &made)?
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("the customer was not kept")))
        })
        .await
}

/// Starts a subscription: a Checkout Session in subscription mode for the user's customer.
#[tracing::instrument(skip_all, fields(user_id = %user.id, plan_id = %plan_id))]
pub async fn subscribe(
    state: &AppState,
    user: &AuthUser,
    plan_id: PlanId,
) -> Result<SubscribeResponse, ApiError> {
    let (id, uid) = (plan_id.clone(), user.id.clone());
    let (plan, before) = state
        .db
        .run(move |conn| {
            let plan = repo::find_plan(conn, &id)?
                .filter(|p| p.active)
                .ok_or(ApiError::NotFound("plan"))?;
            let theirs: Vec<SubscriptionRow> = repo::of_user(conn, &uid)?
                .into_iter()
                .map(|(s, _)| s)
                .filter(|s| s.plan_id == id)
                .collect();
            if theirs.iter().any(|s| !s.status.is_over()) {
                return Err(ApiError::AlreadySubscribed);
            }
            Ok((plan, theirs.len()))
        })
        .await?;
    let customer = customer_of(state, &user.id).await?;
    // One key per attempt: the same within a few minutes (a double click, a retried request),
    // a new one after that, once an earlier subscription to the plan has ended, or once the
    // plan was edited (Stripe refuses a key sent again with other parameters).
    let attempt = chrono::Utc::now().timestamp() / ATTEMPT_WINDOW_SECS;
    let key = format!(
        "folio-subscribe-{}-{}-{}-{before}-{attempt}",
        user.id,
        plan.id,
        plan.updated_at.and_utc().timestamp_micros()
    );
    let session = state
        .payments
        .gateway
        .create_subscription_session(NewSubscription {
            plan_id: &plan.id,
            user_id: &user.id,
            customer: &customer,
            plan_name: &plan.name,
            interval: plan.billing_interval,
            amount_cents: plan.price_cents,
            currency: plan.currency,
            success_url: state
                .settings
                .public("/membership?session_id={CHECKOUT_SESSION_ID}"),
            cancel_url: state.settings.public("/membership?checkout=cancelled"),
            idempotency_key: &key,
        })
        .await
        .map_err(ApiError::PaymentProvider)?;
    let checkout_url = session.url.clone().ok_or_else(|| {
        ApiError::PaymentProvider(crate::payments::gateway::GatewayError::new(
            "the session has no url",
        ))
    })?;
    tracing::info!("subscription checkout started");
    Ok(SubscribeResponse {
        checkout_url,
        session_id: session.id,
    })
}

/// A billing portal session for the user's own customer (nobody can name another's).
pub async fn portal(state: &AppState, user: &AuthUser) -> Result<PortalResponse, ApiError> {
    let id = user.id.clone();
    let customer = state
        .db
        .run(move |conn| Ok(repo::stripe_customer(conn, &id)?))
        .await?
        .ok_or(ApiError::NoBillingAccount)?;
    let url = state
        .payments
        .gateway
        .portal_session(&customer, &state.settings.public("/membership"))
        .await
        .map_err(ApiError::PaymentProvider)?;
    Ok(PortalResponse { url })
}

/// The user's subscriptions, newest first.
pub async fn mine(state: &AppState, user: &UserId) -> Result<MembershipPage, ApiError> {
    let (id, at, grace) = (
        user.clone(),
        access_at(state),
        state.settings.pricing.past_due_grace_secs,
    );
    let rows = state
        .db
        .run(move |conn| Ok(repo::of_user(conn, &id)?))
        .await?;
    Ok(MembershipPage {
        items: rows
            .into_iter()
            .map(|(s, p)| membership_dto(s, p, None, at, grace))
            .collect(),
        next_cursor: None,
    })
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only the members of this plan.
    pub plan_id: Option<PlanId>,
}

/// Every subscription, newest first (admins).
pub async fn members(state: &AppState, query: MembersQuery) -> Result<MembershipPage, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = query.cursor.as_deref().map(Cursor::decode).transpose()?;
    let (at, grace) = (access_at(state), state.settings.pricing.past_due_grace_secs);
    let rows = state
        .db
        .run(move |conn| {
            Ok(repo::members(
                conn,
                query.plan_id.as_ref(),
                after.as_ref(),
                limit + 1,
            )?)
        })
        .await?;
    let (rows, next_cursor) =
        pagination::finish(rows, limit, |(s, _, _)| (s.created_at, s.id.as_str()));
    Ok(MembershipPage {
        items: rows
            .into_iter()
            .map(|(s, p, email)| membership_dto(s, p, Some(email), at, grace))
            .collect(),
        next_cursor,
    })
}

/// The buyer back from Checkout: reads the subscription the session made (so access does not
/// wait for the webhook) and answers with the user's memberships.
pub async fn follow_checkout(
    state: &AppState,
    user: &AuthUser,
    session_id: String,
) -> Result<MembershipPage, ApiError> {
    if !is_session_id(&session_id) {
        return Err(ApiError::NotFound("checkout session"));
    }
    let subscription = state
        .payments
        .gateway
        .session_subscription(&session_id)
        .await
        .map_err(|e| match e.is_not_found() {
            true => ApiError::NotFound("checkout session"),
            false => ApiError::PaymentProvider(e),
        })?;
    if let Some(sub) = subscription {
        let fetched = read(state, &sub).await?;
        if fetched.snapshot.user_id.as_deref() != Some(user.id.as_str()) {
            return Err(ApiError::NotFound("checkout session"));
        }
        let jobs = state.settings.jobs.clone();
        let changed = state
            .db
            .write(move |conn| Ok(conn.transaction(|conn| sync(conn, &jobs, &fetched))?))
            .await?;
        if changed.is_some() {
            state.catalog.invalidate_owners();
            state.wake.now();
        }
    }
    mine(state, &user.id).await
}

/// The shape of a Checkout Session's id (`cs_` and letters, digits or `_`), checked before
/// anything is asked of Stripe.
pub const SESSION_ID_PATTERN: &str = "^cs_[A-Za-z0-9_]{1,250}$";

fn is_session_id(id: &str) -> bool {
    id.strip_prefix("cs_").is_some_and(|rest| {
        (1..=250).contains(&rest.len())
            && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

/// A subscription as read from Stripe, and when the read began.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub snapshot: Snapshot,
    pub read_at: NaiveDateTime,
}

/// Reads a subscription from Stripe.
pub async fn read(state: &AppState, stripe_id: &str) -> Result<Fetched, ApiError> {
    let read_at = now();
    let snapshot = state
        .payments
        .gateway
        .retrieve_subscription(stripe_id)
        .await
        .map_err(ApiError::PaymentProvider)?;
    Ok(Fetched { snapshot, read_at })
}

fn from_unix(t: i64) -> Option<NaiveDateTime> {
    DateTime::from_timestamp(t, 0).map(|d| d.naive_utc())
}

/// Stores a read subscription if it is ours and newer than the stored one, and queues the mails
/// its state calls for: the welcome once it first grants access, the notice once it is over.
/// The row after, when it was stored.
pub fn sync(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    fetched: &Fetched,
) -> diesel::QueryResult<Option<SubscriptionRow>> {
    let s = &fetched.snapshot;
    let (Some(user), Some(plan)) = (
        s.user_id.as_deref().and_then(|u| UserId::parse(u).ok()),
        s.plan_id.as_deref().and_then(|p| PlanId::parse(p).ok()),
    ) else {
        return Ok(None);
    };
    // Ours only if the customer is the one Folio made for that user, and the plan exists.
    if repo::user_of_customer(conn, &s.customer)?.as_ref() != Some(&user)
        || repo::find_plan(conn, &plan)?.is_none()
    {
        tracing::warn!(subscription = %s.id, "a subscription whose customer or plan is not Folio's");
        return Ok(None);
    }
    let period_start = s.current_period_start.and_then(from_unix);
    let past_due_since = (s.status == SubscriptionStatus::PastDue).then(|| {
        s.unpaid_invoice_since
            .and_then(from_unix)
            .or(period_start)
            .unwrap_or(fetched.read_at)
    });
    let t = now();
    let row = SubscriptionRow {
        id: SubscriptionId::generate(),
        stripe_subscription_id: s.id.clone(),
        user_id: user,
        plan_id: plan,
        status: s.status,
        current_period_start: period_start,
        current_period_end: s.current_period_end.and_then(from_unix),
        cancel_at_period_end: s.cancel_at_period_end,
        past_due_since,
        ended_at: s.ended_at.and_then(from_unix),
        synced_at: fetched.read_at,
        created_at: t,
        updated_at: t,
    };
    let (before, applied) = repo::store(conn, &row)?;
    if !applied {
        tracing::info!(subscription = %s.id, "an older read of the subscription: not applied");
        return Ok(None);
    }
    let id = before.as_ref().map_or(row.id.clone(), |b| b.id.clone());
    let stored = SubscriptionRow {
        id: id.clone(),
        created_at: before.as_ref().map_or(row.created_at, |b| b.created_at),
        ..row
    };
    if matches!(
        stored.status,
        SubscriptionStatus::Active | SubscriptionStatus::Trialing
    ) {
        notice(conn, jobs, &id, Notice::Welcome, &format!("welcome:{id}"))?;
    }
    let was_live = before.as_ref().is_some_and(|b| !b.status.is_over());
    if matches!(
        stored.status,
        SubscriptionStatus::Canceled | SubscriptionStatus::Unpaid
    ) && was_live
    {
        notice(conn, jobs, &id, Notice::Ended, &format!("ended:{id}"))?;
    }
    Ok(Some(stored))
}

/// A mail about a membership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Notice {
    /// It started: what it unlocks.
    Welcome,
    /// A renewal was paid: its receipt.
    Renewed {
        invoice: String,
        amount_cents: i64,
        currency: String,
        invoice_url: Option<String>,
    },
    /// A renewal failed: the way to the billing portal, and when access ends.
    PaymentFailed { invoice: String },
    /// It ended (cancelled, or unpaid after the retries).
    Ended,
}

fn notice(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    subscription: &SubscriptionId,
    notice: Notice,
    key: &str,
) -> diesel::QueryResult<bool> {
    let kind = match &notice {
        Notice::Welcome => shared_types::WebhookEventType::SubscriptionStarted,
        Notice::Renewed { .. } => shared_types::WebhookEventType::SubscriptionRenewed,
        Notice::PaymentFailed { .. } => shared_types::WebhookEventType::SubscriptionPastDue,
        Notice::Ended => shared_types::WebhookEventType::SubscriptionEnded,
    };
    let new = crate::jobs::enqueue(
        conn,
        jobs,
        &Task::MembershipNotice {
            subscription: subscription.clone(),
            notice,
        },
        Some(&format!("membership.{key}")),
    )?;
    // The notice's dedupe key says whether this is news: the event goes out with it, once.
    if new {
        crate::webhooks::emit(conn, jobs, kind, |conn| {
            Ok(repo::with_member(conn, subscription)?.map(|(row, plan, email)| {
                serde_json::json!({
                    "id": row.id,
                    "status": row.status,
                    "plan": {"id": plan.id, "name": plan.name},
                    "member_email": email,
                    "current_period_end": row.current_period_end.map(|t| t.and_utc().to_rfc3339()),
                    "cancel_at_period_end": row.cancel_at_period_end,
                })
            }))
        })?;
    }
    Ok(new)
}

// Events.

#[derive(Debug, Deserialize)]
struct SubscriptionObject {
    id: String,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct SubscriptionDetails {
    #[serde(default)]
    subscription: Option<Ref>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct InvoiceParent {
    #[serde(default)]
    subscription_details: Option<SubscriptionDetails>,
}

/// The fields of an invoice event Folio reads (the subscription is named under `parent` in
/// current API versions, at the top in older ones).
#[derive(Debug, Deserialize)]
struct InvoiceObject {
    id: String,
    #[serde(default)]
    billing_reason: Option<String>,
    #[serde(default)]
    attempt_count: Option<i64>,
    #[serde(default)]
    amount_paid: Option<i64>,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    hosted_invoice_url: Option<String>,
    #[serde(default)]
    subscription: Option<Ref>,
    #[serde(default)]
    parent: Option<InvoiceParent>,
}

impl InvoiceObject {
    fn subscription(&self) -> Option<(&str, bool)> {
        let details = self
            .parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref());
        let marked = details
            .and_then(|d| d.metadata.as_ref())
            .is_some_and(|m| m.contains_key("plan_id"));
        details
            .and_then(|d| d.subscription.as_ref())
            .or(self.subscription.as_ref())
            .map(|r| (r.id(), marked))
    }
}

#[derive(Debug, Deserialize)]
struct SessionObject {
    #[serde(default)]
    mode: Option<String>,
    #[serde(default)]
    subscription: Option<Ref>,
    #[serde(default)]
    metadata: Option<HashMap<String, String>>,
}

/// An event that is about a subscription: which one, and whether Folio's metadata marks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cue {
    pub subscription: String,
    pub marked: bool,
}

/// The events that say a subscription changed, and the one each names.
pub fn cue(event: &Envelope) -> Option<Cue> {
    let object = event.data.object.clone();
    let marked =
        |m: &Option<HashMap<String, String>>| m.as_ref().is_some_and(|m| m.contains_key("plan_id"));
    match event.type_.as_str() {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed" => {
            let s: SubscriptionObject = serde_json::from_value(object).ok()?;
            Some(Cue {
                marked: marked(&s.metadata),
                subscription: s.id,
            })
        }
        "invoice.paid" | "invoice.payment_failed" => {
            let invoice: InvoiceObject = serde_json::from_value(object).ok()?;
            let (id, marked) = invoice.subscription()?;
            Some(Cue {
                subscription: id.to_owned(),
                marked,
            })
        }
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let s: SessionObject = serde_json::from_value(object).ok()?;
            if s.mode.as_deref() != Some("subscription") {
                return None;
            }
            Some(Cue {
                subscription: s.subscription?.id().to_owned(),
                marked: marked(&s.metadata),
            })
        }
        _ => None,
    }
}

/// Reads the subscription an event names, when it is Folio's (marked by its metadata, or known
/// already); None for somebody else's.
pub async fn read_cued(state: &AppState, cue: &Cue) -> Result<Option<Fetched>, ApiError> {
    if !cue.marked {
        let id = cue.subscription.clone();
        let known = state
            .db
            .run(move |conn| Ok(repo::find_by_stripe(conn, &id)?))
            .await?;
        if known.is_none() {
            return Ok(None);
        }
    }
    read(state, &cue.subscription).await.map(Some)
}

/// What a subscription event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// Stripe's state was stored.
    Synced,
    /// A newer read was stored already, or the subscription is not Folio's.
    Unchanged,
}

/// Applies a subscription event in the webhook's transaction: the state read from Stripe, and
/// for invoices the receipt or the failure notice (once per invoice and attempt).
pub fn apply(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    event: &Envelope,
    fetched: &Fetched,
) -> diesel::QueryResult<Applied> {
    let Some(row) = sync(conn, jobs, fetched)? else {
        // Still send an invoice's mail if the subscription is ours and only the read was older.
        if let Some(row) = repo::find_by_stripe(conn, &fetched.snapshot.id)? {
            invoice_notice(conn, jobs, event, &row)?;
        }
        return Ok(Applied::Unchanged);
    };
    invoice_notice(conn, jobs, event, &row)?;
    Ok(Applied::Synced)
}

fn invoice_notice(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    event: &Envelope,
    row: &SubscriptionRow,
) -> diesel::QueryResult<()> {
    let kind = event.type_.as_str();
    if kind != "invoice.paid" && kind != "invoice.payment_failed" {
        return Ok(());
    }
    let Ok(invoice) = serde_json::from_value::<InvoiceObject>(event.data.object.clone()) else {
        return Ok(());
    };
    if kind == "invoice.paid" {
        // The first invoice's receipt is the welcome.
        if invoice.billing_reason.as_deref() == Some("subscription_cycle") {
            let key = format!("renewed:{}", invoice.id);
            notice(
                conn,
                jobs,
                &row.id,
                Notice::Renewed {
                    amount_cents: invoice.amount_paid.unwrap_or(0),
                    currency: invoice.currency.unwrap_or_default(),
                    invoice_url: invoice.hosted_invoice_url,
                    invoice: invoice.id,
                },
                &key,
            )?;
        }
    } else {
        let key = format!(
            "payment_failed:{}:{}",
            invoice.id,
            invoice.attempt_count.unwrap_or(1)
        );
        notice(
            conn,
            jobs,
            &row.id,
            Notice::PaymentFailed {
                invoice: invoice.id,
            },
            &key,
        )?;
    }
    Ok(())
}

/// What `user`'s memberships unlock now (the catalog's "Included" marks).
pub fn unlocked(
    conn: &mut DbConnection,
    user: &UserId,
    at: AccessAt,
) -> diesel::QueryResult<repo::Unlocked> {
    repo::unlocked(conn, user, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_ids_are_checked_before_stripe_is_asked() {
        for good in ["cs_test_a1B2", "cs_1", &format!("cs_{}", "a".repeat(250))] {
            assert!(is_session_id(good), "{good}");
        }
        for bad in [
            "",
            "cs_",
            "sub_123",
            "cs_a/b",
            "cs_é",
            "cs_a%2F",
            &format!("cs_{}", "a".repeat(251)),
        ] {
            assert!(!is_session_id(bad), "{bad}");
        }
        assert_eq!(SESSION_ID_PATTERN, "^cs_[A-Za-z0-9_]{1,250}$");
    }

    #[test]
    fn notices_keep_their_shape_in_the_queue() {
        let notice = Notice::Renewed {
            invoice: "in_1".into(),
            amount_cents: 900,
            currency: "eur".into(),
            invoice_url: None,
        };
        let json = serde_json::to_value(&notice).unwrap();
        assert_eq!(json["type"], "renewed");
        assert_eq!(serde_json::from_value::<Notice>(json).unwrap(), notice);
    }
}

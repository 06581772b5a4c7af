//! Payments: Stripe Checkout for paid items, fulfillment from the webhook and from the success
//! page (one function, safe to run any number of times at once), refunds and disputes.

pub mod events;
pub mod gateway;
pub mod mails;
pub mod reconcile;
pub mod repo;
pub mod routes;
pub mod webhook;

use diesel::Connection;
use serde::Deserialize;
use shared_types::{
    CheckoutResponse, Money, Order, OrderId, OrderPage, OrderProduct, OrderStatus, ProductStatus,
    UserId,
};

use crate::auth::AuthUser;
use crate::config::{JobSettings, Secret, StripeSettings};
use crate::db::{now, DbConnection};
use crate::error::ApiError;
use crate::jobs::Task;
use crate::pagination::{self, Cursor};
use crate::AppState;
use gateway::{Gateway, NewSession, SessionInfo};
use repo::{OrderListing, OrderRow};

/// Stripe as Folio uses it: the API client and the webhook secrets.
pub struct Payments {
    pub gateway: Gateway,
    pub webhook_secrets: Vec<Secret>,
}

impl Payments {
    pub fn new(settings: &StripeSettings) -> anyhow::Result<Self> {
        Ok(Self {
            gateway: Gateway::new(settings)?,
            webhook_secrets: settings.webhook_secrets.clone(),
        })
    }
}

fn order_dto(listing: OrderListing, with_email: bool) -> Order {
    let (row, slug, title, email) = listing;
    let money = |cents: i64| Money::new(cents, row.currency);
    Order {
        amount: money(row.amount_cents),
        list_price: money(row.list_price_cents),
        discount: row
            .discount_code
            .clone()
            .map(|code| shared_types::OrderDiscount {
                code,
                amount: money(row.list_price_cents - row.amount_cents),
            }),
        tax: row.tax_cents.map(money),
        total: row.total_cents.map(money),
        invoice_url: row.invoice_url.clone(),
        status: row.status,
        created_at: row.created_at.and_utc(),
        paid_at: row.paid_at.map(|t| t.and_utc()),
        buyer_email: with_email.then_some(email),
        product: OrderProduct { slug, title },
        id: row.id,
    }
}

/// Who is buying.
pub enum Buyer {
    /// A signed-in user.
    User(AuthUser),
    /// Someone without an account (or not signed in), buying for this address.
    Guest(shared_types::Email),
}

/// A checkout started: where to pay, and for a guest the claim its browser keeps.
pub struct Started {
    pub response: CheckoutResponse,
    /// A guest's signed, short-lived claim on this checkout (an HttpOnly cookie).
    pub guest_token: Option<String>,
}

/// What a buyer asks for at checkout.
pub struct CheckoutInput {
    pub slug: String,
    pub discount_code: Option<String>,
    pub amount: Option<String>,
}

/// How long a checkout holding a capped code's redemption stays open (Stripe's least is 30
/// minutes): an abandoned one gives the redemption back after this.
const CAPPED_CODE_SESSION_SECS: i64 = 35 * 60;

/// Starts a purchase: a pending order and a Checkout Session for it; or, when a code or a
/// pay-what-you-want amount of 0 leaves nothing to pay, a paid order of 0 and the item granted
/// at once, without Stripe.
#[tracing::instrument(skip_all)]
pub async fn checkout(
    state: &AppState,
    buyer: Buyer,
    input: CheckoutInput,
) -> Result<Started, ApiError> {
    let user = match &buyer {
        Buyer::User(u) => Some(u),
        Buyer::Guest(_) => None,
    };
    let (product, owned) = crate::catalog::visible_product(state, user, input.slug).await?;
    if product.status != ProductStatus::Published {
        return Err(ApiError::NotFound("product"));
    }
    if product.is_free() {
        return Err(ApiError::FreeItem);
    }
    // A guest is not told what the account of the address they typed owns.
    if owned {
        return Err(ApiError::AlreadyOwned);
    }
    let list_cents = if product.pay_what_you_want {
        crate::pricing::chosen_amount(
            &product,
            input.amount.as_deref(),
            state.settings.pricing.max_pay_what_you_want_cents,
        )?
    } else if input.amount.is_some() {
        return Err(crate::pricing::Refusal::AmountNotAllowed.into());
    } else {
        product.price_cents
    };
    let code = input.discount_code.filter(|c| !c.trim().is_empty());
    let at = now();
    let draft = OrderRow {
        id: OrderId::generate(),
        // The guest's account is known once the order is written (below).
        user_id: user.map(|u| u.id.clone()).unwrap_or_else(UserId::generate),
        product_id: product.id.clone(),
        amount_cents: list_cents,
        currency: product.currency,
        stripe_session_id: None,
        stripe_payment_intent_id: None,
        status: OrderStatus::Pending,
        created_at: at,
        updated_at: at,
        paid_at: None,
        list_price_cents: list_cents,
        discount_id: None,
        discount_code: None,
        tax_cents: None,
        total_cents: None,
        stripe_invoice_id: None,
        invoice_url: None,
        refunded_cents: 0,
        refunded_at: None,
    };
    let guest = matches!(buyer, Buyer::Guest(_));
    let (jobs, priced) = (state.settings.jobs.clone(), product.clone());
    let (email, order, capped) = state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                let user = match &buyer {
                    Buyer::User(u) => crate::auth::repo::find_user(conn, &u.id)?
                        .ok_or(ApiError::Unauthenticated)?,
                    Buyer::Guest(email) => {
                        crate::auth::repo::find_or_create_passwordless(conn, email.as_ref(), at)?
                    }
                };
                let mut order = draft;
                order.user_id = user.id.clone();
                let mut capped = false;
                if let Some(code) = &code {
                    // Counted and reserved in this transaction: the order is the redemption.
                    let (discount, price) =
                        crate::pricing::redeem(conn, code, &priced, Some(&user.id), at)?;
                    capped =
                        discount.max_redemptions.is_some() || discount.max_per_customer.is_some();
                    order.discount_id = Some(discount.id);
                    order.discount_code = Some(discount.code);
                    order.amount_cents = price;
                }
                if order.amount_cents == 0 {
                    order.status = OrderStatus::Paid;
                    order.paid_at = Some(at);
                    order.total_cents = Some(0);
                }
                repo::insert_order(conn, &order)?;
                if order.status == OrderStatus::Paid {
                    grant_paid(conn, &jobs, &order, at)?;
                }
                Ok::<_, ApiError>((user.email, order, capped))
            })
        })
        .await?;
    if order.status == OrderStatus::Paid {
        state.catalog.invalidate_owners();
        state.wake.now();
        tracing::info!(order_id = %order.id, guest, "nothing to pay: granted");
        return Ok(Started {
            response: CheckoutResponse {
                checkout_url: None,
                session_id: None,
                amount: Money::new(0, order.currency),
                status: order.status,
                order_id: order.id,
            },
            guest_token: None,
        });
    }

    let preview = crate::catalog::to_dto(&state.settings, &product, &[], false).preview_url;
    let created = state
        .payments
        .gateway
        .create_session(NewSession {
            order_id: &order.id,
            user_id: &order.user_id,
            product_id: &product.id,
            product_name: &product.title,
            image_url: preview.as_deref(),
            amount_cents: order.amount_cents,
            currency: product.currency,
            customer_email: &email,
            success_url: state
                .settings
                .public("/checkout/success?session_id={CHECKOUT_SESSION_ID}"),
            cancel_url: state
                .settings
                .public(&format!("/products/{}?checkout=cancelled", product.slug)),
            tax: state
                .settings
                .pricing
                .stripe_tax
                .then_some(gateway::TaxMode {
                    inclusive: state.settings.pricing.prices_include_tax,
                }),
            expires_at: capped.then(|| chrono::Utc::now().timestamp() + CAPPED_CODE_SESSION_SECS),
        })
        .await;
    let session = match created {
        Ok(session) => session,
        Err(e) => {
            // The order must not linger as pending: nobody can ever pay it (and a failed order
            // holds no redemption of its code).
            let id = order.id.clone();
            state
                .db
                .write(move |conn| {
                    Ok(repo::transition(
                        conn,
                        &id,
                        OrderStatus::Pending,
                        OrderStatus::Failed,
                        now(),
                    )?)
                })
                .await?;
            return Err(ApiError::PaymentProvider(e));
        }
    };
    let checkout_url = session.url.clone().ok_or_else(|| {
        ApiError::PaymentProvider(gateway::GatewayError::new("the session has no url"))
    })?;
    let (order_id, session_id) = (order.id.clone(), session.id.clone());
    state
        .db
        .write(move |conn| Ok(repo::set_session(conn, &order_id, &session_id, now())?))
        .await?;
    tracing::info!(order_id = %order.id, guest, "checkout started");
    let guest_token = guest.then(|| {
        state.keys.issue_guest(
            &order.user_id,
            &session.id,
            state.settings.guest_access_secs,
        )
    });
    Ok(Started {
        response: CheckoutResponse {
            checkout_url: Some(checkout_url),
            session_id: Some(session.id),
            amount: Money::new(order.amount_cents, order.currency),
            status: order.status,
            order_id: order.id,
        },
        guest_token,
    })
}

/// Tells the webhook endpoints about an order (as the admin's order list shows it), in the
/// caller's transaction.
pub(crate) fn emit_order(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    order: &OrderId,
    kind: shared_types::WebhookEventType,
) -> diesel::QueryResult<()> {
    crate::webhooks::emit(conn, jobs, kind, |conn| {
        Ok(repo::order_listing(conn, order)?
            .map(|l| serde_json::to_value(order_dto(l, true)).expect("an order serialises")))
    })
}

/// What a paid order grants and sends, in the transaction that made it paid: the item (each
/// item of a bundle), and the receipt, exactly when the order is paid.
fn grant_paid(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    order: &OrderRow,
    at: chrono::NaiveDateTime,
) -> diesel::QueryResult<()> {
    crate::library::repo::grant_order(conn, &order.user_id, &order.product_id, &order.id, at)?;
    crate::jobs::enqueue(
        conn,
        jobs,
        &Task::Receipt {
            order: order.id.clone(),
        },
        Some(&format!("receipt:{}", order.id)),
    )?;
    emit_order(
        conn,
        jobs,
        &order.id,
        shared_types::WebhookEventType::OrderPaid,
    )?;
    Ok(())
}

/// What fulfilling a session did.
#[derive(Debug, PartialEq, Eq)]
pub enum Fulfillment {
    /// This call moved the order to paid and granted access.
    Granted,
    /// Already paid (or refunded, disputed…): nothing changed.
    AlreadySettled,
    /// The session is not paid (yet).
    NotPaid,
    /// No order of ours matches the session.
    NotOurs,
}

pub(crate) fn resolve_session_order(
    conn: &mut DbConnection,
    session: &SessionInfo,
) -> diesel::QueryResult<Option<OrderRow>> {
    let order = match &session.order_id {
        Some(id) => repo::find_order(conn, id)?,
        None => repo::find_order_by_session(conn, &session.id)?,
    };
    // A reference to one of our orders from some other session is not a payment for it.
    Ok(order.filter(|o| {
        o.stripe_session_id
            .as_deref()
            .is_none_or(|s| s == session.id)
    }))
}

/// The one fulfillment path. Its first statement is the conditional UPDATE, so concurrent calls
/// queue on the row (PostgreSQL) or the write lock (SQLite) and exactly one of them grants.
pub(crate) fn fulfill_order(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    order: &OrderRow,
    session: &SessionInfo,
) -> diesel::QueryResult<Fulfillment> {
    if !session.paid {
        return Ok(Fulfillment::NotPaid);
    }
    let at = now();
    if !repo::mark_paid(conn, &order.id, session.payment_intent.as_deref(), at)? {
        return Ok(Fulfillment::AlreadySettled);
    }
    if order.stripe_session_id.is_none() {
        repo::set_session(conn, &order.id, &session.id, at)?;
    }
    if session
        .amount_subtotal
        .is_some_and(|s| s != order.amount_cents)
    {
        tracing::warn!(order_id = %order.id, subtotal = ?session.amount_subtotal, asked = order.amount_cents, "Stripe's subtotal differs from the order's amount");
    }
    repo::set_settlement(
        conn,
        &order.id,
        session.amount_tax,
        session.amount_total,
        session.invoice.as_deref(),
    )?;
    // In the transaction that made the order paid: access and the receipt exist exactly when
    // that does.
    grant_paid(conn, jobs, order, at)?;
    if session.invoice.is_some() {
        crate::jobs::enqueue(
            conn,
            jobs,
            &Task::InvoiceLink {
                order: order.id.clone(),
            },
            Some(&format!("invoice:{}", order.id)),
        )?;
    }
    tracing::info!(order_id = %order.id, "order paid; access granted");
    Ok(Fulfillment::Granted)
}

/// The job that stores the hosted page of a paid order's invoice. Stripe finalizes the invoice
/// just after the payment: until it has a page, the job fails and is retried.
pub async fn invoice_link(
    state: &AppState,
    order_id: &OrderId,
) -> Result<(), crate::jobs::worker::JobError> {
    use crate::jobs::worker::JobError;
    let id = order_id.clone();
    let order = state
        .db
        .run(move |conn| Ok(repo::find_order(conn, &id)?))
        .await?
        .ok_or_else(|| JobError::permanent("the order no longer exists"))?;
    let Some(invoice) = order.stripe_invoice_id else {
        return Err(JobError::permanent("the order has no invoice"));
    };
    if order.invoice_url.is_some() {
        return Ok(());
    }
    let url = state
        .payments
        .gateway
        .invoice_url(&invoice)
        .await
        .map_err(JobError::retry)?
        .ok_or_else(|| JobError::retry("the invoice has no hosted page yet"))?;
    let id = order.id.clone();
    state
        .db
        .write(move |conn| Ok(repo::set_invoice_url(conn, &id, &url)?))
        .await?;
    Ok(())
}

/// Fulfills a session read from Stripe (the success page's path).
pub async fn fulfill(state: &AppState, session: SessionInfo) -> Result<Fulfillment, ApiError> {
    let jobs = state.settings.jobs.clone();
    let fulfillment = state
        .db
        .write(move |conn| {
            let Some(order) = resolve_session_order(conn, &session)? else {
                return Ok(Fulfillment::NotOurs);
            };
            Ok(conn.transaction(|conn| fulfill_order(conn, &jobs, &order, &session))?)
        })
        .await;
    state.catalog.invalidate_owners();
    if matches!(fulfillment, Ok(Fulfillment::Granted)) {
        state.wake.now();
    }
    fulfillment
}

/// Who follows a checkout back from Stripe: its buyer signed in, or the guest's browser that
/// started it (its claim names the session).
pub enum Follower {
    User(AuthUser),
    Guest(crate::auth::tokens::GuestClaims),
}

impl Follower {
    fn may_follow(&self, order: &OrderRow, session_id: &str) -> bool {
        match self {
            Follower::User(u) => order.user_id == u.id,
            Follower::Guest(g) => g.sid == session_id && g.sub == order.user_id,
        }
    }
}

/// The order of `session_id` if `follower` may see it.
async fn followed_order(
    state: &AppState,
    follower: &Follower,
    session_id: &str,
) -> Result<OrderRow, ApiError> {
    let sid = session_id.to_owned();
    state
        .db
        .run(move |conn| Ok(repo::find_order_by_session(conn, &sid)?))
        .await?
        .filter(|o| follower.may_follow(o, session_id))
        .ok_or(ApiError::NotFound("checkout session"))
}

/// A download link for what a followed checkout bought, once it is paid: how a guest reaches
/// the file from the success page.
pub async fn session_download_token(
    state: &AppState,
    follower: &Follower,
    session_id: String,
) -> Result<shared_types::DownloadTokenResponse, ApiError> {
    let order = followed_order(state, follower, &session_id).await?;
    if order.status != OrderStatus::Paid {
        return Err(ApiError::NotPurchased);
    }
    let (user, product) = (order.user_id.clone(), order.product_id.clone());
    let at = crate::membership::access_at(state);
    let (row, files) = state
        .db
        .run(move |conn| {
            let checked = crate::library::access::check(conn, &user, &product, at)?;
            let files = crate::files::repo::current_of(conn, &product)?;
            Ok((checked.product, files))
        })
        .await?;
    crate::downloads::order_link(state, &order.user_id, &row, &files)
}

/// Mails the receipt of a paid order again (asked by its buyer or an admin).
pub async fn resend_receipt(
    state: &AppState,
    owner: Option<&UserId>,
    order_id: OrderId,
) -> Result<(), ApiError> {
    state.receipt_limiter.check(&state.db, &order_id).await?;
    let (owner, jobs) = (owner.cloned(), state.settings.jobs.clone());
    state
        .db
        .write(move |conn| {
            let order = repo::find_order(conn, &order_id)?
                .filter(|o| owner.as_ref().is_none_or(|u| &o.user_id == u))
                .ok_or(ApiError::NotFound("order"))?;
            if order.status != OrderStatus::Paid {
                return Err(ApiError::OrderNotPaid(order.status));
            }
            crate::jobs::enqueue(conn, &jobs, &Task::Receipt { order: order.id }, None)?;
            Ok(())
        })
        .await?;
    state.wake.now();
    Ok(())
}

/// The buyer's view of a checkout after Stripe sent them back: confirms with Stripe and
/// fulfills if paid, so access does not wait for the webhook.
pub async fn session_status(
    state: &AppState,
    follower: &Follower,
    session_id: String,
) -> Result<Order, ApiError> {
    let order = followed_order(state, follower, &session_id).await?;
    if order.status == OrderStatus::Pending {
        let session = state
            .payments
            .gateway
            .retrieve_session(&session_id)
            .await
            .map_err(ApiError::PaymentProvider)?;
        fulfill(state, session).await?;
    }
    load_order(state, order.id, false).await
}

async fn load_order(
    state: &AppState,
    order_id: OrderId,
    with_email: bool,
) -> Result<Order, ApiError> {
    state
        .db
        .run(move |conn| repo::order_listing(conn, &order_id)?.ok_or(ApiError::NotFound("order")))
        .await
        .map(|l| order_dto(l, with_email))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderQuery {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only orders in this status (admin listing only).
    pub status: Option<OrderStatus>,
}

/// Orders newest first: the user's own, or everybody's for admins (`user` None).
pub async fn list_orders(
    state: &AppState,
    user: Option<&AuthUser>,
    query: OrderQuery,
) -> Result<OrderPage, ApiError> {
    list_orders_with(state, user, None, query).await
}

/// [`list_orders`], for admins optionally only the orders that used one discount.
pub async fn list_orders_with(
    state: &AppState,
    user: Option<&AuthUser>,
    discount: Option<shared_types::DiscountId>,
    query: OrderQuery,
) -> Result<OrderPage, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = query.cursor.as_deref().map(Cursor::decode).transpose()?;
    let user_id = user.map(|u| u.id.clone());
    let with_email = user.is_none();
    let status = if with_email { query.status } else { None };
    let rows = state
        .db
        .run(move |conn| {
            Ok(repo::list_orders(
                conn,
                repo::OrderFilter {
                    user_id: user_id.as_ref(),
                    discount_id: discount.as_ref(),
                    status,
                    after: after.as_ref(),
                    limit: limit + 1,
                },
            )?)
        })
        .await?;
    let (rows, next_cursor) =
        pagination::finish(rows, limit, |l| (l.0.created_at, l.0.id.as_str()));
    Ok(OrderPage {
        items: rows.into_iter().map(|l| order_dto(l, with_email)).collect(),
        next_cursor,
    })
}

/// Refunds a paid order through Stripe and revokes access at once; the `charge.refunded`
/// webhook that follows finds the order refunded already and changes nothing.
#[tracing::instrument(skip_all, fields(order_id = %order_id))]
pub async fn refund(state: &AppState, order_id: OrderId) -> Result<Order, ApiError> {
    let id = order_id.clone();
    let order = state
        .db
        .run(move |conn| repo::find_order(conn, &id)?.ok_or(ApiError::NotFound("order")))
        .await?;
    let payment_intent = match (order.status, &order.stripe_payment_intent_id) {
        (OrderStatus::Paid, Some(pi)) => pi.clone(),
        (OrderStatus::Paid, None) => return Err(ApiError::NothingToRefund),
        _ => return Err(ApiError::OrderNotRefundable(order.status)),
    };
    state
        .payments
        .gateway
        .refund(&payment_intent, &order.id)
        .await
        .map_err(ApiError::PaymentProvider)?;
    let (id, jobs) = (order.id.clone(), state.settings.jobs.clone());
    // A full refund of what was charged (the total once Stripe reported it).
    let refunded_cents = order.total_cents.unwrap_or(order.amount_cents);
    state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                let at = now();
                if repo::transition(conn, &id, OrderStatus::Paid, OrderStatus::Refunded, at)? {
                    repo::record_refund(conn, &id, refunded_cents, at)?;
                    crate::library::repo::revoke_for_order(conn, &id, at)?;
                    refund_notice(conn, &jobs, &id)?;
                    emit_order(
                        conn,
                        &jobs,
                        &id,
                        shared_types::WebhookEventType::OrderRefunded,
                    )?;
                }
                diesel::QueryResult::Ok(())
            })?;
            Ok(())
        })
        .await?;
    state.catalog.invalidate_owners();
    state.wake.now();
    tracing::info!("order refunded; access revoked");
    load_order(state, order_id, true).await
}

/// Verifies and applies one webhook delivery. Each event id is applied at most once: it is
/// recorded in the same transaction that applies it, so a failure leaves it unrecorded and
/// Stripe's retry applies it then.
pub async fn handle_webhook(
    state: &AppState,
    signature: Option<String>,
    body: bytes::Bytes,
) -> Result<(), ApiError> {
    webhook::verify(
        signature.as_deref(),
        &body,
        &state.payments.webhook_secrets,
        chrono::Utc::now().timestamp(),
    )
    .map_err(ApiError::InvalidSignature)?;
    let event: webhook::Envelope = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request("invalid_payload", format!("not a Stripe event: {e}"))
    })?;
    let (event_id, event_type) = (event.id.clone(), event.type_.clone());
    // A subscription's events are cues to read it from Stripe (outside the transaction); a
    // failed read answers 502, so Stripe delivers the event again.
    let subscription = match crate::membership::cue(&event) {
        Some(cue) => crate::membership::read_cued(state, &cue).await?,
        None => None,
    };
    let jobs = state.settings.jobs.clone();
    let outcome = state
        .db
        .write(move |conn| {
            Ok(conn.transaction(|conn| events::apply(conn, &jobs, event, subscription.as_ref()))?)
        })
        .await?;
    if outcome.changed_ownership() {
        state.catalog.invalidate_owners();
        state.wake.now();
    }
    tracing::info!(event_id = %event_id, event_type = %event_type, outcome = outcome.as_str(), "webhook event");
    Ok(())
}

/// Queues the refund notice of `order` (once per order).
pub(crate) fn refund_notice(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    order: &OrderId,
) -> diesel::QueryResult<bool> {
    crate::jobs::enqueue(
        conn,
        jobs,
        &Task::RefundNotice {
            order: order.clone(),
        },
        Some(&format!("refund:{order}")),
    )
}

//! Thin handlers for checkout, orders, refunds and the Stripe webhook.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use shared_types::{
    AcceptedResponse, CheckoutRequest, CheckoutResponse, DownloadTokenResponse, Email, Order,
    OrderId, OrderPage, Problem, WebhookAck,
};

use super::{Buyer, Follower, OrderQuery};
use crate::auth::{AdminUser, AuthUser, MaybeUser};
use crate::error::ApiError;
use crate::AppState;

/// Stripe's events are small; this bounds what an unauthenticated caller can make us buffer.
pub const WEBHOOK_MAX_BYTES: usize = 256 * 1024;
/// Where Stripe sends events (its resource takes bodies up to [`WEBHOOK_MAX_BYTES`]).
pub const WEBHOOK_PATH: &str = "/api/v1/stripe/webhook";

/// The guest's claim on its checkout: HttpOnly, sent only to the checkout routes.
pub const GUEST_COOKIE: &str = "folio_guest";
const GUEST_COOKIE_PATH: &str = "/api/v1/checkout";

/// Start buying a paid item: creates a pending order and a Stripe Checkout Session. Signed in,
/// for the caller; without a bearer token, for `email` (a guest checkout: the response also
/// sets the HttpOnly `folio_guest` cookie that lets this browser follow the session to its file).
#[utoipa::path(
    post, path = "/api/v1/checkout", tag = "payments",
    request_body = CheckoutRequest,
    security((), ("bearer" = [])),
    responses(
        (status = 201, description = "A pending order and where to pay it; or, with nothing left to pay (`status` `paid`, no `checkout_url`), the item granted already", body = CheckoutResponse),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`: neither a (valid) bearer token nor an `email`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or archived product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_owned`, or `free_item`: free items need no checkout", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the `email` is not an address. A discount code that cannot be used: `discount_invalid`, `discount_not_started`, `discount_expired`, `discount_exhausted` (its last redemption is taken; an open checkout holds one until it expires), `discount_limit_reached` (per customer) or `discount_not_applicable`. Pay what you want: `amount_invalid` (at most two decimals), `amount_below_minimum`, `amount_above_maximum`; `amount_not_allowed` for a fixed price. A percentage takes off round-half-up(price × percent / 100) in minor units, an amount off at most the price; a remainder between 0 and 0.50 (Stripe's least charge) is raised to 0.50, and only a code that takes off everything makes the price 0", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: too many discount codes tried from this address", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`; the order is marked failed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_checkout(
    state: web::Data<AppState>,
    user: MaybeUser,
    req: HttpRequest,
    body: web::Json<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    if body.discount_code.is_some() {
        crate::pricing::check_guess(&state, &req).await?;
    }
    let buyer = match (user.0, body.email.as_deref()) {
        (Some(user), _) => Buyer::User(user),
        (None, Some(email)) => {
            Buyer::Guest(Email::parse(email).map_err(|e| ApiError::validation("email", e.message))?)
        }
        (None, None) => return Err(ApiError::SignInOrGiveEmail),
    };
    let started = super::checkout(
        &state,
        buyer,
        super::CheckoutInput {
            slug: body.slug,
            discount_code: body.discount_code,
            amount: body.amount,
        },
    )
    .await?;
    let mut res = HttpResponse::Created();
    if let Some(token) = started.guest_token {
        res.cookie(
            Cookie::build(GUEST_COOKIE, token)
                .path(GUEST_COOKIE_PATH)
                .http_only(true)
                .same_site(SameSite::Strict)
                .secure(state.settings.https())
                .max_age(CookieDuration::seconds(state.settings.guest_access_secs))
                .finish(),
        );
    }
    Ok(res
        .insert_header(("Cache-Control", "no-store"))
        .json(started.response))
}

/// Who follows a checkout: the signed-in buyer, else the guest's cookie.
fn follower(state: &AppState, user: MaybeUser, req: &HttpRequest) -> Result<Follower, ApiError> {
    if let Some(user) = user.0 {
        return Ok(Follower::User(user));
    }
    let cookie = req.cookie(GUEST_COOKIE).ok_or(ApiError::Unauthenticated)?;
    state
        .keys
        .verify_guest(cookie.value())
        .map(Follower::Guest)
        .map_err(|_| ApiError::Unauthenticated)
}

/// A download link for what a checkout bought, once paid: for its buyer, or the browser of the
/// guest who started it (its `folio_guest` cookie).
#[utoipa::path(
    post, path = "/api/v1/checkout/sessions/{id}/download-token", tag = "payments",
    params(("id" = String, Path, description = "Stripe Checkout Session id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = DownloadTokenResponse),
        (status = 401, description = "`unauthenticated`: neither the buyer nor the guest's browser", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_purchased`: not paid (yet), or refunded", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown session, or not the caller's", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue_session_download_token(
    state: web::Data<AppState>,
    user: MaybeUser,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let follower = follower(&state, user, &req)?;
    let token = super::session_download_token(&state, &follower, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(token))
}

fn receipt_queued() -> HttpResponse {
    HttpResponse::Accepted().json(AcceptedResponse {
        message: "The receipt is on its way to the order's email address.".into(),
    })
}

/// Mail the receipt of one of the caller's paid orders again.
#[utoipa::path(
    post, path = "/api/v1/orders/{id}/receipt", tag = "payments",
    params(("id" = String, Path, description = "Order id")),
    security(("bearer" = [])),
    responses(
        (status = 202, body = AcceptedResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown order, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order_not_paid`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: a few resends per order an hour", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resend_own_receipt(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    super::resend_receipt(&state, Some(&user.id), id.into_inner()).await?;
    Ok(receipt_queued())
}

/// Mail an order's receipt to its buyer again.
#[utoipa::path(
    post, path = "/api/v1/admin/orders/{id}/receipt", tag = "admin",
    params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("api_key" = ["orders:refund"])),
    responses(
        (status = 202, body = AcceptedResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order_not_paid`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resend_receipt(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    super::resend_receipt(&state, None, id.into_inner()).await?;
    Ok(receipt_queued())
}

/// The order of a Checkout Session, for its buyer or the guest's browser that started it;
/// confirms with Stripe and fulfills when paid.
#[utoipa::path(
    get, path = "/api/v1/checkout/sessions/{id}", tag = "payments",
    params(("id" = String, Path, description = "Stripe Checkout Session id")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Order),
        (status = 401, description = "`unauthenticated`: neither the buyer nor the guest's browser", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown session, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_checkout_session(
    state: web::Data<AppState>,
    user: MaybeUser,
    req: HttpRequest,
    id: web::Path<String>,
) -> Result<web::Json<Order>, ApiError> {
    let follower = follower(&state, user, &req)?;
    Ok(web::Json(
        super::session_status(&state, &follower, id.into_inner()).await?,
    ))
}

/// The caller's orders, newest first.
#[utoipa::path(
    get, path = "/api/v1/orders", tag = "payments",
    params(OrderQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = OrderPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_own_orders(
    state: web::Data<AppState>,
    user: AuthUser,
    query: web::Query<OrderQuery>,
) -> Result<web::Json<OrderPage>, ApiError> {
    Ok(web::Json(
        super::list_orders(&state, Some(&user), query.into_inner()).await?,
    ))
}

/// Every order, newest first, optionally by status.
#[utoipa::path(
    get, path = "/api/v1/admin/orders", tag = "admin",
    params(OrderQuery),
    security(("bearer" = []), ("api_key" = ["orders:read"])),
    responses(
        (status = 200, body = OrderPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_all_orders(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<OrderQuery>,
) -> Result<web::Json<OrderPage>, ApiError> {
    Ok(web::Json(
        super::list_orders(&state, None, query.into_inner()).await?,
    ))
}

/// Refund a paid order in full through Stripe; the buyer loses access at once.
#[utoipa::path(
    post, path = "/api/v1/admin/orders/{id}/refund", tag = "admin",
    params(("id" = String, Path, description = "Order id")),
    security(("bearer" = []), ("api_key" = ["orders:refund"])),
    responses(
        (status = 200, body = Order),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order_not_refundable`, or `nothing_to_refund` for an order of 0 (nothing went through Stripe)", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refund_order(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<OrderId>,
) -> Result<web::Json<Order>, ApiError> {
    Ok(web::Json(super::refund(&state, id.into_inner()).await?))
}

/// Compare Stripe's Checkout Sessions, charges and refunds since a day with Folio's orders:
/// paid sessions whose order is pending are fulfilled (as the webhook would have), refunds
/// Stripe has and Folio lacks are applied, differing amounts are reported; the report ends with
/// per-currency totals that agree to the cent when nothing is left unexplained.
#[utoipa::path(
    post, path = "/api/v1/admin/reconcile", tag = "admin",
    request_body = shared_types::ReconcileRequest,
    security(("bearer" = []), ("api_key" = ["orders:refund"])),
    responses(
        (status = 200, body = shared_types::ReconcileReport),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `since` is not `YYYY-MM-DD`, is in the future, or is more than 400 days ago", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`: Stripe did not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reconcile_with_stripe(
    state: web::Data<AppState>,
    _admin: AdminUser,
    body: web::Json<shared_types::ReconcileRequest>,
) -> Result<web::Json<shared_types::ReconcileReport>, ApiError> {
    let since = super::reconcile::parse_since(&body.since, state.clock.now().date())?;
    Ok(web::Json(super::reconcile::run(&state, since).await?))
}

/// Stripe's signed events. Answers 2xx for events that are not Folio's; 5xx only when a retry
/// can help (the database is down).
#[utoipa::path(
    post, path = "/api/v1/stripe/webhook", tag = "payments",
    params(("Stripe-Signature" = String, Header, description = "`t=…,v1=…` HMAC-SHA256 signature")),
    request_body(content = String, description = "The event, exactly as Stripe sent it", content_type = "application/json"),
    responses(
        (status = 200, body = WebhookAck),
        (status = 400, description = "`invalid_signature` or `invalid_payload`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`database_unavailable`: Stripe retries", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn receive_stripe_webhook(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<web::Json<WebhookAck>, ApiError> {
    let signature = req
        .headers()
        .get("Stripe-Signature")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    super::handle_webhook(&state, signature, body).await?;
    Ok(web::Json(WebhookAck { received: true }))
}

//! Thin handlers for checkout, orders, refunds and the Stripe webhook.

use actix_web::{web, HttpRequest, HttpResponse};
use shared_types::{
    CheckoutRequest, CheckoutResponse, Order, OrderId, OrderPage, Problem, WebhookAck,
};

use super::OrderQuery;
use crate::auth::{AdminUser, AuthUser};
use crate::error::ApiError;
use crate::AppState;

/// Stripe's events are small; this bounds what an unauthenticated caller can make us buffer.
pub const WEBHOOK_MAX_BYTES: usize = 256 * 1024;
/// Where Stripe sends events (its resource takes bodies up to [`WEBHOOK_MAX_BYTES`]).
pub const WEBHOOK_PATH: &str = "/api/v1/stripe/webhook";

/// Start buying a paid item: creates a pending order and a Stripe Checkout Session.
#[utoipa::path(
    post, path = "/api/v1/checkout", tag = "payments",
    request_body = CheckoutRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CheckoutResponse),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or archived product", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_owned`, or `free_item`: free items need no checkout", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`; the order is marked failed", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_checkout(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<CheckoutRequest>,
) -> Result<HttpResponse, ApiError> {
    let started = super::checkout(&state, &user, body.into_inner().slug).await?;
    Ok(HttpResponse::Created().json(started))
}

/// The buyer's order for a Checkout Session; confirms with Stripe and fulfills when paid.
#[utoipa::path(
    get, path = "/api/v1/checkout/sessions/{id}", tag = "payments",
    params(("id" = String, Path, description = "Stripe Checkout Session id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Order),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown session, or not the caller's", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_checkout_session(
    state: web::Data<AppState>,
    user: AuthUser,
    id: web::Path<String>,
) -> Result<web::Json<Order>, ApiError> {
    Ok(web::Json(
        super::session_status(&state, &user, id.into_inner()).await?,
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
    security(("bearer" = [])),
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
    security(("bearer" = [])),
    responses(
        (status = 200, body = Order),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`order_not_refundable`", body = Problem, content_type = "application/problem+json"),
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

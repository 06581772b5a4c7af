//! Thin handlers for the admin's webhook endpoints and their delivery log.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shared_types::{
    Problem, WebhookDeliveryPage, WebhookEndpoint, WebhookEndpointId, WebhookEndpointList,
    WebhookEndpointRequest, WebhookSecret,
};

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::AppState;

/// The registered endpoints, newest first.
#[utoipa::path(
    get, path = "/api/v1/admin/webhooks", tag = "admin",
    security(("bearer" = []), ("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, body = WebhookEndpointList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_webhook_endpoints(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<web::Json<WebhookEndpointList>, ApiError> {
    Ok(web::Json(WebhookEndpointList {
        items: super::list(&state).await?,
    }))
}

/// Register an endpoint. The answer holds its signing secret (`whsec_…`): the only time it is
/// shown. Events are posted as JSON with `Folio-Signature: t=…,v1=…` (HMAC-SHA256 of `t.body`).
#[utoipa::path(
    post, path = "/api/v1/admin/webhooks", tag = "admin",
    request_body = WebhookEndpointRequest,
    security(("bearer" = []), ("api_key" = ["webhooks:write"])),
    responses(
        (status = 201, body = WebhookSecret),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (no URL, a URL over 2048 characters, no event), or `webhook_url_refused`: not http(s), credentials in it, or (in production) a loopback, link-local or private address", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_webhook_endpoint(
    state: web::Data<AppState>,
    _admin: AdminUser,
    body: web::Json<WebhookEndpointRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = super::create(&state, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(created))
}

#[utoipa::path(
    get, path = "/api/v1/admin/webhooks/{id}", tag = "admin",
    params(("id" = String, Path, description = "The endpoint's id")),
    security(("bearer" = []), ("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, body = WebhookEndpoint),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_webhook_endpoint(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<WebhookEndpointId>,
) -> Result<web::Json<WebhookEndpoint>, ApiError> {
    Ok(web::Json(super::get(&state, id.into_inner()).await?))
}

/// Change an endpoint's URL, events or state (`enabled: true` after a failure starts afresh).
#[utoipa::path(
    put, path = "/api/v1/admin/webhooks/{id}", tag = "admin",
    params(("id" = String, Path, description = "The endpoint's id")),
    request_body = WebhookEndpointRequest,
    security(("bearer" = []), ("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, body = WebhookEndpoint),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` or `webhook_url_refused`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replace_webhook_endpoint(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<WebhookEndpointId>,
    body: web::Json<WebhookEndpointRequest>,
) -> Result<web::Json<WebhookEndpoint>, ApiError> {
    Ok(web::Json(
        super::replace(&state, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Remove an endpoint and its delivery log; queued deliveries to it are dropped.
#[utoipa::path(
    delete, path = "/api/v1/admin/webhooks/{id}", tag = "admin",
    params(("id" = String, Path, description = "The endpoint's id")),
    security(("bearer" = []), ("api_key" = ["webhooks:write"])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_webhook_endpoint(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<WebhookEndpointId>,
) -> Result<HttpResponse, ApiError> {
    super::delete(&state, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A new signing secret. The previous one keeps signing beside it (a second `v1`) for 24 hours,
/// so the receiver can switch without losing an event.
#[utoipa::path(
    post, path = "/api/v1/admin/webhooks/{id}/rotate-secret", tag = "admin",
    params(("id" = String, Path, description = "The endpoint's id")),
    security(("bearer" = []), ("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, body = WebhookSecret),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn rotate_webhook_secret(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<WebhookEndpointId>,
) -> Result<web::Json<WebhookSecret>, ApiError> {
    Ok(web::Json(super::rotate(&state, id.into_inner()).await?))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveryQuery {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The endpoint's delivery log, newest first: each attempt with excerpts of what was sent and
/// answered.
#[utoipa::path(
    get, path = "/api/v1/admin/webhooks/{id}/deliveries", tag = "admin",
    params(("id" = String, Path, description = "The endpoint's id"), DeliveryQuery),
    security(("bearer" = []), ("api_key" = ["webhooks:write"])),
    responses(
        (status = 200, body = WebhookDeliveryPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_webhook_deliveries(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<WebhookEndpointId>,
    query: web::Query<DeliveryQuery>,
) -> Result<web::Json<WebhookDeliveryPage>, ApiError> {
    let query = query.into_inner();
    Ok(web::Json(
        super::deliveries(&state, id.into_inner(), query.limit, query.cursor).await?,
    ))
}

/// Send a logged delivery's event again (same event id and body, freshly signed).
#[utoipa::path(
    post, path = "/api/v1/admin/webhooks/{id}/deliveries/{delivery_id}/redeliver", tag = "admin",
    params(
        ("id" = String, Path, description = "The endpoint's id"),
        ("delivery_id" = String, Path, description = "A delivery of its log"),
    ),
    security(("bearer" = []), ("api_key" = ["webhooks:write"])),
    responses(
        (status = 202, description = "Queued"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`webhook_endpoint_disabled`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn redeliver_webhook(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<(WebhookEndpointId, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    super::redeliver(&state, id, delivery).await?;
    Ok(HttpResponse::Accepted().finish())
}

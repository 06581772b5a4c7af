//! Thin handlers for the admin's API keys. Only a signed-in admin manages keys: a key cannot
//! make, list or revoke keys (no `api_key` requirement on these operations).

use actix_web::{web, HttpResponse};
use shared_types::{ApiKey, ApiKeyId, ApiKeyList, ApiKeyRequest, CreatedApiKey, Problem};

use super::AdminUser;
use crate::error::ApiError;
use crate::AppState;

/// Every API key, newest first, revoked ones included (never their secrets).
#[utoipa::path(
    get, path = "/api/v1/admin/api-keys", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = ApiKeyList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`, or `insufficient_scope` for an API key", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<web::Json<ApiKeyList>, ApiError> {
    Ok(web::Json(ApiKeyList {
        items: super::keys::list(&state).await?,
    }))
}

/// Make a key for a program. The answer holds its secret (`folio_sk_…`): the only time it is
/// shown. Send it as `Authorization: Bearer folio_sk_…` to the admin routes its scopes allow.
#[utoipa::path(
    post, path = "/api/v1/admin/api-keys", tag = "admin",
    request_body = ApiKeyRequest,
    security(("bearer" = [])),
    responses(
        (status = 201, body = CreatedApiKey),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`, or `insufficient_scope` for an API key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: no name, a name over 100 characters, or no scope", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_api_key(
    state: web::Data<AppState>,
    admin: AdminUser,
    body: web::Json<ApiKeyRequest>,
) -> Result<HttpResponse, ApiError> {
    let created = super::keys::create(&state, &admin.0.id, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(created))
}

/// Revoke a key: its next request is refused (401 `api_key_revoked`) on every node.
#[utoipa::path(
    post, path = "/api/v1/admin/api-keys/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "The key's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = ApiKey),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`, or `insufficient_scope` for an API key", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<ApiKeyId>,
) -> Result<web::Json<ApiKey>, ApiError> {
    Ok(web::Json(
        super::keys::revoke(&state, id.into_inner()).await?,
    ))
}

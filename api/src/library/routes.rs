use actix_web::{web, HttpResponse};
use shared_types::{EntitlementId, EntitlementSummary, Problem, Product, ProductId};

use crate::auth::{AdminUser, AuthUser};
use crate::error::ApiError;
use crate::AppState;

/// Items the caller owns (purchased and not refunded, or free and taken), archived ones
/// included, with each file's downloads used and left and when access ends.
#[utoipa::path(
    get, path = "/api/v1/library", tag = "library",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<Product>),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_library(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<Vec<Product>>, ApiError> {
    Ok(web::Json(super::library(&state, &user).await?))
}

/// Everybody with access to a product and the downloads they used per file.
#[utoipa::path(
    get, path = "/api/v1/admin/products/{id}/entitlements", tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    security(("bearer" = []), ("api_key" = ["customers:read"])),
    responses(
        (status = 200, body = Vec<EntitlementSummary>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_product_entitlements(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<ProductId>,
) -> Result<web::Json<Vec<EntitlementSummary>>, ApiError> {
    Ok(web::Json(super::holders(&state, id.into_inner()).await?))
}

/// Give a buyer their downloads back (every file of the product starts again at 0).
#[utoipa::path(
    post, path = "/api/v1/admin/entitlements/{id}/reset-downloads", tag = "admin",
    params(("id" = String, Path, description = "Entitlement id")),
    security(("bearer" = []), ("api_key" = ["orders:refund"])),
    responses(
        (status = 204, description = "Reset"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reset_entitlement_downloads(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<EntitlementId>,
) -> Result<HttpResponse, ApiError> {
    super::reset_downloads(&state, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

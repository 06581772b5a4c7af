use actix_web::web;
use shared_types::{Problem, Product};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::AppState;

/// Items the caller owns (purchased, not refunded), archived ones included.
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

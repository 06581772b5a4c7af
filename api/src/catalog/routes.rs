//! Public catalog handlers.

use actix_web::{web, HttpResponse};
use shared_types::{Problem, Product, ProductPage};

use super::ListQuery;
use crate::auth::MaybeUser;
use crate::error::ApiError;
use crate::AppState;

/// The published catalog, newest first. `owned` is set when the caller is signed in.
#[utoipa::path(
    get, path = "/api/v1/products", tag = "catalog",
    params(ListQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = ProductPage),
        (status = 400, description = "`invalid_cursor` or `invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "A bearer token was sent but is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (limit out of range)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_products(
    state: web::Data<AppState>,
    user: MaybeUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let body = super::public_page(&state, &user, query.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .content_type(mime::APPLICATION_JSON)
        .body(body))
}

/// One product by slug.
#[utoipa::path(
    get, path = "/api/v1/products/{slug}", tag = "catalog",
    params(("slug" = String, Path, description = "The product's slug")),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = Product),
        (status = 401, description = "A bearer token was sent but is invalid", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_product(
    state: web::Data<AppState>,
    user: MaybeUser,
    slug: web::Path<String>,
) -> Result<web::Json<Product>, ApiError> {
    Ok(web::Json(
        super::get(&state, &user, slug.into_inner()).await?,
    ))
}

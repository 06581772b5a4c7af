//! Admin catalog handlers. The whole /admin scope sits behind `require_admin`.

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};
use shared_types::{Problem, Product, ProductId, ProductPage, UpdateProductRequest};

use super::{upload, ListQuery};
use crate::auth::{AdminUser, MaybeUser};
use crate::error::ApiError;
use crate::AppState;

/// The status a new product starts in.
#[derive(utoipa::ToSchema, serde::Deserialize, Default)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum NewProductStatus {
    #[default]
    Published,
    Draft,
}

// The forms below document multipart bodies; `Deserialize` is only there to carry serde's
// attributes into the document: `deny_unknown_fields` (`additionalProperties: false`: the server
// refuses fields it does not know) and `default` for a field that may be left out (a multipart
// field is there or not; it cannot be null).

/// Multipart form of a product create (for the OpenAPI document).
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreateProductForm {
    /// 3 to 200 characters; the slug is derived from it.
    title: String,
    /// At most 20,000 characters.
    #[serde(default)]
    description: String,
    /// Decimal string: "0" is free, else 0.50 to 999999.99 with at most two decimals.
    price: String,
    /// The price's currency (default usd).
    #[serde(default)]
    currency: shared_types::Currency,
    /// `published` (default) or `draft`.
    #[serde(default)]
    status: NewProductStatus,
    /// Downloads per buyer per file, 1 to 10,000; empty or left out: no limit.
    #[serde(default)]
    #[schema(pattern = "^([1-9][0-9]{0,3}|10000)?$")]
    download_limit: String,
    /// Days of access after purchase, 1 to 36,500; empty or left out: for ever.
    #[serde(default)]
    #[schema(pattern = "^([1-9][0-9]{0,3}|[12][0-9]{4}|3[0-5][0-9]{3}|36[0-4][0-9]{2}|36500)?$")]
    access_days: String,
    /// `true` to stamp every PDF a buyer downloads with their email and order (default false).
    #[serde(default)]
    #[schema(pattern = "^(true|false|on|off|1|0)?$")]
    stamp_pdfs: String,
    /// `true` to let buyers choose what they pay; `price` is then the minimum (default false).
    #[serde(default)]
    #[schema(pattern = "^(true|false|on|off|1|0)?$")]
    pay_what_you_want: String,
    /// Pay what you want: the proposed amount, at least the minimum; empty: none.
    #[serde(default)]
    #[schema(pattern = "^(|0|0\\.0{1,2}|0\\.[5-9][0-9]?|[1-9][0-9]{0,5}(\\.[0-9]{1,2})?)$")]
    suggested_price: String,
    /// Make it a bundle of these products: ids separated by commas (at most 100, none a
    /// bundle). A bundle needs no `file` of its own and cannot be free.
    #[serde(default)]
    bundle_items: String,
    /// The product's first file, of any kind (its type is recognised from its content). More
    /// files: `POST /api/v1/admin/products/{id}/files`.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
    /// PNG, JPEG, WebP or SVG preview image.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    #[serde(default)]
    preview: String,
}

/// Multipart form that replaces a product's preview image.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ReplacePreviewForm {
    /// The new PNG, JPEG, WebP or SVG image.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    preview: String,
}

/// Every product whatever its status, newest first.
#[utoipa::path(
    get, path = "/api/v1/admin/products", tag = "admin",
    params(ListQuery),
    security(("bearer" = []), ("api_key" = ["catalog:read"])),
    responses(
        (status = 200, body = ProductPage),
        (status = 400, description = "`invalid_cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_all_products(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<ListQuery>,
) -> Result<web::Json<ProductPage>, ApiError> {
    Ok(web::Json(
        super::list(&state, &MaybeUser(None), query.into_inner(), true).await?,
    ))
}

/// One product by id, whatever its status, with its sales.
#[utoipa::path(
    get, path = "/api/v1/admin/products/{id}", tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    security(("bearer" = []), ("api_key" = ["catalog:read"])),
    responses(
        (status = 200, body = Product),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_product_by_id(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<ProductId>,
) -> Result<web::Json<Product>, ApiError> {
    Ok(web::Json(
        super::admin::admin_get(&state, id.into_inner()).await?,
    ))
}

/// Create a product from a multipart form; the files stream to storage.
#[utoipa::path(
    post, path = "/api/v1/admin/products", tag = "admin",
    request_body(content = CreateProductForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 201, body = Product),
        (status = 400, description = "`invalid_multipart` or `duplicate_field`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`slug_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`: the object store did not answer; nothing was saved", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "`unsupported_file_type`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_product(
    state: web::Data<AppState>,
    _admin: AdminUser,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let input = upload::read_new_product(&state, form).await?;
    let product = super::create(&state, input).await?;
    Ok(HttpResponse::Created().json(product))
}

/// Edit title, description, price, currency, status, download limit, access window or stamping.
#[utoipa::path(
    patch, path = "/api/v1/admin/products/{id}", tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    request_body = UpdateProductRequest,
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 200, body = Product),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_product(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<ProductId>,
    body: web::Json<UpdateProductRequest>,
) -> Result<web::Json<Product>, ApiError> {
    Ok(web::Json(
        super::update(&state, id.into_inner(), body.into_inner()).await?,
    ))
}

/// Archive a product: it leaves the catalog; buyers keep it.
#[utoipa::path(
    delete, path = "/api/v1/admin/products/{id}", tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 204, description = "Archived"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn archive_product(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<ProductId>,
) -> Result<HttpResponse, ApiError> {
    super::archive(&state, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the preview image.
#[utoipa::path(
    put, path = "/api/v1/admin/products/{id}/preview", tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    request_body(content = ReplacePreviewForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 200, body = Product),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`: the object store did not answer; nothing was saved", body = Problem, content_type = "application/problem+json"),
        (status = 415, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replace_product_preview(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<ProductId>,
    form: Multipart,
) -> Result<web::Json<Product>, ApiError> {
    let upload = upload::read_file_form(&state, form, "preview", &[]).await?;
    Ok(web::Json(
        super::replace_preview(&state, id.into_inner(), upload.object).await?,
    ))
}

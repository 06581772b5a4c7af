//! Admin handlers for a product's files, and the public unsubscribe link of update notices.

use actix_multipart::Multipart;
use actix_web::{web, HttpResponse};
use shared_types::{
    FileHistory, FileId, NewVersionResponse, Problem, ProductFile, ProductId, UpdateFileRequest,
};

use crate::auth::AdminUser;
use crate::catalog::upload;
use crate::error::ApiError;
use crate::AppState;

/// Multipart form that adds a file to a product.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct AddFileForm {
    /// Any kind of file; its type is recognised from its content.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
    /// The name buyers see, 1 to 150 characters, not only spaces (default: the uploaded file's
    /// name); the extension of the content is added when missing.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 150, pattern = "\\S")]
    name: String,
}

/// Multipart form of a new version of a file.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct NewVersionForm {
    /// The new version, of any kind.
    #[schema(format = Binary, content_media_type = "application/octet-stream")]
    file: String,
    /// What changed, at most 2,000 characters; shown in buyers' libraries and notices.
    #[serde(default)]
    #[schema(max_length = 2000)]
    note: String,
    /// `true` to mail every buyer with access (once each; they can unsubscribe).
    #[serde(default)]
    #[schema(pattern = "^(true|false|on|off|1|0)?$")]
    notify_buyers: String,
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemoveFileQuery {
    /// Whether buyers who already own the product keep the file (default false).
    #[serde(default)]
    pub keep_for_owners: bool,
}

/// Add a file at the end of the product's list; it streams to storage.
#[utoipa::path(
    post, path = "/api/v1/admin/products/{id}/files", tag = "admin",
    params(("id" = String, Path, description = "Product id")),
    request_body(content = AddFileForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 201, body = ProductFile),
        (status = 400, description = "`invalid_multipart` or `duplicate_field`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "`payload_too_large`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`: the object store did not answer; nothing was saved", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_product_file(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<ProductId>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let upload = upload::read_file_form(&state, form, "file", &["name"]).await?;
    let file = super::add_file(&state, id.into_inner(), upload).await?;
    Ok(HttpResponse::Created().json(file))
}

/// Rename a file or move it in the list.
#[utoipa::path(
    patch, path = "/api/v1/admin/products/{id}/files/{file_id}", tag = "admin",
    params(
        ("id" = String, Path, description = "Product id"),
        ("file_id" = String, Path, description = "File id"),
    ),
    request_body = UpdateFileRequest,
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 200, body = ProductFile),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_product_file(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<(ProductId, FileId)>,
    body: web::Json<serde_json::Value>,
) -> Result<web::Json<ProductFile>, ApiError> {
    let (product, file) = path.into_inner();
    // An object only: serde would take `[name, position]` as the struct too.
    let body = body.into_inner();
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "invalid_json",
            "the body must be a JSON object",
        ));
    }
    let req: UpdateFileRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    Ok(web::Json(
        super::update_file(&state, product, file, req).await?,
    ))
}

/// Remove a file. Buyers who own the product keep it only with `keep_for_owners=true`.
#[utoipa::path(
    delete, path = "/api/v1/admin/products/{id}/files/{file_id}", tag = "admin",
    params(
        ("id" = String, Path, description = "Product id"),
        ("file_id" = String, Path, description = "File id"),
        RemoveFileQuery,
    ),
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`last_file`: a product keeps at least one file", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_product_file(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<(ProductId, FileId)>,
    query: web::Query<RemoveFileQuery>,
) -> Result<HttpResponse, ApiError> {
    let (product, file) = path.into_inner();
    super::remove_file(&state, product, file, query.keep_for_owners).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Upload a new version of a file; buyers get it from their next download.
#[utoipa::path(
    post, path = "/api/v1/admin/products/{id}/files/{file_id}/versions", tag = "admin",
    params(
        ("id" = String, Path, description = "Product id"),
        ("file_id" = String, Path, description = "File id"),
    ),
    request_body(content = NewVersionForm, content_type = "multipart/form-data"),
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 201, body = NewVersionResponse),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`storage_unavailable`: the object store did not answer; nothing was saved", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_file_version(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<(ProductId, FileId)>,
    form: Multipart,
) -> Result<HttpResponse, ApiError> {
    let (product, file) = path.into_inner();
    let upload = upload::read_file_form(&state, form, "file", &["note", "notify_buyers"]).await?;
    let created = super::add_version(&state, product, file, upload).await?;
    Ok(HttpResponse::Created().json(created))
}

/// A file's versions, newest first, with the update notices each sent.
#[utoipa::path(
    get, path = "/api/v1/admin/products/{id}/files/{file_id}/versions", tag = "admin",
    params(
        ("id" = String, Path, description = "Product id"),
        ("file_id" = String, Path, description = "File id"),
    ),
    security(("bearer" = []), ("api_key" = ["catalog:read"])),
    responses(
        (status = 200, body = FileHistory),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_file_versions(
    state: web::Data<AppState>,
    _admin: AdminUser,
    path: web::Path<(ProductId, FileId)>,
) -> Result<web::Json<FileHistory>, ApiError> {
    let (product, file) = path.into_inner();
    Ok(web::Json(super::history(&state, product, file).await?))
}

/// Stop update notices for one item (the link in every notice; mail clients POST here for
/// one-click unsubscribe, RFC 8058). Idempotent.
#[utoipa::path(
    post, path = "/api/v1/unsubscribe/{token}", tag = "library",
    params(("token" = String, Path, description = "The token from a notice's unsubscribe link")),
    responses(
        (status = 204, description = "No more update notices for this item"),
        (status = 401, description = "`link_invalid`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn unsubscribe_notices(
    state: web::Data<AppState>,
    token: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    super::notices::unsubscribe(&state, &token).await?;
    Ok(HttpResponse::NoContent().finish())
}

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::TryStreamExt;
use shared_types::{DownloadTokenRequest, DownloadTokenResponse, Problem};

use super::{Delivery, Granted};
use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::storage::Kind;
use crate::AppState;

/// A short-lived link to one of the product's files (`file_id`; may be left out when there is
/// one), or to all of them as a ZIP (`all`), for free items and items the caller owns. The
/// body may be left out for a product with one file.
#[utoipa::path(
    post, path = "/api/v1/products/{slug}/download-token", tag = "downloads",
    params(("slug" = String, Path, description = "The product's slug")),
    request_body(content = Option<DownloadTokenRequest>, content_type = "application/json"),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DownloadTokenResponse),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_purchased`, `download_limit_reached` or `access_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such product or file", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`file_required`: the product has several files and the body names none", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: both `file_id` and `all`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue_download_token(
    state: web::Data<AppState>,
    user: AuthUser,
    slug: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    // No body, or `null`: the product's only file.
    let req: DownloadTokenRequest = if body.iter().all(u8::is_ascii_whitespace) {
        DownloadTokenRequest::default()
    } else {
        serde_json::from_slice::<Option<DownloadTokenRequest>>(&body)
            .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?
            .unwrap_or_default()
    };
    let token = super::issue_token(&state, &user, slug.into_inner(), req).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(token))
}

/// The file's bytes, of the type it was recognised as.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // documentation only
struct FileBytes(Vec<u8>);

/// Where download links point; served without compression (see `operations::mount`).
pub const DOWNLOAD_PATH: &str = "/api/v1/downloads/{token}";

/// The file behind a download link, as an attachment (`nosniff`), stamped when its product
/// stamps PDFs; or all files as one ZIP. Single byte ranges are supported for one file.
#[utoipa::path(
    get, path = DOWNLOAD_PATH, tag = "downloads",
    params(
        ("token" = String, Path, description = "The token from a download-token response"),
        ("Range" = Option<String>, Header, description = "A single byte range, e.g. `bytes=0-1023`"),
    ),
    responses(
        (status = 200, description = "The whole file, of its own type (`application/pdf`, `application/epub+zip`, …, `application/octet-stream`), or `application/zip` for all files", content_type = "*/*", body = inline(FileBytes)),
        (status = 206, description = "The requested range", content_type = "*/*", body = inline(FileBytes)),
        (status = 302, description = "With `FOLIO_DOWNLOAD_REDIRECT=presigned`: the file (not a stamped PDF or a ZIP) is at `Location`, a presigned object-store URL that expires with the link; the download is checked and recorded already"),
        (status = 401, description = "`token_invalid`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_purchased` (access was revoked), `download_limit_reached` or `access_expired`", body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`token_expired` or `token_stale`", body = Problem, content_type = "application/problem+json"),
        (status = 416, description = "`range_not_satisfiable`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn download_file(
    state: web::Data<AppState>,
    token: web::Path<String>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let header = |name| {
        req.headers()
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let grant = super::grant(
        &state,
        &token,
        header(header::RANGE),
        header(header::IF_RANGE),
    )
    .await?;
    let delivery = super::open(&state, &grant).await?;
    let (name, content_type, length) = match &grant.what {
        Granted::File { file, plan, .. } => (
            file.file.name.clone(),
            file.version.content_type.clone(),
            plan.length,
        ),
        Granted::All { files, .. } => (
            crate::catalog::safe_file_name(Some(&grant.product.title), &grant.product.slug, "zip"),
            "application/zip".to_owned(),
            crate::files::zip::length(files),
        ),
    };
    let mut response = attachment(StatusCode::OK, &name, &content_type);
    Ok(match delivery {
        Delivery::Proxy(path) => response.insert_header(("X-Accel-Redirect", path)).finish(),
        Delivery::Redirect(url) => HttpResponse::Found()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .finish(),
        Delivery::Stream(stream) => {
            if let Granted::File { body, plan, .. } = &grant.what {
                response
                    .insert_header((header::ETAG, body.etag.clone()))
                    .insert_header((header::ACCEPT_RANGES, "bytes"));
                if let Some(r) = &plan.range {
                    response.status(StatusCode::PARTIAL_CONTENT).insert_header((
                        header::CONTENT_RANGE,
                        format!("bytes {}-{}/{}", r.start, r.end - 1, plan.size),
                    ));
                }
            } else {
                response.insert_header((header::ACCEPT_RANGES, "none"));
            }
            response.no_chunking(length);
            let product = grant.product.id.clone();
            response.streaming(stream.map_err(move |e| {
                tracing::error!(product_id = %product, error = %e, "download stream failed");
                actix_web::error::ErrorInternalServerError("storage")
            }))
        }
    })
}

/// The headers of every granted download, whoever sends the bytes: an attachment, never
/// sniffed into something the browser would render.
fn attachment(status: StatusCode, name: &str, content_type: &str) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, content_type.to_owned()))
        .insert_header((header::CONTENT_DISPOSITION, content_disposition(name)))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    response
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266).
pub fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// Preview images are public and immutable (their names are their content hashes). SVGs may
/// carry script: they are served sandboxed, so opening one never runs code on our origin.
pub async fn serve_preview(
    state: web::Data<AppState>,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let name = name.into_inner();
    let (hash, ext) = name.split_once('.').ok_or(ApiError::NotFound("preview"))?;
    let valid_hash = hash.len() == 64
        && hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let kind = Kind::preview_from_extension(ext)
        .filter(|_| valid_hash)
        .ok_or(ApiError::NotFound("preview"))?;
    let key = format!("previews/{name}");
    let stream = match state.storage.get(&key, None).await {
        Ok(s) => s,
        Err(object_store::Error::NotFound { .. }) => return Err(ApiError::NotFound("preview")),
        Err(e) => return Err(e.into()),
    };
    let mut response = HttpResponse::Ok();
    response
        .insert_header((header::CONTENT_TYPE, kind.content_type()))
        .insert_header((header::CACHE_CONTROL, "public, max-age=31536000, immutable"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
    if kind == Kind::Svg {
        response.insert_header((
            header::CONTENT_SECURITY_POLICY,
            "sandbox; default-src 'none'; style-src 'unsafe-inline'",
        ));
    }
    Ok(response.streaming(stream.map_err(|e| {
        tracing::error!(error = %e, "preview stream failed");
        actix_web::error::ErrorInternalServerError("storage")
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_is_an_attachment_with_a_safe_name() {
        assert_eq!(
            content_disposition("Guide \"v2\".pdf"),
            "attachment; filename=\"Guide _v2_.pdf\"; filename*=UTF-8''Guide%20%22v2%22.pdf"
        );
        assert!(content_disposition("Café.pdf").starts_with("attachment; filename=\"Caf_.pdf\""));
    }
}

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse, HttpResponseBuilder};
use futures_util::TryStreamExt;
use shared_types::{DownloadTokenResponse, Problem};

use super::Delivery;
use crate::auth::AuthUser;
use crate::catalog::repo::ProductRow;
use crate::error::ApiError;
use crate::storage::Kind;
use crate::AppState;

/// A short-lived link to the product's file, for free items and items the caller owns.
#[utoipa::path(
    post, path = "/api/v1/products/{slug}/download-token", tag = "downloads",
    params(("slug" = String, Path, description = "The product's slug")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = DownloadTokenResponse),
        (status = 401, description = "`unauthenticated`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_purchased`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn issue_download_token(
    state: web::Data<AppState>,
    user: AuthUser,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let token = super::issue_token(&state, &user, slug.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(token))
}

// Served with the stored content type, which is always application/pdf: uploads are sniffed
// and only PDFs are accepted as product files (the assertion below keeps this true).
/// The file's bytes (product files are PDFs).
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)] // documentation only
struct FileBytes(Vec<u8>);

const _: () = assert!(
    matches!(crate::storage::sniff::FILE_KINDS, [Kind::Pdf]),
    "a new product file kind must be documented on download_file"
);

/// The file behind a download link. Supports single byte ranges.
#[utoipa::path(
    get, path = "/api/v1/downloads/{token}", tag = "downloads",
    params(
        ("token" = String, Path, description = "The token from a download-token response"),
        ("Range" = Option<String>, Header, description = "A single byte range, e.g. `bytes=0-1023`"),
    ),
    responses(
        (status = 200, description = "The whole file", content_type = "application/pdf", body = inline(FileBytes)),
        (status = 206, description = "The requested range", content_type = "application/pdf", body = inline(FileBytes)),
        (status = 401, description = "`token_invalid`", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`not_purchased`: access was revoked", body = Problem, content_type = "application/problem+json"),
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
    let row = &grant.product;
    Ok(match delivery {
        Delivery::Proxy(path) => attachment(StatusCode::OK, row)
            .insert_header(("X-Accel-Redirect", path))
            .finish(),
        Delivery::Stream(stream) => {
            let plan = &grant.plan;
            let status = if plan.range.is_some() {
                StatusCode::PARTIAL_CONTENT
            } else {
                StatusCode::OK
            };
            let mut response = attachment(status, row);
            response
                .insert_header((header::ETAG, super::etag(row)))
                .insert_header((header::ACCEPT_RANGES, "bytes"))
                .no_chunking(plan.length);
            if let Some(r) = &plan.range {
                response.insert_header((
                    header::CONTENT_RANGE,
                    format!("bytes {}-{}/{}", r.start, r.end - 1, plan.size),
                ));
            }
            let key = row.file_key.clone();
            response.streaming(stream.map_err(move |e| {
                tracing::error!(%key, error = %e, "download stream failed");
                actix_web::error::ErrorInternalServerError("storage")
            }))
        }
    })
}

/// The headers of every granted download, whoever sends the bytes.
fn attachment(status: StatusCode, row: &ProductRow) -> HttpResponseBuilder {
    let mut response = HttpResponse::build(status);
    response
        .insert_header((header::CONTENT_TYPE, row.file_content_type.clone()))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&row.file_name),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"));
    response
}

/// `attachment` with an ASCII fallback name and the exact UTF-8 name (RFC 6266).
fn content_disposition(name: &str) -> String {
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
    let kind = Kind::from_extension(ext)
        .filter(|k| *k != Kind::Pdf && valid_hash)
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

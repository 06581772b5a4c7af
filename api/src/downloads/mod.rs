//! Download links: short-lived signed tokens bound to user, product and file version, and the
//! handler that checks the entitlement again and streams the file (with Range support).

pub mod routes;

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpResponse, HttpResponseBuilder};
use diesel::prelude::*;
use futures_util::TryStreamExt;
use shared_types::{DownloadTokenResponse, ProductStatus, Role};

use crate::auth::tokens::TokenError;
use crate::auth::AuthUser;
use crate::catalog::repo::ProductRow;
use crate::db::{new_id, now};
use crate::error::ApiError;
use crate::schema::download_events;
use crate::AppState;

/// Whether the user may download the product now. Admins may always (to check uploads); owners
/// may, whatever the status; anyone signed in may take a free, published item.
fn may_download(row: &ProductRow, role: Role, entitled: bool) -> bool {
    role == Role::Admin
        || entitled
        || (row.price_cents == 0 && row.status == ProductStatus::Published.as_str())
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn issue_token(
    state: &AppState,
    user: &AuthUser,
    slug: String,
) -> Result<DownloadTokenResponse, ApiError> {
    let (row, entitled) = crate::catalog::visible_product_cached(state, Some(user), slug).await?;
    if !may_download(&row, user.role, entitled) {
        return Err(ApiError::NotPurchased);
    }
    let (token, expires_at) = state
        .keys
        .issue_download(&user.id, &row.id, &row.file_sha256);
    Ok(DownloadTokenResponse {
        url: state.settings.public(&format!("/api/v1/downloads/{token}")),
        token,
        expires_at,
    })
}

#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    Full,
    Partial(std::ops::Range<u64>),
    Unsatisfiable,
}

/// Parses a single `bytes=` range. Multiple ranges and malformed headers are ignored (the whole
/// file is sent), as RFC 9110 allows.
fn parse_range(value: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = value.and_then(|v| v.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    let parsed = match (start.is_empty(), end.is_empty()) {
        (true, true) => return RangeRequest::Full,
        (true, false) => match end.parse::<u64>() {
            Ok(0) => return RangeRequest::Unsatisfiable,
            Ok(n) => (size.saturating_sub(n), size),
            Err(_) => return RangeRequest::Full,
        },
        (false, _) => {
            let Ok(first) = start.parse::<u64>() else {
                return RangeRequest::Full;
            };
            let last = if end.is_empty() {
                size.saturating_sub(1)
            } else {
                match end.parse::<u64>() {
                    Ok(l) if l >= first => l.min(size.saturating_sub(1)),
                    _ => return RangeRequest::Full,
                }
            };
            if first >= size {
                return RangeRequest::Unsatisfiable;
            }
            (first, last + 1)
        }
    };
    if parsed.0 >= parsed.1 {
        return RangeRequest::Unsatisfiable;
    }
    RangeRequest::Partial(parsed.0..parsed.1)
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

/// What a granted download sends: the whole file or one range of it.
struct Plan {
    status: actix_web::http::StatusCode,
    range: Option<std::ops::Range<u64>>,
    /// Bytes in the body.
    length: u64,
}

/// The range the client asked for, if its copy (`If-Range`) is still the current one.
fn plan(row: &ProductRow, range: Option<&str>, if_range: Option<&str>) -> Result<Plan, ApiError> {
    let size = row.file_size as u64;
    let range = match if_range {
        Some(tag) if tag != etag(row) => RangeRequest::Full,
        _ => parse_range(range, size),
    };
    Ok(match range {
        RangeRequest::Unsatisfiable => return Err(ApiError::RangeNotSatisfiable { size }),
        RangeRequest::Full => Plan {
            status: actix_web::http::StatusCode::OK,
            range: None,
            length: size,
        },
        RangeRequest::Partial(r) => Plan {
            status: actix_web::http::StatusCode::PARTIAL_CONTENT,
            length: r.end - r.start,
            range: Some(r),
        },
    })
}

fn etag(row: &ProductRow) -> String {
    format!("\"{}\"", row.file_sha256)
}

/// The product, the role of the user (None: no such user) and whether the user owns the
/// product, in one query.
fn access(
    conn: &mut crate::db::DbConnection,
    user_id: &str,
    product_id: &str,
) -> QueryResult<Option<(ProductRow, Option<String>, bool)>> {
    use crate::schema::{entitlements, products, users};
    let role = users::table
        .filter(users::id.eq(user_id.to_owned()))
        .select(users::role)
        .single_value();
    let entitled = diesel::dsl::exists(
        entitlements::table
            .filter(entitlements::user_id.eq(user_id.to_owned()))
            .filter(entitlements::product_id.eq(product_id.to_owned()))
            .filter(entitlements::revoked_at.is_null()),
    );
    products::table
        .find(product_id.to_owned())
        .select((ProductRow::as_select(), role, entitled))
        .first(conn)
        .optional()
}

/// Checks the entitlement again (a refund between issue and use revokes at once), works out
/// what to send and records the download: one database job ([`crate::db::Db::record`]).
fn grant(
    conn: &mut crate::db::DbConnection,
    claims: &crate::auth::tokens::DownloadClaims,
    range: Option<&str>,
    if_range: Option<&str>,
) -> Result<(ProductRow, Plan, String), ApiError> {
    let (row, role, entitled) =
        access(conn, &claims.sub, &claims.prd)?.ok_or(ApiError::NotFound("product"))?;
    let role = role.ok_or(ApiError::TokenInvalid)?;
    let role = Role::from_db(&role).unwrap_or(Role::Customer);
    if !may_download(&row, role, entitled) {
        return Err(ApiError::NotPurchased);
    }
    if row.file_sha256 != claims.ver {
        return Err(ApiError::DownloadTokenStale);
    }
    let plan = plan(&row, range, if_range)?;
    let event = new_id();
    diesel::insert_into(download_events::table)
        .values((
            download_events::id.eq(&event),
            download_events::user_id.eq(&claims.sub),
            download_events::product_id.eq(&row.id),
            download_events::file_sha256.eq(&row.file_sha256),
            download_events::bytes.eq(plan.length as i64),
            download_events::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok((row, plan, event))
}

#[tracing::instrument(skip_all)]
pub async fn serve(
    state: &AppState,
    token: String,
    headers: &HeaderMap,
) -> Result<HttpResponse, ApiError> {
    let claims = state.keys.verify_download(&token).map_err(|e| match e {
        TokenError::Expired => ApiError::DownloadTokenExpired,
        TokenError::Invalid => ApiError::TokenInvalid,
    })?;
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &header::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let (range, if_range) = (header(header::RANGE), header(header::IF_RANGE));
    let user_id = claims.sub.clone();
    let (row, plan, event) = state
        .db
        .record(move |conn| grant(conn, &claims, range.as_deref(), if_range.as_deref()))
        .await?;

    if let Some(prefix) = &state.settings.download_accel_prefix {
        // The proxy in front sends the bytes (sendfile, its own Range handling); folio has
        // decided who may have them and recorded the download.
        tracing::info!(product_id = %row.id, %user_id, bytes = plan.length, "download handed to the proxy");
        return Ok(attachment(actix_web::http::StatusCode::OK, &row)
            .insert_header(("X-Accel-Redirect", format!("{prefix}{}", row.file_key)))
            .finish());
    }
    let stream = match state.storage.get(&row.file_key, plan.range.clone()).await {
        Ok(stream) => stream,
        Err(e) => {
            // Nothing was sent: the download is not counted.
            unrecord(state, event).await;
            return Err(e.into());
        }
    };
    tracing::info!(product_id = %row.id, %user_id, bytes = plan.length, "download started");

    let mut response = attachment(plan.status, &row);
    response
        .insert_header((header::ETAG, etag(&row)))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .no_chunking(plan.length);
    if let Some(r) = &plan.range {
        response.insert_header((
            header::CONTENT_RANGE,
            format!("bytes {}-{}/{}", r.start, r.end - 1, row.file_size),
        ));
    }
    let key = row.file_key.clone();
    Ok(response.streaming(stream.map_err(move |e| {
        tracing::error!(%key, error = %e, "download stream failed");
        actix_web::error::ErrorInternalServerError("storage")
    })))
}

/// Takes back the record of a download that could not start.
async fn unrecord(state: &AppState, event: String) {
    let deleted = state
        .db
        .record(move |conn| {
            diesel::delete(download_events::table.find(event)).execute(conn)?;
            Ok(())
        })
        .await;
    if let Err(e) = deleted {
        tracing::error!(error = %e, "could not remove the record of a failed download");
    }
}

/// The headers of every granted download, whoever sends the bytes.
fn attachment(status: actix_web::http::StatusCode, row: &ProductRow) -> HttpResponseBuilder {
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

#[cfg(test)]
mod tests {
    use super::*;
    use RangeRequest::*;

    #[test]
    fn single_ranges_are_parsed_against_the_size() {
        assert_eq!(parse_range(None, 100), Full);
        assert_eq!(parse_range(Some("bytes=0-9"), 100), Partial(0..10));
        assert_eq!(parse_range(Some("bytes=90-"), 100), Partial(90..100));
        assert_eq!(parse_range(Some("bytes=-10"), 100), Partial(90..100));
        assert_eq!(parse_range(Some("bytes=-1000"), 100), Partial(0..100));
        assert_eq!(parse_range(Some("bytes=50-1000"), 100), Partial(50..100));
        assert_eq!(parse_range(Some("bytes=100-"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=-0"), 100), Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=0-1,5-6"), 100), Full);
        assert_eq!(parse_range(Some("bytes=9-1"), 100), Full);
        assert_eq!(parse_range(Some("items=0-1"), 100), Full);
        assert_eq!(parse_range(Some("bytes=x-"), 100), Full);
    }

    #[test]
    fn content_disposition_is_an_attachment_with_a_safe_name() {
        assert_eq!(
            content_disposition("Guide \"v2\".pdf"),
            "attachment; filename=\"Guide _v2_.pdf\"; filename*=UTF-8''Guide%20%22v2%22.pdf"
        );
        assert!(content_disposition("Café.pdf").starts_with("attachment; filename=\"Caf_.pdf\""));
    }
}

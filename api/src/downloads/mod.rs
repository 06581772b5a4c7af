//! Downloads: short-lived signed links bound to user, product and file version, and the grant
//! that serving one starts with (the entitlement checked again, the range worked out, the
//! download recorded). The route turns a grant into the response; this module owns the
//! download records ([`repo`]).

pub mod range;
pub mod repo;
pub mod routes;

use futures_util::stream::BoxStream;
use shared_types::{DownloadTokenResponse, UserId};

use crate::auth::tokens::{DownloadClaims, TokenError};
use crate::auth::AuthUser;
use crate::catalog::repo::ProductRow;
use crate::error::ApiError;
use crate::library::access;
use crate::AppState;
use range::Plan;

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn issue_token(
    state: &AppState,
    user: &AuthUser,
    slug: String,
) -> Result<DownloadTokenResponse, ApiError> {
    let (row, owned) = crate::catalog::visible_product_cached(state, Some(user), slug).await?;
    access::decide(&row, user.role, owned)?;
    let (token, expires_at) = state
        .keys
        .issue_download(&user.id, &row.id, &row.file_sha256);
    Ok(DownloadTokenResponse {
        url: state.settings.public(&format!("/api/v1/downloads/{token}")),
        token,
        expires_at,
    })
}

/// A download that may go ahead: what to send, to whom, and its record.
pub struct Grant {
    pub product: ProductRow,
    pub plan: Plan,
    pub user: UserId,
    /// The download's record, taken back if the file cannot be opened.
    record: String,
}

/// The ETag of a product's current file: its sha256 (content-addressed).
pub fn etag(row: &ProductRow) -> String {
    format!("\"{}\"", row.file_sha256)
}

/// Checks the link, checks the entitlement again (a refund between issue and use revokes at
/// once), works out what to send and records the download: one database job
/// ([`crate::db::Db::record`]).
#[tracing::instrument(skip_all)]
pub async fn grant(
    state: &AppState,
    token: &str,
    range: Option<String>,
    if_range: Option<String>,
) -> Result<Grant, ApiError> {
    let claims = state.keys.verify_download(token).map_err(|e| match e {
        TokenError::Expired => ApiError::DownloadTokenExpired,
        TokenError::Invalid => ApiError::TokenInvalid,
    })?;
    state
        .db
        .record(move |conn| {
            let DownloadClaims { sub, prd, ver, .. } = claims;
            let (product, _why) = access::check(conn, &sub, &prd)?;
            if product.file_sha256 != ver {
                return Err(ApiError::DownloadTokenStale);
            }
            let size = product.file_size as u64;
            let plan = range::plan(size, &etag(&product), range.as_deref(), if_range.as_deref())
                .ok_or(ApiError::RangeNotSatisfiable { size })?;
            let record = repo::record(conn, &sub, &product.id, &product.file_sha256, plan.length)?;
            Ok(Grant {
                product,
                plan,
                user: sub,
                record,
            })
        })
        .await
}

/// How the bytes of a grant reach the client.
pub enum Delivery {
    /// The reverse proxy in front sends them (nginx's `X-Accel-Redirect` to this path).
    Proxy(String),
    /// Folio streams them from storage.
    Stream(BoxStream<'static, Result<bytes::Bytes, object_store::Error>>),
}

/// Opens what `grant` sends. When the file cannot be opened the download is not counted.
pub async fn open(state: &AppState, grant: &Grant) -> Result<Delivery, ApiError> {
    let row = &grant.product;
    if let Some(prefix) = &state.settings.download_accel_prefix {
        // The proxy sends the bytes (sendfile, its own Range handling); folio has decided who
        // may have them and recorded the download.
        tracing::info!(product_id = %row.id, user_id = %grant.user, bytes = grant.plan.length, "download handed to the proxy");
        return Ok(Delivery::Proxy(format!("{prefix}{}", row.file_key)));
    }
    match state
        .storage
        .get(&row.file_key, grant.plan.range.clone())
        .await
    {
        Ok(stream) => {
            tracing::info!(product_id = %row.id, user_id = %grant.user, bytes = grant.plan.length, "download started");
            Ok(Delivery::Stream(stream))
        }
        Err(e) => {
            unrecord(state, grant.record.clone()).await;
            Err(e.into())
        }
    }
}

/// Takes back the record of a download that could not start.
async fn unrecord(state: &AppState, record: String) {
    let deleted = state
        .db
        .record(move |conn| Ok(repo::delete(conn, &record)?))
        .await;
    if let Err(e) = deleted {
        tracing::error!(error = %e, "could not remove the record of a failed download");
    }
}

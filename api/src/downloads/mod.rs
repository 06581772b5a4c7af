//! Downloads: short-lived signed links bound to user, product, file and version, and the grant
//! that serving one starts with (the entitlement checked again, the access window and download
//! limit enforced, the range worked out, the download recorded). The route turns a grant into
//! the response; this module owns the download records and counts ([`repo`]).

pub mod range;
pub mod repo;
pub mod routes;

use bytes::Bytes;
use diesel::Connection;
use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use sha2::{Digest, Sha256};
use shared_types::{DownloadTokenRequest, DownloadTokenResponse, FileId, UserId};

use crate::auth::tokens::{DownloadClaims, DownloadSubject, TokenError};
use crate::auth::AuthUser;
use crate::catalog::repo::ProductRow;
use crate::config::DownloadRedirect;
use crate::error::ApiError;
use crate::files::repo::Current;
use crate::files::{stamping, zip};
use crate::library::access::{self, Access};
use range::Plan;

use crate::AppState;

/// The version a link names: the file version's id, or for "all" a digest of every version id.
fn version_of(files: &[&Current], all: bool) -> String {
    if !all {
        return files[0].version.id.to_string();
    }
    let mut hasher = Sha256::new();
    for c in files {
        hasher.update(c.version.id.as_str());
        hasher.update(b"\n");
    }
    format!("all:{}", &hex::encode(hasher.finalize())[..32])
}

/// The files a link is for, from what the caller may see.
fn choose<'a>(
    files: &'a [Current],
    owner: bool,
    file: Option<&FileId>,
    all: bool,
) -> Result<Vec<&'a Current>, ApiError> {
    let visible: Vec<&Current> = crate::files::downloadable(files, owner).collect();
    match (file, all) {
        (Some(_), true) => Err(ApiError::validation(
            "all",
            "ask for one file (file_id) or for all of them, not both",
        )),
        (Some(id), false) => visible
            .into_iter()
            .find(|c| &c.file.id == id)
            .map(|c| vec![c])
            .ok_or(ApiError::NotFound("file")),
        (None, true) if visible.is_empty() => Err(ApiError::NotFound("file")),
        (None, true) => Ok(visible),
        (None, false) if visible.len() == 1 => Ok(visible),
        (None, false) => Err(ApiError::FileRequired),
    }
}

/// The buyer's counts of `files` against the product's limit: the first file used up, if any.
fn check_limit(
    conn: &mut crate::db::DbConnection,
    product: &ProductRow,
    user: &UserId,
    files: &[&Current],
) -> Result<(), ApiError> {
    let Some(limit) = product.download_limit else {
        return Ok(());
    };
    let ids: Vec<FileId> = files.iter().map(|c| c.file.id.clone()).collect();
    let used = repo::used(conn, user, &ids)?;
    match files
        .iter()
        .find(|c| used.get(&c.file.id).copied().unwrap_or(0) >= i64::from(limit))
    {
        Some(c) => Err(ApiError::DownloadLimitReached {
            file: c.file.name.clone(),
            limit,
        }),
        None => Ok(()),
    }
}

#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn issue_token(
    state: &AppState,
    user: &AuthUser,
    slug: String,
    req: DownloadTokenRequest,
) -> Result<DownloadTokenResponse, ApiError> {
    let (listed, held) = crate::catalog::visible_product_cached(state, Some(user), slug).await?;
    let access = access::decide(&listed.row, user.role, held.owned, held.included)?;
    let chosen = choose(
        &listed.files,
        access != Access::Free,
        req.file_id.as_ref(),
        req.all,
    )?;
    let version = version_of(&chosen, req.all);
    let file = (!req.all).then(|| chosen[0].file.id.clone());
    // A free item taken for the first time goes into the library (a write); a window or a
    // limit is checked now so that the buyer hears why at once (a read; the download checks
    // again). Without either, an owner's link costs no query at all.
    let claim = access == Access::Free;
    let check = access != Access::Admin
        && (listed.row.download_limit.is_some() || listed.row.access_days.is_some());
    if claim || check {
        let (row, user_id, now) = (listed.row.clone(), user.id.clone(), state.clock.now());
        let chosen: Vec<Current> = chosen.iter().map(|c| (*c).clone()).collect();
        let work = move |conn: &mut crate::db::DbConnection| {
            conn.transaction(|conn| {
                if claim {
                    // Its window (if any) starts now, and its buyer hears of new versions.
                    crate::library::repo::claim_free(conn, &user_id, &row.id, now)?;
                }
                if check {
                    let held = crate::library::repo::held(conn, &user_id, &row.id)?;
                    access::within_window(&row, access, held.as_ref(), now)?;
                    check_limit(conn, &row, &user_id, &chosen.iter().collect::<Vec<_>>())?;
                }
                Ok(())
            })
        };
        if claim {
            state.db.write(work).await?;
            state.catalog.invalidate_owners();
        } else {
            state.db.run(work).await?;
        }
    }
    let (token, expires_at) = state.keys.issue_download(DownloadSubject {
        user: &user.id,
        product: &listed.row.id,
        file: file.as_ref(),
        version: &version,
    });
    Ok(DownloadTokenResponse {
        url: state.settings.public(&format!("/api/v1/downloads/{token}")),
        token,
        expires_at,
    })
}

/// A link for one file of an order (the guest's success page): the product's only file, or its
/// first.
pub fn order_link(
    state: &AppState,
    user: &UserId,
    product: &ProductRow,
    files: &[Current],
) -> Result<DownloadTokenResponse, ApiError> {
    let visible: Vec<&Current> = crate::files::downloadable(files, true).collect();
    let all = visible.len() > 1;
    if visible.is_empty() {
        return Err(ApiError::NotFound("file"));
    }
    let version = version_of(&visible, all);
    let file = (!all).then(|| visible[0].file.id.clone());
    let (token, expires_at) = state.keys.issue_download(DownloadSubject {
        user,
        product: &product.id,
        file: file.as_ref(),
        version: &version,
    });
    Ok(DownloadTokenResponse {
        url: state.settings.public(&format!("/api/v1/downloads/{token}")),
        token,
        expires_at,
    })
}

/// Who a stamped copy is licensed to.
#[derive(Debug, Clone)]
pub struct Licensee {
    pub email: String,
    /// The order id, or for free items and admins what stands in for it.
    pub order: String,
}

fn licensee(checked: &access::Checked) -> Licensee {
    let order = match (&checked.access, checked.held.as_ref()) {
        (Access::Admin, None) => "admin copy".to_owned(),
        (_, Some(held)) => match &held.order_id {
            Some(order) => order.to_string(),
            None => format!("free-{}", &held.id.as_str()[..8]),
        },
        (Access::Member, None) => "membership".to_owned(),
        (_, None) => "free".to_owned(),
    };
    Licensee {
        email: checked.email.clone(),
        order,
    }
}

/// A download that may go ahead: what to send, to whom.
pub struct Grant {
    pub product: ProductRow,
    pub user: UserId,
    pub what: Granted,
    /// When the link expires (seconds since the epoch): a presigned URL lives no longer.
    pub link_expires_at: i64,
}

pub enum Granted {
    /// One file: its bytes (stamped or not), the range to send, and its record.
    File {
        file: Box<Current>,
        body: Body,
        plan: Plan,
        record: String,
    },
    /// Every file, as one ZIP.
    All {
        files: Vec<(Current, Body)>,
        record: String,
    },
}

/// A file's bytes as sent: the stored object, and for a stamped PDF the tail appended to it.
#[derive(Clone)]
pub struct Body {
    pub key: String,
    pub size: u64,
    pub tail: Option<Bytes>,
    pub etag: String,
}

impl Body {
    pub fn len(&self) -> u64 {
        self.size + self.tail.as_ref().map_or(0, |t| t.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the database said about a link.
struct Checked {
    checked: access::Checked,
    files: Vec<Current>,
    /// One file sent as stored: its body, range and record, done in the same transaction.
    done: Option<(Body, Plan, String)>,
}

/// A file's bytes as stored.
fn plain_body(current: &Current) -> Body {
    let v = &current.version;
    Body {
        key: v.object_key.clone(),
        size: v.size as u64,
        tail: None,
        etag: format!("\"{}\"", v.sha256),
    }
}

/// Whether `current` goes out stamped for `product` (if stamping succeeds).
fn stamps(product: &ProductRow, current: &Current) -> bool {
    product.stamp_pdfs && current.version.content_type == "application/pdf"
}

/// Checks the link, checks the entitlement, the window and the limit again (a refund between
/// issue and use revokes at once), counts the link once per file, stamps when the product says
/// so, works out what to send and records the download.
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
    let now = state.clock.now();
    let at = crate::membership::access_at(state);
    let DownloadClaims {
        sub,
        prd,
        fil,
        ver,
        jti,
        exp: link_expires_at,
        ..
    } = claims;
    let user = sub.clone();
    let all = fil.is_none();
    let (range_in, if_range_in) = (range.clone(), if_range.clone());
    let Checked {
        checked,
        files,
        done,
    } = state
        .db
        .record(move |conn| {
            conn.transaction(|conn| {
                let checked = access::check(conn, &sub, &prd, at)?;
                let all = crate::files::repo::current_of(conn, &prd)?;
                let owner = checked.access != Access::Free;
                let chosen = match choose(&all, owner, fil.as_ref(), fil.is_none()) {
                    Ok(chosen) => chosen,
                    // The file was removed since the link was made.
                    Err(ApiError::NotFound(_)) => return Err(ApiError::DownloadTokenStale),
                    Err(e) => return Err(e),
                };
                if version_of(&chosen, fil.is_none()) != ver {
                    return Err(ApiError::DownloadTokenStale);
                }
                let files: Vec<Current> = chosen.into_iter().cloned().collect();
                if checked.access != Access::Admin {
                    access::within_window(
                        &checked.product,
                        checked.access,
                        checked.held.as_ref(),
                        now,
                    )?;
                    let ids: Vec<FileId> = files.iter().map(|c| c.file.id.clone()).collect();
                    let limit = checked.product.download_limit;
                    if let Err(repo::Refused::LimitReached(file)) =
                        repo::use_link(conn, &jti, &sub, &ids, limit, now)?
                    {
                        let name = files
                            .iter()
                            .find(|c| c.file.id == file)
                            .map(|c| c.file.name.clone())
                            .unwrap_or_default();
                        return Err(ApiError::DownloadLimitReached {
                            file: name,
                            limit: limit.unwrap_or(0),
                        });
                    }
                }
                // The common case, one file sent as it is stored: its range and its record in
                // this same transaction (a range that cannot be served counts nothing).
                let done = match files.as_slice() {
                    [one] if fil.is_some() && !stamps(&checked.product, one) => {
                        let body = plain_body(one);
                        let plan = range::plan(
                            body.len(),
                            &body.etag,
                            range_in.as_deref(),
                            if_range_in.as_deref(),
                        )
                        .ok_or(ApiError::RangeNotSatisfiable { size: body.len() })?;
                        let record = repo::record(
                            conn,
                            &sub,
                            &checked.product.id,
                            &one.version.sha256,
                            plan.length,
                            None,
                        )?;
                        Some((body, plan, record))
                    }
                    _ => None,
                };
                Ok(Checked {
                    checked,
                    files,
                    done,
                })
            })
        })
        .await?;
    if let Some((body, plan, record)) = done {
        let file = files.into_iter().next().expect("one file was chosen");
        return Ok(Grant {
            link_expires_at,
            product: checked.product,
            user,
            what: Granted::File {
                file: Box::new(file),
                body,
                plan,
                record,
            },
        });
    }
    let stamp_as = checked.product.stamp_pdfs.then(|| licensee(&checked));
    let mut bodies = Vec::with_capacity(files.len());
    let mut unstamped: Option<String> = None;
    for current in files {
        let (body, why) = body_of(state, &current, stamp_as.as_ref()).await;
        unstamped = unstamped.or(why);
        bodies.push((current, body));
    }
    let product = checked.product;
    let (product_id, who) = (product.id.clone(), user.clone());
    if all {
        let total: u64 = bodies.iter().map(|(_, b)| b.len()).sum();
        let reason = unstamped.clone();
        let record = state
            .db
            .record(move |conn| {
                Ok(repo::record(
                    conn,
                    &who,
                    &product_id,
                    "all",
                    total,
                    reason.as_deref(),
                )?)
            })
            .await?;
        return Ok(Grant {
            link_expires_at,
            product,
            user,
            what: Granted::All {
                files: bodies,
                record,
            },
        });
    }
    let (current, body) = bodies.pop().expect("one file was chosen");
    let plan = range::plan(
        body.len(),
        &body.etag,
        range.as_deref(),
        if_range.as_deref(),
    )
    .ok_or(ApiError::RangeNotSatisfiable { size: body.len() })?;
    let (sha, length) = (current.version.sha256.clone(), plan.length);
    let record = state
        .db
        .record(move |conn| {
            Ok(repo::record(
                conn,
                &who,
                &product_id,
                &sha,
                length,
                unstamped.as_deref(),
            )?)
        })
        .await?;
    Ok(Grant {
        link_expires_at,
        product,
        user,
        what: Granted::File {
            file: Box::new(current),
            body,
            plan,
            record,
        },
    })
}

/// The bytes of one file for this download: stamped when asked and possible; otherwise the
/// original, with the reason stamping did not happen.
async fn body_of(
    state: &AppState,
    current: &Current,
    stamp_as: Option<&Licensee>,
) -> (Body, Option<String>) {
    let v = &current.version;
    let plain = plain_body(current);
    let Some(licensee) = stamp_as.filter(|_| v.content_type == "application/pdf") else {
        return (plain, None);
    };
    match stamping::tail(state, v, licensee).await {
        Ok(tail) => {
            let digest = hex::encode(Sha256::digest(&tail));
            let body = Body {
                etag: format!("\"{}-{}\"", v.sha256, &digest[..16]),
                tail: Some(tail),
                ..plain
            };
            (body, None)
        }
        Err(reason) => {
            tracing::warn!(version_id = %v.id, %reason, "serving a PDF unstamped");
            (plain, Some(reason))
        }
    }
}

/// How the bytes of a grant reach the client.
pub enum Delivery {
    /// The reverse proxy in front sends them (nginx's `X-Accel-Redirect` to this path).
    Proxy(String),
    /// The object store sends them: a 302 to this presigned URL.
    Redirect(String),
    /// Folio streams them.
    Stream(BoxStream<'static, Result<Bytes, object_store::Error>>),
}

/// Opens what `grant` sends. When a file cannot be opened the download is not recorded (its
/// link stays counted: using it again costs nothing).
pub async fn open(state: &AppState, grant: &Grant) -> Result<Delivery, ApiError> {
    let (record, opened) = match &grant.what {
        Granted::File {
            file,
            body,
            plan,
            record,
        } => {
            if let (Some(prefix), None) = (&state.settings.download_accel_prefix, &body.tail) {
                // The proxy sends the bytes (sendfile, its own Range handling); folio has
                // decided who may have them and recorded the download.
                tracing::info!(product_id = %grant.product.id, user_id = %grant.user, bytes = plan.length, "download handed to the proxy");
                return Ok(Delivery::Proxy(format!("{prefix}{}", body.key)));
            }
            if state.settings.download_redirect == DownloadRedirect::Presigned
                && body.tail.is_none()
            {
                // The bucket sends the bytes (and serves Range itself), through a URL that
                // expires with the link; the checks and the record are done already.
                let left = (grant.link_expires_at - chrono::Utc::now().timestamp()).max(1) as u64;
                let presigned = state
                    .storage
                    .presigned_get(
                        &body.key,
                        std::time::Duration::from_secs(left),
                        &routes::content_disposition(&file.file.name),
                        &file.version.content_type,
                    )
                    .await;
                match presigned {
                    Some(Ok(url)) => {
                        tracing::info!(product_id = %grant.product.id, user_id = %grant.user, bytes = plan.length, "download redirected to the object store");
                        return Ok(Delivery::Redirect(url.to_string()));
                    }
                    Some(Err(e)) => {
                        unrecord(state, record.clone()).await;
                        return Err(e.into());
                    }
                    // Not a bucket (settings refuse this): streamed.
                    None => {}
                }
            }
            (record, body_stream(state, body, plan.range.clone()).await)
        }
        Granted::All { files, record } => (record, Ok(zip::stream(state.clone(), files.clone()))),
    };
    match opened {
        Ok(stream) => {
            tracing::info!(product_id = %grant.product.id, user_id = %grant.user, "download started");
            Ok(Delivery::Stream(stream))
        }
        Err(e) => {
            unrecord(state, record.clone()).await;
            Err(e.into())
        }
    }
}

/// `range` of a body: the stored bytes it covers, then the part of the tail it covers.
pub async fn body_stream(
    state: &AppState,
    body: &Body,
    range: Option<std::ops::Range<u64>>,
) -> Result<BoxStream<'static, Result<Bytes, object_store::Error>>, object_store::Error> {
    let range = range.unwrap_or(0..body.len());
    let stored = range.start.min(body.size)..range.end.min(body.size);
    let head = if stored.is_empty() {
        futures_util::stream::empty().boxed()
    } else if stored == (0..body.size) {
        state.storage.get(&body.key, None).await?
    } else {
        state.storage.get(&body.key, Some(stored)).await?
    };
    let Some(tail) = &body.tail else {
        return Ok(head);
    };
    let from = range.start.max(body.size) - body.size;
    let to = range.end.max(body.size) - body.size;
    if from >= to {
        return Ok(head);
    }
    let piece = tail.slice(from as usize..to as usize);
    Ok(head
        .chain(futures_util::stream::once(async move { Ok(piece) }))
        .boxed())
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

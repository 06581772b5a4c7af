//! Update notices: when an admin uploads a new version and ticks "tell buyers", one job fans the
//! version out to everybody with access, a batch at a time, as one job per buyer whose dedupe
//! key makes it happen once however often the fan-out runs; each buyer's job mails them, unless
//! they unsubscribed from the product's notices meanwhile (the link in every notice, and the
//! `List-Unsubscribe` header with one-click POST, RFC 8058).

use shared_types::{EntitlementId, FileVersionId};

use crate::jobs::repo::JobRow;
use crate::jobs::worker::JobError;
use crate::jobs::{self, Task};
use crate::mail::{day, templates, Outgoing};
use crate::AppState;

/// Buyers given their notice per fan-out job.
pub const BATCH: i64 = 200;

/// The dedupe key of a fan-out job (one per version and batch start).
pub fn fan_out_key(version: &FileVersionId, after: Option<&EntitlementId>) -> String {
    match after {
        None => format!("update-notices:{version}"),
        Some(after) => format!("update-notices:{version}:{after}"),
    }
}

/// The start of the dedupe keys of a version's per-buyer notices.
pub fn notice_key_prefix(version: &FileVersionId) -> String {
    format!("update:{version}:")
}

/// One batch: a notice job per buyer after `after`, and the next batch's job when this one was
/// full. All in one transaction: a crash re-runs the batch, and the dedupe keys keep it once.
pub async fn fan_out(
    state: &AppState,
    version: &FileVersionId,
    after: Option<&EntitlementId>,
) -> Result<(), JobError> {
    let (version, after) = (version.clone(), after.cloned());
    let settings = state.settings.jobs.clone();
    let queued = state
        .db
        .write(move |conn| {
            use diesel::Connection;
            conn.transaction(|conn| {
                let Some((file, _)) = super::repo::find_version(conn, &version)? else {
                    return Ok::<_, crate::error::ApiError>(0);
                };
                let buyers = crate::library::repo::notice_recipients(
                    conn,
                    &file.product_id,
                    after.as_ref(),
                    BATCH,
                )?;
                for entitlement in &buyers {
                    jobs::enqueue(
                        conn,
                        &settings,
                        &Task::UpdateNotice {
                            version: version.clone(),
                            entitlement: entitlement.clone(),
                        },
                        Some(&format!("{}{entitlement}", notice_key_prefix(&version))),
                    )?;
                }
                if buyers.len() as i64 == BATCH {
                    let last = buyers.last().cloned();
                    jobs::enqueue(
                        conn,
                        &settings,
                        &Task::UpdateNotices {
                            version: version.clone(),
                            after: last.clone(),
                        },
                        Some(&fan_out_key(&version, last.as_ref())),
                    )?;
                }
                Ok(buyers.len())
            })
        })
        .await?;
    if queued > 0 {
        state.wake.now();
    }
    Ok(())
}

/// The unsubscribe URLs of one buyer's notices of one product: the API's one-click endpoint
/// (for `List-Unsubscribe`), and the web UI's page with a button that posts to it (for the
/// message's own link: opening it does nothing, as mail scanners open links).
pub fn unsubscribe_url(state: &AppState, entitlement: &EntitlementId) -> (String, String) {
    let token = state.keys.issue_unsubscribe(entitlement);
    (
        state
            .settings
            .public(&format!("/api/v1/unsubscribe/{token}")),
        state
            .settings
            .public(&format!("/library/unsubscribe?token={token}")),
    )
}

pub async fn send(
    state: &AppState,
    job: &JobRow,
    version: &FileVersionId,
    entitlement: &EntitlementId,
) -> Result<(), JobError> {
    let (v, e) = (version.clone(), entitlement.clone());
    let found = state
        .db
        .run(move |conn| {
            let Some((file, version)) = super::repo::find_version(conn, &v)? else {
                return Ok(None);
            };
            let Some(target) = crate::library::repo::notice_target(conn, &e)? else {
                return Ok(None);
            };
            let product = crate::catalog::repo::find(conn, &file.product_id)?;
            Ok(Some((file, version, target, product)))
        })
        .await?;
    let Some((file, version, target, Some(product))) = found else {
        return Err(JobError::permanent(
            "the version or the buyer no longer exists",
        ));
    };
    if !target.wants_notices {
        tracing::info!(entitlement = %entitlement, "update notice skipped: unsubscribed or no longer owned");
        return Ok(());
    }
    let subject = format!("Updated: {}", product.title);
    let (shop, library) = (
        state.settings.public("/"),
        state.settings.public("/library"),
    );
    let (one_click, unsubscribe_page) = unsubscribe_url(state, entitlement);
    let date = day(version.uploaded_at);
    let (html, text) = templates::Update {
        subject: &subject,
        shop_url: &shop,
        title: &product.title,
        file_name: &file.name,
        version: version.version,
        date: &date,
        note: version.note.as_deref(),
        library_url: &library,
        unsubscribe_url: &unsubscribe_page,
    }
    .render()
    .map_err(JobError::permanent)?;
    state
        .mailer
        .send(Outgoing {
            to: target.email,
            subject,
            text,
            html,
            message_id: state.mailer.message_id(&job.id),
            list_unsubscribe: Some(one_click),
        })
        .await?;
    Ok(())
}

/// Turns off the update notices an unsubscribe link stands for. Idempotent.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<(), crate::error::ApiError> {
    let claims = state
        .keys
        .verify_unsubscribe(token)
        .map_err(|_| crate::error::ApiError::LinkInvalid)?;
    state
        .db
        .write(move |conn| {
            crate::library::repo::notices_off(conn, &claims.sub, crate::db::now())?;
            Ok(())
        })
        .await
}

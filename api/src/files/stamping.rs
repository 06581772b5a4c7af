//! PDF stamping: every PDF a buyer downloads from a product that stamps carries "Licensed to
//! <email> · order <id>" on every page and in its document info. The PDF is parsed once, when it
//! is uploaded (or when stamping is turned on), and what writing a stamp needs is kept as a plan
//! beside it (`stamp-plans/<sha256>`, [`pdfstamp::Plan`]); a download sends the original bytes
//! unchanged followed by a small tail made from the plan (an incremental update), so its cost is
//! small and fixed and its length and ETag are known before the first byte. A PDF that cannot be
//! stamped (encrypted, damaged) is reported at upload and served unstamped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::TryStreamExt;

use super::repo::{self, Current, VersionRow};
use crate::downloads::Licensee;
use crate::AppState;

/// Largest PDF parsed for stamping: parsing reads it whole into memory, once.
pub const MAX_STAMP_BYTES: i64 = 512 * 1024 * 1024;
/// Plans kept in memory.
const CACHED_PLANS: usize = 64;

/// Recently used plans by key: a download of a popular book reads its plan once.
#[derive(Default)]
pub struct PlanCache(Mutex<HashMap<String, Arc<pdfstamp::Plan>>>);

impl PlanCache {
    fn get(&self, key: &str) -> Option<Arc<pdfstamp::Plan>> {
        self.0.lock().expect("plan cache").get(key).cloned()
    }

    fn put(&self, key: String, plan: Arc<pdfstamp::Plan>) {
        let mut plans = self.0.lock().expect("plan cache");
        if plans.len() >= CACHED_PLANS {
            plans.clear();
        }
        plans.insert(key, plan);
    }
}

fn describe(e: &pdfstamp::StampError) -> String {
    match e {
        pdfstamp::StampError::Encrypted => {
            "the PDF is encrypted, so it cannot be stamped: buyers get it unstamped".to_owned()
        }
        other => format!("the PDF cannot be stamped ({other}): buyers get it unstamped"),
    }
}

fn plan_key(version: &VersionRow) -> String {
    format!("stamp-plans/{}", version.sha256)
}

/// Parses a PDF version and keeps its plan; the reason when it cannot be stamped.
async fn make_plan(state: &AppState, version: &VersionRow) -> Result<String, String> {
    if version.size > MAX_STAMP_BYTES {
        return Err("the PDF is larger than 512 MiB: buyers get it unstamped".to_owned());
    }
    let stream = state
        .storage
        .get(&version.object_key, None)
        .await
        .map_err(|e| format!("the PDF could not be read for stamping: {e}"))?;
    let chunks: Vec<Bytes> = stream
        .try_collect()
        .await
        .map_err(|e| format!("the PDF could not be read for stamping: {e}"))?;
    let pdf = chunks.concat();
    let plan = tokio::task::spawn_blocking(move || pdfstamp::prepare(&pdf))
        .await
        .map_err(|e| format!("stamping failed: {e}"))?
        .map_err(|e| describe(&e))?;
    let key = plan_key(version);
    state
        .storage
        .put_bytes(&key, Bytes::from(plan.to_bytes()))
        .await
        .map_err(|e| format!("the stamping plan could not be stored: {e}"))?;
    state.stamp_plans.put(key.clone(), Arc::new(plan));
    Ok(key)
}

/// Prepares a new version for stamping when its product stamps and it is a PDF: its plan key,
/// or the reason it cannot be stamped, set on the row before it is inserted.
pub async fn prepare_version(
    state: &AppState,
    mut version: VersionRow,
    stamps: bool,
) -> VersionRow {
    if !stamps || version.content_type != "application/pdf" {
        return version;
    }
    match make_plan(state, &version).await {
        Ok(key) => version.stamp_plan_key = Some(key),
        Err(reason) => {
            tracing::warn!(sha256 = %version.sha256, %reason, "a PDF cannot be stamped");
            version.stamp_error = Some(reason);
        }
    }
    version
}

/// Prepares the PDFs of a product that were uploaded while it did not stamp.
pub async fn prepare_missing(state: &AppState, files: &[Current]) {
    for current in files {
        let v = &current.version;
        if v.content_type != "application/pdf"
            || v.stamp_plan_key.is_some()
            || v.stamp_error.is_some()
        {
            continue;
        }
        let prepared = prepare_version(state, v.clone(), true).await;
        let id = prepared.id.clone();
        let written = state
            .db
            .write(move |conn| {
                repo::set_stamp(
                    conn,
                    &id,
                    prepared.stamp_plan_key.as_deref(),
                    prepared.stamp_error.as_deref(),
                )?;
                Ok(())
            })
            .await;
        if let Err(e) = written {
            tracing::error!(error = %e, "could not record a stamping plan");
        }
    }
}

/// Removes the plan of a version that was never inserted, unless another version uses it.
pub async fn discard_plan(state: &AppState, version: &VersionRow) {
    let Some(key) = version.stamp_plan_key.clone() else {
        return;
    };
    let check = key.clone();
    let used = state
        .db
        .run(move |conn| Ok(repo::references(conn, &check)?))
        .await;
    if matches!(used, Ok(0)) {
        if let Err(e) = state.storage.delete(&key).await {
            tracing::error!(%key, error = %e, "could not remove an unused stamping plan");
        }
    }
}

/// The tail that stamps `version` for `licensee`, or why there is none (the original is sent).
pub async fn tail(
    state: &AppState,
    version: &VersionRow,
    licensee: &Licensee,
) -> Result<Bytes, String> {
    if let Some(reason) = &version.stamp_error {
        return Err(reason.clone());
    }
    let Some(key) = version.stamp_plan_key.clone() else {
        return Err("the PDF was not prepared for stamping".to_owned());
    };
    let plan = match state.stamp_plans.get(&key) {
        Some(plan) => plan,
        None => {
            let chunks: Vec<Bytes> = state
                .storage
                .get(&key, None)
                .await
                .map_err(|e| format!("the stamping plan could not be read: {e}"))?
                .try_collect()
                .await
                .map_err(|e| format!("the stamping plan could not be read: {e}"))?;
            let plan = Arc::new(
                pdfstamp::Plan::from_bytes(&chunks.concat())
                    .map_err(|e| format!("the stamping plan is unreadable: {e}"))?,
            );
            state.stamp_plans.put(key, plan.clone());
            plan
        }
    };
    if plan.original_len() != version.size as u64 {
        return Err("the stamping plan does not match the file".to_owned());
    }
    let licensee = licensee.clone();
    tokio::task::spawn_blocking(move || {
        pdfstamp::tail(
            &plan,
            &pdfstamp::Stamp {
                licensee: &licensee.email,
                order_id: &licensee.order,
            },
        )
    })
    .await
    .map_err(|e| format!("stamping failed: {e}"))?
    .map(Bytes::from)
    .map_err(|e| format!("stamping failed: {e}"))
}

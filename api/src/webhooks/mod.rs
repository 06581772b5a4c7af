//! Outbound webhooks: the events of the shop (`order.paid`, `product.updated`, …) posted to the
//! endpoints the admin registered, signed like Stripe's.
//!
//! An event is stored in the transaction that made it happen, with one delivery job per
//! endpoint that takes its type ([`emit`]); the job queue delivers it. Each request carries
//! `Folio-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` (a second `v1` with the
//! previous secret while a rotation's overlap lasts), the event's id in `Folio-Event-Id` and the
//! same body on every attempt. A delivery that does not answer 2xx within the timeout is tried
//! again on [`SCHEDULE`]; once an endpoint has failed for [`DISABLE_AFTER`] it is disabled and
//! the admins are mailed. Redirects are not followed. Where private targets are refused (in
//! production), the host is resolved at every delivery and the request goes to the address that
//! was checked, so a name that later points inside the network gains nothing.

pub mod deliver;
pub mod repo;
pub mod routes;

use chrono::{NaiveDateTime, TimeDelta};
use rand::distributions::{Alphanumeric, DistString};
use shared_types::{
    WebhookEndpoint, WebhookEndpointId, WebhookEndpointRequest, WebhookEventType, WebhookSecret,
};

use crate::config::JobSettings;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::jobs::Task;
use crate::AppState;
use repo::EndpointRow;

/// What an endpoint's URL looks like (the document states it; the address rules are checked on
/// top).
pub const URL_PATTERN: &str = "^[Hh][Tt][Tt][Pp][Ss]?://\\S+$";
/// The delay after each failed attempt: 1 min, 5 min, 30 min, 2 h, 6 h, then every 12 h.
pub const SCHEDULE: [TimeDelta; 6] = [
    TimeDelta::minutes(1),
    TimeDelta::minutes(5),
    TimeDelta::minutes(30),
    TimeDelta::hours(2),
    TimeDelta::hours(6),
    TimeDelta::hours(12),
];
/// An endpoint failing this long is disabled.
pub const DISABLE_AFTER: TimeDelta = TimeDelta::days(3);
/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP: TimeDelta = TimeDelta::hours(24);
/// Attempts of one delivery job: more than the schedule can fit in the window, so the window
/// is what ends it.
pub const MAX_ATTEMPTS: i32 = 100;
/// How much of a request and an answer the delivery log keeps.
pub const EXCERPT_BYTES: usize = 1024;

/// The wait after attempt `attempt` (1-based) failed.
pub fn retry_delay(attempt: i32) -> TimeDelta {
    let i = (attempt.max(1) as usize - 1).min(SCHEDULE.len() - 1);
    SCHEDULE[i]
}

/// The schedule in words, for the README (a test checks it is there).
pub fn schedule_text() -> String {
    let words: Vec<String> = SCHEDULE
        .iter()
        .map(|d| {
            if d.num_hours() >= 1 {
                format!("{} h", d.num_hours())
            } else {
                format!("{} min", d.num_minutes())
            }
        })
        .collect();
    format!(
        "{}, then every {} until the endpoint has failed for {} days",
        words[..words.len() - 1].join(", "),
        words[words.len() - 1],
        DISABLE_AFTER.num_days()
    )
}

fn new_secret() -> String {
    format!(
        "whsec_{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 32)
    )
}

pub fn new_event_id() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// Stores the event `kind` with the data `data` reads, and queues its delivery to every enabled
/// endpoint that takes it, in the caller's transaction. No endpoint takes it: nothing is read
/// or stored. `data` answering None (the object is gone) sends nothing either.
pub fn emit(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    kind: WebhookEventType,
    data: impl FnOnce(&mut DbConnection) -> diesel::QueryResult<Option<serde_json::Value>>,
) -> diesel::QueryResult<()> {
    let endpoints: Vec<EndpointRow> = repo::enabled_endpoints(conn)?
        .into_iter()
        .filter(|e| e.events().contains(&kind))
        .collect();
    if endpoints.is_empty() {
        return Ok(());
    }
    let Some(data) = data(conn)? else {
        return Ok(());
    };
    let at = crate::db::now();
    let id = new_event_id();
    let body = serde_json::json!({
        "id": id,
        "type": kind.as_str(),
        "created": at.and_utc().timestamp(),
        "data": data,
    });
    repo::insert_event(conn, &id, kind, &body.to_string(), at)?;
    for endpoint in endpoints {
        enqueue_delivery(conn, jobs, &endpoint.id, &id, None)?;
    }
    Ok(())
}

fn enqueue_delivery(
    conn: &mut DbConnection,
    jobs: &JobSettings,
    endpoint: &WebhookEndpointId,
    event: &str,
    again: Option<&str>,
) -> diesel::QueryResult<bool> {
    let dedupe = match again {
        None => format!("webhook:{event}:{endpoint}"),
        Some(n) => format!("webhook:{event}:{endpoint}:again:{n}"),
    };
    crate::jobs::enqueue_with_attempts(
        conn,
        jobs,
        &Task::Webhook {
            endpoint: endpoint.clone(),
            event: event.to_owned(),
        },
        Some(&dedupe),
        MAX_ATTEMPTS,
    )
}

fn check(
    state: &AppState,
    request: &WebhookEndpointRequest,
) -> Result<shared_types::WebhookTerms, ApiError> {
    let terms = request.check().map_err(ApiError::Validation)?;
    deliver::check_url_shape(&terms.url, state.settings.webhooks.refuse_private)
        .map_err(ApiError::WebhookUrlRefused)?;
    Ok(terms)
}

pub async fn create(
    state: &AppState,
    request: WebhookEndpointRequest,
) -> Result<WebhookSecret, ApiError> {
    let terms = check(state, &request)?;
    let secret = new_secret();
    let at = crate::db::now();
    let row = EndpointRow {
        id: WebhookEndpointId::generate(),
        url: terms.url,
        description: terms.description,
        events: repo::events_text(&terms.events),
        secret: secret.clone(),
        previous_secret: None,
        previous_secret_expires_at: None,
        enabled: terms.enabled,
        disabled_reason: (!terms.enabled).then(|| "Disabled by an admin".to_owned()),
        failing_since: None,
        created_at: at,
        updated_at: at,
    };
    let stored = row.clone();
    state
        .db
        .write(move |conn| Ok(repo::insert_endpoint(conn, &stored)?))
        .await?;
    tracing::info!(endpoint_id = %row.id, "webhook endpoint registered");
    Ok(WebhookSecret {
        endpoint: row.to_dto(),
        secret,
    })
}

pub async fn list(state: &AppState) -> Result<Vec<WebhookEndpoint>, ApiError> {
    let rows = state.db.run(|conn| Ok(repo::endpoints(conn)?)).await?;
    Ok(rows.iter().map(EndpointRow::to_dto).collect())
}

pub async fn get(state: &AppState, id: WebhookEndpointId) -> Result<WebhookEndpoint, ApiError> {
    let row = state
        .db
        .run(move |conn| Ok(repo::find_endpoint(conn, &id)?))
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    Ok(row.to_dto())
}

/// Replaces an endpoint's URL, events and state. Turning it back on clears its failures.
pub async fn replace(
    state: &AppState,
    id: WebhookEndpointId,
    request: WebhookEndpointRequest,
) -> Result<WebhookEndpoint, ApiError> {
    let terms = check(state, &request)?;
    let row = state
        .db
        .write(move |conn| Ok(repo::update_endpoint(conn, &id, &terms, crate::db::now())?))
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    Ok(row.to_dto())
}

pub async fn delete(state: &AppState, id: WebhookEndpointId) -> Result<(), ApiError> {
    let gone = state
        .db
        .write(move |conn| Ok(repo::delete_endpoint(conn, &id)?))
        .await?;
    if gone {
        Ok(())
    } else {
        Err(ApiError::NotFound("webhook endpoint"))
    }
}

/// A new secret; the old one signs beside it for [`ROTATION_OVERLAP`].
pub async fn rotate(state: &AppState, id: WebhookEndpointId) -> Result<WebhookSecret, ApiError> {
    let secret = new_secret();
    let new = secret.clone();
    // The overlap ends by the clock deliveries judge it by.
    let at = now(state);
    let row = state
        .db
        .write(move |conn| {
            Ok(repo::rotate_secret(
                conn,
                &id,
                &new,
                at + ROTATION_OVERLAP,
                at,
            )?)
        })
        .await?
        .ok_or(ApiError::NotFound("webhook endpoint"))?;
    tracing::info!(endpoint_id = %row.id, "webhook secret rotated");
    Ok(WebhookSecret {
        endpoint: row.to_dto(),
        secret,
    })
}

pub async fn deliveries(
    state: &AppState,
    id: WebhookEndpointId,
    limit: Option<i64>,
    cursor: Option<String>,
) -> Result<shared_types::WebhookDeliveryPage, ApiError> {
    let limit = crate::pagination::limit(limit)?;
    let after = cursor
        .as_deref()
        .map(crate::pagination::Cursor::decode)
        .transpose()?;
    let rows = state
        .db
        .run(move |conn| {
            if repo::find_endpoint(conn, &id)?.is_none() {
                return Err(ApiError::NotFound("webhook endpoint"));
            }
            Ok(repo::deliveries(conn, &id, after.as_ref(), limit + 1)?)
        })
        .await?;
    let (rows, next_cursor) =
        crate::pagination::finish(rows, limit, |r| (r.0.created_at, r.0.id.as_str()));
    Ok(shared_types::WebhookDeliveryPage {
        items: rows.iter().map(repo::delivery_dto).collect(),
        next_cursor,
    })
}

/// Sends a logged delivery's event to its endpoint again (a new job: the same event id, so the
/// receiver can tell it is a repeat).
pub async fn redeliver(
    state: &AppState,
    endpoint: WebhookEndpointId,
    delivery: String,
) -> Result<(), ApiError> {
    let jobs = state.settings.jobs.clone();
    state
        .db
        .write(move |conn| {
            let row = repo::find_endpoint(conn, &endpoint)?
                .ok_or(ApiError::NotFound("webhook endpoint"))?;
            if !row.enabled {
                return Err(ApiError::WebhookEndpointDisabled);
            }
            let event = repo::delivery_event(conn, &endpoint, &delivery)?
                .ok_or(ApiError::NotFound("delivery"))?;
            enqueue_delivery(conn, &jobs, &endpoint, &event, Some(&crate::db::new_id()))?;
            Ok(())
        })
        .await?;
    state.wake.now();
    Ok(())
}

/// The time failures are judged by (tests move it).
pub fn now(state: &AppState) -> NaiveDateTime {
    state.clock.now()
}

//! The webhook tables: endpoints, events and the delivery log.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{
    DeliveryOutcome, WebhookDelivery, WebhookEndpoint, WebhookEndpointId, WebhookEventType,
    WebhookTerms,
};

use crate::db::DbConnection;
use crate::pagination::Cursor;
use crate::schema::{webhook_deliveries, webhook_endpoints, webhook_events};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_endpoints)]
pub struct EndpointRow {
    pub id: WebhookEndpointId,
    pub url: String,
    pub description: String,
    pub events: String,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<NaiveDateTime>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub failing_since: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

pub fn events_text(events: &[WebhookEventType]) -> String {
    events
        .iter()
        .map(|e| e.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl EndpointRow {
    pub fn events(&self) -> Vec<WebhookEventType> {
        self.events
            .split_whitespace()
            .filter_map(WebhookEventType::parse)
            .collect()
    }

    /// The secrets that sign a request sent at `now`: the current one, and the previous one
    /// while its overlap lasts.
    pub fn signing_secrets(&self, now: NaiveDateTime) -> Vec<&str> {
        let mut out = vec![self.secret.as_str()];
        if let (Some(old), Some(until)) = (&self.previous_secret, self.previous_secret_expires_at) {
            if until > now {
                out.push(old);
            }
        }
        out
    }

    pub fn to_dto(&self) -> WebhookEndpoint {
        WebhookEndpoint {
            id: self.id.clone(),
            url: self.url.clone(),
            description: self.description.clone(),
            events: self.events(),
            enabled: self.enabled,
            disabled_reason: self.disabled_reason.clone(),
            failing_since: self.failing_since.map(|t| t.and_utc()),
            previous_secret_expires_at: self
                .previous_secret
                .as_ref()
                .and(self.previous_secret_expires_at)
                .map(|t| t.and_utc()),
            created_at: self.created_at.and_utc(),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = webhook_deliveries)]
pub struct DeliveryRow {
    pub id: String,
    pub endpoint_id: WebhookEndpointId,
    pub event_id: String,
    pub attempt: i32,
    pub outcome: String,
    pub response_status: Option<i32>,
    pub request_excerpt: String,
    pub response_excerpt: String,
    pub duration_ms: i64,
    pub created_at: NaiveDateTime,
}

pub fn outcome_text(outcome: DeliveryOutcome) -> &'static str {
    match outcome {
        DeliveryOutcome::Delivered => "delivered",
        DeliveryOutcome::Failed => "failed",
        DeliveryOutcome::Refused => "refused",
    }
}

pub fn delivery_dto((row, event_type): &(DeliveryRow, String)) -> WebhookDelivery {
    WebhookDelivery {
        id: row.id.clone(),
        event_id: row.event_id.clone(),
        event_type: WebhookEventType::parse(event_type).unwrap_or(WebhookEventType::OrderPaid),
        attempt: row.attempt,
        outcome: match row.outcome.as_str() {
            "delivered" => DeliveryOutcome::Delivered,
            "refused" => DeliveryOutcome::Refused,
            _ => DeliveryOutcome::Failed,
        },
        response_status: row.response_status,
        request_excerpt: row.request_excerpt.clone(),
        response_excerpt: row.response_excerpt.clone(),
        duration_ms: row.duration_ms,
        created_at: row.created_at.and_utc(),
    }
}

pub fn enabled_endpoints(conn: &mut DbConnection) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .filter(webhook_endpoints::enabled.eq(true))
        .select(EndpointRow::as_select())
        .load(conn)
}

pub fn endpoints(conn: &mut DbConnection) -> QueryResult<Vec<EndpointRow>> {
    webhook_endpoints::table
        .order((
            webhook_endpoints::created_at.desc(),
            webhook_endpoints::id.desc(),
        ))
        .select(EndpointRow::as_select())
        .load(conn)
}

pub fn find_endpoint(
    conn: &mut DbConnection,
    id: &WebhookEndpointId,
) -> QueryResult<Option<EndpointRow>> {
    webhook_endpoints::table
        .find(id)
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()
}

pub fn insert_endpoint(conn: &mut DbConnection, row: &EndpointRow) -> QueryResult<()> {
    diesel::insert_into(webhook_endpoints::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn update_endpoint(
    conn: &mut DbConnection,
    id: &WebhookEndpointId,
    terms: &WebhookTerms,
    now: NaiveDateTime,
) -> QueryResult<Option<EndpointRow>> {
    conn.transaction(|conn| {
        let Some(before) = find_endpoint(conn, id)? else {
            return Ok(None);
        };
        let (reason, failing_since) = match (before.enabled, terms.enabled) {
            // Back on: a fresh start.
            (false, true) => (None, None),
            (true, false) => (Some("Disabled by an admin".to_owned()), None),
            (false, false) => (before.disabled_reason.clone(), None),
            (true, true) => (None, before.failing_since),
        };
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::url.eq(&terms.url),
                webhook_endpoints::description.eq(&terms.description),
                webhook_endpoints::events.eq(events_text(&terms.events)),
                webhook_endpoints::enabled.eq(terms.enabled),
                webhook_endpoints::disabled_reason.eq(reason),
                webhook_endpoints::failing_since.eq(failing_since),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)?;
        find_endpoint(conn, id)
    })
}

pub fn delete_endpoint(conn: &mut DbConnection, id: &WebhookEndpointId) -> QueryResult<bool> {
    conn.transaction(|conn| {
        diesel::delete(webhook_deliveries::table.filter(webhook_deliveries::endpoint_id.eq(id)))
            .execute(conn)?;
        Ok(diesel::delete(webhook_endpoints::table.find(id)).execute(conn)? == 1)
    })
}

pub fn rotate_secret(
    conn: &mut DbConnection,
    id: &WebhookEndpointId,
    secret: &str,
    previous_until: NaiveDateTime,
    now: NaiveDateTime,
) -> QueryResult<Option<EndpointRow>> {
    conn.transaction(|conn| {
        let Some(before) = find_endpoint(conn, id)? else {
            return Ok(None);
        };
        diesel::update(webhook_endpoints::table.find(id))
            .set((
                webhook_endpoints::secret.eq(secret),
                webhook_endpoints::previous_secret.eq(Some(before.secret)),
                webhook_endpoints::previous_secret_expires_at.eq(Some(previous_until)),
                webhook_endpoints::updated_at.eq(now),
            ))
            .execute(conn)?;
        find_endpoint(conn, id)
    })
}

pub fn insert_event(
    conn: &mut DbConnection,
    id: &str,
    kind: WebhookEventType,
    payload: &str,
    at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(webhook_events::table)
        .values((
            webhook_events::id.eq(id),
            webhook_events::event_type.eq(kind.as_str()),
            webhook_events::payload.eq(payload),
            webhook_events::created_at.eq(at),
        ))
        .execute(conn)
        .map(drop)
}

/// An event's type and body.
pub fn find_event(conn: &mut DbConnection, id: &str) -> QueryResult<Option<(String, String)>> {
    webhook_events::table
        .find(id)
        .select((webhook_events::event_type, webhook_events::payload))
        .first(conn)
        .optional()
}

pub fn insert_delivery(conn: &mut DbConnection, row: &DeliveryRow) -> QueryResult<()> {
    diesel::insert_into(webhook_deliveries::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The endpoint's log, newest first, with each event's type.
pub fn deliveries(
    conn: &mut DbConnection,
    endpoint: &WebhookEndpointId,
    after: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<(DeliveryRow, String)>> {
    let mut query = webhook_deliveries::table
        .inner_join(webhook_events::table)
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .order((
            webhook_deliveries::created_at.desc(),
            webhook_deliveries::id.desc(),
        ))
        .select((DeliveryRow::as_select(), webhook_events::event_type))
        .limit(limit)
        .into_boxed();
    if let Some(after) = after {
        // The bound on the time alone lets the index start at the cursor (with only the OR, the
        // database walks the index from the newest row and filters: every page cost the pages
        // before it, 0.5 s at 1,000,000 orders).
        query = query.filter(
            webhook_deliveries::created_at.le(after.created_at).and(
                webhook_deliveries::created_at
                    .lt(after.created_at)
                    .or(webhook_deliveries::id.lt(after.id.clone())),
            ),
        );
    }
    query.load(conn)
}

pub fn delivery_event(
    conn: &mut DbConnection,
    endpoint: &WebhookEndpointId,
    delivery: &str,
) -> QueryResult<Option<String>> {
    webhook_deliveries::table
        .filter(webhook_deliveries::id.eq(delivery))
        .filter(webhook_deliveries::endpoint_id.eq(endpoint))
        .select(webhook_deliveries::event_id)
        .first(conn)
        .optional()
}

/// A delivery went through: the endpoint is no longer failing.
pub fn mark_healthy(conn: &mut DbConnection, id: &WebhookEndpointId) -> QueryResult<()> {
    diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::failing_since.is_not_null()),
    )
    .set(webhook_endpoints::failing_since.eq(None::<NaiveDateTime>))
    .execute(conn)
    .map(drop)
}

/// A delivery failed at `now`: the failure's start, kept from the first failure on.
pub fn mark_failing(
    conn: &mut DbConnection,
    id: &WebhookEndpointId,
    now: NaiveDateTime,
) -> QueryResult<Option<NaiveDateTime>> {
    diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::failing_since.is_null()),
    )
    .set(webhook_endpoints::failing_since.eq(Some(now)))
    .execute(conn)?;
    Ok(find_endpoint(conn, id)?.and_then(|e| e.failing_since))
}

/// Disables a failing endpoint; true when this call did (one mail to the admins).
pub fn disable(
    conn: &mut DbConnection,
    id: &WebhookEndpointId,
    reason: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    Ok(diesel::update(
        webhook_endpoints::table
            .find(id)
            .filter(webhook_endpoints::enabled.eq(true)),
    )
    .set((
        webhook_endpoints::enabled.eq(false),
        webhook_endpoints::disabled_reason.eq(Some(reason)),
        webhook_endpoints::updated_at.eq(now),
    ))
    .execute(conn)?
        == 1)
}

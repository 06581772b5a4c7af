//! The one durable job queue. Everything that happens after a request and must happen (mail
//! today; file-update notices, outbound webhooks and reconciliation later) is a [`Task`] in the
//! `jobs` table, enqueued in the transaction whose commit it follows, so it exists exactly when
//! that commit does.
//!
//! Every `folio serve` runs workers ([`worker`]) that lease due jobs (on PostgreSQL with
//! `FOR UPDATE SKIP LOCKED`, so several nodes never run one job at once), run them, and mark them
//! done; a failed attempt runs again after an exponential backoff with jitter, until the job's
//! attempts are spent and it is left failed for an admin to see and retry. A node killed mid-job
//! loses its lease: the job runs again elsewhere or after the restart, so every task's effect is
//! idempotent (mail carries a stable `Message-ID`, the job's own id).

pub mod repo;
pub mod routes;
pub mod worker;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use shared_types::{EntitlementId, FileVersionId, Job, JobStatus, OrderId, UserId};

use crate::config::JobSettings;
use crate::db::DbConnection;
use repo::{JobRow, State};

/// What a job does; stored as its kind (the tag) and payload (the fields, as JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "payload")]
pub enum Task {
    /// The receipt of a paid order.
    #[serde(rename = "mail.receipt")]
    Receipt { order: OrderId },
    /// Fetches the hosted page of a paid order's Stripe invoice (the session names only its id).
    #[serde(rename = "payments.invoice_link")]
    InvoiceLink { order: OrderId },
    /// The notice that an order was refunded.
    #[serde(rename = "mail.refund_notice")]
    RefundNotice { order: OrderId },
    /// A sign-in link (its token is made when the mail is sent, never stored in the clear).
    #[serde(rename = "mail.sign_in_link")]
    SignInLink { user: UserId },
    /// A password-reset link.
    #[serde(rename = "mail.password_reset")]
    PasswordReset { user: UserId },
    /// Fans a new file version out to its buyers: one [`Task::UpdateNotice`] each, a batch at a
    /// time (`after`: the last entitlement of the previous batch).
    #[serde(rename = "files.update_notices")]
    UpdateNotices {
        version: FileVersionId,
        after: Option<EntitlementId>,
    },
    /// Tells one buyer that a file they own has a new version.
    #[serde(rename = "mail.update_notice")]
    UpdateNotice {
        version: FileVersionId,
        entitlement: EntitlementId,
    },
    /// A membership's welcome, renewal receipt, failed-payment notice or end.
    #[serde(rename = "mail.membership")]
    MembershipNotice {
        subscription: shared_types::SubscriptionId,
        notice: crate::membership::Notice,
    },
    /// One attempt to deliver an outbound webhook event to one endpoint.
    #[serde(rename = "webhooks.deliver")]
    Webhook {
        endpoint: shared_types::WebhookEndpointId,
        event: String,
    },
    /// Tells the admins that an endpoint was disabled after failing for days.
    #[serde(rename = "mail.webhook_disabled")]
    WebhookDisabled {
        endpoint: shared_types::WebhookEndpointId,
    },
    /// Compares the last days of orders with Stripe's records and repairs what differs; it
    /// enqueues its next run (`FOLIO_RECONCILE_EVERY`).
    #[serde(rename = "payments.reconcile")]
    Reconcile,
}

impl Task {
    fn split(&self) -> (String, String) {
        let value = serde_json::to_value(self).expect("a task serializes");
        let kind = value["kind"].as_str().expect("tasks are tagged").to_owned();
        (kind, value["payload"].to_string())
    }

    fn from_row(row: &JobRow) -> Result<Self, String> {
        let payload: serde_json::Value = serde_json::from_str(&row.payload)
            .map_err(|e| format!("the payload is not JSON: {e}"))?;
        serde_json::from_value(serde_json::json!({"kind": row.kind, "payload": payload}))
            .map_err(|e| format!("not a {} job: {e}", row.kind))
    }
}

/// Adds `task` to the queue, due now, in the caller's transaction. With a `dedupe_key` that was
/// used before nothing is added (false): one receipt per order, however many deliveries race.
pub fn enqueue(
    conn: &mut DbConnection,
    settings: &JobSettings,
    task: &Task,
    dedupe_key: Option<&str>,
) -> diesel::QueryResult<bool> {
    let now = crate::db::now();
    enqueue_at(conn, settings, task, dedupe_key, now)
}

/// [`enqueue`] with its own number of attempts (a webhook's retry window ends it, not a count).
pub fn enqueue_with_attempts(
    conn: &mut DbConnection,
    _settings: &JobSettings,
    task: &Task,
    dedupe_key: Option<&str>,
    max_attempts: i32,
) -> diesel::QueryResult<bool> {
    let (kind, payload) = task.split();
    let now = crate::db::now();
    repo::enqueue(conn, &kind, &payload, dedupe_key, now, max_attempts, now)
}

pub fn enqueue_at(
    conn: &mut DbConnection,
    settings: &JobSettings,
    task: &Task,
    dedupe_key: Option<&str>,
    run_at: NaiveDateTime,
) -> diesel::QueryResult<bool> {
    let (kind, payload) = task.split();
    repo::enqueue(
        conn,
        &kind,
        &payload,
        dedupe_key,
        run_at,
        settings.max_attempts,
        crate::db::now(),
    )
}

pub fn to_dto(row: &JobRow, now: NaiveDateTime) -> Job {
    Job {
        id: row.id.clone(),
        kind: row.kind.clone(),
        status: match row.state(now) {
            State::Pending => JobStatus::Pending,
            State::Running => JobStatus::Running,
            State::Done => JobStatus::Done,
            State::Failed => JobStatus::Failed,
        },
        attempts: row.attempts,
        max_attempts: row.max_attempts,
        run_at: row.run_at.and_utc(),
        last_error: row.last_error.clone(),
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

/// The delay before attempt `attempt + 1` of a job whose attempt `attempt` failed: the base,
/// doubled per attempt, at most an hour, then spread by ±25% so that jobs that failed together
/// (an SMTP outage) do not all come back at once.
pub fn backoff(base_ms: u64, attempt: i32, jitter: f64) -> std::time::Duration {
    let doubled = base_ms.saturating_mul(1u64 << attempt.clamp(1, 30).saturating_sub(1));
    let capped = doubled.min(3_600_000) as f64;
    let spread = capped * (1.0 + 0.5 * (jitter.clamp(0.0, 1.0) - 0.5));
    std::time::Duration::from_millis(spread as u64)
}

/// The handle every part of the server wakes the local workers through, after a commit that
/// enqueued something (they also look every `FOLIO_JOB_POLL_MS`).
#[derive(Default)]
pub struct Wake(tokio::sync::Notify);

impl Wake {
    pub fn now(&self) {
        self.0.notify_waiters();
    }

    async fn wait(&self, poll: std::time::Duration) {
        let _ = tokio::time::timeout(poll, self.0.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_are_stored_as_kind_and_payload_and_read_back() {
        let task = Task::Receipt {
            order: OrderId::generate(),
        };
        let (kind, payload) = task.split();
        assert_eq!(kind, "mail.receipt");
        assert!(payload.contains("\"order\""), "{payload}");
        let at = crate::db::now();
        let row = JobRow {
            id: "j".into(),
            kind,
            payload,
            dedupe_key: None,
            run_at: at,
            attempts: 0,
            max_attempts: 3,
            last_error: None,
            lease_until: None,
            done_at: None,
            failed_at: None,
            created_at: at,
            updated_at: at,
        };
        assert_eq!(Task::from_row(&row).unwrap(), task);
        let unknown = JobRow {
            kind: "mail.nonsense".into(),
            ..row
        };
        assert!(Task::from_row(&unknown).is_err());
    }

    #[test]
    fn backoff_doubles_up_to_an_hour_with_a_bounded_spread() {
        let ms = |attempt, jitter| backoff(1000, attempt, jitter).as_millis();
        assert_eq!(ms(1, 0.5), 1000);
        assert_eq!(ms(2, 0.5), 2000);
        assert_eq!(ms(5, 0.5), 16_000);
        assert_eq!(ms(40, 0.5), 3_600_000);
        assert_eq!(ms(1, 0.0), 750);
        assert_eq!(ms(1, 1.0), 1250);
    }
}

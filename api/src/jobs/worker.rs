//! The workers of one node: each leases a due job, performs its task, and records the outcome.
//! They run on the server's own runtime (the one `folio serve` starts in), not on the HTTP
//! workers' threads; their database calls go to the blocking pool like every other.

use std::time::Duration;

use rand::Rng;

use super::repo::{self, JobRow};
use super::{backoff, Task};
use crate::db::now;
use crate::AppState;

/// Why an attempt failed, and whether trying again can help.
#[derive(Debug)]
pub struct JobError {
    pub message: String,
    /// False for a job that can never succeed (its payload names nothing that exists).
    pub retry: bool,
    /// When to try again, for a task with its own schedule (else the queue's backoff).
    pub retry_in: Option<Duration>,
}

impl JobError {
    pub fn retry(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            retry: true,
            retry_in: None,
        }
    }

    pub fn retry_in(message: impl std::fmt::Display, delay: Duration) -> Self {
        Self {
            message: message.to_string(),
            retry: true,
            retry_in: Some(delay),
        }
    }

    pub fn permanent(message: impl std::fmt::Display) -> Self {
        Self {
            message: message.to_string(),
            retry: false,
            retry_in: None,
        }
    }
}

impl From<crate::error::ApiError> for JobError {
    fn from(e: crate::error::ApiError) -> Self {
        // The cause chain, for the job's last_error (never shown to buyers).
        let message = match &e {
            crate::error::ApiError::Internal(cause) => format!("{cause:#}"),
            other => other.to_string(),
        };
        JobError::retry(message)
    }
}

/// Starts this node's workers on the current runtime; they stop with it.
pub fn start(state: &AppState) {
    let scheduler = state.clone();
    actix_web::rt::spawn(async move {
        if let Err(e) = crate::payments::reconcile::schedule_next(&scheduler).await {
            tracing::warn!(error = %e, "could not schedule the reconciliation");
        }
    });
    for worker in 0..state.settings.jobs.workers {
        let state = state.clone();
        actix_web::rt::spawn(async move { run(state, worker).await });
    }
}

async fn run(state: AppState, worker: u32) {
    let poll = Duration::from_millis(state.settings.jobs.poll_ms);
    let lease = chrono::TimeDelta::seconds(state.settings.jobs.lease_secs as i64);
    loop {
        let claimed = state
            .db
            .write({
                let clock = state.clock.clone();
                move |conn| {
                    let at = now();
                    Ok(repo::claim(conn, clock.now(), at, at + lease)?)
                }
            })
            .await;
        match claimed {
            Ok(Some(job)) => perform(&state, job).await,
            Ok(None) => state.wake.wait(poll).await,
            Err(e) => {
                tracing::warn!(worker, error = %e, "could not look for jobs");
                state.wake.wait(poll).await;
            }
        }
    }
}

#[tracing::instrument(skip_all, fields(job_id = %job.id, kind = %job.kind, attempt = job.attempts))]
async fn perform(state: &AppState, job: JobRow) {
    let outcome = match Task::from_row(&job) {
        Ok(task) => dispatch(state, &job, task).await,
        Err(e) => Err(JobError::permanent(e)),
    };
    let job_for_db = job.clone();
    let recorded = match outcome {
        Ok(()) => {
            tracing::info!("job done");
            state
                .db
                .write(move |conn| Ok(repo::finish(conn, &job_for_db, now())?))
                .await
        }
        Err(error) => {
            let give_up = !error.retry || job.attempts >= job.max_attempts;
            if give_up {
                tracing::error!(error = %error.message, "job failed for good");
            } else {
                tracing::warn!(error = %error.message, "job attempt failed; it will run again");
            }
            let jitter: f64 = rand::thread_rng().gen();
            let delay = error.retry_in.unwrap_or_else(|| {
                backoff(state.settings.jobs.retry_base_ms, job.attempts, jitter)
            });
            let clock = state.clock.clone();
            state
                .db
                .write(move |conn| {
                    let at = now();
                    // Due by the server's clock, like the claim.
                    let retry_at = (!give_up).then(|| {
                        clock.now() + chrono::TimeDelta::from_std(delay).unwrap_or_default()
                    });
                    Ok(repo::fail_attempt(
                        conn,
                        &job_for_db,
                        &error.message,
                        retry_at,
                        at,
                    )?)
                })
                .await
        }
    };
    match recorded {
        Ok(true) => {}
        // Its lease ran out and another worker took it: that worker records it.
        Ok(false) => tracing::warn!("the job was taken over before its outcome was recorded"),
        Err(e) => tracing::error!(error = %e, "could not record a job's outcome"),
    }
}

async fn dispatch(state: &AppState, job: &JobRow, task: Task) -> Result<(), JobError> {
    match task {
        Task::Receipt { order } => crate::payments::mails::receipt(state, job, &order).await,
        Task::InvoiceLink { order } => crate::payments::invoice_link(state, &order).await,
        Task::RefundNotice { order } => {
            crate::payments::mails::refund_notice(state, job, &order).await
        }
        Task::UpdateNotices { version, after } => {
            crate::files::notices::fan_out(state, &version, after.as_ref()).await
        }
        Task::UpdateNotice {
            version,
            entitlement,
        } => crate::files::notices::send(state, job, &version, &entitlement).await,
        Task::MembershipNotice {
            subscription,
            notice,
        } => crate::membership::mails::send(state, job, &subscription, &notice).await,
        Task::SignInLink { user } => crate::auth::links::mail_sign_in_link(state, job, &user).await,
        Task::PasswordReset { user } => {
            crate::auth::links::mail_password_reset(state, job, &user).await
        }
        Task::Webhook { endpoint, event } => {
            crate::webhooks::deliver::run(state, job, &endpoint, &event).await
        }
        Task::WebhookDisabled { endpoint } => {
            crate::webhooks::deliver::mail_disabled(state, job, &endpoint).await
        }
        Task::Reconcile => crate::payments::reconcile::scheduled(state).await,
    }
}

//! Webhook delivery: signing, the knobs that make delivery misbehave on purpose, retries with
//! backoff, and the bookkeeping behind `wait_idle` and `deliveries`.
//!
//! Each event is delivered by its own task, like Stripe, so a slow endpoint does not hold up
//! other events; only `release()` and the flush when a webhook URL is first set deliver a batch
//! in one task, one event after the other, because their point is a controlled order.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::Notify;

use crate::{lock, Inner, Knobs};

/// After this many attempts of one copy of an event, delivery gives up (Stripe retries for days;
/// a development run should not).
pub const MAX_ATTEMPTS: u32 = 12;
/// Delivery attempts open at once, across all events.
const MAX_IN_FLIGHT: usize = 256;
const DEFAULT_RETRY_BASE_MS: u64 = 200;
const MAX_BACKOFF_MS: u64 = 5_000;
/// An endpoint that does not answer within this time counts as a failed attempt.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(10);

/// One delivery attempt, successful or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub event_id: String,
    pub event_type: String,
    /// 1-based, counted per event across all its copies (so `fail_first` drops attempts 1..=N);
    /// 0 for an event dropped by the knob `drop_webhooks`.
    pub attempt: u32,
    /// 0 for the original delivery, 1..=`duplicates` for the extra copies.
    pub copy: u32,
    /// The endpoint's HTTP status, when it answered.
    pub status: Option<u16>,
    /// Why there is no status: a simulated failure (`fail_first`), a connection error or timeout.
    pub error: Option<String>,
    /// The `t` of the `Stripe-Signature` sent (unix seconds); 0 for simulated failures.
    pub signed_at: i64,
    /// How long the endpoint took to answer (or to fail), in milliseconds; 0 when nothing was sent.
    #[serde(default)]
    pub millis: u64,
    /// The event was raised while the knob `drop_webhooks` was on and is never sent: this entry
    /// (with `attempt` 0, no `status`, and the reason in `error`) is all there is of it.
    #[serde(default)]
    pub dropped: bool,
}

impl Delivery {
    /// Whether the endpoint accepted the event (answered 2xx).
    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(s) if (200..300).contains(&s))
    }
}

/// A raised event, serialized once so that every attempt and copy sends the same bytes.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub id: String,
    pub kind: String,
    pub body: Arc<str>,
}

#[derive(Debug, Default)]
struct OutboxState {
    /// Events waiting for `release()` (knob `hold`) or for a webhook URL.
    queue: VecDeque<Outgoing>,
    log: Vec<Delivery>,
    events: Vec<serde_json::Value>,
}

/// Delivery state shared by all tasks.
#[derive(Debug)]
pub(crate) struct Outbox {
    state: Mutex<OutboxState>,
    /// Delivery tasks (and scheduled delayed payments) not yet finished.
    busy: AtomicUsize,
    idle: Notify,
    client: reqwest::Client,
    /// Attempts in flight at once. Unbounded, a burst of released events opened more sockets
    /// than the process may (a 10-minute soak at 200 connections hit EMFILE); Stripe, too,
    /// limits how many deliveries it has open to one endpoint.
    sending: tokio::sync::Semaphore,
}

impl Outbox {
    pub fn new() -> Self {
        let client = reqwest::Client::builder()
            // Connections are kept (every delivery runs on the one runtime of `spawn`), but
            // dropped after 2 s idle: before the endpoint's own keep-alive (actix: 5 s) closes
            // them under a request just being sent.
            .pool_idle_timeout(Duration::from_secs(2))
            .timeout(ATTEMPT_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap_or_default();
        Self {
            state: Mutex::new(OutboxState::default()),
            busy: AtomicUsize::new(0),
            idle: Notify::new(),
            client,
            sending: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
        }
    }

    pub fn deliveries(&self) -> Vec<Delivery> {
        lock(&self.state).log.clone()
    }

    /// The attempts from the `from`-th on (the log only grows), so a poller reads each once.
    pub fn deliveries_since(&self, from: usize) -> Vec<Delivery> {
        let state = lock(&self.state);
        state.log[from.min(state.log.len())..].to_vec()
    }

    pub fn events(&self) -> Vec<serde_json::Value> {
        lock(&self.state).events.clone()
    }

    /// How many events were raised so far (the log only grows).
    pub fn event_count(&self) -> usize {
        lock(&self.state).events.len()
    }

    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            // Register before checking, so a task finishing in between still wakes us.
            notified.as_mut().enable();
            if self.busy.load(Ordering::SeqCst) == 0 {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.busy.load(Ordering::SeqCst) == 0;
            }
        }
    }
}

/// Counts a task as busy from creation until it is dropped (finished, or cancelled with its
/// runtime), so `wait_idle` cannot hang on a task that no longer exists.
pub(crate) struct BusyGuard(Arc<Inner>);

impl BusyGuard {
    pub fn new(inner: &Arc<Inner>) -> Self {
        inner.outbox.busy.fetch_add(1, Ordering::SeqCst);
        Self(inner.clone())
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        if self.0.outbox.busy.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.outbox.idle.notify_waiters();
        }
    }
}

/// Runs a background task (deliveries, delayed payments) on the emulator's own runtime.
///
/// Deliveries used to run on the runtime of the caller (an actix worker, or a test's runtime),
/// and a pooled connection is bound to the runtime that opened it, so every attempt opened a new
/// connection. At the soak's ~500 attempts/s that left 23,000-25,000 sockets in TIME_WAIT, near
/// the 28,232 ephemeral ports one client address has towards one server port. One long-lived
/// runtime lets the delivery client keep its connections.
pub(crate) fn spawn<F>(task: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    static RUNTIME: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("stripe-emulator-delivery")
            .enable_all()
            .build()
            .map_err(|e| tracing::error!(error = %e, "cannot start the delivery runtime"))
            .ok()
    });
    match runtime {
        Some(rt) => {
            rt.spawn(task);
        }
        None => tracing::error!("no runtime to deliver webhooks on"),
    }
}

/// What the deliveries log says of an event dropped by the knob `drop_webhooks`.
pub(crate) const DROPPED: &str = "dropped (knob drop_webhooks): never sent";

/// Records an event and sends it, or queues it while held or while there is no webhook URL, or
/// only logs it as dropped (knob `drop_webhooks`).
pub(crate) fn raise(inner: &Arc<Inner>, event: Outgoing, json: serde_json::Value) {
    let knobs = inner.knobs();
    let has_url = inner.webhook_url().is_some();
    {
        let mut state = lock(&inner.outbox.state);
        state.events.push(json);
        if knobs.drop_webhooks {
            let record = Delivery {
                event_id: event.id,
                event_type: event.kind,
                attempt: 0,
                copy: 0,
                status: None,
                error: Some(DROPPED.to_string()),
                signed_at: 0,
                millis: 0,
                dropped: true,
            };
            tracing::debug!(?record, "webhook dropped");
            state.log.push(record);
            return;
        }
        if knobs.hold || !has_url {
            state.queue.push_back(event);
            return;
        }
    }
    let guard = BusyGuard::new(inner);
    let inner = inner.clone();
    spawn(async move {
        deliver_event(&inner, &event, &knobs).await;
        drop(guard);
    });
}

/// Sends the queued events, in order or reversed, one after the other. Without a webhook URL
/// they stay queued.
pub(crate) fn flush(inner: &Arc<Inner>, reverse: bool) {
    if inner.webhook_url().is_none() {
        return;
    }
    let mut batch: Vec<Outgoing> = lock(&inner.outbox.state).queue.drain(..).collect();
    if batch.is_empty() {
        return;
    }
    if reverse {
        batch.reverse();
    }
    let knobs = inner.knobs();
    let guard = BusyGuard::new(inner);
    let inner = inner.clone();
    spawn(async move {
        for event in &batch {
            deliver_event(&inner, event, &knobs).await;
        }
        drop(guard);
    });
}

/// All copies of one event, each retried until accepted or out of attempts.
async fn deliver_event(inner: &Arc<Inner>, event: &Outgoing, knobs: &Knobs) {
    if knobs.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(knobs.delay_ms)).await;
    }
    let attempts = Arc::new(AtomicU32::new(0));
    let copies = 1 + knobs.duplicates;
    if knobs.concurrent {
        let mut handles = Vec::new();
        for copy in 0..copies {
            let (inner, event, knobs, attempts) = (
                inner.clone(),
                event.clone(),
                knobs.clone(),
                attempts.clone(),
            );
            let guard = BusyGuard::new(&inner);
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            spawn(async move {
                deliver_copy(&inner, &event, copy, &knobs, &attempts).await;
                drop(guard);
                let _ = tx.send(());
            });
            handles.push(rx);
        }
        for done in handles {
            let _ = done.await;
        }
    } else {
        for copy in 0..copies {
            deliver_copy(inner, event, copy, knobs, &attempts).await;
        }
    }
}

async fn deliver_copy(
    inner: &Arc<Inner>,
    event: &Outgoing,
    copy: u32,
    knobs: &Knobs,
    attempts: &AtomicU32,
) {
    let base = if knobs.retry_base_ms == 0 {
        DEFAULT_RETRY_BASE_MS
    } else {
        knobs.retry_base_ms
    };
    for try_no in 1..=MAX_ATTEMPTS {
        let attempt = attempts.fetch_add(1, Ordering::SeqCst) + 1;
        let mut record = Delivery {
            event_id: event.id.clone(),
            event_type: event.kind.clone(),
            attempt,
            copy,
            status: None,
            error: None,
            signed_at: 0,
            millis: 0,
            dropped: false,
        };
        if attempt <= knobs.fail_first {
            record.error = Some("simulated network failure (knob fail_first)".into());
        } else if let Some(url) = inner.webhook_url() {
            let t = chrono::Utc::now().timestamp();
            record.signed_at = t;
            let _permit = inner.outbox.sending.acquire().await;
            let started = std::time::Instant::now();
            let result = inner
                .outbox
                .client
                .post(&url)
                .header("Content-Type", "application/json")
                .header("Stripe-Signature", signature(&inner.secret, t, &event.body))
                .header(
                    "User-Agent",
                    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                )
                .body(event.body.to_string())
                .send()
                .await;
            match result {
                Ok(response) => record.status = Some(response.status().as_u16()),
                Err(err) => record.error = Some(error_chain(&err)),
            }
            record.millis = started.elapsed().as_millis() as u64;
        } else {
            record.error = Some("no webhook URL".into());
        }
        let done = record.succeeded();
        tracing::debug!(?record, "webhook delivery attempt");
        lock(&inner.outbox.state).log.push(record);
        if done {
            return;
        }
        if try_no < MAX_ATTEMPTS {
            tokio::time::sleep(backoff(base, try_no)).await;
        }
    }
    tracing::warn!(event = %event.id, "webhook delivery gave up after {MAX_ATTEMPTS} attempts");
}

/// reqwest's own message is just "error sending request"; the cause (e.g. "Connection refused")
/// is further down the chain, and it is what someone reading the log needs.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// `base`, `2·base`, `4·base`, ... capped at 5 s.
fn backoff(base_ms: u64, failed_attempts: u32) -> Duration {
    let factor = 1u64 << failed_attempts.saturating_sub(1).min(20);
    Duration::from_millis(base_ms.saturating_mul(factor).min(MAX_BACKOFF_MS))
}

/// The `Stripe-Signature` header: `t=<unix>,v1=<hex HMAC-SHA256(secret, "{t}.{body}")>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(format!("{timestamp}.{body}").as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(200, 1), Duration::from_millis(200));
        assert_eq!(backoff(200, 2), Duration::from_millis(400));
        assert_eq!(backoff(200, 5), Duration::from_millis(3200));
        assert_eq!(backoff(200, 6), Duration::from_millis(5000));
        assert_eq!(backoff(200, 40), Duration::from_millis(5000));
    }

    #[test]
    fn signature_matches_stripe_example_format() {
        let header = signature("whsec_test", 1_700_000_000, "{}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(header.len(), "t=1700000000,v1=".len() + 64);
    }
}

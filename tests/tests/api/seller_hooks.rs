//! Outbound webhooks and reconciliation with Stripe, on SQLite and PostgreSQL: signed deliveries
//! to a receiver inside the test, retried on the schedule by the server's clock and never
//! following a redirect; endpoints disabled after three days of failures (the admins mailed);
//! secret rotation; private targets refused at creation and at delivery; and reconciliation
//! repairing what lost Stripe webhooks left undone, by hand and on its schedule.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use chrono::{DateTime, Days, TimeDelta, Utc};
use folio_api::webhooks::{retry_delay, DISABLE_AFTER, ROTATION_OVERLAP, SCHEDULE};
use folio_tests::*;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{json, Value};
use stripe_emulator::Knobs;

backend_tests_with!(&[("FOLIO_WEBHOOK_TIMEOUT_SECS", "1")] =>
    a_delivery_is_signed_retried_on_the_schedule_and_never_follows_a_redirect,
);
backend_tests!(
    an_endpoint_failing_for_three_days_is_disabled_and_its_admins_told,
    a_rotated_secret_signs_beside_the_new_one_for_a_day,
    reconciliation_repairs_what_lost_webhooks_left_undone,
    reconciliation_refuses_periods_it_cannot_read,
);
backend_tests_with!(&[("FOLIO_WEBHOOK_PRIVATE_TARGETS", "refuse")] =>
    private_targets_are_refused_at_creation_and_at_delivery,
);
backend_tests_with!(&[("FOLIO_RECONCILE_EVERY", "1h")] =>
    the_scheduled_reconciliation_fulfils_an_order_whose_webhook_was_lost,
);
backend_tests_with!(&[("FOLIO_RECONCILE_EVERY", "1h"), ("FOLIO_JOB_MAX_ATTEMPTS", "2")] =>
    a_stripe_outage_does_not_end_the_reconciliation_schedule,
);

const WAIT: Duration = Duration::from_secs(20);
/// How long to watch for something that must not happen (the workers look every 50 ms).
const QUIET: Duration = Duration::from_millis(700);

/// Polls `probe` until it answers Some, for up to [`WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The receiver: an HTTP server in the test that records every request and answers from a script.

#[derive(Debug, Clone)]
enum Reply {
    Status(u16),
    /// 200, but only after this long (past the server's timeout).
    Slow(Duration),
    /// 302 to this path of the receiver.
    Redirect(&'static str),
}

#[derive(Debug, Clone)]
struct Hit {
    path: String,
    /// Lower-case names.
    headers: HashMap<String, String>,
    body: String,
}

impl Hit {
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("the body is JSON")
    }
}

struct Shared {
    hits: Mutex<Vec<Hit>>,
    /// Replies to use first, in order; then `otherwise`.
    next: Mutex<VecDeque<Reply>>,
    otherwise: Mutex<Reply>,
}

struct Receiver {
    port: u16,
    shared: Arc<Shared>,
}

async fn receive(req: HttpRequest, body: web::Bytes, shared: web::Data<Shared>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_ascii_lowercase(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    shared.hits.lock().unwrap().push(Hit {
        path: req.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let reply = shared
        .next
        .lock()
        .unwrap()
        .pop_front()
        .unwrap_or_else(|| shared.otherwise.lock().unwrap().clone());
    match reply {
        Reply::Status(code) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(code).unwrap())
                .body(format!("the receiver answers {code}"))
        }
        Reply::Slow(wait) => {
            tokio::time::sleep(wait).await;
            HttpResponse::Ok().body("too late")
        }
        Reply::Redirect(to) => HttpResponse::Found()
            .insert_header(("Location", to))
            .body("moved"),
    }
}

impl Receiver {
    fn start(otherwise: Reply) -> Self {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let shared = Arc::new(Shared {
            hits: Mutex::default(),
            next: Mutex::default(),
            otherwise: Mutex::new(otherwise),
        });
        let data = web::Data::from(shared.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .default_service(web::to(receive))
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(0)
        .listen(listener)
        .unwrap()
        .run();
        actix_web::rt::spawn(server);
        Self { port, shared }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/folio", self.port)
    }

    fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.next.lock().unwrap().extend(replies);
    }

    fn otherwise(&self, reply: Reply) {
        *self.shared.otherwise.lock().unwrap() = reply;
    }

    fn hits(&self) -> Vec<Hit> {
        self.shared.hits.lock().unwrap().clone()
    }

    /// Waits for the `n`-th request; all requests so far.
    async fn wait_hits(&self, n: usize) -> Vec<Hit> {
        eventually(&format!("request {n} at the receiver"), || async {
            let hits = self.hits();
            (hits.len() >= n).then_some(hits)
        })
        .await
    }
}

// ---------------------------------------------------------------------------------------------
// Signatures, checked the way a receiver would.

/// `t` and the `v1` signatures of a `Folio-Signature` header.
fn signature_parts(header: &str) -> (i64, Vec<String>) {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = Some(v.parse::<i64>().expect("t is a Unix time")),
            Some(("v1", v)) => v1.push(v.to_owned()),
            _ => panic!("unexpected part {part:?} in {header:?}"),
        }
    }
    (t.expect("a t= in the signature"), v1)
}

fn made_with(secret: &str, t: i64, body: &str, signature: &str) -> bool {
    let Ok(bytes) = hex::decode(signature) else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&bytes).is_ok()
}

/// The request is signed now, with exactly one `v1` per secret, each made with its secret over
/// `t.body`.
fn assert_signed_by(hit: &Hit, secrets: &[&str]) {
    let header = hit.header("folio-signature");
    let (t, signatures) = signature_parts(header);
    let now = Utc::now().timestamp();
    assert!((now - t).abs() < 300, "a fresh timestamp: {header}");
    assert_eq!(
        signatures.len(),
        secrets.len(),
        "one v1 per signing secret: {header}"
    );
    for (i, secret) in secrets.iter().enumerate() {
        let made = signatures
            .iter()
            .filter(|s| made_with(secret, t, &hit.body, s))
            .count();
        assert_eq!(made, 1, "exactly one v1 is made with secret #{i}: {header}");
    }
    // Not a signature of anything else.
    assert!(signatures
        .iter()
        .all(|s| !made_with(secrets[0], t + 1, &hit.body, s)));
}

// ---------------------------------------------------------------------------------------------
// The API.

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("a time, not {value}"))
        .parse()
        .unwrap()
}

async fn create_endpoint(
    app: &TestApp,
    admin: &str,
    url: &str,
    events: &[&str],
) -> (Value, String) {
    let (status, body) = send(
        app,
        Method::POST,
        "/api/v1/admin/webhooks",
        Some(admin),
        Some(json!({"url": url, "description": "the test's receiver", "events": events})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    // The harness fails the test if a secret shows up in the server's logs.
    remember_secret(&secret);
    (body["endpoint"].clone(), secret)
}

async fn get_endpoint(app: &TestApp, admin: &str, id: &str) -> Value {
    let (status, body) = send(
        app,
        Method::GET,
        &format!("/api/v1/admin/webhooks/{id}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The endpoint's delivery log, newest first.
async fn deliveries(app: &TestApp, admin: &str, id: &str) -> Vec<Value> {
    let (status, body) = send(
        app,
        Method::GET,
        &format!("/api/v1/admin/webhooks/{id}/deliveries?limit=100"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["next_cursor"].is_null());
    body["items"].as_array().unwrap().clone()
}

async fn jobs_of(app: &TestApp, admin: &str, kind: &str) -> Vec<Value> {
    let (status, body) = send(
        app,
        Method::GET,
        "/api/v1/admin/jobs?limit=100",
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|j| j["kind"] == kind)
        .cloned()
        .collect()
}

/// The delivery job once its attempt `attempts` is recorded (it is not running any more).
async fn settled(app: &TestApp, admin: &str, attempts: usize) -> Value {
    eventually(&format!("attempt {attempts} recorded"), || async {
        jobs_of(app, admin, "webhooks.deliver")
            .await
            .into_iter()
            .find(|j| j["attempts"] == attempts && j["status"] != "running")
    })
    .await
}

/// Moves the server's clock and wakes its workers.
fn advance(app: &TestApp, by: TimeDelta) {
    app.state.clock.advance(by);
    app.state.wake.now();
}

async fn start_checkout(app: &TestApp, token: &str, slug: &str) -> Value {
    let res = app.checkout(token, slug).await;
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    res.json().await.unwrap()
}

fn session_of(started: &Value) -> &str {
    started["session_id"].as_str().unwrap()
}

fn order_of(started: &Value) -> &str {
    started["order_id"].as_str().unwrap()
}

/// Buys `slug` through the emulator, the webhooks delivered (or dropped, with the knob).
async fn buy(app: &TestApp, token: &str, slug: &str) -> Value {
    let started = start_checkout(app, token, slug).await;
    app.emulator.pay(session_of(&started)).unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    started
}

fn drop_webhooks(app: &TestApp, on: bool) {
    app.emulator.set_knobs(Knobs {
        drop_webhooks: on,
        ..Default::default()
    });
}

async fn can_download(app: &TestApp, token: &str, slug: &str) -> StatusCode {
    let res = app.download_token(token, slug).await;
    if res.status() != StatusCode::OK {
        return res.status();
    }
    let link: Value = res.json().await.unwrap();
    app.bare_client()
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status()
}

/// The order as the admin's list shows it.
async fn admin_order(app: &TestApp, admin: &str, id: &str) -> Value {
    let (status, body) = send(
        app,
        Method::GET,
        "/api/v1/admin/orders?limit=100",
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["id"] == id)
        .unwrap_or_else(|| panic!("order {id} in {body}"))
        .clone()
}

// ---------------------------------------------------------------------------------------------
// Deliveries.

async fn a_delivery_is_signed_retried_on_the_schedule_and_never_follows_a_redirect(app: TestApp) {
    let admin = app.admin().await;
    let receiver = Receiver::start(Reply::Status(200));
    receiver.script([
        Reply::Status(500),
        // The server gives up after FOLIO_WEBHOOK_TIMEOUT_SECS=1.
        Reply::Slow(Duration::from_secs(3)),
        Reply::Redirect("/elsewhere"),
    ]);
    let (endpoint, secret) = create_endpoint(
        &app,
        &admin,
        &receiver.url(),
        &["product.created", "order.paid", "product.created"],
    )
    .await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    assert_eq!(endpoint["url"], receiver.url());
    assert_eq!(endpoint["events"], json!(["order.paid", "product.created"]));
    assert_eq!(endpoint["enabled"], true);
    assert!(endpoint["failing_since"].is_null());
    assert!(endpoint.get("secret").is_none(), "{endpoint}");
    // The secret is shown once: never in the endpoint as read back.
    let read = get_endpoint(&app, &admin, &id).await;
    assert!(!read.to_string().contains(&secret), "{read}");

    let product = app
        .product(&admin, "Hooked Handbook", "12.00", pdf("hooked"))
        .await;

    // Attempt 1: signed, with the event's id, type and data; answered 500.
    let first = receiver.wait_hits(1).await[0].clone();
    assert_eq!(first.path, "/hooks/folio");
    assert_signed_by(&first, &[&secret]);
    let event = first.json();
    let event_id = event["id"].as_str().unwrap().to_owned();
    assert!(event_id.starts_with("evt_"), "{event}");
    assert_eq!(event["type"], "product.created");
    assert!(event["created"].is_i64(), "{event}");
    assert_eq!(event["data"]["id"], product["id"]);
    assert_eq!(event["data"]["slug"], "hooked-handbook");
    assert_eq!(event["data"]["price"], product["price"]);
    assert_eq!(first.header("folio-event-id"), event_id);
    assert_eq!(first.header("folio-event-type"), "product.created");
    assert!(first.header("content-type").starts_with("application/json"));
    let job = settled(&app, &admin, 1).await;
    assert_eq!(job["status"], "pending");
    let failing = get_endpoint(&app, &admin, &id).await;
    assert!(failing["failing_since"].is_string(), "{failing}");
    assert_eq!(failing["enabled"], true);

    // Each retry waits for its delay on the server's clock, not a moment less.
    for attempt in 1..=3usize {
        let delay = retry_delay(attempt as i32);
        advance(&app, delay - TimeDelta::seconds(30));
        tokio::time::sleep(QUIET).await;
        assert_eq!(
            receiver.hits().len(),
            attempt,
            "attempt {} came before its delay of {delay}",
            attempt + 1
        );
        assert_eq!(settled(&app, &admin, attempt).await["status"], "pending");
        advance(&app, TimeDelta::seconds(31));
        receiver.wait_hits(attempt + 1).await;
        settled(&app, &admin, attempt + 1).await;
    }
    let job = settled(&app, &admin, 4).await;
    assert_eq!(job["status"], "done", "{job}");

    // The same event on every attempt, freshly signed; the redirect never followed.
    let hits = receiver.hits();
    assert_eq!(hits.len(), 4, "{hits:?}");
    for (i, hit) in hits.iter().enumerate() {
        assert_eq!(hit.path, "/hooks/folio", "attempt {}", i + 1);
        assert_eq!(hit.header("folio-event-id"), event_id, "attempt {}", i + 1);
        assert_eq!(hit.body, first.body, "the same body on attempt {}", i + 1);
        assert_signed_by(hit, &[&secret]);
    }

    // The log: newest first, what each attempt got.
    let log = deliveries(&app, &admin, &id).await;
    let summary: Vec<(i64, &str, Value)> = log
        .iter()
        .map(|d| {
            (
                d["attempt"].as_i64().unwrap(),
                d["outcome"].as_str().unwrap(),
                d["response_status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (4, "delivered", json!(200)),
            (3, "failed", json!(302)),
            (2, "failed", Value::Null),
            (1, "failed", json!(500)),
        ]
    );
    for d in &log {
        assert_eq!(d["event_id"], event_id.as_str());
        assert_eq!(d["event_type"], "product.created");
        let sent = d["request_excerpt"].as_str().unwrap();
        assert!(
            first.body.starts_with(sent.trim_end_matches('…')) && !sent.is_empty(),
            "{sent}"
        );
    }
    assert!(
        log[3]["response_excerpt"]
            .as_str()
            .unwrap()
            .contains("the receiver answers 500"),
        "{}",
        log[3]
    );
    assert!(
        log[2]["response_excerpt"]
            .as_str()
            .unwrap()
            .contains("no answer within 1 s"),
        "{}",
        log[2]
    );
    assert!(
        log[1]["response_excerpt"]
            .as_str()
            .unwrap()
            .contains("redirects are not followed"),
        "{}",
        log[1]
    );
    // Logged at the server's time: each attempt at least its delay after the one before.
    for k in 1..4 {
        let gap = time(&log[3 - k]["created_at"]) - time(&log[4 - k]["created_at"]);
        assert!(
            gap >= retry_delay(k as i32),
            "attempt {} came {gap} after attempt {k}",
            k + 1
        );
    }
    let healthy = get_endpoint(&app, &admin, &id).await;
    assert!(healthy["failing_since"].is_null(), "{healthy}");
    assert_eq!(healthy["enabled"], true);

    // A real purchase: order.paid, signed, with the order as the admin sees it.
    let buyer = app.customer("hooked@example.com").await.access_token;
    let started = buy(&app, &buyer, "hooked-handbook").await;
    let hits = receiver.wait_hits(5).await;
    assert_eq!(hits.len(), 5, "one more request: {hits:?}");
    let paid = &hits[4];
    assert_signed_by(paid, &[&secret]);
    assert_eq!(paid.header("folio-event-type"), "order.paid");
    let event = paid.json();
    assert_eq!(event["type"], "order.paid");
    assert_eq!(paid.header("folio-event-id"), event["id"].as_str().unwrap());
    assert_ne!(event["id"], event_id.as_str());
    let order = &event["data"];
    assert_eq!(order["id"], order_of(&started));
    assert_eq!(order["status"], "paid");
    assert_eq!(order["amount"]["amount_cents"], 1200);
    assert_eq!(order["amount"]["currency"], "usd");
    assert_eq!(order["product"]["slug"], "hooked-handbook");
    assert_eq!(order["product"]["title"], "Hooked Handbook");
    assert_eq!(order["buyer_email"], "hooked@example.com");
    assert_eq!(
        *order,
        admin_order(&app, &admin, order_of(&started)).await,
        "the admin's view of the order"
    );
    let log = eventually("the order.paid delivery logged", || async {
        let log = deliveries(&app, &admin, &id).await;
        (log.len() == 5 && log[0]["outcome"] == "delivered").then_some(log)
    })
    .await;
    assert_eq!(log[0]["event_type"], "order.paid");
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["response_status"], 200);
    assert!(!receiver.hits().iter().any(|h| h.path == "/elsewhere"));
}

async fn an_endpoint_failing_for_three_days_is_disabled_and_its_admins_told(app: TestApp) {
    let admin = app.admin().await;
    let receiver = Receiver::start(Reply::Status(500));
    let (endpoint, secret) =
        create_endpoint(&app, &admin, &receiver.url(), &["product.created"]).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    app.product(&admin, "Unheard Of", "3", pdf("unheard")).await;

    // From the schedule: the wait after attempt n, and the attempt at which the failures have
    // lasted the window.
    let delay = |attempt: usize| SCHEDULE[(attempt - 1).min(SCHEDULE.len() - 1)];
    let mut expected = 1;
    let mut failing_for = TimeDelta::zero();
    while failing_for < DISABLE_AFTER {
        failing_for += delay(expected);
        expected += 1;
    }

    let mut attempts = 0;
    loop {
        attempts += 1;
        assert!(
            attempts <= expected,
            "still enabled after {attempts} attempts"
        );
        receiver.wait_hits(attempts).await;
        let job = settled(&app, &admin, attempts).await;
        let now = get_endpoint(&app, &admin, &id).await;
        if job["status"] == "failed" {
            assert_eq!(now["enabled"], false, "{now}");
            break;
        }
        assert_eq!(job["status"], "pending", "{job}");
        assert_eq!(now["enabled"], true, "disabled after attempt {attempts}");
        assert!(now["failing_since"].is_string(), "{now}");
        assert!(now["disabled_reason"].is_null(), "{now}");
        assert_eq!(retry_delay(attempts as i32), delay(attempts));
        advance(&app, delay(attempts) + TimeDelta::seconds(1));
    }
    assert_eq!(
        attempts, expected,
        "disabled at the attempt the schedule says"
    );

    let disabled = get_endpoint(&app, &admin, &id).await;
    assert_eq!(disabled["enabled"], false);
    let reason = disabled["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("3 days"), "{reason}");
    let log = deliveries(&app, &admin, &id).await;
    assert_eq!(log.len(), expected);
    for (i, d) in log.iter().enumerate() {
        assert_eq!(d["attempt"], expected - i);
        assert_eq!(d["outcome"], "failed");
        assert_eq!(d["response_status"], 500);
    }
    // Disabled exactly when the failures had lasted the window: not an attempt before.
    let first = time(&log[expected - 1]["created_at"]);
    assert!(time(&log[0]["created_at"]) - first >= DISABLE_AFTER);
    assert!(time(&log[1]["created_at"]) - first < DISABLE_AFTER);
    assert_eq!(time(&disabled["failing_since"]), first);

    // The admins are told, once.
    let mails = app.smtp.wait_for(ADMIN_EMAIL, 1, WAIT).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.subject(), "A webhook endpoint was disabled");
    let text = mail.text();
    assert!(text.contains(&receiver.url()), "{text}");
    assert!(
        text.contains(&app.url(&format!("/admin/webhooks/{id}"))),
        "{text}"
    );

    // Nothing more is sent, however long one waits.
    advance(&app, TimeDelta::days(2));
    tokio::time::sleep(QUIET).await;
    assert_eq!(receiver.hits().len(), expected);
    assert_eq!(deliveries(&app, &admin, &id).await.len(), expected);
    assert_eq!(app.smtp.to(ADMIN_EMAIL).len(), 1, "one mail about it");

    // A disabled endpoint is not redelivered to.
    let last = log[0]["id"].as_str().unwrap().to_owned();
    let redeliver = format!("/api/v1/admin/webhooks/{id}/deliveries/{last}/redeliver");
    let (status, body) = send(&app, Method::POST, &redeliver, Some(&admin), None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["code"], "webhook_endpoint_disabled");

    // Enabled again: a fresh start.
    let (status, enabled) = send(
        &app,
        Method::PUT,
        &format!("/api/v1/admin/webhooks/{id}"),
        Some(&admin),
        Some(json!({"url": receiver.url(), "events": ["product.created"], "enabled": true})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{enabled}");
    assert_eq!(enabled["enabled"], true);
    assert!(enabled["failing_since"].is_null(), "{enabled}");
    assert!(enabled["disabled_reason"].is_null(), "{enabled}");

    // The last delivery again: a new attempt of the same event.
    receiver.otherwise(Reply::Status(204));
    let (status, _) = send(&app, Method::POST, &redeliver, Some(&admin), None).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let hits = receiver.wait_hits(expected + 1).await;
    let again = &hits[expected];
    assert_eq!(
        again.header("folio-event-id"),
        hits[0].header("folio-event-id")
    );
    assert_eq!(again.body, hits[0].body);
    assert_signed_by(again, &[&secret]);
    let log = eventually("the redelivery logged", || async {
        let log = deliveries(&app, &admin, &id).await;
        (log.len() == expected + 1).then_some(log)
    })
    .await;
    assert_eq!(log[0]["outcome"], "delivered");
    assert_eq!(log[0]["response_status"], 204);
    assert_eq!(log[0]["attempt"], 1);
    assert_eq!(log[0]["event_id"], log[1]["event_id"]);
    assert!(get_endpoint(&app, &admin, &id).await["failing_since"].is_null());
    let unknown = format!(
        "/api/v1/admin/webhooks/{id}/deliveries/{}/redeliver",
        uuid::Uuid::new_v4()
    );
    let (status, _) = send(&app, Method::POST, &unknown, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn a_rotated_secret_signs_beside_the_new_one_for_a_day(app: TestApp) {
    let admin = app.admin().await;
    let receiver = Receiver::start(Reply::Status(200));
    let (endpoint, old) =
        create_endpoint(&app, &admin, &receiver.url(), &["product.created"]).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    assert!(endpoint["previous_secret_expires_at"].is_null());
    app.product(&admin, "Before Rotation", "1", pdf("before"))
        .await;
    assert_signed_by(&receiver.wait_hits(1).await[0], &[&old]);

    // The endpoint has been in use a day and a half (on the server's clock) when it is rotated.
    advance(&app, TimeDelta::hours(36));
    let (status, rotated) = send(
        &app,
        Method::POST,
        &format!("/api/v1/admin/webhooks/{id}/rotate-secret"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    let new = rotated["secret"].as_str().unwrap().to_owned();
    remember_secret(&new);
    assert!(new.starts_with("whsec_") && new != old, "{new}");
    let until = time(&rotated["endpoint"]["previous_secret_expires_at"]);
    let expected = app.state.clock.now().and_utc() + ROTATION_OVERLAP;
    assert!(
        (until - expected).num_seconds().abs() < 60,
        "the old secret signs until {until}, a day from the server's now ({expected})"
    );

    // During the overlap: one v1 with each.
    app.product(&admin, "During Overlap", "1", pdf("during"))
        .await;
    assert_signed_by(&receiver.wait_hits(2).await[1], &[&new, &old]);
    advance(&app, ROTATION_OVERLAP - TimeDelta::minutes(5));
    app.product(&admin, "Late In Overlap", "1", pdf("late"))
        .await;
    assert_signed_by(&receiver.wait_hits(3).await[2], &[&new, &old]);

    // After it: the new one alone.
    advance(&app, TimeDelta::minutes(10));
    app.product(&admin, "After Overlap", "1", pdf("after"))
        .await;
    let hit = &receiver.wait_hits(4).await[3];
    assert_signed_by(hit, &[&new]);
    let (t, signatures) = signature_parts(hit.header("folio-signature"));
    assert!(!made_with(&old, t, &hit.body, &signatures[0]));

    let (status, _) = send(
        &app,
        Method::POST,
        &format!(
            "/api/v1/admin/webhooks/{}/rotate-secret",
            uuid::Uuid::new_v4()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn private_targets_are_refused_at_creation_and_at_delivery(app: TestApp) {
    let admin = app.admin().await;
    let receiver = Receiver::start(Reply::Status(200));
    let port = receiver.port;
    let create = |url: String| {
        let (app, admin) = (&app, &admin);
        async move {
            app.post_json(
                "/api/v1/admin/webhooks",
                Some(admin),
                &json!({"url": url, "events": ["product.created"]}),
            )
            .await
        }
    };
    for url in [
        format!("http://127.0.0.1:{port}/hooks/folio"),
        format!("http://[::1]:{port}/"),
        "http://10.0.0.1/".to_owned(),
        "http://169.254.169.254/latest".to_owned(),
        format!("http://localhost:{port}/"),
        format!("http://LocalHost:{port}/"),
        format!("http://hooks.localhost:{port}/"),
        format!("http://0.0.0.0:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        // 127.0.0.1 written as one number.
        format!("http://2130706433:{port}/"),
        "https://192.168.1.10/hook".to_owned(),
        "https://[fd00::1]/hook".to_owned(),
    ] {
        let res = create(url.clone()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let body = problem(res).await;
        assert_eq!(body["code"], "webhook_url_refused", "{url}: {body}");
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
    }
    for url in ["ftp://example.com/hook", "javascript:alert(1)"] {
        let res = create(url.to_owned()).await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{url}");
        let body = problem(res).await;
        assert_eq!(body["code"], "validation_failed", "{url}: {body}");
        assert_eq!(body["errors"][0]["field"], "url", "{url}: {body}");
    }
    let (_, list) = send(
        &app,
        Method::GET,
        "/api/v1/admin/webhooks",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(list["items"], json!([]), "nothing was registered");

    // An endpoint cannot be moved to a private address either.
    let (public, _) = create_endpoint(
        &app,
        &admin,
        "https://hooks.example.com/folio",
        &["order.refunded"],
    )
    .await;
    let public_id = public["id"].as_str().unwrap();
    let res = app
        .bare_client()
        .put(app.url(&format!("/api/v1/admin/webhooks/{public_id}")))
        .bearer_auth(&admin)
        .json(&json!({"url": receiver.url(), "events": ["product.created"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["code"], "webhook_url_refused");
    assert_eq!(
        get_endpoint(&app, &admin, public_id).await["url"],
        "https://hooks.example.com/folio"
    );
    let (status, _) = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/admin/webhooks/{public_id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // A name that passes the literal check but means loopback: refused when delivered.
    let sneaky = format!("http://localhost.:{port}/hooks/folio");
    let (endpoint, _) = create_endpoint(&app, &admin, &sneaky, &["product.created"]).await;
    let id = endpoint["id"].as_str().unwrap().to_owned();
    app.product(&admin, "Not For Loopback", "2", pdf("loopback"))
        .await;
    let log = eventually("the delivery logged", || async {
        let log = deliveries(&app, &admin, &id).await;
        (!log.is_empty()).then_some(log)
    })
    .await;
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0]["outcome"], "refused", "{}", log[0]);
    assert_eq!(log[0]["attempt"], 1);
    assert!(log[0]["response_status"].is_null());
    assert!(
        log[0]["response_excerpt"]
            .as_str()
            .unwrap()
            .contains("not sent"),
        "{}",
        log[0]
    );
    let job = settled(&app, &admin, 1).await;
    assert_eq!(job["status"], "failed", "refused for good: {job}");
    // Not retried, whatever the time.
    advance(&app, TimeDelta::hours(13));
    tokio::time::sleep(QUIET).await;
    assert_eq!(deliveries(&app, &admin, &id).await.len(), 1);
    assert_eq!(
        jobs_of(&app, &admin, "webhooks.deliver").await[0]["attempts"],
        1
    );
    assert!(receiver.hits().is_empty(), "{:?}", receiver.hits());
}

// ---------------------------------------------------------------------------------------------
// Reconciliation.

async fn reconcile(app: &TestApp, admin: &str, since: &str) -> Value {
    let (status, report) = send(
        app,
        Method::POST,
        "/api/v1/admin/reconcile",
        Some(admin),
        Some(json!({ "since": since })),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    report
}

/// Changes the order's recorded total behind the server's back.
async fn tamper_total(app: &TestApp, order: &str, by: i64) {
    let sql = format!("UPDATE orders SET total_cents = total_cents + {by} WHERE id = '{order}'");
    let changed = app
        .state
        .db
        .write(move |conn| {
            use diesel::RunQueryDsl;
            Ok(diesel::sql_query(sql).execute(conn)?)
        })
        .await
        .unwrap();
    assert_eq!(changed, 1);
}

fn payment_intent_of(app: &TestApp, started: &Value) -> String {
    app.emulator.session(session_of(started)).unwrap()["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// (kind, order, Stripe object's prefix, Folio's cents, Stripe's cents), sorted.
type Finding = (String, String, String, Option<i64>, Option<i64>);

fn findings(report: &Value) -> Vec<Finding> {
    let mut out: Vec<_> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["order_id"].as_str().unwrap_or("-").to_owned(),
                f["stripe_id"].as_str().unwrap()[..3].to_owned(),
                f["folio_cents"].as_i64(),
                f["stripe_cents"].as_i64(),
            )
        })
        .collect();
    out.sort();
    out
}

/// The report's one total (USD): charged and refunded, Stripe's then Folio's, and whether they
/// agree.
fn usd_total(report: &Value) -> (i64, i64, i64, i64, bool) {
    let totals = report["totals"].as_array().unwrap();
    assert_eq!(totals.len(), 1, "{report}");
    let t = &totals[0];
    assert_eq!(t["currency"], "usd");
    let cents = |k: &str| t[k]["amount_cents"].as_i64().unwrap();
    (
        cents("stripe_charged"),
        cents("folio_charged"),
        cents("stripe_refunded"),
        cents("folio_refunded"),
        t["agree"].as_bool().unwrap(),
    )
}

async fn reconciliation_repairs_what_lost_webhooks_left_undone(app: TestApp) {
    let admin = app.admin().await;
    let (a_cents, b_cents, c_cents) = (1000, 750, 425);
    for (title, price) in [
        ("Lost Payment", "10.00"),
        ("Quiet Refund", "7.50"),
        ("Tampered Total", "4.25"),
    ] {
        app.product(&admin, title, price, pdf(title)).await;
    }
    let buyer = app.customer("ledger@example.com").await.access_token;

    // A: paid at Stripe, every webhook of it lost (and no success page to confirm it).
    drop_webhooks(&app, true);
    let a = buy(&app, &buyer, "lost-payment").await;
    drop_webhooks(&app, false);
    assert!(app
        .emulator
        .deliveries()
        .iter()
        .any(|d| d.dropped && d.event_type == "checkout.session.completed"));
    // B: bought as usual, then refunded in full on Stripe's side, that webhook lost.
    let b = buy(&app, &buyer, "quiet-refund").await;
    assert_eq!(
        can_download(&app, &buyer, "quiet-refund").await,
        StatusCode::OK
    );
    drop_webhooks(&app, true);
    app.emulator
        .refund(&payment_intent_of(&app, &b), None)
        .unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    drop_webhooks(&app, false);
    // C: bought as usual; then Folio's ledger is tampered with.
    let c = buy(&app, &buyer, "tampered-total").await;
    assert_eq!(
        admin_order(&app, &admin, order_of(&c)).await["total"]["amount_cents"],
        c_cents
    );
    tamper_total(&app, order_of(&c), 1).await;

    assert_eq!(
        admin_order(&app, &admin, order_of(&a)).await["status"],
        "pending"
    );
    assert_eq!(
        admin_order(&app, &admin, order_of(&b)).await["status"],
        "paid"
    );
    assert_eq!(
        can_download(&app, &buyer, "lost-payment").await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        can_download(&app, &buyer, "quiet-refund").await,
        StatusCode::OK
    );

    let since = (app.state.clock.now().date() - Days::new(1))
        .format("%Y-%m-%d")
        .to_string();
    let report = reconcile(&app, &admin, &since).await;
    assert_eq!(report["since"], since.as_str());
    assert_eq!(report["sessions_checked"], 3, "{report}");
    assert_eq!(report["charges_checked"], 3, "{report}");
    assert_eq!(report["refunds_checked"], 1, "{report}");
    let (a_id, b_id, c_id) = (
        order_of(&a).to_owned(),
        order_of(&b).to_owned(),
        order_of(&c).to_owned(),
    );
    let mut expected = vec![
        (
            "fulfilled".to_owned(),
            a_id.clone(),
            "cs_".to_owned(),
            None,
            Some(a_cents),
        ),
        (
            "refund_applied".to_owned(),
            b_id.clone(),
            "ch_".to_owned(),
            Some(0),
            Some(b_cents),
        ),
        // The session's total and the charge both differ from the tampered order.
        (
            "amount_mismatch".to_owned(),
            c_id.clone(),
            "cs_".to_owned(),
            Some(c_cents + 1),
            Some(c_cents),
        ),
        (
            "amount_mismatch".to_owned(),
            c_id.clone(),
            "ch_".to_owned(),
            Some(c_cents + 1),
            Some(c_cents),
        ),
    ];
    expected.sort();
    assert_eq!(findings(&report), expected, "{report}");
    let fulfilled = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "fulfilled")
        .unwrap();
    assert_eq!(fulfilled["stripe_id"], session_of(&a));
    assert_eq!(report["agree"], false);
    let charged = a_cents + b_cents + c_cents;
    assert_eq!(
        usd_total(&report),
        (charged, charged + 1, b_cents, b_cents, false)
    );

    // A is paid and can be downloaded; B is refunded and cannot; the buyer hears of both.
    let order_a = admin_order(&app, &admin, &a_id).await;
    assert_eq!(order_a["status"], "paid");
    assert_eq!(order_a["total"]["amount_cents"], a_cents);
    assert_eq!(
        can_download(&app, &buyer, "lost-payment").await,
        StatusCode::OK
    );
    assert_eq!(admin_order(&app, &admin, &b_id).await["status"], "refunded");
    assert_eq!(
        can_download(&app, &buyer, "quiet-refund").await,
        StatusCode::FORBIDDEN
    );
    let subjects = |app: &TestApp| -> Vec<String> {
        app.smtp
            .to("ledger@example.com")
            .iter()
            .map(Received::subject)
            .collect()
    };
    eventually("the receipt of A and the refund notice of B", || async {
        let got = subjects(&app);
        (got.iter().any(|s| s == "Your receipt: Lost Payment")
            && got.iter().any(|s| s == "Refunded: Quiet Refund"))
        .then_some(())
    })
    .await;

    // Again: nothing left to repair, the tampered total still reported.
    let again = reconcile(&app, &admin, &since).await;
    assert_eq!(findings(&again), expected[..2].to_vec(), "{again}");
    assert!(findings(&again).iter().all(|f| f.0 == "amount_mismatch"));
    assert_eq!(again["agree"], false);
    assert_eq!(
        usd_total(&again),
        (charged, charged + 1, b_cents, b_cents, false)
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = subjects(&app);
    assert_eq!(
        got.iter()
            .filter(|s| *s == "Refunded: Quiet Refund")
            .count(),
        1,
        "{got:?}"
    );
    assert_eq!(
        got.iter()
            .filter(|s| *s == "Your receipt: Lost Payment")
            .count(),
        1,
        "{got:?}"
    );

    // `folio reconcile` sees the same.
    let (agree, text) = folio_api::reconcile_command(app.state.settings.as_ref().clone(), &since)
        .await
        .unwrap();
    assert!(!agree, "{text}");
    assert!(
        text.contains("amount_mismatch") && text.contains("DIFFER"),
        "{text}"
    );

    // The ledger put right: everything agrees.
    tamper_total(&app, &c_id, -1).await;
    let right = reconcile(&app, &admin, &since).await;
    assert_eq!(right["agree"], true, "{right}");
    assert_eq!(right["findings"], json!([]));
    assert_eq!(
        usd_total(&right),
        (charged, charged, b_cents, b_cents, true)
    );
    let (agree, text) = folio_api::reconcile_command(app.state.settings.as_ref().clone(), &since)
        .await
        .unwrap();
    assert!(agree, "{text}");
    assert!(text.contains("agrees with Stripe to the cent"), "{text}");
}

async fn reconciliation_refuses_periods_it_cannot_read(app: TestApp) {
    let admin = app.admin().await;
    let today = app.state.clock.now().date();
    let day = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    for since in [
        day(today + Days::new(1)),
        day(today - Days::new(401)),
        "yesterday".to_owned(),
        "2026-13-01".to_owned(),
        String::new(),
    ] {
        let res = app
            .post_json(
                "/api/v1/admin/reconcile",
                Some(&admin),
                &json!({ "since": since }),
            )
            .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{since:?}");
        let body = problem(res).await;
        assert_eq!(body["code"], "validation_failed", "{since:?}: {body}");
        assert_eq!(body["errors"][0]["field"], "since", "{since:?}: {body}");
    }
    let res = app
        .post_json(
            "/api/v1/admin/reconcile",
            Some(&admin),
            &json!({ "from": day(today) }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // The edges: today, and 400 days back.
    for since in [day(today), day(today - Days::new(400))] {
        let report = reconcile(&app, &admin, &since).await;
        assert_eq!(report["agree"], true, "{report}");
        assert_eq!(report["findings"], json!([]));
        assert_eq!(report["totals"], json!([]));
        assert_eq!(report["sessions_checked"], 0);
    }
    // The future is the server's: two days on, tomorrow is in the past.
    advance(&app, TimeDelta::days(2));
    reconcile(&app, &admin, &day(today + Days::new(1))).await;
    // Admins only.
    let customer = app.customer("nosy@example.com").await.access_token;
    let body = json!({ "since": day(today) });
    let res = app
        .post_json("/api/v1/admin/reconcile", Some(&customer), &body)
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = app.post_json("/api/v1/admin/reconcile", None, &body).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn the_scheduled_reconciliation_fulfils_an_order_whose_webhook_was_lost(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Night Shift", "6.00", pdf("night"))
        .await;
    let buyer = app.customer("sleeper@example.com").await.access_token;
    // The first run is queued at start-up, at the start of the next hour.
    let first = eventually("the first run queued", || async {
        jobs_of(&app, &admin, "payments.reconcile").await.pop()
    })
    .await;
    assert_eq!(first["status"], "pending");
    let run_at = time(&first["run_at"]);
    let now = app.state.clock.now().and_utc();
    assert!(
        run_at > now && run_at <= now + TimeDelta::hours(1),
        "{run_at}"
    );
    assert_eq!(run_at.timestamp() % 3600, 0, "{run_at}");

    drop_webhooks(&app, true);
    let started = buy(&app, &buyer, "night-shift").await;
    drop_webhooks(&app, false);
    tokio::time::sleep(QUIET).await;
    let order = order_of(&started).to_owned();
    assert_eq!(admin_order(&app, &admin, &order).await["status"], "pending");
    assert_eq!(
        can_download(&app, &buyer, "night-shift").await,
        StatusCode::FORBIDDEN
    );

    advance(&app, TimeDelta::minutes(61));
    eventually("the scheduled run to fulfil the order", || async {
        (admin_order(&app, &admin, &order).await["status"] == "paid").then_some(())
    })
    .await;
    assert_eq!(
        can_download(&app, &buyer, "night-shift").await,
        StatusCode::OK
    );
    app.smtp.wait_for("sleeper@example.com", 1, WAIT).await;
    assert_eq!(
        app.smtp.to("sleeper@example.com")[0].subject(),
        "Your receipt: Night Shift"
    );

    // The run is done and the next one queued, at a later hour.
    let runs = eventually("the next run queued", || async {
        let runs = jobs_of(&app, &admin, "payments.reconcile").await;
        runs.iter()
            .any(|j| j["id"] == first["id"] && j["status"] == "done")
            .then_some(runs)
    })
    .await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let next = runs.iter().find(|j| j["id"] != first["id"]).unwrap();
    assert_eq!(next["status"], "pending", "{next}");
    let next_at = time(&next["run_at"]);
    assert!(next_at > app.state.clock.now().and_utc(), "{next_at}");
    assert_eq!(next_at.timestamp() % 3600, 0, "{next_at}");
}

async fn a_stripe_outage_does_not_end_the_reconciliation_schedule(app: TestApp) {
    let admin = app.admin().await;
    let first = eventually("the first run queued", || async {
        jobs_of(&app, &admin, "payments.reconcile").await.pop()
    })
    .await;
    app.emulator.set_knobs(Knobs {
        api_outage: true,
        ..Default::default()
    });
    advance(&app, TimeDelta::minutes(61));
    // Stripe answers 500 to both attempts: the run is left failed…
    let failed = eventually("the run to fail for good", || async {
        jobs_of(&app, &admin, "payments.reconcile")
            .await
            .into_iter()
            .find(|j| j["id"] == first["id"] && j["status"] == "failed")
    })
    .await;
    assert_eq!(failed["attempts"], 2);
    assert!(failed["last_error"].is_string(), "{failed}");
    // …and the next one is queued all the same.
    let runs = jobs_of(&app, &admin, "payments.reconcile").await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    let next = runs
        .iter()
        .find(|j| j["id"] != first["id"])
        .unwrap()
        .clone();
    assert_eq!(next["status"], "pending", "{next}");
    assert!(time(&next["run_at"]) > app.state.clock.now().and_utc());
    // Stripe is back by then: that run goes through.
    app.emulator.set_knobs(Knobs::default());
    advance(&app, TimeDelta::hours(1));
    eventually("the next run done", || async {
        jobs_of(&app, &admin, "payments.reconcile")
            .await
            .into_iter()
            .find(|j| j["id"] == next["id"] && j["status"] == "done")
    })
    .await;
}

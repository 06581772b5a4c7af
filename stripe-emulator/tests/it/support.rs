//! Test harness: an emulator on port 0, a webhook receiver on port 0, and an HTTP client that
//! does not follow redirects.

use std::collections::VecDeque;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::Value;
use stripe_emulator::{Config, Emulator, Knobs};

pub const SECRET: &str = "whsec_test_secret";
pub const KEY: &str = "sk_test_emulator";

/// Starts an emulator on an ephemeral port, on the current (actix) runtime.
pub fn emulator(webhook_url: Option<&str>) -> Emulator {
    let emulator = Emulator::new(Config {
        webhook_url: webhook_url.map(str::to_string),
        webhook_secret: SECRET.to_string(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let server = emulator.server(listener).expect("server");
    actix_web::rt::spawn(server);
    emulator
}

/// An emulator already pointed at a fresh receiver, with fast retries.
pub fn pair() -> (Emulator, Receiver) {
    let hooks = Receiver::start();
    let em = emulator(Some(&hooks.url));
    em.set_knobs(Knobs {
        retry_base_ms: 10,
        async_delay_ms: 50,
        ..Knobs::default()
    });
    (em, hooks)
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

/// The form async-stripe would send for a one-item session, with literal brackets.
pub fn session_form() -> String {
    [
        "mode=payment",
        "line_items[0][price_data][currency]=usd",
        "line_items[0][price_data][unit_amount]=1999",
        "line_items[0][price_data][product_data][name]=Rust+for+Shopkeepers",
        "line_items[0][price_data][product_data][description]=A+short+guide",
        "line_items[0][price_data][product_data][images][0]=https%3A%2F%2Fshop.test%2Fcover.png",
        "line_items[0][quantity]=1",
        "success_url=http%3A%2F%2Fshop.test%2Fok%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D",
        "cancel_url=http%3A%2F%2Fshop.test%2Fcancel",
        "client_reference_id=order-42",
        "customer_email=ada%40example.com",
        "metadata[order_id]=42",
        "payment_intent_data[metadata][order_id]=42",
    ]
    .join("&")
}

/// What Folio sends with its tax setting on: a one-item EUR session with automatic tax, tax ID
/// and billing address collection, and, when `invoice` is set, an invoice with metadata.
pub fn taxed_form(tax_behavior: &str, unit_amount: i64, invoice: bool) -> String {
    let mut parts = vec![
        "mode=payment".to_string(),
        "line_items[0][price_data][currency]=eur".to_string(),
        format!("line_items[0][price_data][unit_amount]={unit_amount}"),
        "line_items[0][price_data][product_data][name]=Rust+for+Shopkeepers".to_string(),
        format!("line_items[0][price_data][tax_behavior]={tax_behavior}"),
        "line_items[0][quantity]=1".to_string(),
        "success_url=http%3A%2F%2Fshop.test%2Fok%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D".to_string(),
        "cancel_url=http%3A%2F%2Fshop.test%2Fcancel".to_string(),
        "customer_email=ada%40example.com".to_string(),
        "metadata[order_id]=42".to_string(),
        "automatic_tax[enabled]=true".to_string(),
        "tax_id_collection[enabled]=true".to_string(),
        "billing_address_collection=required".to_string(),
    ];
    if invoice {
        parts.extend([
            "invoice_creation[enabled]=true".to_string(),
            "invoice_creation[invoice_data][metadata][order_id]=42".to_string(),
            "invoice_creation[invoice_data][description]=Order+42".to_string(),
        ]);
    }
    parts.join("&")
}

/// Creates a session from a form over HTTP and returns it.
pub async fn create_session_with(em: &Emulator, form: &str) -> Value {
    let (status, json, _) = post_form(
        &http(),
        &format!("{}/v1/checkout/sessions", em.base_url()),
        form,
    )
    .await;
    assert_eq!(status, 200, "{json}");
    json
}

pub async fn post_form(
    client: &reqwest::Client,
    url: &str,
    body: &str,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = client
        .post(url)
        .bearer_auth(KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let json = response.json().await.unwrap_or(Value::Null);
    (status, json, headers)
}

pub async fn get_json(client: &reqwest::Client, url: &str) -> (u16, Value) {
    let response = client
        .get(url)
        .bearer_auth(KEY)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Creates the default session over HTTP and returns it.
pub async fn create_session(em: &Emulator) -> Value {
    let (status, json, _) = post_form(
        &http(),
        &format!("{}/v1/checkout/sessions", em.base_url()),
        &session_form(),
    )
    .await;
    assert_eq!(status, 200, "{json}");
    json
}

/// Creates a session and pays it through the Rust API; returns (session id, payment intent).
pub async fn paid_session(em: &Emulator) -> (String, String) {
    let id = create_session(em).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    em.pay(&id).expect("pay");
    let pi = em.session(&id).expect("session")["payment_intent"]
        .as_str()
        .expect("payment_intent")
        .to_string();
    (id, pi)
}

/// One webhook request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub body: String,
    pub signature: String,
    pub content_type: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("webhook body is JSON")
    }
}

#[derive(Default)]
struct ReceiverState {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer with, in order, before answering 200.
    script: Mutex<VecDeque<u16>>,
    /// Always answer with this status (0: not set).
    always: AtomicUsize,
    delay_ms: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

/// A tiny webhook endpoint that records what it gets.
pub struct Receiver {
    pub url: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub fn start() -> Self {
        let state = Arc::new(ReceiverState::default());
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!(
            "http://{}/webhooks/stripe",
            listener.local_addr().expect("addr")
        );
        let data = web::Data::from(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/webhooks/stripe", web::post().to(receive))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        actix_web::rt::spawn(server);
        Self { url, state }
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.received.lock().expect("lock").clone()
    }

    pub fn events(&self) -> Vec<Value> {
        self.received().iter().map(Received::json).collect()
    }

    /// Answer the next requests with these statuses (then 200 again).
    pub fn answer_next(&self, statuses: &[u16]) {
        self.state.script.lock().expect("lock").extend(statuses);
    }

    pub fn always_answer(&self, status: u16) {
        self.state.always.store(status as usize, Ordering::SeqCst);
    }

    /// Hold each request this long before answering.
    pub fn set_delay(&self, ms: usize) {
        self.state.delay_ms.store(ms, Ordering::SeqCst);
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

async fn receive(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<ReceiverState>,
) -> HttpResponse {
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    state.received.lock().expect("lock").push(Received {
        body: String::from_utf8_lossy(&body).to_string(),
        signature: header("stripe-signature"),
        content_type: header("content-type"),
    });
    let delay = state.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay as u64)).await;
    }
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    let status = match state.always.load(Ordering::SeqCst) {
        0 => state
            .script
            .lock()
            .expect("lock")
            .pop_front()
            .unwrap_or(200),
        s => s as u16,
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status")).finish()
}

/// Waits for the emulator to go idle, failing the test if it does not within 8 s.
pub async fn settle(em: &Emulator) {
    assert!(
        em.wait_idle(Duration::from_secs(8)).await,
        "deliveries still pending"
    );
}

/// What Folio sends for a monthly membership (async-stripe's encoding): €9.00 a month, with the
/// member's ids in the session's and the subscription's metadata.
pub fn subscription_form() -> String {
    [
        "mode=subscription",
        "line_items[0][price_data][currency]=eur",
        "line_items[0][price_data][unit_amount]=900",
        "line_items[0][price_data][recurring][interval]=month",
        "line_items[0][price_data][product_data][name]=Folio+Membership",
        "line_items[0][price_data][product_data][description]=Every+book%2C+every+month",
        "line_items[0][quantity]=1",
        "success_url=http%3A%2F%2Fshop.test%2Fmember%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D",
        "cancel_url=http%3A%2F%2Fshop.test%2Fjoin",
        "client_reference_id=user-7",
        "customer_email=ada%40example.com",
        "metadata[user_id]=7",
        "subscription_data[metadata][user_id]=7",
        "subscription_data[metadata][plan_id]=gold",
    ]
    .join("&")
}

/// Creates the membership session over HTTP and pays it through the Rust API; returns (session
/// id, subscription id).
pub async fn subscribe(em: &Emulator) -> (String, String) {
    subscribe_with(em, &subscription_form()).await
}

pub async fn subscribe_with(em: &Emulator, form: &str) -> (String, String) {
    let id = create_session_with(em, form).await["id"]
        .as_str()
        .expect("id")
        .to_string();
    em.pay(&id).expect("pay");
    let sub = em.session(&id).expect("session")["subscription"]
        .as_str()
        .expect("subscription")
        .to_string();
    (id, sub)
}

pub async fn delete(client: &reqwest::Client, url: &str, body: &str) -> (u16, Value) {
    let response = client
        .delete(url)
        .bearer_auth(KEY)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The types of the events raised from the `from`-th on, in order.
pub fn event_types_since(em: &Emulator, from: usize) -> Vec<String> {
    em.events()[from..]
        .iter()
        .map(|e| e["type"].as_str().expect("type").to_string())
        .collect()
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// `t` plus `months` calendar months, as Stripe bills monthly periods.
pub fn plus_months(t: i64, months: u32) -> i64 {
    chrono::DateTime::from_timestamp(t, 0)
        .and_then(|d| d.checked_add_months(chrono::Months::new(months)))
        .expect("date")
        .timestamp()
}

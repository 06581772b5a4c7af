//! `/_emulator/...`: the Rust API's test controls over HTTP, for manual testing and for tests
//! that run the emulator as a separate process. No API key is needed.
//!
//! - `GET|POST /_emulator/knobs` (POST takes a JSON object; fields not given keep their value):
//!   the fields of [`crate::Knobs`], `{"duplicates": 0, "concurrent": false, "delay_ms": 0,
//!   "fail_first": 0, "hold": false, "api_outage": false, "async_payments": false,
//!   "retry_base_ms": 0, "async_delay_ms": 0, "drop_webhooks": false}`; e.g.
//!   `{"drop_webhooks": true}` records every new event but never sends it (the deliveries log
//!   shows it with `"dropped": true`), and `{"drop_webhooks": false}` sends new events again
//!   without resending those
//! - `POST /_emulator/release?reverse=true`
//! - `POST /_emulator/disputes` (`payment_intent`, form or JSON) → the dispute
//! - `POST /_emulator/disputes/{id}/close` (`status=won|lost`) → the dispute
//! - `POST /_emulator/webhook_url` (`url`)
//! - `GET /_emulator/deliveries[?since=N]` (attempts from the N-th on), `GET /_emulator/events`
//! - `GET|POST /_emulator/tax_rates` (JSON `{"DE": 1900, ...}`, basis points; POST replaces the
//!   whole table)
//! - `GET|POST /_emulator/default_country` (`country`, form or JSON) → `{"country": "DE"}`
//! - `POST /_emulator/subscriptions/{id}/advance` (`action`, optional `at` and `then`, form or
//!   JSON) → the subscription. The emulator has no clock of its own: `at` (Unix seconds, now if
//!   left out, never in the future) is when it happened. `action` is one of
//!   - `renew`: the current period ends at `at`; the next runs from `at` for one interval, and
//!     its invoice (`billing_reason` `subscription_cycle`, `created` = `at`) is paid:
//!     `invoice.created`, `invoice.finalized`, `invoice.paid`, `invoice.payment_succeeded`,
//!     `customer.subscription.updated`. With `cancel_at_period_end` the subscription ends
//!     instead (`ended_at` = `at`): `customer.subscription.deleted`;
//!   - `fail`: as `renew`, but the card is declined: the invoice stays open with
//!     `attempt_count` 1 and a `next_payment_attempt`, and the subscription turns `past_due`:
//!     `invoice.created`, `invoice.finalized`, `invoice.payment_failed`,
//!     `customer.subscription.updated`. On a `past_due` subscription, another failed attempt on
//!     the same invoice: `invoice.payment_failed` (no new period);
//!   - `recover`: the open invoice is paid: `invoice.paid`, `invoice.payment_succeeded`,
//!     `customer.subscription.updated` (`active`);
//!   - `give_up`: the retries of a `past_due` subscription's invoice run out (the invoice stays
//!     open): `then=canceled` (default) cancels it, `customer.subscription.deleted`;
//!     `then=unpaid` marks it `unpaid`, `customer.subscription.updated`;
//!   - `cancel_at_period_end`, `resume`: as the portal's buttons,
//!     `customer.subscription.updated`;
//!   - `cancel`: canceled now, as `DELETE /v1/subscriptions/{id}`:
//!     `customer.subscription.deleted`.
//!
//!   An unknown subscription is a 404, an action that does not apply in its state (renewing a
//!   canceled subscription, recovering an active one) a 400, both Stripe-shaped.

use std::collections::{BTreeMap, HashMap};

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::params::Params;
use crate::{Advance, Emulator, Knobs};

type Result<T, E = ApiError> = std::result::Result<T, E>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/knobs", web::get().to(get_knobs))
        .route("/knobs", web::post().to(set_knobs))
        .route("/release", web::post().to(release))
        .route("/disputes", web::post().to(create_dispute))
        .route("/disputes/{id}/close", web::post().to(close_dispute))
        .route("/webhook_url", web::post().to(set_webhook_url))
        .route("/deliveries", web::get().to(deliveries))
        .route("/events", web::get().to(events))
        .route("/tax_rates", web::get().to(get_tax_rates))
        .route("/tax_rates", web::post().to(set_tax_rates))
        .route("/default_country", web::get().to(get_default_country))
        .route("/default_country", web::post().to(set_default_country))
        .route(
            "/subscriptions/{id}/advance",
            web::post().to(advance_subscription),
        );
}

async fn advance_subscription(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let fields = fields(&req, &body)?;
    let action = field(&fields, "action").ok_or_else(|| ApiError::missing("action"))?;
    let then = field(&fields, "then");
    let advance = Advance::parse(action, then).ok_or_else(|| match then {
        Some(_) if action == "give_up" => ApiError::invalid(
            None,
            Some("then"),
            "Invalid then: must be one of canceled, unpaid",
        ),
        Some(_) => ApiError::invalid(
            None,
            Some("then"),
            "`then` is only used with `action=give_up`.",
        ),
        None => ApiError::invalid(
            None,
            Some("action"),
            "Invalid action: must be one of renew, fail, recover, give_up, cancel_at_period_end, resume, cancel",
        ),
    })?;
    let at = match fields.get("at") {
        None => None,
        Some(Value::Number(n)) => Some(n.as_i64().ok_or_else(|| ApiError::invalid_integer("at"))?),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) => Some(s.parse().map_err(|_| ApiError::invalid_integer("at"))?),
        Some(_) => return Err(ApiError::invalid_integer("at")),
    };
    let json = em.advance_subscription(&path, advance, at)?;
    Ok(HttpResponse::Ok().json(json))
}

/// Sorted, so that the answer reads the same every time.
fn tax_rates(em: &Emulator) -> HttpResponse {
    let rates: BTreeMap<String, u32> = em.tax_rates().into_iter().collect();
    HttpResponse::Ok().json(rates)
}

async fn get_tax_rates(em: web::Data<Emulator>) -> HttpResponse {
    tax_rates(&em)
}

/// Replaces the table (a country left out is taxed at 0 from then on).
async fn set_tax_rates(body: web::Bytes, em: web::Data<Emulator>) -> Result<HttpResponse> {
    let table: Map<String, Value> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(
            None,
            None,
            format!(
                "Expected a JSON object of basis points per country, e.g. {{\"DE\": 1900}}: {e}"
            ),
        )
    })?;
    let mut rates = HashMap::new();
    for (country, rate) in table {
        let rate = rate
            .as_u64()
            .and_then(|r| u32::try_from(r).ok())
            .ok_or_else(|| ApiError::invalid_integer(&country))?;
        rates.insert(country, rate);
    }
    em.set_tax_rates(rates)?;
    Ok(tax_rates(&em))
}

async fn get_default_country(em: web::Data<Emulator>) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "country": em.default_country() }))
}

async fn set_default_country(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let fields = fields(&req, &body)?;
    let country = field(&fields, "country").ok_or_else(|| ApiError::missing("country"))?;
    em.set_default_country(country)?;
    Ok(HttpResponse::Ok().json(json!({ "country": em.default_country() })))
}

async fn get_knobs(em: web::Data<Emulator>) -> HttpResponse {
    HttpResponse::Ok().json(em.knobs())
}

/// Merges the given fields into the current knobs, so `{"hold": true}` changes only `hold`.
async fn set_knobs(body: web::Bytes, em: web::Data<Emulator>) -> Result<HttpResponse> {
    let patch: Map<String, Value> = serde_json::from_slice(&body).map_err(|e| {
        ApiError::invalid(None, None, format!("Expected a JSON object of knobs: {e}"))
    })?;
    let mut current = match serde_json::to_value(em.knobs()) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    for (key, value) in patch {
        if !current.contains_key(&key) {
            return Err(ApiError::unknown(&key));
        }
        current.insert(key, value);
    }
    let knobs: Knobs = serde_json::from_value(Value::Object(current))
        .map_err(|e| ApiError::invalid(None, None, format!("Invalid knobs: {e}")))?;
    em.set_knobs(knobs.clone());
    Ok(HttpResponse::Ok().json(knobs))
}

async fn release(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let fields = fields(&req, &body)?;
    let reverse = matches!(field(&fields, "reverse"), Some("true" | "1"));
    em.release(reverse);
    Ok(HttpResponse::NoContent().finish())
}

async fn create_dispute(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let fields = fields(&req, &body)?;
    let intent =
        field(&fields, "payment_intent").ok_or_else(|| ApiError::missing("payment_intent"))?;
    let id = em.create_dispute(intent)?;
    dispute(&em, &id)
}

async fn close_dispute(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let fields = fields(&req, &body)?;
    let won = match field(&fields, "status") {
        Some("won") => true,
        Some("lost") => false,
        Some(_) => {
            return Err(ApiError::invalid(
                None,
                Some("status"),
                "Invalid status: must be one of won, lost",
            ))
        }
        None => return Err(ApiError::missing("status")),
    };
    em.close_dispute(&path, won)?;
    dispute(&em, &path)
}

fn dispute(em: &Emulator, id: &str) -> Result<HttpResponse> {
    let json = em.with_store(|store, _| Ok((store.dispute_json(id)?, Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

async fn set_webhook_url(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let fields = fields(&req, &body)?;
    let url = field(&fields, "url").ok_or_else(|| ApiError::missing("url"))?;
    em.set_webhook_url(url);
    Ok(HttpResponse::Ok().json(json!({ "webhook_url": url })))
}

#[derive(serde::Deserialize)]
struct Since {
    since: Option<usize>,
}

async fn deliveries(em: web::Data<Emulator>, query: web::Query<Since>) -> HttpResponse {
    HttpResponse::Ok().json(em.deliveries_since(query.since.unwrap_or(0)))
}

async fn events(em: web::Data<Emulator>) -> HttpResponse {
    HttpResponse::Ok().json(em.events())
}

/// Query string and body fields together; the body may be a form or a JSON object.
fn fields(req: &HttpRequest, body: &[u8]) -> Result<Map<String, Value>> {
    let mut out = Map::new();
    let mut sources = vec![req.query_string().to_string()];
    let is_json = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("json"));
    if is_json {
        let object: Map<String, Value> = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid(None, None, format!("Expected a JSON object: {e}")))?;
        out.extend(object);
    } else {
        let text = std::str::from_utf8(body)
            .map_err(|_| ApiError::invalid(None, None, "The request body is not valid UTF-8."))?;
        sources.push(text.to_string());
    }
    for source in sources {
        let mut params = Params::parse(&source)?;
        for key in params.keys() {
            if let Some(value) = params.string(&key)? {
                out.entry(key).or_insert(Value::String(value));
            }
        }
    }
    Ok(out)
}

/// A field as text; JSON booleans and numbers count too (`{"reverse": true}`).
fn field<'a>(fields: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    match fields.get(key)? {
        Value::String(s) => Some(s.as_str()),
        Value::Bool(true) => Some("true"),
        Value::Bool(false) => Some("false"),
        _ => None,
    }
}

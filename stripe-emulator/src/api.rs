//! The `/v1` handlers: parameter checking as strict as Stripe's, idempotency keys, and JSON
//! objects from `objects.rs`. Authentication and the outage knob are handled in front of them
//! (`routes::gate`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::billing_api;
use crate::checkout::new_session;
use crate::error::ApiError;
use crate::lists::{self, paginate, Page};
use crate::lock;
use crate::objects::{line_items_json, session_json, Cause, SessionStatus};
use crate::params::Params;
use crate::routes::RequestId;
use crate::store::{RefundRequest, Replay};
use crate::Emulator;

type Result<T, E = ApiError> = std::result::Result<T, E>;

/// A path whose other methods are Stripe's "Unrecognized request URL".
pub(crate) fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(unrecognized))
}

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/checkout/sessions")
            .route(web::post().to(create_session))
            .route(web::get().to(list_sessions)),
    )
    .service(resource("/checkout/sessions/{id}").route(web::get().to(retrieve_session)))
    .service(resource("/checkout/sessions/{id}/line_items").route(web::get().to(list_line_items)))
    .service(resource("/checkout/sessions/{id}/expire").route(web::post().to(expire_session)))
    .service(
        resource("/refunds")
            .route(web::post().to(create_refund))
            .route(web::get().to(list_refunds)),
    )
    .service(resource("/refunds/{id}").route(web::get().to(retrieve_refund)))
    .service(resource("/charges").route(web::get().to(list_charges)))
    .service(resource("/charges/{id}").route(web::get().to(retrieve_charge)))
    .service(resource("/disputes/{id}").route(web::get().to(retrieve_dispute)))
    .configure(billing_api::configure);
}

/// Stripe's answer to a path or method it does not serve.
pub(crate) async fn unrecognized(req: HttpRequest) -> Result<HttpResponse> {
    Err(ApiError::not_found_path(req.method().as_str(), req.path()))
}

async fn create_session(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    idempotent(&req, &body, &em, |_cause| {
        let mut params = Params::parse(body_text(&body)?)?;
        let now = chrono::Utc::now().timestamp();
        let (session, expand) = new_session(&mut params, &em.base_url(), now)?;
        Ok(lock(&em.inner().store).add_session(session, expand)?)
    })
}

/// `expand[]`: only `line_items` can be expanded in the emulator.
pub(crate) fn expand_line_items(params: &mut Params) -> Result<bool> {
    let mut expand = false;
    for (i, field) in params
        .string_list("expand")?
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        if field == "line_items" {
            expand = true;
        } else {
            return Err(cannot_expand(&format!("expand[{i}]"), field));
        }
    }
    Ok(expand)
}

/// For objects without expandable fields the emulator serves.
pub(crate) fn expand_nothing(params: &mut Params) -> Result<()> {
    match params.string_list("expand")?.unwrap_or_default().first() {
        Some(field) => Err(cannot_expand("expand[0]", field)),
        None => Ok(()),
    }
}

pub(crate) fn cannot_expand(param: &str, field: &str) -> ApiError {
    ApiError::invalid(
        None,
        Some(param),
        format!("This property cannot be expanded ({field})."),
    )
}

async fn retrieve_session(
    req: HttpRequest,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    // `line_items`, and the objects a completed session names.
    let fields = params.string_list("expand")?.unwrap_or_default();
    for (i, field) in fields.iter().enumerate() {
        if !["line_items", "customer", "invoice", "subscription"].contains(&field.as_str()) {
            return Err(cannot_expand(&format!("expand[{i}]"), field));
        }
    }
    params.finish()?;
    let expanded = |name: &str| fields.iter().any(|f| f == name);
    let json = em.with_store(|store, _| {
        let mut json = session_json(store.session(&path)?, expanded("line_items"));
        for field in ["customer", "invoice", "subscription"] {
            let Some(id) = json[field]
                .as_str()
                .filter(|_| expanded(field))
                .map(str::to_string)
            else {
                continue;
            };
            json[field] = match field {
                "customer" => store.customer_json(&id)?,
                "invoice" => store.invoice_json(&id)?,
                _ => store.subscription_json(&id)?,
            };
        }
        Ok((json, Vec::new()))
    })?;
    Ok(HttpResponse::Ok().json(json))
}

async fn list_line_items(
    req: HttpRequest,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    // Sessions have at most 100 items, so every page is the whole list.
    params.integer("limit")?;
    params.string("starting_after")?;
    params.string("ending_before")?;
    expand_nothing(&mut params)?;
    params.finish()?;
    let json =
        em.with_store(|store, _| Ok((line_items_json(store.session(&path)?), Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

async fn expire_session(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    idempotent(&req, &body, &em, |cause| {
        let mut params = Params::parse(body_text(&body)?)?;
        let expand = expand_line_items(&mut params)?;
        params.finish()?;
        let mut json = em.with_store(|store, _| store.expire(&path, cause))?;
        if expand {
            json = em.with_store(|store, _| {
                Ok((session_json(store.session(&path)?, true), Vec::new()))
            })?;
        }
        Ok(json)
    })
}

async fn create_refund(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    idempotent(&req, &body, &em, |cause| {
        let mut params = Params::parse(body_text(&body)?)?;
        let request = RefundRequest {
            payment_intent: params.string("payment_intent")?.filter(|s| !s.is_empty()),
            charge: params.string("charge")?.filter(|s| !s.is_empty()),
            amount: params.integer("amount")?,
            metadata: params.metadata("metadata")?.unwrap_or_default(),
            reason: params.one_of(
                "reason",
                &["duplicate", "fraudulent", "requested_by_customer"],
            )?,
        };
        expand_nothing(&mut params)?;
        params.finish()?;
        Ok(em.with_store(|store, now| store.refund(request, cause, now))?)
    })
}

async fn retrieve_refund(
    req: HttpRequest,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    no_query_params(&req)?;
    let json = em.with_store(|store, _| Ok((store.refund_json(&path)?, Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

async fn retrieve_charge(
    req: HttpRequest,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    no_query_params(&req)?;
    let json = em.with_store(|store, _| Ok((store.charge_json(&path)?, Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

async fn retrieve_dispute(
    req: HttpRequest,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    no_query_params(&req)?;
    let json = em.with_store(|store, _| Ok((store.dispute_json(&path)?, Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

/// A filter's value; empty counts as not given.
fn filter(params: &mut Params, key: &str) -> Result<Option<String>> {
    Ok(params.string(key)?.filter(|s| !s.is_empty()))
}

/// `expand[]` of a list: each must be one of `allowed` (`data.` paths). Returns whether any was
/// given.
fn list_expansions(params: &mut Params, allowed: &[&str]) -> Result<bool> {
    let fields = params.string_list("expand")?.unwrap_or_default();
    for (i, field) in fields.iter().enumerate() {
        if !allowed.contains(&field.as_str()) {
            return Err(cannot_expand(&format!("expand[{i}]"), field));
        }
    }
    Ok(!fields.is_empty())
}

/// The page as JSON; `url` is the list's path.
fn list_response(data: Vec<Value>, has_more: bool, url: &str) -> HttpResponse {
    HttpResponse::Ok().json(lists::list_json(data, has_more, url))
}

/// `GET /v1/checkout/sessions`: newest first; `created`, `payment_intent`, `status`,
/// `customer`, `subscription`, `customer_details[email]` (completed sessions paid with that
/// email), `payment_link` and `customer_account` (the emulator has none, so these match
/// nothing), `expand[]=data.line_items`.
async fn list_sessions(req: HttpRequest, em: web::Data<Emulator>) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    let created = lists::created(&mut params, "created")?;
    let payment_intent = filter(&mut params, "payment_intent")?;
    let status = params.one_of("status", &["complete", "expired", "open"])?;
    let customer = filter(&mut params, "customer")?;
    let subscription = filter(&mut params, "subscription")?;
    let unmatched = filter(&mut params, "payment_link")?.is_some()
        | filter(&mut params, "customer_account")?.is_some();
    let email = match params.object("customer_details")? {
        Some(mut details) => {
            let email = details.required_string("email")?;
            details.finish()?;
            Some(email)
        }
        None => None,
    };
    let page: Page = lists::page(&mut params)?;
    let line_items = list_expansions(&mut params, &["data.line_items"])?;
    params.finish()?;
    let (data, has_more) = em.with_store(|store, _| {
        let slice = paginate(
            store.sessions.values().collect(),
            |s| (s.created, s.order),
            |s| s.id.as_str(),
            |s| {
                !unmatched
                    && created.admits(s.created)
                    && payment_intent
                        .as_ref()
                        .is_none_or(|pi| s.payment_intent.as_ref() == Some(pi))
                    && status.as_deref().is_none_or(|st| s.status.as_str() == st)
                    && customer
                        .as_ref()
                        .is_none_or(|c| s.customer.as_ref() == Some(c))
                    && subscription
                        .as_ref()
                        .is_none_or(|sub| s.subscription.as_ref() == Some(sub))
                    && email
                        .as_ref()
                        .is_none_or(|e| s.status == SessionStatus::Complete && s.email() == *e)
            },
            &page,
            "checkout.session",
        );
        let page = slice.map(|slice| {
            let data = slice
                .data
                .into_iter()
                .map(|s| session_json(s, line_items))
                .collect::<Vec<_>>();
            (data, slice.has_more)
        });
        Ok((page, Vec::new()))
    })??;
    Ok(list_response(data, has_more, "/v1/checkout/sessions"))
}

/// `GET /v1/charges`: newest first; `created`, `payment_intent`, `customer`, `transfer_group`
/// (no charge has one); `expand[]=data.refunds` is accepted (refunds are always included).
async fn list_charges(req: HttpRequest, em: web::Data<Emulator>) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    let created = lists::created(&mut params, "created")?;
    let payment_intent = filter(&mut params, "payment_intent")?;
    let customer = filter(&mut params, "customer")?;
    let unmatched = filter(&mut params, "transfer_group")?.is_some();
    let page = lists::page(&mut params)?;
    list_expansions(&mut params, &["data.refunds"])?;
    params.finish()?;
    let (data, has_more) = em.with_store(|store, _| {
        let page = paginate(
            store.charges.values().collect(),
            |c| (c.created, c.order),
            |c| c.id.as_str(),
            |c| {
                !unmatched
                    && created.admits(c.created)
                    && payment_intent
                        .as_ref()
                        .is_none_or(|pi| c.payment_intent == *pi)
                    && customer
                        .as_ref()
                        .is_none_or(|cu| c.customer.as_ref() == Some(cu))
            },
            &page,
            "charge",
        )
        .and_then(|slice| {
            let data = slice
                .data
                .into_iter()
                .map(|c| store.charge_json(&c.id).map_err(ApiError::from))
                .collect::<Result<Vec<_>>>()?;
            Ok((data, slice.has_more))
        });
        Ok((page, Vec::new()))
    })??;
    Ok(list_response(data, has_more, "/v1/charges"))
}

/// `GET /v1/refunds`: newest first; `created`, `payment_intent`, `charge`.
async fn list_refunds(req: HttpRequest, em: web::Data<Emulator>) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    let created = lists::created(&mut params, "created")?;
    let payment_intent = filter(&mut params, "payment_intent")?;
    let charge = filter(&mut params, "charge")?;
    let page = lists::page(&mut params)?;
    expand_nothing(&mut params)?;
    params.finish()?;
    let (data, has_more) = em.with_store(|store, _| {
        let page = paginate(
            store.refunds.values().collect(),
            |r| (r.created, r.order),
            |r| r.id.as_str(),
            |r| {
                created.admits(r.created)
                    && payment_intent
                        .as_ref()
                        .is_none_or(|pi| r.payment_intent == *pi)
                    && charge.as_ref().is_none_or(|ch| r.charge == *ch)
            },
            &page,
            "refund",
        )
        .map(|slice| {
            let data = slice
                .data
                .into_iter()
                .map(crate::objects::refund_json)
                .collect::<Vec<_>>();
            (data, slice.has_more)
        });
        Ok((page, Vec::new()))
    })??;
    Ok(list_response(data, has_more, "/v1/refunds"))
}

pub(crate) fn no_query_params(req: &HttpRequest) -> Result<()> {
    let mut params = Params::parse(req.query_string())?;
    expand_nothing(&mut params)?;
    params.finish()
}

pub(crate) fn body_text(body: &[u8]) -> Result<&str> {
    std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid(None, None, "The request body is not valid UTF-8."))
}

/// The request behind the events a call raises.
pub(crate) fn cause_of(req: &HttpRequest, idempotency_key: Option<String>) -> Cause {
    Cause {
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        idempotency_key,
    }
}

/// Runs a POST at most once per `Idempotency-Key`: the same key with the same request replays
/// the stored answer (with `Idempotent-Replayed: true`), the same key with a different request
/// is an `idempotency_error`, and a key whose first request is still running is a 409. Only
/// successful answers are stored, so a request that failed validation can be fixed and retried
/// with its key.
/// `value` as JSON with every object's keys sorted.
fn canonical(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}:{}", Value::String(k.clone()), canonical(&map[k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", items.join(","))
        }
        other => other.to_string(),
    }
}

pub(crate) fn idempotent(
    req: &HttpRequest,
    body: &[u8],
    em: &Emulator,
    op: impl FnOnce(&Cause) -> Result<Value>,
) -> Result<HttpResponse> {
    let key = req
        .headers()
        .get("idempotency-key")
        .map(|v| v.to_str().map(str::to_string));
    let key = match key {
        None => None,
        Some(Ok(k)) if !k.is_empty() && k.len() <= 255 => Some(k),
        Some(_) => {
            return Err(ApiError::invalid(
                None,
                None,
                "Invalid Idempotency-Key: it must be 1 to 255 printable ASCII characters.",
            ))
        }
    };
    let cause = cause_of(req, key.clone());
    let Some(key) = key else {
        return op(&cause).map(|json| HttpResponse::Ok().json(json));
    };
    // Stripe compares the parameters, not their order: a map (metadata, say) may be written in
    // any order by a client.
    let text = String::from_utf8_lossy(body);
    let params = match crate::form::parse(&text) {
        Ok(map) => canonical(&Value::Object(map)),
        Err(_) => text.into_owned(),
    };
    let fingerprint = format!("{} {}\n{params}", req.method(), req.path());
    {
        let mut store = lock(&em.inner().store);
        match store.idempotency.get(&key) {
            None => {
                store.idempotency.insert(
                    key.clone(),
                    Replay::InProgress {
                        fingerprint: fingerprint.clone(),
                    },
                );
            }
            Some(Replay::Done {
                fingerprint: f,
                status,
                body,
            }) if *f == fingerprint => {
                return Ok(HttpResponse::build(
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::OK),
                )
                .insert_header(("Idempotent-Replayed", "true"))
                .insert_header(("Idempotency-Key", key.as_str()))
                .content_type("application/json")
                .body(body.clone()));
            }
            Some(Replay::InProgress { fingerprint: f }) if *f == fingerprint => {
                return Err(ApiError::idempotency_in_use())
            }
            Some(_) => {
                return Err(ApiError::idempotency(format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{key}' if you meant to execute a different request."
                )))
            }
        }
    }
    let result = op(&cause);
    let mut store = lock(&em.inner().store);
    match &result {
        Ok(json) => {
            store.idempotency.insert(
                key.clone(),
                Replay::Done {
                    fingerprint,
                    status: 200,
                    body: json.to_string(),
                },
            );
        }
        Err(_) => {
            store.idempotency.remove(&key);
        }
    }
    result.map(|json| {
        HttpResponse::Ok()
            .insert_header(("Idempotency-Key", key.as_str()))
            .json(json)
    })
}

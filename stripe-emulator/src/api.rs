//! The `/v1` handlers: parameter checking as strict as Stripe's, idempotency keys, and JSON
//! objects from `objects.rs`. Authentication and the outage knob are handled in front of them
//! (`routes::gate`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde_json::Value;

use crate::error::ApiError;
use crate::lock;
use crate::objects::{line_items_json, new_id, session_json, Cause, LineItem, Session, SessionStatus};
use crate::params::Params;
use crate::routes::RequestId;
use crate::store::{RefundRequest, Replay};
use crate::Emulator;

type Result<T, E = ApiError> = std::result::Result<T, E>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    fn resource(path: &str) -> actix_web::Resource {
        web::resource(path).default_service(web::to(unrecognized))
    }
    cfg.service(resource("/checkout/sessions").route(web::post().to(create_session)))
        .service(resource("/checkout/sessions/{id}").route(web::get().to(retrieve_session)))
        .service(
            resource("/checkout/sessions/{id}/line_items").route(web::get().to(list_line_items)),
        )
        .service(resource("/checkout/sessions/{id}/expire").route(web::post().to(expire_session)))
        .service(resource("/refunds").route(web::post().to(create_refund)))
        .service(resource("/refunds/{id}").route(web::get().to(retrieve_refund)))
        .service(resource("/charges/{id}").route(web::get().to(retrieve_charge)))
        .service(resource("/disputes/{id}").route(web::get().to(retrieve_dispute)));
}

/// Stripe's answer to a path or method it does not serve.
pub(crate) async fn unrecognized(req: HttpRequest) -> Result<HttpResponse> {
    Err(ApiError::not_found_path(req.method().as_str(), req.path()))
}

/// Currencies whose minimum charge is 50 minor units (Stripe's minimums for the others differ
/// and are not enforced).
const MIN_50: [&str; 5] = ["usd", "eur", "gbp", "cad", "aud"];
/// Stripe's largest amount for most currencies (eight digits).
const MAX_AMOUNT: i64 = 99_999_999;

async fn create_session(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    idempotent(&req, &body, &em, |_cause| {
        let mut params = Params::parse(body_text(&body)?)?;
        let now = chrono::Utc::now().timestamp();
        let (session, expand) = new_session(&mut params, &em.base_url(), now)?;
        let json = session_json(&session, expand);
        lock(&em.inner().store)
            .sessions
            .insert(session.id.clone(), session);
        Ok(json)
    })
}

/// Reads `POST /v1/checkout/sessions` parameters into a new open session.
fn new_session(params: &mut Params, base: &str, now: i64) -> Result<(Session, bool)> {
    let mode = params
        .one_of("mode", &["payment", "setup", "subscription"])?
        .ok_or_else(|| ApiError::missing("mode"))?;
    if mode != "payment" {
        return Err(ApiError::invalid(
            None,
            Some("mode"),
            format!("The Stripe emulator supports only `mode=payment`, not `{mode}`."),
        ));
    }
    let success_url = params.required_string("success_url")?;
    check_url(&success_url, "success_url")?;
    let cancel_url = params.string("cancel_url")?.filter(|u| !u.is_empty());
    if let Some(url) = &cancel_url {
        check_url(url, "cancel_url")?;
    }
    let client_reference_id = params.string("client_reference_id")?.filter(|s| !s.is_empty());
    if client_reference_id.as_ref().is_some_and(|s| s.chars().count() > 200) {
        return Err(ApiError::invalid(
            None,
            Some("client_reference_id"),
            "client_reference_id can be at most 200 characters long.",
        ));
    }
    let customer_email = params.string("customer_email")?.filter(|s| !s.is_empty());
    if let Some(email) = &customer_email {
        if !email.contains('@') || email.contains(char::is_whitespace) {
            return Err(ApiError::invalid(
                Some("email_invalid"),
                Some("customer_email"),
                format!("Invalid email address: {email}"),
            ));
        }
    }
    let metadata = params.metadata("metadata")?.unwrap_or_default();
    let intent = match params.object("payment_intent_data")? {
        Some(mut data) => {
            let metadata = data.metadata("metadata")?.unwrap_or_default();
            let description = data.string("description")?.filter(|s| !s.is_empty());
            let receipt_email = data.string("receipt_email")?.filter(|s| !s.is_empty());
            // Accepted so that code written for Stripe works; they only affect bank statements.
            for key in ["statement_descriptor", "statement_descriptor_suffix"] {
                if data.string(key)?.is_some_and(|s| s.chars().count() > 22) {
                    return Err(ApiError::invalid(
                        None,
                        Some(&data.name(key)),
                        format!("{} can be at most 22 characters long.", data.name(key)),
                    ));
                }
            }
            data.finish()?;
            (metadata, description, receipt_email)
        }
        None => Default::default(),
    };
    let (intent_metadata, intent_description, intent_receipt_email) = intent;
    let expand = expand_line_items(params)?;
    let expires_at = match params.integer("expires_at")? {
        None => now + 24 * 3600,
        Some(t) if (now + 30 * 60 - 5..=now + 24 * 3600 + 5).contains(&t) => t,
        Some(_) => {
            return Err(ApiError::invalid(
                None,
                Some("expires_at"),
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from now.",
            ))
        }
    };
    let payment_method_types = params
        .string_list("payment_method_types")?
        .filter(|types| !types.is_empty())
        .unwrap_or_else(|| vec!["card".to_string()]);
    let currency = params.string("currency")?.map(|c| c.to_ascii_lowercase());
    if let Some(c) = &currency {
        check_currency(c, "currency")?;
    }

    let entries = params
        .object_list("line_items")?
        .filter(|items| !items.is_empty())
        .ok_or_else(|| ApiError::missing("line_items"))?;
    if entries.len() > 100 {
        return Err(ApiError::invalid(
            None,
            Some("line_items"),
            "A Checkout Session can have at most 100 line items.",
        ));
    }
    let mut items = Vec::with_capacity(entries.len());
    let mut session_currency = currency;
    for (i, entry) in entries.into_iter().enumerate() {
        let (item, item_currency) = line_item(entry)?;
        match &session_currency {
            Some(c) if *c != item_currency => {
                return Err(ApiError::invalid(
                    None,
                    Some(&format!("line_items[{i}][price_data][currency]")),
                    format!("All line items must use the same currency; expected `{c}`, got `{item_currency}`."),
                ))
            }
            Some(_) => {}
            None => session_currency = Some(item_currency),
        }
        items.push(item);
    }
    let currency = session_currency.unwrap_or_else(|| "usd".to_string());
    let total = items
        .iter()
        .try_fold(0i64, |sum, item| {
            item.unit_amount
                .checked_mul(item.quantity)
                .and_then(|a| sum.checked_add(a))
        })
        .filter(|t| *t <= MAX_AMOUNT);
    if total.is_none() {
        return Err(ApiError::invalid(
            Some("amount_too_large"),
            Some("line_items"),
            format!("The Checkout Session's total amount must be at most {MAX_AMOUNT} (in the currency's smallest unit)."),
        ));
    }
    params.finish()?;

    let id = new_id("cs_test_");
    let page_url = format!("{base}/pay/{id}");
    Ok((
        Session {
            id,
            created: now,
            expires_at,
            currency,
            items,
            success_url,
            cancel_url,
            client_reference_id,
            customer_email,
            metadata,
            payment_method_types,
            intent_metadata,
            intent_description,
            intent_receipt_email,
            status: SessionStatus::Open,
            paid: false,
            payment_intent: None,
            page_url,
        },
        expand,
    ))
}

/// One `line_items[n]`: `price_data` (inline price and product) and `quantity`.
fn line_item(mut entry: Params) -> Result<(LineItem, String)> {
    if let Some(price) = entry.string("price")? {
        // There is no catalogue in the emulator: a price id can never exist.
        return Err(ApiError::invalid(
            Some("resource_missing"),
            Some(&entry.name("price")),
            format!("No such price: '{price}'; the Stripe emulator supports only `price_data`."),
        ));
    }
    let mut price = entry
        .object("price_data")?
        .ok_or_else(|| ApiError::missing(&entry.name("price_data")))?;
    let currency = price
        .required_string("currency")?
        .to_ascii_lowercase();
    check_currency(&currency, &price.name("currency"))?;
    let amount_name = price.name("unit_amount");
    let unit_amount = match (price.integer("unit_amount")?, price.string("unit_amount_decimal")?) {
        (Some(amount), None) => amount,
        (None, Some(decimal)) => whole_minor_units(&decimal)
            .ok_or_else(|| ApiError::invalid(
                None,
                Some(&price.name("unit_amount_decimal")),
                "The Stripe emulator supports only whole amounts in `unit_amount_decimal`.",
            ))?,
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                Some("parameters_exclusive"),
                Some(&amount_name),
                "You may only specify one of these parameters: unit_amount, unit_amount_decimal.",
            ))
        }
        (None, None) => return Err(ApiError::missing(&amount_name)),
    };
    price.one_of("tax_behavior", &["exclusive", "inclusive", "unspecified"])?;
    if unit_amount < 0 {
        return Err(ApiError::invalid(
            Some("parameter_invalid_integer"),
            Some(&amount_name),
            "This value must be greater than or equal to 0.",
        ));
    }
    if MIN_50.contains(&currency.as_str()) && unit_amount < 50 {
        return Err(ApiError::invalid(
            Some("amount_too_small"),
            Some(&amount_name),
            format!("The unit amount must be at least 50 (0.50 {}).", currency.to_uppercase()),
        ));
    }
    if let Some(product) = price.string("product")? {
        return Err(ApiError::invalid(
            Some("resource_missing"),
            Some(&price.name("product")),
            format!("No such product: '{product}'; the Stripe emulator supports only `product_data`."),
        ));
    }
    let mut product = price
        .object("product_data")?
        .ok_or_else(|| ApiError::missing(&price.name("product_data")))?;
    let name = product.required_string("name")?;
    let description = product.string("description")?.filter(|s| !s.is_empty());
    // Image URLs are checked but not kept: the page shows no external assets.
    let images = product.string_list("images")?.unwrap_or_default();
    if images.len() > 8 {
        return Err(ApiError::invalid(
            None,
            Some(&product.name("images")),
            "A product can have at most 8 images.",
        ));
    }
    // Accepted for compatibility; products are not stored.
    product.metadata("metadata")?;
    product.string("tax_code")?;
    product.string("unit_label")?;
    product.finish()?;
    price.finish()?;
    let quantity_name = entry.name("quantity");
    let quantity = entry
        .integer("quantity")?
        .ok_or_else(|| ApiError::missing(&quantity_name))?;
    if quantity < 1 {
        return Err(ApiError::invalid(
            Some("parameter_invalid_integer"),
            Some(&quantity_name),
            "Quantity must be at least 1.",
        ));
    }
    // Line item metadata is accepted and, like Stripe's, not shown on the session.
    entry.metadata("metadata")?;
    entry.finish()?;
    Ok((
        LineItem {
            id: new_id("li_"),
            price_id: new_id("price_"),
            product_id: new_id("prod_"),
            name,
            description,
            unit_amount,
            quantity,
        },
        currency,
    ))
}

/// `"1999"` or `"1999.0"` as 1999; fractions of a minor unit are not supported.
fn whole_minor_units(decimal: &str) -> Option<i64> {
    let (whole, fraction) = decimal.split_once('.').unwrap_or((decimal, ""));
    if !fraction.bytes().all(|b| b == b'0') {
        return None;
    }
    whole.parse().ok()
}

fn check_url(url: &str, param: &str) -> Result<()> {
    let ok = ["http://", "https://"].iter().any(|scheme| {
        url.strip_prefix(scheme)
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
    });
    if ok && url.len() <= 5000 && !url.contains(char::is_whitespace) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            Some("url_invalid"),
            Some(param),
            format!("Not a valid URL: {param}"),
        ))
    }
}

fn check_currency(currency: &str, param: &str) -> Result<()> {
    if currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_lowercase()) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            None,
            Some(param),
            format!("Invalid currency: {currency}."),
        ))
    }
}

/// `expand[]`: only `line_items` can be expanded in the emulator.
fn expand_line_items(params: &mut Params) -> Result<bool> {
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
fn expand_nothing(params: &mut Params) -> Result<()> {
    match params.string_list("expand")?.unwrap_or_default().first() {
        Some(field) => Err(cannot_expand("expand[0]", field)),
        None => Ok(()),
    }
}

fn cannot_expand(param: &str, field: &str) -> ApiError {
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
    let expand = expand_line_items(&mut params)?;
    params.finish()?;
    let json = em.with_store(|store, _| Ok((session_json(store.session(&path)?, expand), Vec::new())))?;
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
    let json = em.with_store(|store, _| Ok((line_items_json(store.session(&path)?), Vec::new())))?;
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
            json = em.with_store(|store, _| Ok((session_json(store.session(&path)?, true), Vec::new())))?;
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
            reason: params.one_of("reason", &["duplicate", "fraudulent", "requested_by_customer"])?,
        };
        expand_nothing(&mut params)?;
        params.finish()?;
        Ok(em.with_store(|store, now| store.refund(request, cause, now))?)
    })
}

async fn retrieve_refund(req: HttpRequest, path: web::Path<String>, em: web::Data<Emulator>) -> Result<HttpResponse> {
    no_query_params(&req)?;
    let json = em.with_store(|store, _| Ok((store.refund_json(&path)?, Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

async fn retrieve_charge(req: HttpRequest, path: web::Path<String>, em: web::Data<Emulator>) -> Result<HttpResponse> {
    no_query_params(&req)?;
    let json = em.with_store(|store, _| Ok((store.charge_json(&path)?, Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

async fn retrieve_dispute(req: HttpRequest, path: web::Path<String>, em: web::Data<Emulator>) -> Result<HttpResponse> {
    no_query_params(&req)?;
    let json = em.with_store(|store, _| Ok((store.dispute_json(&path)?, Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

fn no_query_params(req: &HttpRequest) -> Result<()> {
    let mut params = Params::parse(req.query_string())?;
    expand_nothing(&mut params)?;
    params.finish()
}

fn body_text(body: &[u8]) -> Result<&str> {
    std::str::from_utf8(body)
        .map_err(|_| ApiError::invalid(None, None, "The request body is not valid UTF-8."))
}

/// Runs a POST at most once per `Idempotency-Key`: the same key with the same request replays
/// the stored answer (with `Idempotent-Replayed: true`), the same key with a different request
/// is an `idempotency_error`, and a key whose first request is still running is a 409. Only
/// successful answers are stored, so a request that failed validation can be fixed and retried
/// with its key.
fn idempotent(
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
    let cause = Cause {
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        idempotency_key: key.clone(),
    };
    let Some(key) = key else {
        return op(&cause).map(|json| HttpResponse::Ok().json(json));
    };
    let fingerprint = format!(
        "{} {}\n{}",
        req.method(),
        req.path(),
        String::from_utf8_lossy(body)
    );
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

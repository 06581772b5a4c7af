//! The `/v1` handlers of Stripe Billing: customers, subscriptions, invoices and billing portal
//! sessions, with the same strictness as `api.rs` (unknown parameters refused, Stripe's error
//! shapes, idempotency keys on POSTs) and Stripe's list shape for the lists.

use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::{json, Value};

use crate::api::{body_text, cannot_expand, idempotent, resource};
use crate::billing::PORTAL_CONFIGURATION;
use crate::checkout::check_url;
use crate::error::ApiError;
use crate::invoice::{invoice_json, payments_json};
use crate::lists::{page, Page};
use crate::params::Params;
use crate::store::Store;
use crate::subscriptions::{NewCustomer, StatusFilter, SubscriptionUpdate};
use crate::Emulator;

type Result<T, E = ApiError> = std::result::Result<T, E>;

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/customers").route(web::post().to(create_customer)))
        .service(resource("/customers/{id}").route(web::get().to(retrieve_customer)))
        .service(resource("/subscriptions").route(web::get().to(list_subscriptions)))
        .service(
            resource("/subscriptions/{id}")
                .route(web::get().to(retrieve_subscription))
                .route(web::post().to(update_subscription))
                .route(web::delete().to(cancel_subscription)),
        )
        .service(resource("/invoices").route(web::get().to(list_invoices)))
        .service(resource("/invoices/{id}").route(web::get().to(retrieve_invoice)))
        .service(resource("/billing_portal/sessions").route(web::post().to(create_portal_session)));
}

/// `cancellation_details[feedback]`.
const FEEDBACK: [&str; 9] = [
    "",
    "customer_service",
    "low_quality",
    "missing_features",
    "other",
    "switched_service",
    "too_complex",
    "too_expensive",
    "unused",
];

/// The portal's languages (`locale`), as the published schema lists them.
const LOCALES: [&str; 47] = [
    "auto", "bg", "cs", "da", "de", "el", "en", "en-AU", "en-CA", "en-GB", "en-IE", "en-IN",
    "en-NZ", "en-SG", "es", "es-419", "et", "fi", "fil", "fr", "fr-CA", "hr", "hu", "id", "it",
    "ja", "ko", "lt", "lv", "ms", "mt", "nb", "nl", "pl", "pt", "pt-BR", "ro", "ru", "sk", "sl",
    "sv", "th", "tr", "vi", "zh", "zh-HK", "zh-TW",
];

/// `expand[]`, each of which must be one of `allowed`.
fn expansions(params: &mut Params, allowed: &[&str]) -> Result<Vec<String>> {
    let fields = params.string_list("expand")?.unwrap_or_default();
    for (i, field) in fields.iter().enumerate() {
        if !allowed.contains(&field.as_str()) {
            return Err(cannot_expand(&format!("expand[{i}]"), field));
        }
    }
    Ok(fields)
}

/// An optional, non-empty string of at most `max` characters.
fn text(params: &mut Params, key: &str, max: usize) -> Result<Option<String>> {
    let value = params.string(key)?.filter(|s| !s.is_empty());
    if value.as_ref().is_some_and(|s| s.chars().count() > max) {
        return Err(ApiError::invalid(
            None,
            Some(&params.name(key)),
            format!("{} can be at most {max} characters long.", params.name(key)),
        ));
    }
    Ok(value)
}

/// A string to set or, when empty, to unset (`Some(None)`).
fn settable(params: &mut Params, key: &str, max: usize) -> Result<Option<Option<String>>> {
    let present = params.keys().iter().any(|k| k == key);
    let value = text(params, key, max)?;
    Ok(present.then_some(value))
}

fn email(params: &mut Params, key: &str) -> Result<Option<String>> {
    let value = text(params, key, 512)?;
    if let Some(email) = &value {
        if !email.contains('@') || email.contains(char::is_whitespace) {
            return Err(ApiError::invalid(
                Some("email_invalid"),
                Some(&params.name(key)),
                format!("Invalid email address: {email}"),
            ));
        }
    }
    Ok(value)
}

/// One page of `items` (newest first, each with its id), in Stripe's list shape.
fn list_json(items: Vec<(String, Value)>, page: &Page, url: &str, kind: &str) -> Result<Value> {
    let position = |cursor: &str, param: &str| {
        items
            .iter()
            .position(|(id, _)| id == cursor)
            .ok_or_else(|| {
                ApiError::invalid(
                    Some("resource_missing"),
                    Some(param),
                    format!("No such {kind}: '{cursor}'"),
                )
            })
    };
    let (start, end) = match (&page.starting_after, &page.ending_before) {
        (Some(cursor), _) => {
            let start = position(cursor, "starting_after")? + 1;
            (start, (start + page.limit).min(items.len()))
        }
        (None, Some(cursor)) => {
            let end = position(cursor, "ending_before")?;
            (end.saturating_sub(page.limit), end)
        }
        (None, None) => (0, page.limit.min(items.len())),
    };
    let has_more = if page.ending_before.is_some() {
        start > 0
    } else {
        end < items.len()
    };
    let data: Vec<Value> = items
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|(_, v)| v)
        .collect();
    Ok(json!({"object": "list", "data": data, "has_more": has_more, "url": url}))
}

async fn create_customer(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    idempotent(&req, &body, &em, |cause| {
        let mut params = Params::parse(body_text(&body)?)?;
        let new = NewCustomer {
            email: email(&mut params, "email")?,
            name: text(&mut params, "name", 256)?,
            description: text(&mut params, "description", 350)?,
            phone: text(&mut params, "phone", 20)?,
            metadata: params.metadata("metadata")?.unwrap_or_default(),
            address: None,
        };
        expansions(&mut params, &[])?;
        params.finish()?;
        Ok(em.with_store(|store, now| store.create_customer(new, cause, now))?)
    })
}

async fn retrieve_customer(
    req: HttpRequest,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    expansions(&mut params, &[])?;
    params.finish()?;
    let json = em.with_store(|store, _| Ok((store.customer_json(&path)?, Vec::new())))?;
    Ok(HttpResponse::Ok().json(json))
}

/// Replaces `latest_invoice` and `customer` by their objects, as asked.
fn expand_subscription(store: &Store, mut json: Value, fields: &[String]) -> Result<Value> {
    for field in fields {
        let field = field.strip_prefix("data.").unwrap_or(field);
        match field {
            "latest_invoice" => {
                if let Some(id) = json["latest_invoice"].as_str().map(str::to_string) {
                    json["latest_invoice"] = store.invoice_json(&id)?;
                }
            }
            "customer" => {
                if let Some(id) = json["customer"].as_str().map(str::to_string) {
                    json["customer"] = store.customer_json(&id)?;
                }
            }
            _ => {}
        }
    }
    Ok(json)
}

fn subscription_response(em: &Emulator, id: &str, expand: &[String]) -> Result<Value> {
    em.with_store(|store, _| {
        let json = store.subscription_json(id)?;
        Ok((expand_subscription(store, json, expand), Vec::new()))
    })?
}

async fn retrieve_subscription(
    req: HttpRequest,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    let expand = expansions(&mut params, &["latest_invoice", "customer"])?;
    params.finish()?;
    Ok(HttpResponse::Ok().json(subscription_response(&em, &path, &expand)?))
}

async fn list_subscriptions(req: HttpRequest, em: web::Data<Emulator>) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    let customer = params.string("customer")?.filter(|s| !s.is_empty());
    let status = match params
        .one_of(
            "status",
            &[
                "active",
                "all",
                "canceled",
                "ended",
                "incomplete",
                "incomplete_expired",
                "past_due",
                "paused",
                "trialing",
                "unpaid",
            ],
        )?
        .as_deref()
    {
        None => StatusFilter::NotCanceled,
        Some("all") => StatusFilter::All,
        Some("ended") => StatusFilter::Ended,
        Some("active") => StatusFilter::Is("active"),
        Some("canceled") => StatusFilter::Is("canceled"),
        Some("past_due") => StatusFilter::Is("past_due"),
        Some("unpaid") => StatusFilter::Is("unpaid"),
        // Statuses the emulator's subscriptions never have.
        Some(_) => StatusFilter::Is(""),
    };
    let page = page(&mut params)?;
    let expand = expansions(&mut params, &["data.latest_invoice", "data.customer"])?;
    params.finish()?;
    let items = em.with_store(|store, _| {
        let items = store
            .subscriptions_filtered(customer.as_deref(), status)
            .into_iter()
            .map(|sub| {
                let json = crate::billing::subscription_json(sub);
                expand_subscription(store, json, &expand).map(|json| (sub.id.clone(), json))
            })
            .collect::<Result<Vec<_>>>();
        Ok((items, Vec::new()))
    })??;
    Ok(HttpResponse::Ok().json(list_json(
        items,
        &page,
        "/v1/subscriptions",
        "subscription",
    )?))
}

async fn update_subscription(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    idempotent(&req, &body, &em, |cause| {
        let mut params = Params::parse(body_text(&body)?)?;
        let mut update = SubscriptionUpdate {
            cancel_at_period_end: params.boolean("cancel_at_period_end")?,
            metadata: params.metadata_patch("metadata")?,
            description: settable(&mut params, "description", 500)?,
            ..SubscriptionUpdate::default()
        };
        if let Some(mut details) = params.object("cancellation_details")? {
            update.comment = settable(&mut details, "comment", 5000)?;
            update.feedback = details
                .one_of("feedback", &FEEDBACK)?
                .map(|f| Some(f).filter(|f| !f.is_empty()));
            details.finish()?;
        }
        let expand = expansions(&mut params, &["latest_invoice", "customer"])?;
        params.finish()?;
        em.with_store(|store, now| store.update_subscription(&path, update, cause, now))?;
        subscription_response(&em, &path, &expand)
    })
}

/// `DELETE /v1/subscriptions/{id}`; async-stripe sends its (usually empty) form as the body,
/// curl often as the query string: both are read.
async fn cancel_subscription(
    req: HttpRequest,
    body: web::Bytes,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let body = body_text(&body)?;
    let source = if body.is_empty() {
        req.query_string()
    } else {
        body
    };
    let mut params = Params::parse(source)?;
    // No pending invoice items or usage exist in the emulator, so a final invoice would be
    // empty: `invoice_now` changes nothing. A prorated credit is not emulated.
    params.boolean("invoice_now")?;
    if params.boolean("prorate")? == Some(true) {
        return Err(ApiError::invalid(
            None,
            Some("prorate"),
            "The Stripe emulator does not support `prorate=true` (prorated credits).",
        ));
    }
    let (mut comment, mut feedback) = (None, None);
    if let Some(mut details) = params.object("cancellation_details")? {
        comment = text(&mut details, "comment", 5000)?;
        feedback = details
            .one_of("feedback", &FEEDBACK)?
            .filter(|f| !f.is_empty());
        details.finish()?;
    }
    let expand = expansions(&mut params, &["latest_invoice", "customer"])?;
    params.finish()?;
    let cause = crate::api::cause_of(&req, None);
    em.with_store(|store, now| store.cancel_subscription(&path, comment, feedback, &cause, now))?;
    Ok(HttpResponse::Ok().json(subscription_response(&em, &path, &expand)?))
}

fn expand_invoice(store: &Store, id: &str, fields: &[String]) -> Result<Value> {
    let invoice = store.invoice(id)?;
    let mut json = invoice_json(invoice);
    if fields
        .iter()
        .any(|f| f.strip_prefix("data.").unwrap_or(f) == "payments")
    {
        json["payments"] = payments_json(invoice);
    }
    Ok(json)
}

async fn retrieve_invoice(
    req: HttpRequest,
    path: web::Path<String>,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    let expand = expansions(&mut params, &["payments"])?;
    params.finish()?;
    let json =
        em.with_store(|store, _| Ok((expand_invoice(store, &path, &expand), Vec::new())))??;
    Ok(HttpResponse::Ok().json(json))
}

async fn list_invoices(req: HttpRequest, em: web::Data<Emulator>) -> Result<HttpResponse> {
    let mut params = Params::parse(req.query_string())?;
    let customer = params.string("customer")?.filter(|s| !s.is_empty());
    let subscription = params.string("subscription")?.filter(|s| !s.is_empty());
    let status = params.one_of(
        "status",
        &["draft", "open", "paid", "uncollectible", "void"],
    )?;
    let page = page(&mut params)?;
    let expand = expansions(&mut params, &["data.payments"])?;
    params.finish()?;
    let items = em.with_store(|store, _| {
        let items = store
            .invoices_filtered(
                customer.as_deref(),
                subscription.as_deref(),
                status.as_deref(),
            )
            .into_iter()
            .map(|inv| expand_invoice(store, &inv.id, &expand).map(|json| (inv.id.clone(), json)))
            .collect::<Result<Vec<_>>>();
        Ok((items, Vec::new()))
    })??;
    Ok(HttpResponse::Ok().json(list_json(items, &page, "/v1/invoices", "invoice")?))
}

async fn create_portal_session(
    req: HttpRequest,
    body: web::Bytes,
    em: web::Data<Emulator>,
) -> Result<HttpResponse> {
    idempotent(&req, &body, &em, |cause| {
        let mut params = Params::parse(body_text(&body)?)?;
        let customer = params.required_string("customer")?;
        let return_url = params.string("return_url")?.filter(|s| !s.is_empty());
        if let Some(url) = &return_url {
            check_url(url, "return_url")?;
        }
        if let Some(configuration) = params
            .string("configuration")?
            .filter(|c| c != PORTAL_CONFIGURATION)
        {
            return Err(ApiError::invalid(
                Some("resource_missing"),
                Some("configuration"),
                format!("No such configuration: '{configuration}'"),
            ));
        }
        let locale = params.one_of("locale", &LOCALES)?;
        expansions(&mut params, &[])?;
        params.finish()?;
        let base = em.base_url();
        Ok(em.with_store(|store, now| {
            store.create_portal_session(&customer, return_url, locale, &base, cause, now)
        })?)
    })
}

//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use shared_types::{ClientConfig, HealthResponse};

use crate::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthResponse)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok".into(),
        database: None,
        storage: None,
    })
}

/// The process can serve: the database and the object store both answer.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, body = HealthResponse),
        (status = 503, description = "The database or the object store is unreachable (`database` and `storage` say which)", body = HealthResponse),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let (database, storage) = futures_util::join!(state.db.ping(), state.storage.probe());
    if let Err(e) = &database {
        tracing::warn!(error = %e, "not ready: the database");
    }
    if let Err(e) = &storage {
        tracing::warn!(error = %e, "not ready: the object store");
    }
    let word = |ok: bool| if ok { "ok" } else { "unavailable" }.to_owned();
    let ready = database.is_ok() && storage.is_ok();
    let body = HealthResponse {
        status: word(ready),
        database: Some(word(database.is_ok())),
        storage: Some(word(storage.is_ok())),
    };
    if ready {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

/// Stripe's dashboard (its test-mode half for a test key), or the emulator's own pages.
fn stripe_dashboard(settings: &crate::config::Settings) -> String {
    match &settings.stripe {
        Some(s) if s.emulated => format!("{}dashboard", s.api_base),
        Some(s) if s.secret_key.expose().starts_with(b"sk_test_") => {
            "https://dashboard.stripe.com/test".into()
        }
        _ => "https://dashboard.stripe.com".into(),
    }
}

/// What clients need to know of the server's limits before they send anything (the web UI's
/// upload form checks sizes with these), and whether mail goes to the dev mailbox (the admin
/// shows its Mailbox page then).
#[utoipa::path(
    get, path = "/api/v1/config", tag = "operations",
    responses((status = 200, body = ClientConfig))
)]
pub async fn client_config(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "public, max-age=300"))
        .json(ClientConfig {
            max_file_bytes: state.settings.max_file_bytes,
            max_pay_what_you_want_cents: state.settings.pricing.max_pay_what_you_want_cents,
            max_preview_bytes: state.settings.max_preview_bytes,
            dev_mailbox: state.mailer.mailbox().is_some(),
            stripe_dashboard_url: stripe_dashboard(&state.settings),
        })
}

//! Liveness and readiness.

use actix_web::{web, HttpResponse};
use shared_types::{ClientConfig, HealthResponse};

use crate::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = HealthResponse)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(HealthResponse {
        status: "ok".into(),
    })
}

/// The process can serve: the database answers.
#[utoipa::path(
    get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, body = HealthResponse),
        (status = 503, description = "The database is unreachable", body = HealthResponse),
    )
)]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match state.db.ping().await {
        Ok(()) => HttpResponse::Ok().json(HealthResponse {
            status: "ok".into(),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "not ready");
            HttpResponse::ServiceUnavailable().json(HealthResponse {
                status: "unavailable".into(),
            })
        }
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
            max_preview_bytes: state.settings.max_preview_bytes,
            dev_mailbox: state.mailer.mailbox().is_some(),
        })
}

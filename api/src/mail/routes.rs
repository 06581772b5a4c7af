//! The dev mailbox for admins (only while no SMTP server is configured).

use actix_web::web;
use shared_types::{MailboxMessage, Problem};

use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::AppState;

/// Messages the server kept instead of sending, newest first: development without SMTP only
/// (404 otherwise).
#[utoipa::path(
    get, path = "/api/v1/admin/mailbox", tag = "admin",
    security(("bearer" = [])),
    responses(
        (status = 200, body = Vec<MailboxMessage>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: mail goes to an SMTP server", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_mailbox(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<web::Json<Vec<MailboxMessage>>, ApiError> {
    let dir = state
        .mailer
        .mailbox()
        .ok_or(ApiError::NotFound("mailbox"))?
        .to_owned();
    let messages = web::block(move || super::mailbox::list(&dir))
        .await?
        .map_err(|e| ApiError::Internal(anyhow::Error::new(e).context("the dev mailbox")))?;
    Ok(web::Json(messages))
}

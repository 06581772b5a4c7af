//! Thin handlers for /api/v1/auth and /api/v1/me.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use shared_types::{CredentialsRequest, Problem, RefreshRequest, TokenResponse, UserProfile};

use super::AuthUser;
use crate::error::ApiError;
use crate::AppState;

pub const REFRESH_COOKIE: &str = "folio_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/auth")
            .route("/register", web::post().to(register))
            .route("/login", web::post().to(login))
            .route("/refresh", web::post().to(refresh))
            .route("/logout", web::post().to(logout)),
    )
    .route("/me", web::get().to(me));
}

fn refresh_cookie(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.https())
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

fn with_tokens(
    state: &AppState,
    status: actix_web::http::StatusCode,
    tokens: TokenResponse,
) -> HttpResponse {
    HttpResponse::build(status)
        .cookie(refresh_cookie(
            state,
            tokens.refresh_token.clone(),
            state.settings.refresh_token_ttl_secs,
        ))
        .insert_header(("Cache-Control", "no-store"))
        .json(tokens)
}

fn check_rate(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let Some(peer) = req.peer_addr() else {
        return Ok(());
    };
    state
        .auth_limiter
        .check(peer.ip())
        .map_err(|retry_after_secs| ApiError::RateLimited { retry_after_secs })
}

/// The refresh token from the body, else from the HttpOnly cookie.
fn presented_refresh_token(
    req: &HttpRequest,
    body: Option<web::Json<RefreshRequest>>,
) -> Option<String> {
    body.and_then(|b| b.into_inner().refresh_token)
        .filter(|t| !t.is_empty())
        .or_else(|| req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()))
        .filter(|t| !t.is_empty())
}

/// Create an account.
#[utoipa::path(
    post, path = "/api/v1/auth/register", tag = "auth",
    request_body = CredentialsRequest,
    responses(
        (status = 201, description = "Account created; also sets the refresh cookie", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req)?;
    let tokens = super::register(&state, body.into_inner()).await?;
    Ok(with_tokens(
        &state,
        actix_web::http::StatusCode::CREATED,
        tokens,
    ))
}

/// Sign in. Unknown email and wrong password get the same answer.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = CredentialsRequest,
    responses(
        (status = 200, description = "Signed in; also sets the refresh cookie", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    check_rate(&state, &req)?;
    let tokens = super::login(&state, body.into_inner()).await?;
    Ok(with_tokens(&state, actix_web::http::StatusCode::OK, tokens))
}

/// Trade a refresh token (body or cookie) for a new pair. Each refresh token works once.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "May be omitted when the refresh cookie is sent"),
    responses(
        (status = 200, description = "New tokens; also sets the refresh cookie", body = TokenResponse),
        (status = 401, description = "`refresh_token_invalid`, or `refresh_token_reused` (the session is revoked)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Option<web::Json<RefreshRequest>>,
) -> Result<HttpResponse, ApiError> {
    let token = presented_refresh_token(&req, body).ok_or(ApiError::RefreshTokenInvalid)?;
    let tokens = super::refresh(&state, token).await?;
    Ok(with_tokens(&state, actix_web::http::StatusCode::OK, tokens))
}

/// Sign out: revoke the session of the refresh token (body or cookie) and clear the cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "May be omitted when the refresh cookie is sent"),
    responses((status = 204, description = "Signed out"))
)]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Option<web::Json<RefreshRequest>>,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = presented_refresh_token(&req, body) {
        super::logout(&state.db, token).await?;
    }
    Ok(HttpResponse::NoContent()
        .cookie(refresh_cookie(&state, String::new(), 0))
        .finish())
}

/// The signed-in user's profile and role.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, body = UserProfile),
        (status = 401, description = "`unauthenticated`, `token_invalid` or `token_expired`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn me(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<UserProfile>, ApiError> {
    Ok(web::Json(super::me(&state, &user).await?))
}

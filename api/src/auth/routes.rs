//! Thin handlers for /api/v1/auth and /api/v1/me.

use actix_web::cookie::{time::Duration as CookieDuration, Cookie, SameSite};
use actix_web::{web, HttpRequest, HttpResponse};
use shared_types::{
    AcceptedResponse, CredentialsRequest, EmailRequest, Problem, RedeemRequest, RefreshRequest,
    ResetPasswordRequest, TokenResponse, UserProfile,
};

use super::AuthUser;
use crate::error::ApiError;
use crate::AppState;

pub const REFRESH_COOKIE: &str = "folio_refresh";
const COOKIE_PATH: &str = "/api/v1/auth";
/// Readable by the web UI and secret-free: it says a refresh cookie may exist, so that an
/// anonymous visitor's browser does not try (and fail) a refresh on every page load.
pub const SESSION_MARKER_COOKIE: &str = "folio_session";

fn refresh_cookie(state: &AppState, value: String, max_age_secs: i64) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value)
        .path(COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(state.settings.https())
        .max_age(CookieDuration::seconds(max_age_secs))
        .finish()
}

fn session_marker(state: &AppState, max_age_secs: i64) -> Cookie<'static> {
    let value = if max_age_secs > 0 { "1" } else { "" };
    Cookie::build(SESSION_MARKER_COOKIE, value)
        .path("/")
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
    let ttl = state.settings.refresh_token_ttl_secs;
    HttpResponse::build(status)
        .cookie(refresh_cookie(state, tokens.refresh_token.clone(), ttl))
        .cookie(session_marker(state, ttl))
        .insert_header(("Cache-Control", "no-store"))
        .json(tokens)
}

/// Removes both cookies: the session is over (signed out, or its refresh token is dead).
fn clear_session(state: &AppState, res: &mut HttpResponse) {
    for cookie in [
        refresh_cookie(state, String::new(), 0),
        session_marker(state, 0),
    ] {
        // Only fails for a cookie that cannot be a header value; these are constants.
        let _ = res.add_cookie(&cookie);
    }
}

async fn check_rate(state: &AppState, req: &HttpRequest) -> Result<(), ApiError> {
    let Some(client) = crate::net::client_ip(req, &state.settings.trusted_proxies) else {
        return Ok(());
    };
    state.auth_limiter.check(&state.db, client).await
}

/// The refresh token from the body, else from the HttpOnly cookie. The body may be empty (a
/// browser relies on the cookie); one that is sent must be a `RefreshRequest`.
fn presented_refresh_token(
    req: &HttpRequest,
    body: &web::Bytes,
) -> Result<Option<String>, ApiError> {
    let from_body = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let invalid = |e: String| ApiError::bad_request("invalid_json", e);
        match serde_json::from_slice::<serde_json::Value>(body)
            .map_err(|e| invalid(e.to_string()))?
        {
            // `null` is the document's "no body" too (the body is optional).
            serde_json::Value::Null => None,
            object @ serde_json::Value::Object(_) => {
                serde_json::from_value::<RefreshRequest>(object)
                    .map_err(|e| invalid(e.to_string()))?
                    .refresh_token
            }
            _ => return Err(invalid("the body must be a JSON object".into())),
        }
    };
    Ok(from_body
        .filter(|t| !t.is_empty())
        .or_else(|| req.cookie(REFRESH_COOKIE).map(|c| c.value().to_owned()))
        .filter(|t| !t.is_empty()))
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
    check_rate(&state, &req).await?;
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
    check_rate(&state, &req).await?;
    let tokens = super::login(&state, body.into_inner()).await?;
    Ok(with_tokens(&state, actix_web::http::StatusCode::OK, tokens))
}

/// Trade a refresh token (body or cookie) for a new pair. Each refresh token is spent by its first
/// use; presented again within 10 s (a page left before its refresh answered, two tabs opening at
/// once) it still buys a pair in the same session, and later it revokes the session.
#[utoipa::path(
    post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "May be omitted when the refresh cookie is sent"),
    responses(
        (status = 200, description = "New tokens; also sets the refresh cookie", body = TokenResponse),
        (status = 400, description = "`invalid_json`: a body that is not a refresh request", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`refresh_token_invalid`, or `refresh_token_reused` (a token spent over 10 s ago: the session is revoked)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let result = match presented_refresh_token(&req, &body)? {
        Some(token) => super::refresh(&state, token).await,
        None => Err(ApiError::RefreshTokenInvalid),
    };
    match result {
        Ok(tokens) => Ok(with_tokens(&state, actix_web::http::StatusCode::OK, tokens)),
        Err(e @ (ApiError::RefreshTokenInvalid | ApiError::RefreshTokenReused)) => {
            let mut res = actix_web::ResponseError::error_response(&e);
            clear_session(&state, &mut res);
            Ok(res)
        }
        Err(e) => Err(e),
    }
}

/// Sign out: revoke the session of the refresh token (body or cookie) and clear the cookie.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    request_body(content = Option<RefreshRequest>, description = "May be omitted when the refresh cookie is sent"),
    responses(
        (status = 204, description = "Signed out"),
        (status = 400, description = "`invalid_json`: a body that is not a refresh request", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = presented_refresh_token(&req, &body)? {
        super::logout(&state.db, token).await?;
    }
    let mut res = HttpResponse::NoContent().finish();
    clear_session(&state, &mut res);
    Ok(res)
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

const LINK_ON_ITS_WAY: &str =
    "If an account exists for that address, a message with a link is on its way. It works once, within a few minutes.";

fn accepted() -> HttpResponse {
    HttpResponse::Accepted()
        .insert_header(("Cache-Control", "no-store"))
        .json(AcceptedResponse {
            message: LINK_ON_ITS_WAY.to_owned(),
        })
}

/// Mail a sign-in link. The answer is the same whether the account exists or not.
#[utoipa::path(
    post, path = "/api/v1/auth/email-link", tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "A link is mailed if the account exists", body = AcceptedResponse),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: per address and per client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request_email_link(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    mail_link(&state, &req, &body, super::links::Purpose::SignIn).await
}

/// Sign in with the token of a mailed link (once).
#[utoipa::path(
    post, path = "/api/v1/auth/email-link/redeem", tag = "auth",
    request_body = RedeemRequest,
    responses(
        (status = 200, description = "Signed in; also sets the refresh cookie", body = TokenResponse),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`link_invalid`: not a token Folio made", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`link_expired` or `link_used`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn redeem_email_link(
    state: web::Data<AppState>,
    body: web::Json<RedeemRequest>,
) -> Result<HttpResponse, ApiError> {
    let tokens = super::links::redeem_sign_in(&state, body.into_inner().token).await?;
    Ok(with_tokens(&state, actix_web::http::StatusCode::OK, tokens))
}

/// Mail a password-reset link. The answer is the same whether the account exists or not.
#[utoipa::path(
    post, path = "/api/v1/auth/password-reset", tag = "auth",
    request_body = EmailRequest,
    responses(
        (status = 202, description = "A link is mailed if the account exists", body = AcceptedResponse),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: not an email address", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: per address and per client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<EmailRequest>,
) -> Result<HttpResponse, ApiError> {
    mail_link(&state, &req, &body, super::links::Purpose::PasswordReset).await
}

/// Both link requests: rate limited per address and per client, answered alike.
async fn mail_link(
    state: &AppState,
    req: &HttpRequest,
    body: &EmailRequest,
    purpose: super::links::Purpose,
) -> Result<HttpResponse, ApiError> {
    let ip = crate::net::client_ip(req, &state.settings.trusted_proxies);
    super::links::request(state, &body.email, purpose, ip).await?;
    Ok(accepted())
}

/// Set a new password with the token of a mailed link (once); every session of the account
/// ends.
#[utoipa::path(
    post, path = "/api/v1/auth/password-reset/confirm", tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is set; sign in with it"),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "`link_invalid`: not a token Folio made", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`link_expired` or `link_used`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the password", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_password_reset(
    state: web::Data<AppState>,
    body: web::Json<ResetPasswordRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    super::links::reset_password(&state, body.token, body.password).await?;
    Ok(HttpResponse::NoContent().finish())
}

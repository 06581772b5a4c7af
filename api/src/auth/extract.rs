//! Who is calling: extractors for a signed-in user, an optional one, and an admin.

use std::future::{ready, Future, Ready};
use std::pin::Pin;

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use shared_types::{Role, UserId};

use super::tokens::TokenError;
use crate::error::ApiError;
use crate::AppState;

/// A caller with a valid access token.
#[derive(Debug, Clone)]
pub struct AuthUser {
    pub id: UserId,
    pub role: Role,
}

/// A caller who may or may not be signed in. A token that is present but bad is still refused.
#[derive(Debug, Clone)]
pub struct MaybeUser(pub Option<AuthUser>);

/// A caller whose admin role was confirmed against the database on this request.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AuthUser);

fn state(req: &HttpRequest) -> &AppState {
    req.app_data::<web::Data<AppState>>()
        .expect("AppState is registered on the app")
}

fn bearer(req: &HttpRequest) -> Result<Option<&str>, ApiError> {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| ApiError::TokenInvalid)?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(Some(token.trim()))
        }
        _ => Err(ApiError::TokenInvalid),
    }
}

fn authenticate(req: &HttpRequest) -> Result<Option<AuthUser>, ApiError> {
    let Some(token) = bearer(req)? else {
        return Ok(None);
    };
    if token.starts_with(super::keys::SECRET_PREFIX) {
        return Err(ApiError::ApiKeyNotAccepted);
    }
    let claims = state(req).keys.verify_access(token).map_err(|e| match e {
        TokenError::Expired => ApiError::AccessTokenExpired,
        TokenError::Invalid => ApiError::TokenInvalid,
    })?;
    Ok(Some(AuthUser {
        id: claims.sub,
        role: claims.role,
    }))
}

impl FromRequest for AuthUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).and_then(|u| u.ok_or(ApiError::Unauthenticated)))
    }
}

impl FromRequest for MaybeUser {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req).map(MaybeUser))
    }
}

/// A program's API key on an admin route: the key must be live, within its rate limit, and hold
/// the scope the operation declares; it acts as the admin who made it.
async fn confirm_key(req: &HttpRequest, secret: &str) -> Result<AdminUser, ApiError> {
    let state = state(req).clone();
    let caller = super::keys::authenticate(&state, secret).await?;
    super::keys::authorize(&caller, req.method(), req.path())?;
    Ok(AdminUser(AuthUser {
        id: caller.created_by,
        role: Role::Admin,
    }))
}

/// The role in the token is only a hint: the database decides, so a demoted admin loses access
/// at once. Emails in FOLIO_ADMIN_EMAILS are admins whatever their stored role.
async fn confirm_admin(req: &HttpRequest) -> Result<AdminUser, ApiError> {
    if let Some(secret) = bearer(req)?.filter(|t| t.starts_with(super::keys::SECRET_PREFIX)) {
        let secret = secret.to_owned();
        return confirm_key(req, &secret).await;
    }
    let user = authenticate(req)?.ok_or(ApiError::Unauthenticated)?;
    let state = state(req).clone();
    let id = user.id.clone();
    let row = state
        .db
        .run(move |conn| Ok(super::repo::find_user(conn, &id)?))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    if row.role == Role::Admin || state.settings.is_admin_email(&row.email) {
        Ok(AdminUser(AuthUser {
            id: row.id,
            role: Role::Admin,
        }))
    } else {
        Err(ApiError::Forbidden)
    }
}

impl FromRequest for AdminUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            if let Some(admin) = req.extensions().get::<AdminUser>().cloned() {
                return Ok(admin);
            }
            confirm_admin(&req).await
        })
    }
}

/// Middleware for the admin scope: the role is checked before any body is read, so a customer
/// gets 403 (and nobody 401) whatever they send.
pub async fn require_admin(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let admin = confirm_admin(req.request()).await?;
    req.extensions_mut().insert(admin);
    next.call(req).await
}

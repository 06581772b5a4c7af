//! Accounts: registration, sign-in, rotating refresh tokens, and who may do what.

pub mod extract;
pub mod key_routes;
pub mod keys;
pub mod links;
pub mod password;
pub mod ratelimit;
pub mod repo;
pub mod routes;
pub mod tokens;

use base64::Engine;
use diesel::Connection;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared_types::{CredentialsRequest, Email, Password, Role, TokenResponse, UserId, UserProfile};

use crate::db::{new_id, now, Db, DbConnection};
use crate::error::{is_unique_violation, ApiError};
use crate::AppState;
use repo::{RefreshTokenRow, UserRow};

pub use extract::{AdminUser, AuthUser, MaybeUser};

fn role_for(state: &AppState, row: &UserRow) -> Role {
    if state.settings.is_admin_email(&row.email) {
        Role::Admin
    } else {
        row.role
    }
}

pub fn profile(row: &UserRow, role: Role) -> UserProfile {
    UserProfile {
        id: row.id.clone(),
        email: row.email.clone(),
        role,
        created_at: row.created_at.and_utc(),
    }
}

fn hash_refresh_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn new_refresh_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Stores a new refresh token in `family_id` and returns its plain text (never stored).
fn store_refresh_token(
    conn: &mut DbConnection,
    state: &AppState,
    user_id: &UserId,
    family_id: &str,
) -> Result<String, ApiError> {
    let token = new_refresh_token();
    let created_at = now();
    repo::insert_refresh_token(
        conn,
        &RefreshTokenRow {
            id: new_id(),
            user_id: user_id.to_owned(),
            family_id: family_id.to_owned(),
            token_hash: hash_refresh_token(&token),
            created_at,
            expires_at: created_at
                + chrono::TimeDelta::seconds(state.settings.refresh_token_ttl_secs),
            used_at: None,
            revoked_at: None,
        },
    )?;
    Ok(token)
}

fn tokens(state: &AppState, user_id: &UserId, role: Role, refresh_token: String) -> TokenResponse {
    TokenResponse {
        access_token: state.keys.issue_access(user_id, role),
        token_type: "Bearer".into(),
        expires_in: state.keys.access_ttl_secs(),
        refresh_token,
    }
}

#[tracing::instrument(skip_all)]
pub async fn register(
    state: &AppState,
    req: CredentialsRequest,
) -> Result<TokenResponse, ApiError> {
    let (email, password) = req.parse().map_err(ApiError::Validation)?;
    let hash = password::run_hashing(move || password::hash(password.expose())).await??;
    let role = if state.settings.is_admin_email(email.as_ref()) {
        Role::Admin
    } else {
        Role::Customer
    };
    let st = state.clone();
    state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                let at = now();
                let user = UserRow {
                    id: UserId::generate(),
                    email: email.into_inner(),
                    password_hash: Some(hash),
                    role,
                    created_at: at,
                    updated_at: at,
                    email_verified_at: None,
                };
                repo::insert_user(conn, &user).map_err(|e| {
                    if is_unique_violation(&e) {
                        ApiError::EmailTaken
                    } else {
                        e.into()
                    }
                })?;
                let refresh = store_refresh_token(conn, &st, &user.id, &new_id())?;
                tracing::info!(user_id = %user.id, "account created");
                Ok(tokens(&st, &user.id, role, refresh))
            })
        })
        .await
}

#[tracing::instrument(skip_all)]
pub async fn login(state: &AppState, req: CredentialsRequest) -> Result<TokenResponse, ApiError> {
    // Anything that cannot be a registered account is refused exactly like a wrong password.
    let email = Email::parse(&req.email).map_err(|_| ApiError::InvalidCredentials)?;
    let found = state
        .db
        .run(move |conn| Ok(repo::find_user_by_email(conn, email.as_ref())?))
        .await?;
    let password = req.password;
    let user = password::run_hashing(move || match found {
        Some(user) => match &user.password_hash {
            Some(hash) if password::verify(&password, hash) => Some(user),
            Some(_) => None,
            // No password (a guest's account): refused like a wrong one, after the same work.
            None => {
                password::verify_dummy(&password);
                None
            }
        },
        None => {
            password::verify_dummy(&password);
            None
        }
    })
    .await?
    .ok_or(ApiError::InvalidCredentials)?;

    let role = role_for(state, &user);
    let st = state.clone();
    state
        .db
        .write(move |conn| {
            if role != user.role {
                repo::set_role(conn, &user.id, role, now())?;
            }
            let refresh = store_refresh_token(conn, &st, &user.id, &new_id())?;
            Ok(tokens(&st, &user.id, role, refresh))
        })
        .await
}

enum Rotation {
    Rotated(TokenResponse),
    Reused,
    Invalid,
}

/// How long a spent refresh token still buys a new pair. A browser loses the answer to a refresh
/// when the page that asked is left before it arrives (a click, a reload): the server rotated the
/// token, the browser kept the old cookie, and the next page presents it again. Two tabs opening
/// at once present the same cookie too. Within this grace each gets a pair of its own in the same
/// session; after it, a spent token coming back means it leaked.
pub const REUSE_GRACE_SECS: i64 = 10;

/// Spends a refresh token for a new pair in the same family. Presenting a spent token again later
/// than [`REUSE_GRACE_SECS`] after it was spent means it leaked: the whole family is revoked and
/// the caller must sign in again.
#[tracing::instrument(skip_all)]
pub async fn refresh(state: &AppState, presented: String) -> Result<TokenResponse, ApiError> {
    let st = state.clone();
    let outcome = state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                let at = st.clock.now();
                let hash = hash_refresh_token(&presented);
                // Write first: the transaction takes SQLite's write lock at its first statement,
                // so two concurrent refreshes queue instead of failing to upgrade a read lock.
                let spent = repo::spend_refresh_token(conn, &hash, at)?;
                let Some(row) = repo::find_refresh_token(conn, &hash)? else {
                    return Ok(Rotation::Invalid);
                };
                if !spent {
                    if row.revoked_at.is_some() || row.expires_at <= at {
                        return Ok(Rotation::Invalid);
                    }
                    let lost_answer = row.used_at.is_some_and(|used| {
                        at.signed_duration_since(used).num_seconds() < REUSE_GRACE_SECS
                    });
                    if !lost_answer {
                        repo::revoke_family(conn, &row.family_id, at)?;
                        tracing::warn!(user_id = %row.user_id, "refresh token reused; session revoked");
                        return Ok(Rotation::Reused);
                    }
                    tracing::info!(user_id = %row.user_id, "a refresh token spent moments ago came back: a new pair in its session");
                }
                let Some(user) = repo::find_user(conn, &row.user_id)? else {
                    return Ok(Rotation::Invalid);
                };
                let refresh = store_refresh_token(conn, &st, &user.id, &row.family_id)?;
                Ok(Rotation::Rotated(tokens(
                    &st,
                    &user.id,
                    role_for(&st, &user),
                    refresh,
                )))
            })
        })
        .await?;
    match outcome {
        Rotation::Rotated(t) => Ok(t),
        Rotation::Reused => Err(ApiError::RefreshTokenReused),
        Rotation::Invalid => Err(ApiError::RefreshTokenInvalid),
    }
}

/// Revokes the session (the family) the refresh token belongs to. Unknown tokens are ignored.
#[tracing::instrument(skip_all)]
pub async fn logout(db: &Db, presented: String) -> Result<(), ApiError> {
    db.write(move |conn| {
        if let Some(row) = repo::find_refresh_token(conn, &hash_refresh_token(&presented))? {
            repo::revoke_family(conn, &row.family_id, now())?;
        }
        Ok(())
    })
    .await
}

pub async fn me(state: &AppState, user: &AuthUser) -> Result<UserProfile, ApiError> {
    let id = user.id.clone();
    let row = state
        .db
        .run(move |conn| Ok(repo::find_user(conn, &id)?))
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    Ok(profile(&row, role_for(state, &row)))
}

/// `folio admin create`: creates an admin, or promotes an existing account and sets its password.
pub fn create_admin(
    conn: &mut DbConnection,
    email: &Email,
    password: &Password,
) -> anyhow::Result<bool> {
    let hash = password::hash(password.expose())?;
    let at = now();
    let created = conn.transaction(|conn| -> Result<bool, diesel::result::Error> {
        match repo::find_user_by_email(conn, email.as_ref())? {
            Some(user) => {
                repo::set_role(conn, &user.id, Role::Admin, at)?;
                repo::set_password(conn, &user.id, &hash, at)?;
                Ok(false)
            }
            None => {
                repo::insert_user(
                    conn,
                    &UserRow {
                        id: UserId::generate(),
                        email: email.as_ref().to_owned(),
                        password_hash: Some(hash),
                        role: Role::Admin,
                        created_at: at,
                        updated_at: at,
                        email_verified_at: None,
                    },
                )?;
                Ok(true)
            }
        }
    })?;
    Ok(created)
}

//! Mailed links: sign in without a password, and reset a forgotten one.
//!
//! Asking for a link always gets the same answer, whether the account exists or not, and is
//! rate-limited per email address and per client. The link's token is random, stored hashed,
//! single-use and short-lived (`FOLIO_LINK_TTL_SECS`), made by the job that mails it (so it is
//! never at rest in the clear). The link opens a page of the web UI with a button: a mail scanner
//! that fetches the link spends nothing; the button's POST does.

use base64::Engine;
use diesel::Connection;
use rand::RngCore;
use sha2::{Digest, Sha256};
use shared_types::{Email, Password, TokenResponse, UserId};

use super::repo::{self, OneTimeTokenRow};
use crate::db::{new_id, now, DbConnection};
use crate::error::ApiError;
use crate::jobs::repo::JobRow;
use crate::jobs::worker::JobError;
use crate::jobs::{self, Task};
use crate::mail::{templates, Outgoing};
use crate::AppState;

/// What a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    PasswordReset,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::PasswordReset => "password_reset",
        }
    }
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token for `user`, stored hashed; its plain text, for the mail only.
pub fn make_token(
    conn: &mut DbConnection,
    user: &UserId,
    purpose: Purpose,
    ttl_secs: i64,
) -> diesel::QueryResult<String> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let at = now();
    repo::insert_one_time_token(
        conn,
        user,
        purpose.as_str(),
        &hash(&token),
        at,
        at + chrono::TimeDelta::seconds(ttl_secs),
    )?;
    Ok(token)
}

/// `/signin/link#token=…`: in the fragment, which browsers never send, so the token reaches no
/// server log, proxy or referrer.
pub fn sign_in_url(state: &AppState, token: &str) -> String {
    state
        .settings
        .public(&format!("/signin/link#token={token}"))
}

fn reset_url(state: &AppState, token: &str) -> String {
    state
        .settings
        .public(&format!("/reset-password#token={token}"))
}

/// Asks for a link to be mailed to `email`'s account. Succeeds the same way whether the account
/// exists or not; refused only when asked too often.
pub async fn request(
    state: &AppState,
    email: &str,
    purpose: Purpose,
    client: Option<std::net::IpAddr>,
) -> Result<(), ApiError> {
    let email = Email::parse(email).map_err(|e| ApiError::validation("email", e.message))?;
    if let Some(ip) = client {
        state.link_limiter_by_ip.check(&state.db, ip).await?;
    }
    state
        .link_limiter_by_email
        .check(&state.db, email.as_ref())
        .await?;
    let st = state.clone();
    let queued = state
        .db
        .write(move |conn| {
            let Some(user) = repo::find_user_by_email(conn, email.as_ref())? else {
                return Ok(false);
            };
            let task = match purpose {
                Purpose::SignIn => Task::SignInLink { user: user.id },
                Purpose::PasswordReset => Task::PasswordReset { user: user.id },
            };
            Ok(jobs::enqueue(conn, &st.settings.jobs, &task, None)?)
        })
        .await?;
    if queued {
        state.wake.now();
    }
    Ok(())
}

/// Spends a token of `purpose`, or says why it cannot be spent.
fn spend(
    conn: &mut DbConnection,
    token: &str,
    purpose: Purpose,
) -> Result<OneTimeTokenRow, ApiError> {
    let hashed = hash(token);
    let at = now();
    let spent = repo::spend_one_time_token(conn, &hashed, purpose.as_str(), at)?;
    let row = repo::find_one_time_token(conn, &hashed)?
        .filter(|r| r.purpose == purpose.as_str())
        .ok_or(ApiError::LinkInvalid)?;
    if spent {
        Ok(row)
    } else if row.used_at.is_some() {
        Err(ApiError::LinkUsed)
    } else {
        Err(ApiError::LinkExpired)
    }
}

/// Signs in with a mailed link: a new session, and the address counts as verified.
#[tracing::instrument(skip_all)]
pub async fn redeem_sign_in(state: &AppState, token: String) -> Result<TokenResponse, ApiError> {
    if token.is_empty() || token.len() > 200 {
        return Err(ApiError::LinkInvalid);
    }
    let st = state.clone();
    state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                let row = spend(conn, &token, Purpose::SignIn)?;
                let user = repo::find_user(conn, &row.user_id)?.ok_or(ApiError::LinkInvalid)?;
                repo::mark_email_verified(conn, &user.id, now())?;
                let refresh = super::store_refresh_token(conn, &st, &user.id, &new_id())?;
                tracing::info!(user_id = %user.id, "signed in with a mailed link");
                Ok(super::tokens(
                    &st,
                    &user.id,
                    super::role_for(&st, &user),
                    refresh,
                ))
            })
        })
        .await
}

/// Sets a new password with a mailed link, and ends every session of the account.
#[tracing::instrument(skip_all)]
pub async fn reset_password(
    state: &AppState,
    token: String,
    password: String,
) -> Result<(), ApiError> {
    let password =
        Password::parse(&password).map_err(|e| ApiError::validation("password", e.message))?;
    if token.is_empty() || token.len() > 200 {
        return Err(ApiError::LinkInvalid);
    }
    let hash =
        super::password::run_hashing(move || super::password::hash(password.expose())).await??;
    state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                let row = spend(conn, &token, Purpose::PasswordReset)?;
                let at = now();
                repo::set_password(conn, &row.user_id, &hash, at)?;
                repo::mark_email_verified(conn, &row.user_id, at)?;
                let ended = repo::revoke_all_sessions(conn, &row.user_id, at)?;
                tracing::info!(user_id = %row.user_id, sessions_ended = ended, "password reset");
                Ok(())
            })
        })
        .await
}

/// The job of a sign-in link: a fresh token, mailed.
pub async fn mail_sign_in_link(
    state: &AppState,
    job: &JobRow,
    user: &UserId,
) -> Result<(), JobError> {
    mail_link(state, job, user, Purpose::SignIn).await
}

/// The job of a password-reset link.
pub async fn mail_password_reset(
    state: &AppState,
    job: &JobRow,
    user: &UserId,
) -> Result<(), JobError> {
    mail_link(state, job, user, Purpose::PasswordReset).await
}

async fn mail_link(
    state: &AppState,
    job: &JobRow,
    user: &UserId,
    purpose: Purpose,
) -> Result<(), JobError> {
    let ttl = state.settings.link_ttl_secs;
    let id = user.clone();
    let made = state
        .db
        .write(move |conn| {
            let Some(user) = repo::find_user(conn, &id)? else {
                return Ok(None);
            };
            let token = make_token(conn, &user.id, purpose, ttl)?;
            Ok(Some((user.email, token)))
        })
        .await?;
    let Some((email, token)) = made else {
        return Err(JobError::permanent("the account no longer exists"));
    };
    let (subject, intro, button, url) = match purpose {
        Purpose::SignIn => (
            "Your sign-in link",
            "Use this button to sign in to Folio without a password.",
            "Sign in",
            sign_in_url(state, &token),
        ),
        Purpose::PasswordReset => (
            "Reset your password",
            "Someone (we hope you) asked to reset the password of your Folio account. Choose a new one here:",
            "Choose a new password",
            reset_url(state, &token),
        ),
    };
    let shop = state.settings.public("/");
    let minutes = ttl / 60;
    let (html, text) = templates::Link {
        subject,
        shop_url: &shop,
        intro,
        button,
        url: &url,
        link_minutes: minutes,
    }
    .render()
    .map_err(JobError::permanent)?;
    state
        .mailer
        .send(Outgoing {
            to: email,
            subject: subject.to_owned(),
            text,
            html,
            message_id: state.mailer.message_id(&job.id),
            list_unsubscribe: None,
        })
        .await?;
    Ok(())
}

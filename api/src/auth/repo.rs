//! Queries for users and refresh tokens. Synchronous: called inside `Db::run`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use shared_types::{Role, UserId};

use crate::db::DbConnection;
use crate::schema::{one_time_tokens, refresh_tokens, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: UserId,
    pub email: String,
    /// None: an account without a password (a guest buyer's), reached by sign-in links.
    pub password_hash: Option<String>,
    pub role: Role,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub email_verified_at: Option<NaiveDateTime>,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = refresh_tokens)]
pub struct RefreshTokenRow {
    pub id: String,
    pub user_id: UserId,
    pub family_id: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

pub fn insert_user(conn: &mut DbConnection, user: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(user)
        .execute(conn)
        .map(drop)
}

pub fn find_user_by_email(conn: &mut DbConnection, email: &str) -> QueryResult<Option<UserRow>> {
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_user(conn: &mut DbConnection, id: &UserId) -> QueryResult<Option<UserRow>> {
    users::table
        .find(id)
        .select(UserRow::as_select())
        .first(conn)
        .optional()
}

/// The addresses of the accounts with the admin role (FOLIO_ADMIN_EMAILS are the settings').
pub fn admin_emails(conn: &mut DbConnection) -> QueryResult<Vec<String>> {
    users::table
        .filter(users::role.eq(Role::Admin))
        .order(users::email)
        .select(users::email)
        .load(conn)
}

pub fn set_role(
    conn: &mut DbConnection,
    id: &UserId,
    role: Role,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((users::role.eq(role), users::updated_at.eq(now)))
        .execute(conn)
        .map(drop)
}

pub fn set_password(
    conn: &mut DbConnection,
    id: &UserId,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set((
            users::password_hash.eq(Some(hash)),
            users::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

pub fn insert_refresh_token(conn: &mut DbConnection, row: &RefreshTokenRow) -> QueryResult<()> {
    diesel::insert_into(refresh_tokens::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find_refresh_token(
    conn: &mut DbConnection,
    hash: &str,
) -> QueryResult<Option<RefreshTokenRow>> {
    refresh_tokens::table
        .filter(refresh_tokens::token_hash.eq(hash))
        .select(RefreshTokenRow::as_select())
        .first(conn)
        .optional()
}

/// Marks a live token spent; false when it is unknown, expired, revoked or already spent
/// (possibly by a concurrent request).
pub fn spend_refresh_token(
    conn: &mut DbConnection,
    hash: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::token_hash.eq(hash))
            .filter(refresh_tokens::used_at.is_null())
            .filter(refresh_tokens::revoked_at.is_null())
            .filter(refresh_tokens::expires_at.gt(now)),
    )
    .set(refresh_tokens::used_at.eq(now))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn revoke_family(
    conn: &mut DbConnection,
    family_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::family_id.eq(family_id))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
}

/// The account of `email`, made without a password if there is none (a guest's checkout).
pub fn find_or_create_passwordless(
    conn: &mut DbConnection,
    email: &str,
    now: NaiveDateTime,
) -> QueryResult<UserRow> {
    let insert = diesel::insert_into(users::table)
        .values((
            users::id.eq(UserId::generate()),
            users::email.eq(email),
            users::password_hash.eq(None::<String>),
            users::role.eq(Role::Customer),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .on_conflict(users::email)
        .do_nothing();
    crate::execute_on_backend!(conn, insert)?;
    users::table
        .filter(users::email.eq(email))
        .select(UserRow::as_select())
        .first(conn)
}

pub fn mark_email_verified(
    conn: &mut DbConnection,
    id: &UserId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(
        users::table
            .find(id)
            .filter(users::email_verified_at.is_null()),
    )
    .set(users::email_verified_at.eq(Some(now)))
    .execute(conn)
    .map(drop)
}

/// Revokes every session of the user (a password reset).
pub fn revoke_all_sessions(
    conn: &mut DbConnection,
    user: &UserId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        refresh_tokens::table
            .filter(refresh_tokens::user_id.eq(user))
            .filter(refresh_tokens::revoked_at.is_null()),
    )
    .set(refresh_tokens::revoked_at.eq(now))
    .execute(conn)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = one_time_tokens)]
pub struct OneTimeTokenRow {
    pub id: String,
    pub user_id: UserId,
    pub purpose: String,
    pub token_hash: String,
    pub created_at: NaiveDateTime,
    pub expires_at: NaiveDateTime,
    pub used_at: Option<NaiveDateTime>,
}

pub fn insert_one_time_token(
    conn: &mut DbConnection,
    user: &UserId,
    purpose: &str,
    token_hash: &str,
    now: NaiveDateTime,
    expires_at: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(one_time_tokens::table)
        .values((
            one_time_tokens::id.eq(crate::db::new_id()),
            one_time_tokens::user_id.eq(user),
            one_time_tokens::purpose.eq(purpose),
            one_time_tokens::token_hash.eq(token_hash),
            one_time_tokens::created_at.eq(now),
            one_time_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)
        .map(drop)
}

/// Spends a live token of `purpose`: true when this call spent it (once, however many race).
pub fn spend_one_time_token(
    conn: &mut DbConnection,
    token_hash: &str,
    purpose: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        one_time_tokens::table
            .filter(one_time_tokens::token_hash.eq(token_hash))
            .filter(one_time_tokens::purpose.eq(purpose))
            .filter(one_time_tokens::used_at.is_null())
            .filter(one_time_tokens::expires_at.gt(now)),
    )
    .set(one_time_tokens::used_at.eq(Some(now)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn find_one_time_token(
    conn: &mut DbConnection,
    token_hash: &str,
) -> QueryResult<Option<OneTimeTokenRow>> {
    one_time_tokens::table
        .filter(one_time_tokens::token_hash.eq(token_hash))
        .select(OneTimeTokenRow::as_select())
        .first(conn)
        .optional()
}

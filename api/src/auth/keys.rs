//! API keys for programs: `folio_sk_…` secrets with scopes, sent as a bearer token to the admin
//! routes. Only the secret's SHA-256 is stored (it is 190 random bits, so a slow hash would add
//! nothing); the prefix tells keys apart on the admin page. A revoked key is refused on its next
//! request; every request of a key counts against its own rate limit, across nodes.
//!
//! Which scope an operation needs is written once, in its OpenAPI security requirement
//! (`("api_key" = ["orders:read"])`); [`required_scope`] reads it back from the document, so
//! the document and the check cannot disagree. An admin operation with no `api_key`
//! requirement is for a signed-in admin only (managing the keys themselves, for one).

use std::sync::LazyLock;

use actix_web::dev::ResourceDef;
use actix_web::http::Method;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use rand::distributions::{Alphanumeric, DistString};
use sha2::{Digest, Sha256};
use shared_types::{ApiKey, ApiKeyId, ApiKeyRequest, ApiScope, CreatedApiKey, UserId};

use crate::error::ApiError;
use crate::schema::api_keys;
use crate::AppState;

/// What every secret starts with, so a key is told from a JWT before anything is parsed.
pub const SECRET_PREFIX: &str = "folio_sk_";
/// Random characters after the prefix (62 symbols each: 190 bits).
const SECRET_CHARS: usize = 32;
/// How much of the secret the list shows.
const SHOWN_CHARS: usize = SECRET_PREFIX.len() + 4;
/// The OpenAPI security scheme whose scopes name what a key needs.
pub const SCHEME: &str = "api_key";
/// `last_used_at` is written at most this often per key (a busy key does not write every time).
const LAST_USE_RESOLUTION_SECS: i64 = 60;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys)]
pub struct ApiKeyRow {
    pub id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub secret_hash: String,
    pub scopes: String,
    pub created_by: UserId,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
    pub revoked_at: Option<NaiveDateTime>,
}

impl ApiKeyRow {
    pub fn scopes(&self) -> Vec<ApiScope> {
        self.scopes
            .split_whitespace()
            .filter_map(ApiScope::parse)
            .collect()
    }

    pub fn to_dto(&self) -> ApiKey {
        ApiKey {
            id: self.id.clone(),
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            scopes: self.scopes(),
            created_at: self.created_at.and_utc(),
            last_used_at: self.last_used_at.map(|t| t.and_utc()),
            revoked_at: self.revoked_at.map(|t| t.and_utc()),
        }
    }
}

fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// A program calling with a key: what it may do, and the admin who made the key (the actor in
/// what it does).
#[derive(Debug, Clone)]
pub struct KeyCaller {
    pub id: ApiKeyId,
    pub scopes: Vec<ApiScope>,
    pub created_by: UserId,
}

pub async fn create(
    state: &AppState,
    admin: &UserId,
    request: ApiKeyRequest,
) -> Result<CreatedApiKey, ApiError> {
    let (name, scopes) = request.check().map_err(ApiError::Validation)?;
    let secret = format!(
        "{SECRET_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), SECRET_CHARS)
    );
    let row = ApiKeyRow {
        id: ApiKeyId::generate(),
        name,
        prefix: secret[..SHOWN_CHARS].to_owned(),
        secret_hash: hash(&secret),
        scopes: scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        created_by: admin.clone(),
        created_at: crate::db::now(),
        last_used_at: None,
        revoked_at: None,
    };
    let stored = row.clone();
    state
        .db
        .write(move |conn| {
            diesel::insert_into(api_keys::table)
                .values(&stored)
                .execute(conn)?;
            Ok(())
        })
        .await?;
    tracing::info!(api_key_id = %row.id, prefix = %row.prefix, "API key created");
    Ok(CreatedApiKey {
        key: row.to_dto(),
        secret,
    })
}

pub async fn list(state: &AppState) -> Result<Vec<ApiKey>, ApiError> {
    let rows = state
        .db
        .run(|conn| {
            Ok(api_keys::table
                .order((api_keys::created_at.desc(), api_keys::id.desc()))
                .select(ApiKeyRow::as_select())
                .load(conn)?)
        })
        .await?;
    Ok(rows.iter().map(ApiKeyRow::to_dto).collect())
}

/// Revokes a key at once (again: no change). Every node checks the row on every request.
pub async fn revoke(state: &AppState, id: ApiKeyId) -> Result<ApiKey, ApiError> {
    let row = state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                diesel::update(
                    api_keys::table
                        .find(&id)
                        .filter(api_keys::revoked_at.is_null()),
                )
                .set(api_keys::revoked_at.eq(crate::db::now()))
                .execute(conn)?;
                api_keys::table
                    .find(&id)
                    .select(ApiKeyRow::as_select())
                    .first(conn)
                    .optional()
            })?
            .ok_or(ApiError::NotFound("API key"))
        })
        .await?;
    tracing::info!(api_key_id = %row.id, "API key revoked");
    Ok(row.to_dto())
}

/// The key behind `secret`, with its last use noted; unknown → 401, revoked → 401.
pub async fn authenticate(state: &AppState, secret: &str) -> Result<KeyCaller, ApiError> {
    let secret_hash = hash(secret);
    // A read (on SQLite not through the writer thread): the last use is written only when it
    // is due, below, once the key has passed its checks.
    let (row, maker) = state
        .db
        .run(move |conn| {
            let row = api_keys::table
                .filter(api_keys::secret_hash.eq(&secret_hash))
                .select(ApiKeyRow::as_select())
                .first(conn)
                .optional()?;
            let maker = match &row {
                Some(r) => super::repo::find_user(conn, &r.created_by)?,
                None => None,
            };
            Ok((row, maker))
        })
        .await?;
    let row = row.ok_or(ApiError::TokenInvalid)?;
    if row.revoked_at.is_some() {
        return Err(ApiError::ApiKeyRevoked);
    }
    // A key is worth what its maker is: an admin demoted since loses their keys with the role.
    let still_admin = maker.is_some_and(|u| {
        u.role == shared_types::Role::Admin || state.settings.is_admin_email(&u.email)
    });
    if !still_admin {
        return Err(ApiError::Forbidden);
    }
    state
        .api_key_limiter
        .check(&state.db, row.id.as_str())
        .await?;
    let now = crate::db::now();
    let stale = now - chrono::TimeDelta::seconds(LAST_USE_RESOLUTION_SECS);
    if row.last_used_at.is_none_or(|t| t < stale) {
        let id = row.id.clone();
        state
            .db
            .write(move |conn| {
                // Conditional: of two nodes noting the same minute, one writes.
                diesel::update(
                    api_keys::table.find(&id).filter(
                        api_keys::last_used_at
                            .is_null()
                            .or(api_keys::last_used_at.lt(stale)),
                    ),
                )
                .set(api_keys::last_used_at.eq(now))
                .execute(conn)?;
                Ok(())
            })
            .await?;
    }
    Ok(KeyCaller {
        scopes: row.scopes(),
        id: row.id,
        created_by: row.created_by,
    })
}

/// What the admin operation at `method` and `path` asks of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Required {
    Scope(ApiScope),
    /// A signed-in admin only.
    SessionOnly,
    /// No such operation (the router answers 404 or 405).
    NoOperation,
}

struct Operation {
    method: Method,
    path: ResourceDef,
    required: Required,
}

/// The admin operations and their scopes, read from the OpenAPI document once.
fn operations() -> &'static [Operation] {
    static OPERATIONS: LazyLock<Vec<Operation>> = LazyLock::new(|| {
        let mut out = Vec::new();
        for (path, method, security) in admin_security() {
            let required = match security
                .iter()
                .find_map(|(scheme, scopes)| (scheme == SCHEME).then_some(scopes))
            {
                None => Required::SessionOnly,
                Some(scopes) => {
                    let [scope] = scopes.as_slice() else {
                        panic!(
                            "{method} {path} names {} API key scopes: name one",
                            scopes.len()
                        );
                    };
                    Required::Scope(ApiScope::parse(scope).unwrap_or_else(|| {
                        panic!("{method} {path} names an unknown API key scope `{scope}`")
                    }))
                }
            };
            out.push(Operation {
                method,
                path: ResourceDef::new(path),
                required,
            });
        }
        out
    });
    &OPERATIONS
}

/// One operation's security requirements: each scheme with its scopes.
pub type Requirements = Vec<(String, Vec<String>)>;

/// Each admin operation's path, method and security requirements.
pub fn admin_security() -> Vec<(String, Method, Requirements)> {
    let doc = serde_json::to_value(crate::openapi::document()).expect("the document serialises");
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with(crate::operations::ADMIN_PREFIX) {
            continue;
        }
        for (method, op) in item.as_object().expect("a path item") {
            let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                continue;
            };
            let security = op["security"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|req| req.as_object().into_iter().flatten())
                .map(|(scheme, scopes)| {
                    let scopes = scopes
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect();
                    (scheme.clone(), scopes)
                })
                .collect();
            out.push((path.clone(), method, security));
        }
    }
    out
}

pub fn required_scope(method: &Method, path: &str) -> Required {
    operations()
        .iter()
        .find(|op| op.method == method && op.path.is_match(path))
        .map_or(Required::NoOperation, |op| op.required)
}

/// Whether `caller` may call the operation at `method` and `path`.
pub fn authorize(caller: &KeyCaller, method: &Method, path: &str) -> Result<(), ApiError> {
    match required_scope(method, path) {
        Required::Scope(scope) if caller.scopes.contains(&scope) => Ok(()),
        Required::Scope(scope) => Err(ApiError::InsufficientScope(format!(
            "this API key lacks the `{}` scope this operation needs: make a key with it",
            scope.as_str()
        ))),
        Required::SessionOnly => Err(ApiError::InsufficientScope(
            "this operation needs an admin signed in: API keys cannot call it".into(),
        )),
        Required::NoOperation => Ok(()),
    }
}

//! What a user owns: the entitlements (this module owns the table) and the rule that says who
//! may have a product ([`access`]).

pub mod access;
pub mod repo;
pub mod routes;

use shared_types::Product;

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::AppState;

/// The user's library, most recently acquired first; archived products stay in it.
pub async fn library(state: &AppState, user: &AuthUser) -> Result<Vec<Product>, ApiError> {
    let user_id = user.id.clone();
    let rows = state
        .db
        .run(move |conn| Ok(repo::library(conn, &user_id)?))
        .await?;
    Ok(rows
        .iter()
        .map(|row| crate::catalog::to_dto(&state.settings, row, true))
        .collect())
}

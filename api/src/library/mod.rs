//! What a user owns: entitlements that are not revoked.

pub mod routes;

use std::collections::HashSet;

use diesel::prelude::*;
use shared_types::Product;

use crate::auth::AuthUser;
use crate::catalog::repo::ProductRow;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::schema::{entitlements, products};
use crate::AppState;

pub fn has_live_entitlement(
    conn: &mut DbConnection,
    user_id: &str,
    product_id: &str,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        entitlements::table
            .filter(entitlements::user_id.eq(user_id))
            .filter(entitlements::product_id.eq(product_id))
            .filter(entitlements::revoked_at.is_null()),
    ))
    .get_result(conn)
}

/// Which of `product_ids` the user owns.
pub fn owned_among(
    conn: &mut DbConnection,
    user_id: &str,
    product_ids: &[String],
) -> QueryResult<HashSet<String>> {
    if product_ids.is_empty() {
        return Ok(HashSet::new());
    }
    entitlements::table
        .filter(entitlements::user_id.eq(user_id))
        .filter(entitlements::product_id.eq_any(product_ids))
        .filter(entitlements::revoked_at.is_null())
        .select(entitlements::product_id)
        .load::<String>(conn)
        .map(|ids| ids.into_iter().collect())
}

/// Every product `user_id` owns now.
pub fn owned_by(conn: &mut DbConnection, user_id: &str) -> QueryResult<HashSet<String>> {
    entitlements::table
        .filter(entitlements::user_id.eq(user_id))
        .filter(entitlements::revoked_at.is_null())
        .select(entitlements::product_id)
        .load::<String>(conn)
        .map(|ids| ids.into_iter().collect())
}

/// The user's library, most recently acquired first; archived products stay in it.
pub async fn library(state: &AppState, user: &AuthUser) -> Result<Vec<Product>, ApiError> {
    let user_id = user.id.clone();
    let rows: Vec<ProductRow> = state
        .db
        .run(move |conn| {
            Ok(entitlements::table
                .inner_join(products::table)
                .filter(entitlements::user_id.eq(user_id))
                .filter(entitlements::revoked_at.is_null())
                .order_by(entitlements::granted_at.desc())
                .select(ProductRow::as_select())
                .load(conn)?)
        })
        .await?;
    Ok(rows
        .iter()
        .map(|row| crate::catalog::to_dto(&state.settings, row, true))
        .collect())
}

//! Entitlement queries: the one module that reads and writes `entitlements`. Synchronous:
//! called inside `Db::run`/`Db::write`.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{OrderId, ProductId, UserId};

use crate::catalog::repo::ProductRow;
use crate::db::{new_id, DbConnection};
use crate::schema::{entitlements, products};

/// The live (not revoked) entitlement of `user` to `product`, as a query to embed in others
/// (the download check asks for it in the same statement as the product and the role).
#[diesel::dsl::auto_type(no_type_alias)]
pub(crate) fn live<'a>(user: &'a UserId, product: &'a ProductId) -> _ {
    entitlements::table
        .filter(entitlements::user_id.eq(user))
        .filter(entitlements::product_id.eq(product))
        .filter(entitlements::revoked_at.is_null())
}

pub fn has_live_entitlement(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(live(user, product))).get_result(conn)
}

/// Which of `products` the user owns.
pub fn owned_among(
    conn: &mut DbConnection,
    user: &UserId,
    products: &[ProductId],
) -> QueryResult<HashSet<ProductId>> {
    if products.is_empty() {
        return Ok(HashSet::new());
    }
    entitlements::table
        .filter(entitlements::user_id.eq(user))
        .filter(entitlements::product_id.eq_any(products))
        .filter(entitlements::revoked_at.is_null())
        .select(entitlements::product_id)
        .load::<ProductId>(conn)
        .map(|ids| ids.into_iter().collect())
}

/// Every product `user` owns now.
pub fn owned_by(conn: &mut DbConnection, user: &UserId) -> QueryResult<HashSet<ProductId>> {
    entitlements::table
        .filter(entitlements::user_id.eq(user))
        .filter(entitlements::revoked_at.is_null())
        .select(entitlements::product_id)
        .load::<ProductId>(conn)
        .map(|ids| ids.into_iter().collect())
}

/// The products `user` owns, most recently acquired first; archived ones included.
pub fn library(conn: &mut DbConnection, user: &UserId) -> QueryResult<Vec<ProductRow>> {
    entitlements::table
        .inner_join(products::table)
        .filter(entitlements::user_id.eq(user))
        .filter(entitlements::revoked_at.is_null())
        .order_by(entitlements::granted_at.desc())
        .select(ProductRow::as_select())
        .load(conn)
}

/// Grants the product to the user through `order`: a new entitlement, or the user's earlier
/// (revoked) one brought back by this order. Unique per user and product.
pub fn grant(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
    order: &OrderId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let revived = diesel::update(
        entitlements::table
            .filter(entitlements::user_id.eq(user))
            .filter(entitlements::product_id.eq(product))
            .filter(entitlements::revoked_at.is_not_null()),
    )
    .set((
        entitlements::revoked_at.eq(None::<NaiveDateTime>),
        entitlements::order_id.eq(Some(order)),
        entitlements::granted_at.eq(now),
    ))
    .execute(conn)?;
    if revived == 1 {
        return Ok(());
    }
    // Already owned through another order (two checkouts paid): one entitlement is enough. One
    // statement, where catching the unique violation needed a savepoint around it (on
    // PostgreSQL a failed statement aborts the whole transaction): two round trips fewer.
    let insert = diesel::insert_into(entitlements::table)
        .values((
            entitlements::id.eq(new_id()),
            entitlements::user_id.eq(user),
            entitlements::product_id.eq(product),
            entitlements::order_id.eq(Some(order)),
            entitlements::granted_at.eq(now),
        ))
        .on_conflict((entitlements::user_id, entitlements::product_id))
        .do_nothing();
    crate::execute_on_backend!(conn, insert).map(drop)
}

/// Revokes the access an order gave.
pub fn revoke_for_order(
    conn: &mut DbConnection,
    order: &OrderId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        entitlements::table
            .filter(entitlements::order_id.eq(order))
            .filter(entitlements::revoked_at.is_null()),
    )
    .set(entitlements::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// Restores the access an order gave (a dispute won).
pub fn restore_for_order(conn: &mut DbConnection, order: &OrderId) -> QueryResult<usize> {
    diesel::update(
        entitlements::table
            .filter(entitlements::order_id.eq(order))
            .filter(entitlements::revoked_at.is_not_null()),
    )
    .set(entitlements::revoked_at.eq(None::<NaiveDateTime>))
    .execute(conn)
}

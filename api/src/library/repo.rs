//! Entitlement queries: the one module that reads and writes `entitlements`. Synchronous:
//! called inside `Db::run`/`Db::write`.

use std::collections::HashSet;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{EntitlementId, OrderId, ProductId, UserId};

use crate::catalog::repo::ProductRow;
use crate::db::{new_id, DbConnection};
use crate::schema::{entitlements, products, users};

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

/// A live entitlement as the download and the library need it.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = entitlements)]
pub struct Held {
    pub id: EntitlementId,
    pub order_id: Option<OrderId>,
    pub granted_at: NaiveDateTime,
    /// The bundle it came with.
    pub via_product_id: Option<ProductId>,
}

/// The products `user` owns, most recently acquired first; archived ones included.
pub fn library(conn: &mut DbConnection, user: &UserId) -> QueryResult<Vec<(ProductRow, Held)>> {
    entitlements::table
        .inner_join(products::table)
        .filter(entitlements::user_id.eq(user))
        .filter(entitlements::revoked_at.is_null())
        .order_by(entitlements::granted_at.desc())
        .select((ProductRow::as_select(), Held::as_select()))
        .load(conn)
}

/// The user's live entitlement to `product`, if any.
pub fn held(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
) -> QueryResult<Option<Held>> {
    live(user, product)
        .select(Held::as_select())
        .first(conn)
        .optional()
}

/// Puts a free product in the user's library (its access window starts now); nothing when the
/// user has it already, revoked or not.
pub fn claim_free(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let insert = diesel::insert_into(entitlements::table)
        .values((
            entitlements::id.eq(new_id()),
            entitlements::user_id.eq(user),
            entitlements::product_id.eq(product),
            entitlements::order_id.eq(None::<OrderId>),
            entitlements::granted_at.eq(now),
        ))
        .on_conflict((entitlements::user_id, entitlements::product_id))
        .do_nothing();
    crate::execute_on_backend!(conn, insert).map(drop)
}

/// Buyers with live access to `product` who take its update notices, after `after` in id
/// order: a batch of at most `limit`.
pub fn notice_recipients(
    conn: &mut DbConnection,
    product: &ProductId,
    after: Option<&EntitlementId>,
    limit: i64,
) -> QueryResult<Vec<EntitlementId>> {
    let mut query = entitlements::table
        .filter(entitlements::product_id.eq(product))
        .filter(entitlements::revoked_at.is_null())
        .filter(entitlements::notices_off_at.is_null())
        .order_by(entitlements::id)
        .limit(limit)
        .select(entitlements::id)
        .into_boxed();
    if let Some(after) = after {
        query = query.filter(entitlements::id.gt(after.clone()));
    }
    query.load(conn)
}

/// Who an update notice goes to, and whether they still want it.
pub struct NoticeTarget {
    pub email: String,
    pub wants_notices: bool,
}

pub fn notice_target(
    conn: &mut DbConnection,
    entitlement: &EntitlementId,
) -> QueryResult<Option<NoticeTarget>> {
    let found: Option<(String, Option<NaiveDateTime>, Option<NaiveDateTime>)> = entitlements::table
        .inner_join(users::table)
        .filter(entitlements::id.eq(entitlement))
        .select((
            users::email,
            entitlements::revoked_at,
            entitlements::notices_off_at,
        ))
        .first(conn)
        .optional()?;
    Ok(found.map(|(email, revoked, off)| NoticeTarget {
        email,
        wants_notices: revoked.is_none() && off.is_none(),
    }))
}

/// Turns off the update notices of one entitlement (an unsubscribe link).
pub fn notices_off(
    conn: &mut DbConnection,
    entitlement: &EntitlementId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        entitlements::table
            .find(entitlement)
            .filter(entitlements::notices_off_at.is_null()),
    )
    .set(entitlements::notices_off_at.eq(Some(now)))
    .execute(conn)
}

/// One buyer's live access to a product, for admins.
#[derive(Debug, Clone, Queryable)]
pub struct Holder {
    pub id: EntitlementId,
    pub user_id: UserId,
    pub email: String,
    pub granted_at: NaiveDateTime,
}

/// Everybody with live access to `product`, most recent first.
pub fn holders(conn: &mut DbConnection, product: &ProductId) -> QueryResult<Vec<Holder>> {
    entitlements::table
        .inner_join(users::table)
        .filter(entitlements::product_id.eq(product))
        .filter(entitlements::revoked_at.is_null())
        .order_by(entitlements::granted_at.desc())
        .select((
            entitlements::id,
            entitlements::user_id,
            users::email,
            entitlements::granted_at,
        ))
        .load(conn)
}

/// The user and product of an entitlement.
pub fn find(
    conn: &mut DbConnection,
    entitlement: &EntitlementId,
) -> QueryResult<Option<(UserId, ProductId)>> {
    entitlements::table
        .find(entitlement)
        .select((entitlements::user_id, entitlements::product_id))
        .first(conn)
        .optional()
}

/// Grants what `order` bought: its product and, for a bundle, each published item in it
/// (owned through the bundle).
pub fn grant_order(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
    order: &OrderId,
    now: NaiveDateTime,
) -> QueryResult<()> {
    grant(conn, user, product, order, None, now)?;
    for item in
        crate::catalog::bundles::items_of(conn, product, crate::catalog::bundles::Contents::Sold)?
    {
        grant(conn, user, &item.id, order, Some(product), now)?;
    }
    Ok(())
}

/// Grants the product to the user through `order` (and `via` a bundle): a new entitlement, or
/// the user's earlier (revoked) one brought back by this order. Unique per user and product.
fn grant(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
    order: &OrderId,
    via: Option<&ProductId>,
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
        entitlements::via_product_id.eq(via),
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
            entitlements::via_product_id.eq(via),
            entitlements::granted_at.eq(now),
        ))
        .on_conflict((entitlements::user_id, entitlements::product_id))
        .do_nothing();
    crate::execute_on_backend!(conn, insert).map(drop)
}

/// Revokes the access an order gave (a refund, a dispute), except what the buyer also owns
/// through another paid order (the item itself, or a bundle holding it): that entitlement
/// moves to the other order instead. How many were revoked.
pub fn revoke_for_order(
    conn: &mut DbConnection,
    order: &OrderId,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    let held: Vec<(EntitlementId, UserId, ProductId)> = entitlements::table
        .filter(entitlements::order_id.eq(order))
        .filter(entitlements::revoked_at.is_null())
        .select((
            entitlements::id,
            entitlements::user_id,
            entitlements::product_id,
        ))
        .load(conn)?;
    let mut revoked = 0;
    for (id, user, product) in held {
        let others = crate::payments::repo::other_paid_orders(conn, &user, order)?;
        let bundles = crate::catalog::bundles::bundles_holding(conn, &product)?;
        let carrier = others
            .iter()
            .find(|(_, p)| *p == product)
            .map(|(o, _)| (o.clone(), None))
            .or_else(|| {
                others
                    .iter()
                    .find(|(_, p)| bundles.contains(p))
                    .map(|(o, p)| (o.clone(), Some(p.clone())))
            });
        let target = entitlements::table.find(&id);
        match carrier {
            Some((other, via)) => {
                diesel::update(target)
                    .set((
                        entitlements::order_id.eq(Some(other)),
                        entitlements::via_product_id.eq(via),
                    ))
                    .execute(conn)?;
            }
            None => {
                revoked += diesel::update(target)
                    .set(entitlements::revoked_at.eq(Some(now)))
                    .execute(conn)?;
            }
        }
    }
    Ok(revoked)
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

//! Order and entitlement queries. Every state change is a conditional UPDATE: the WHERE clause
//! names the status it moves from, so a transition happens once however many callers race.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::OrderStatus;

use crate::db::{new_id, DbConnection};
use crate::pagination::Cursor;
use crate::schema::{entitlements, orders, products, stripe_events, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders)]
pub struct OrderRow {
    pub id: String,
    pub user_id: String,
    pub product_id: String,
    pub amount_cents: i64,
    pub currency: String,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub status: String,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub paid_at: Option<NaiveDateTime>,
}

/// An order with what its listing shows.
pub type OrderListing = (OrderRow, String, String, String);

pub fn insert_order(conn: &mut DbConnection, row: &OrderRow) -> QueryResult<()> {
    diesel::insert_into(orders::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find_order(conn: &mut DbConnection, id: &str) -> QueryResult<Option<OrderRow>> {
    orders::table
        .find(id)
        .select(OrderRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_order_by_session(
    conn: &mut DbConnection,
    session_id: &str,
) -> QueryResult<Option<OrderRow>> {
    orders::table
        .filter(orders::stripe_session_id.eq(session_id))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()
}

pub fn find_order_by_payment_intent(
    conn: &mut DbConnection,
    payment_intent: &str,
) -> QueryResult<Option<OrderRow>> {
    orders::table
        .filter(orders::stripe_payment_intent_id.eq(payment_intent))
        .select(OrderRow::as_select())
        .first(conn)
        .optional()
}

pub fn set_session(
    conn: &mut DbConnection,
    order_id: &str,
    session_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::update(orders::table.find(order_id))
        .set((
            orders::stripe_session_id.eq(session_id),
            orders::updated_at.eq(now),
        ))
        .execute(conn)
        .map(drop)
}

/// Moves an order from `from` to `to`; true when this call made the change.
pub fn transition(
    conn: &mut DbConnection,
    order_id: &str,
    from: OrderStatus,
    to: OrderStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        orders::table
            .find(order_id)
            .filter(orders::status.eq(from.as_str())),
    )
    .set((orders::status.eq(to.as_str()), orders::updated_at.eq(now)))
    .execute(conn)?;
    Ok(n == 1)
}

/// pending → paid, recording the payment; true when this call made the change.
pub fn mark_paid(
    conn: &mut DbConnection,
    order_id: &str,
    payment_intent: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        orders::table
            .find(order_id)
            .filter(orders::status.eq(OrderStatus::Pending.as_str())),
    )
    .set((
        orders::status.eq(OrderStatus::Paid.as_str()),
        orders::stripe_payment_intent_id.eq(payment_intent),
        orders::paid_at.eq(Some(now)),
        orders::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// Grants the product to the user through `order_id`: a new entitlement, or the user's earlier
/// (revoked) one brought back by this order. Unique per user and product.
pub fn grant(
    conn: &mut DbConnection,
    user_id: &str,
    product_id: &str,
    order_id: &str,
    now: NaiveDateTime,
) -> QueryResult<()> {
    let revived = diesel::update(
        entitlements::table
            .filter(entitlements::user_id.eq(user_id))
            .filter(entitlements::product_id.eq(product_id))
            .filter(entitlements::revoked_at.is_not_null()),
    )
    .set((
        entitlements::revoked_at.eq(None::<NaiveDateTime>),
        entitlements::order_id.eq(Some(order_id)),
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
            entitlements::user_id.eq(user_id),
            entitlements::product_id.eq(product_id),
            entitlements::order_id.eq(Some(order_id)),
            entitlements::granted_at.eq(now),
        ))
        .on_conflict((entitlements::user_id, entitlements::product_id))
        .do_nothing();
    crate::execute_on_backend!(conn, insert).map(drop)
}

/// Revokes the access an order gave.
pub fn revoke_for_order(
    conn: &mut DbConnection,
    order_id: &str,
    now: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        entitlements::table
            .filter(entitlements::order_id.eq(order_id))
            .filter(entitlements::revoked_at.is_null()),
    )
    .set(entitlements::revoked_at.eq(Some(now)))
    .execute(conn)
}

/// Restores the access an order gave (a dispute won).
pub fn restore_for_order(conn: &mut DbConnection, order_id: &str) -> QueryResult<usize> {
    diesel::update(
        entitlements::table
            .filter(entitlements::order_id.eq(order_id))
            .filter(entitlements::revoked_at.is_not_null()),
    )
    .set(entitlements::revoked_at.eq(None::<NaiveDateTime>))
    .execute(conn)
}

/// Records a webhook event; false when it was recorded before (a duplicate delivery).
pub fn record_event(
    conn: &mut DbConnection,
    id: &str,
    event_type: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let insert = diesel::insert_into(stripe_events::table)
        .values((
            stripe_events::id.eq(id),
            stripe_events::event_type.eq(event_type),
            stripe_events::received_at.eq(now),
            stripe_events::processed_at.eq(Some(now)),
        ))
        .on_conflict(stripe_events::id)
        .do_nothing();
    // One statement (a caught unique violation needed a savepoint around it on PostgreSQL).
    let inserted = crate::execute_on_backend!(conn, insert)?;
    Ok(inserted == 1)
}

pub struct OrderFilter<'a> {
    pub user_id: Option<&'a str>,
    pub status: Option<OrderStatus>,
    pub after: Option<&'a Cursor>,
    pub limit: i64,
}

pub fn list_orders(
    conn: &mut DbConnection,
    filter: OrderFilter<'_>,
) -> QueryResult<Vec<OrderListing>> {
    let mut query = orders::table
        .inner_join(products::table)
        .inner_join(users::table)
        .select((
            OrderRow::as_select(),
            products::slug,
            products::title,
            users::email,
        ))
        .order_by((orders::created_at.desc(), orders::id.desc()))
        .limit(filter.limit)
        .into_boxed();
    if let Some(user_id) = filter.user_id {
        query = query.filter(orders::user_id.eq(user_id.to_owned()));
    }
    if let Some(status) = filter.status {
        query = query.filter(orders::status.eq(status.as_str()));
    }
    if let Some(after) = filter.after {
        query = query.filter(
            orders::created_at
                .lt(after.created_at)
                .or(orders::created_at
                    .eq(after.created_at)
                    .and(orders::id.lt(after.id.clone()))),
        );
    }
    query.load(conn)
}

pub fn order_listing(conn: &mut DbConnection, order_id: &str) -> QueryResult<Option<OrderListing>> {
    orders::table
        .inner_join(products::table)
        .inner_join(users::table)
        .filter(orders::id.eq(order_id))
        .select((
            OrderRow::as_select(),
            products::slug,
            products::title,
            users::email,
        ))
        .first(conn)
        .optional()
}

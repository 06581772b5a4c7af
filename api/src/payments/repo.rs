//! Order and webhook-event queries (entitlements are the library's). Every state change is a
//! conditional UPDATE: the WHERE clause names the status it moves from, so a transition happens
//! once however many callers race.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{Currency, DiscountId, OrderId, OrderStatus, ProductId, UserId};

use crate::db::DbConnection;
use crate::pagination::Cursor;
use crate::schema::{orders, products, stripe_events, users};

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = orders)]
pub struct OrderRow {
    pub id: OrderId,
    pub user_id: UserId,
    pub product_id: ProductId,
    pub amount_cents: i64,
    pub currency: Currency,
    pub stripe_session_id: Option<String>,
    pub stripe_payment_intent_id: Option<String>,
    pub status: OrderStatus,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub paid_at: Option<NaiveDateTime>,
    pub list_price_cents: i64,
    pub discount_id: Option<DiscountId>,
    pub discount_code: Option<String>,
    pub tax_cents: Option<i64>,
    pub total_cents: Option<i64>,
    pub stripe_invoice_id: Option<String>,
    pub invoice_url: Option<String>,
    /// What Stripe has refunded of it so far.
    pub refunded_cents: i64,
    pub refunded_at: Option<NaiveDateTime>,
}

/// An order with what its listing shows.
pub type OrderListing = (OrderRow, String, String, String);

pub fn insert_order(conn: &mut DbConnection, row: &OrderRow) -> QueryResult<()> {
    diesel::insert_into(orders::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

pub fn find_order(conn: &mut DbConnection, id: &OrderId) -> QueryResult<Option<OrderRow>> {
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
    order_id: &OrderId,
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
    order_id: &OrderId,
    from: OrderStatus,
    to: OrderStatus,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(orders::table.find(order_id).filter(orders::status.eq(from)))
        .set((orders::status.eq(to), orders::updated_at.eq(now)))
        .execute(conn)?;
    Ok(n == 1)
}

/// Records that Stripe has refunded `refunded_cents` of the order in all (a refund only ever
/// grows, so a late or repeated report of a smaller one changes nothing); true when it grew.
pub fn record_refund(
    conn: &mut DbConnection,
    order_id: &OrderId,
    refunded_cents: i64,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        orders::table
            .find(order_id)
            .filter(orders::refunded_cents.lt(refunded_cents)),
    )
    .set((
        orders::refunded_cents.eq(refunded_cents),
        orders::refunded_at.eq(now),
        orders::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// pending → paid, recording the payment; true when this call made the change.
pub fn mark_paid(
    conn: &mut DbConnection,
    order_id: &OrderId,
    payment_intent: Option<&str>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let n = diesel::update(
        orders::table
            .find(order_id)
            .filter(orders::status.eq(OrderStatus::Pending)),
    )
    .set((
        orders::status.eq(OrderStatus::Paid),
        orders::stripe_payment_intent_id.eq(payment_intent),
        orders::paid_at.eq(Some(now)),
        orders::updated_at.eq(now),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

/// What Stripe reported of a paid session's amounts: tax, total and the invoice.
pub fn set_settlement(
    conn: &mut DbConnection,
    order_id: &OrderId,
    tax_cents: Option<i64>,
    total_cents: Option<i64>,
    invoice: Option<&str>,
) -> QueryResult<()> {
    diesel::update(orders::table.find(order_id))
        .set((
            orders::tax_cents.eq(tax_cents),
            orders::total_cents.eq(total_cents),
            orders::stripe_invoice_id.eq(invoice),
        ))
        .execute(conn)
        .map(drop)
}

/// The hosted page of an order's invoice, once Stripe has it.
pub fn set_invoice_url(conn: &mut DbConnection, order_id: &OrderId, url: &str) -> QueryResult<()> {
    diesel::update(orders::table.find(order_id))
        .set(orders::invoice_url.eq(Some(url)))
        .execute(conn)
        .map(drop)
}

/// The user's paid orders other than `except`, by product: which orders could carry an
/// entitlement when the order that gave it is refunded.
pub fn other_paid_orders(
    conn: &mut DbConnection,
    user: &UserId,
    except: &OrderId,
) -> QueryResult<Vec<(OrderId, ProductId)>> {
    orders::table
        .filter(orders::user_id.eq(user))
        .filter(orders::status.eq(OrderStatus::Paid))
        .filter(orders::id.ne(except))
        .select((orders::id, orders::product_id))
        .load(conn)
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
    pub user_id: Option<&'a UserId>,
    pub discount_id: Option<&'a DiscountId>,
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
        query = query.filter(orders::user_id.eq(user_id.clone()));
    }
    if let Some(status) = filter.status {
        query = query.filter(orders::status.eq(status));
    }
    if let Some(discount) = filter.discount_id {
        query = query.filter(orders::discount_id.eq(discount.clone()));
    }
    if let Some(after) = filter.after {
        // The bound on the time alone lets the index start at the cursor (with only the OR, the
        // database walks the index from the newest row and filters: every page cost the pages
        // before it, 0.5 s at 1,000,000 orders).
        query = query.filter(
            orders::created_at.le(after.created_at).and(
                orders::created_at
                    .lt(after.created_at)
                    .or(orders::id.lt(after.id.clone())),
            ),
        );
    }
    query.load(conn)
}

pub fn order_listing(
    conn: &mut DbConnection,
    order_id: &OrderId,
) -> QueryResult<Option<OrderListing>> {
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

/// Paid orders per product, for the admin's product list.
pub fn paid_orders_by_product(
    conn: &mut DbConnection,
    products: &[ProductId],
) -> QueryResult<std::collections::HashMap<ProductId, i64>> {
    if products.is_empty() {
        return Ok(Default::default());
    }
    let counts: Vec<(ProductId, i64)> = orders::table
        .filter(orders::product_id.eq_any(products))
        .filter(orders::status.eq(OrderStatus::Paid))
        .group_by(orders::product_id)
        .select((orders::product_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(counts.into_iter().collect())
}

//! Discount queries: the one module that reads and writes `discounts` and `discount_products`.
//! A redemption is not a row of its own: it is an order naming the discount whose checkout has
//! not failed or expired, so releasing one is the order's own transition.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{Currency, DiscountId, OrderStatus, ProductId, ProductRef, UserId};

use super::Off;
use crate::db::DbConnection;
use crate::schema::{discount_products, discounts, orders, products};

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = discounts, treat_none_as_null = true)]
pub struct DiscountRow {
    pub id: DiscountId,
    pub code: String,
    pub percent_off: Option<i32>,
    pub amount_off_cents: Option<i64>,
    pub currency: Option<Currency>,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub max_redemptions: Option<i32>,
    pub max_per_customer: Option<i32>,
    pub all_products: bool,
    pub active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl DiscountRow {
    pub fn off(&self) -> Off {
        match (self.percent_off, self.amount_off_cents) {
            (Some(p), _) => Off::Percent(p),
            (None, Some(c)) => Off::Amount(c, self.currency.unwrap_or_default()),
            // The table's CHECK makes exactly one of them set.
            (None, None) => Off::Percent(0),
        }
    }
}

/// Statuses in which an order holds its redemption: reserved while the checkout is open,
/// used once paid (a refund does not give a code back).
const HOLDING: [OrderStatus; 4] = [
    OrderStatus::Pending,
    OrderStatus::Paid,
    OrderStatus::Refunded,
    OrderStatus::Disputed,
];

pub fn find_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<DiscountRow>> {
    discounts::table
        .filter(discounts::code.eq(code))
        .select(DiscountRow::as_select())
        .first(conn)
        .optional()
}

/// The discount, its row locked until the transaction ends: an update that changes nothing
/// takes the row lock on PostgreSQL (SQLite's writer holds the database already).
pub fn lock_by_code(conn: &mut DbConnection, code: &str) -> QueryResult<Option<DiscountRow>> {
    let locked = diesel::update(discounts::table.filter(discounts::code.eq(code)))
        .set(discounts::code.eq(discounts::code))
        .execute(conn)?;
    if locked == 0 {
        return Ok(None);
    }
    find_by_code(conn, code)
}

pub fn find(conn: &mut DbConnection, id: &DiscountId) -> QueryResult<Option<DiscountRow>> {
    discounts::table
        .find(id)
        .select(DiscountRow::as_select())
        .first(conn)
        .optional()
}

/// Redemptions held in all, and by `customer` when given.
pub fn redemptions(
    conn: &mut DbConnection,
    discount: &DiscountId,
    customer: Option<&UserId>,
) -> QueryResult<(i64, Option<i64>)> {
    let holding = || {
        orders::table
            .filter(orders::discount_id.eq(discount))
            .filter(orders::status.eq_any(HOLDING))
    };
    let total = holding().count().get_result(conn)?;
    let mine = match customer {
        Some(user) => Some(
            holding()
                .filter(orders::user_id.eq(user))
                .count()
                .get_result(conn)?,
        ),
        None => None,
    };
    Ok((total, mine))
}

/// Whether a discount limited to some products covers `product`.
pub fn covers(
    conn: &mut DbConnection,
    discount: &DiscountId,
    product: &ProductId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        discount_products::table
            .filter(discount_products::discount_id.eq(discount))
            .filter(discount_products::product_id.eq(product)),
    ))
    .get_result(conn)
}

/// Every discount, newest first, with its redemptions held.
pub fn list(conn: &mut DbConnection) -> QueryResult<Vec<(DiscountRow, i64)>> {
    let rows: Vec<DiscountRow> = discounts::table
        .order_by((discounts::created_at.desc(), discounts::id.desc()))
        .select(DiscountRow::as_select())
        .load(conn)?;
    let counts: Vec<(Option<DiscountId>, i64)> = orders::table
        .filter(orders::discount_id.is_not_null())
        .filter(orders::status.eq_any(HOLDING))
        .group_by(orders::discount_id)
        .select((orders::discount_id, diesel::dsl::count_star()))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let n = counts
                .iter()
                .find(|(id, _)| id.as_ref() == Some(&row.id))
                .map_or(0, |(_, n)| *n);
            (row, n)
        })
        .collect())
}

/// The products each of `discounts` is limited to.
pub fn products_of(
    conn: &mut DbConnection,
    discounts: &[DiscountId],
) -> QueryResult<Vec<(DiscountId, ProductRef)>> {
    let rows: Vec<(DiscountId, ProductId, String, String)> = discount_products::table
        .inner_join(products::table)
        .filter(discount_products::discount_id.eq_any(discounts))
        .order_by(products::title)
        .select((
            discount_products::discount_id,
            products::id,
            products::slug,
            products::title,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(d, id, slug, title)| (d, ProductRef { id, slug, title }))
        .collect())
}

/// Which of `ids` are products (the rest are unknown).
pub fn existing_products(
    conn: &mut DbConnection,
    ids: &[ProductId],
) -> QueryResult<Vec<ProductId>> {
    products::table
        .filter(products::id.eq_any(ids))
        .select(products::id)
        .load(conn)
}

/// Writes a discount (new or edited) and its product list, replacing the old list.
pub fn save(
    conn: &mut DbConnection,
    row: &DiscountRow,
    products: Option<&[ProductId]>,
    new: bool,
) -> QueryResult<()> {
    if new {
        diesel::insert_into(discounts::table)
            .values(row)
            .execute(conn)?;
    } else {
        diesel::update(discounts::table.find(&row.id))
            .set(row)
            .execute(conn)?;
    }
    diesel::delete(discount_products::table.filter(discount_products::discount_id.eq(&row.id)))
        .execute(conn)?;
    for product in products.unwrap_or_default() {
        diesel::insert_into(discount_products::table)
            .values((
                discount_products::discount_id.eq(&row.id),
                discount_products::product_id.eq(product),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Deletes a discount no order names; false when one does (deactivate it instead).
pub fn delete_unused(conn: &mut DbConnection, id: &DiscountId) -> QueryResult<bool> {
    let used: bool = diesel::select(diesel::dsl::exists(
        orders::table.filter(orders::discount_id.eq(id)),
    ))
    .get_result(conn)?;
    if used {
        return Ok(false);
    }
    diesel::delete(discount_products::table.filter(discount_products::discount_id.eq(id)))
        .execute(conn)?;
    diesel::delete(discounts::table.find(id)).execute(conn)?;
    Ok(true)
}

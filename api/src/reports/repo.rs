//! The dashboard's sums and the customer list. The sums read `sales_days` and
//! `product_sales_days`, the per-day figures a trigger on `orders` keeps (migration
//! `seller_tools`), in plain SQL (grouping by a week or
//! month differs between the two engines).

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamp};
use shared_types::{Currency, Role, StatsInterval, UserId};

use super::Period;
use crate::db::DbConnection;
use crate::pagination::Cursor;
use crate::schema::{orders, users};

/// Cents and a count in one currency, in one interval (`bucket`: its first day).
#[derive(Debug, QueryableByName)]
pub struct Sum {
    #[diesel(sql_type = Text)]
    pub bucket: String,
    #[diesel(sql_type = Text)]
    pub currency: Currency,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

#[derive(Debug, QueryableByName)]
pub struct Top {
    #[diesel(sql_type = Text)]
    pub product_id: shared_types::ProductId,
    #[diesel(sql_type = Text)]
    pub slug: String,
    #[diesel(sql_type = Text)]
    pub title: String,
    #[diesel(sql_type = Text)]
    pub currency: Currency,
    #[diesel(sql_type = BigInt)]
    pub count: i64,
    #[diesel(sql_type = BigInt)]
    pub cents: i64,
}

#[derive(Debug, QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    started: i64,
    #[diesel(sql_type = BigInt)]
    completed: i64,
}

#[derive(Debug, QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Runs one statement on either engine (the placeholders are `?N`, `$N` on PostgreSQL).
macro_rules! load {
    ($conn:expr, $ty:ty, $sql:expr $(, $t:ty => $v:expr)*) => {
        match $conn {
            DbConnection::Postgresql(c) => diesel::sql_query($sql.replace('?', "$"))
                $(.bind::<$t, _>($v))*
                .load::<$ty>(c),
            DbConnection::Sqlite(c) => diesel::sql_query($sql)
                $(.bind::<$t, _>($v))*
                .load::<$ty>(c),
        }
    };
}

fn one<T>(mut rows: Vec<T>) -> QueryResult<T> {
    rows.pop().ok_or(diesel::result::Error::NotFound)
}

pub struct Figures {
    pub paid: Vec<Sum>,
    pub refunded: Vec<Sum>,
    pub checkouts_started: i64,
    pub checkouts_completed: i64,
    pub new_customers: i64,
    pub downloads: i64,
    pub top: Vec<Top>,
}

/// The first day of `column`'s interval as `YYYY-MM-DD` text, in each engine's words (weeks
/// start on Monday in both).
fn bucket(postgres: bool, interval: StatsInterval, column: &str) -> String {
    match (postgres, interval) {
        (true, i) => format!(
            "to_char(date_trunc('{}', {column}), 'YYYY-MM-DD')",
            i.as_str()
        ),
        (false, StatsInterval::Day) => format!("strftime('%Y-%m-%d', {column})"),
        (false, StatsInterval::Week) => format!(
            "date({column}, '-' || ((CAST(strftime('%w', {column}) AS INTEGER) + 6) % 7) || ' days')"
        ),
        (false, StatsInterval::Month) => format!("strftime('%Y-%m-01', {column})"),
    }
}

pub fn figures(conn: &mut DbConnection, period: &Period) -> QueryResult<Figures> {
    let postgres = matches!(conn, DbConnection::Postgresql(_));
    let (first, last) = (
        period.from.format("%Y-%m-%d").to_string(),
        period.to.format("%Y-%m-%d").to_string(),
    );
    let day = if postgres { "CAST(day AS DATE)" } else { "day" };
    let bucket = bucket(postgres, period.interval, day);
    let paid = load!(
        &mut *conn,
        Sum,
        format!(
            "SELECT {bucket} AS bucket, currency, CAST(SUM(paid_orders) AS BIGINT) AS count, \
             CAST(SUM(paid_cents) AS BIGINT) AS cents \
             FROM sales_days WHERE day >= ?1 AND day <= ?2 \
             GROUP BY 1, 2 HAVING SUM(paid_orders) <> 0 OR SUM(paid_cents) <> 0 ORDER BY 1, 2"
        ),
        Text => &first,
        Text => &last
    )?;
    let refunded = load!(
        &mut *conn,
        Sum,
        format!(
            "SELECT {bucket} AS bucket, currency, CAST(0 AS BIGINT) AS count, \
             CAST(SUM(refunded_cents) AS BIGINT) AS cents \
             FROM sales_days WHERE day >= ?1 AND day <= ?2 \
             GROUP BY 1, 2 HAVING SUM(refunded_cents) <> 0 ORDER BY 1, 2"
        ),
        Text => &first,
        Text => &last
    )?;
    let counts = one(load!(
        &mut *conn,
        Counts,
        String::from(
            "SELECT CAST(COALESCE(SUM(started), 0) AS BIGINT) AS started, \
             CAST(COALESCE(SUM(completed), 0) AS BIGINT) AS completed \
             FROM sales_days WHERE day >= ?1 AND day <= ?2"
        ),
        Text => &first,
        Text => &last
    )?)?;
    let (start, end) = (period.start(), period.end());
    let new_customers = one(load!(
        &mut *conn,
        Count,
        String::from(
            "SELECT COUNT(*) AS n FROM users \
             WHERE created_at >= ?1 AND created_at < ?2 AND role = ?3"
        ),
        Timestamp => start,
        Timestamp => end,
        Text => Role::Customer.as_str()
    )?)?
    .n;
    let downloads = one(load!(
        &mut *conn,
        Count,
        String::from(
            "SELECT COUNT(*) AS n FROM download_events WHERE created_at >= ?1 AND created_at < ?2"
        ),
        Timestamp => start,
        Timestamp => end
    )?)?
    .n;
    let top = load!(
        &mut *conn,
        Top,
        format!(
            "SELECT t.product_id, p.slug, p.title, t.currency, t.count, t.cents FROM ( \
               SELECT product_id, currency, CAST(SUM(paid_orders) AS BIGINT) AS count, \
               CAST(SUM(paid_cents) AS BIGINT) AS cents \
               FROM product_sales_days WHERE day >= ?1 AND day <= ?2 \
               GROUP BY product_id, currency HAVING SUM(paid_orders) > 0 \
               ORDER BY cents DESC, product_id LIMIT {} \
             ) t JOIN products p ON p.id = t.product_id ORDER BY t.cents DESC, t.product_id",
            shared_types::TOP_PRODUCTS
        ),
        Text => &first,
        Text => &last
    )?;
    Ok(Figures {
        paid,
        refunded,
        checkouts_started: counts.started,
        checkouts_completed: counts.completed,
        new_customers,
        downloads,
        top,
    })
}

/// A customer with their paid orders.
#[derive(Debug, Clone)]
pub struct CustomerRow {
    pub id: UserId,
    pub email: String,
    pub created_at: NaiveDateTime,
    pub email_verified_at: Option<NaiveDateTime>,
    pub paid_orders: i64,
    pub last_paid_at: Option<NaiveDateTime>,
}

struct PaidSummary {
    user_id: UserId,
    count: i64,
    last: Option<NaiveDateTime>,
}

/// Customers newest first, after `after`, whose email contains `search` (lowercase).
pub fn customers(
    conn: &mut DbConnection,
    search: Option<&str>,
    after: Option<&Cursor>,
    limit: i64,
) -> QueryResult<Vec<CustomerRow>> {
    let mut query = users::table
        .filter(users::role.eq(Role::Customer))
        .order_by((users::created_at.desc(), users::id.desc()))
        .select((
            users::id,
            users::email,
            users::created_at,
            users::email_verified_at,
        ))
        .limit(limit)
        .into_boxed();
    if let Some(search) = search {
        let escaped = search
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        query = query.filter(users::email.like(format!("%{escaped}%")).escape('\\'));
    }
    if let Some(after) = after {
        // The bound on the time alone lets the index start at the cursor (with only the OR, the
        // database walks the index from the newest row and filters: every page cost the pages
        // before it, 0.5 s at 1,000,000 orders).
        query = query.filter(
            users::created_at.le(after.created_at).and(
                users::created_at
                    .lt(after.created_at)
                    .or(users::id.lt(after.id.clone())),
            ),
        );
    }
    let rows: Vec<(UserId, String, NaiveDateTime, Option<NaiveDateTime>)> = query.load(conn)?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let summaries: Vec<PaidSummary> = orders::table
        .filter(orders::user_id.eq_any(&ids))
        .filter(orders::paid_at.is_not_null())
        .group_by(orders::user_id)
        .select((
            orders::user_id,
            diesel::dsl::count_star(),
            diesel::dsl::max(orders::paid_at),
        ))
        .load::<(UserId, i64, Option<NaiveDateTime>)>(conn)?
        .into_iter()
        .map(|(user_id, count, last)| PaidSummary {
            user_id,
            count,
            last,
        })
        .collect();
    Ok(rows
        .into_iter()
        .map(|(id, email, created_at, email_verified_at)| {
            let summary = summaries.iter().find(|s| s.user_id == id);
            CustomerRow {
                paid_orders: summary.map_or(0, |s| s.count),
                last_paid_at: summary.and_then(|s| s.last),
                id,
                email,
                created_at,
                email_verified_at,
            }
        })
        .collect())
}

/// Adds `count` orders spread over the two years before 2026-11-01 (a fifth abandoned, one in
/// fifty refunded, in dollars and euros) for the first customer and the products that exist:
/// benchmark data (`folio seed --orders N`), made by the database itself in one statement.
pub fn seed_orders(conn: &mut DbConnection, count: i64) -> QueryResult<usize> {
    // Each engine's words for the id, the time and the pick of a product; the rest is shared.
    let (id, time) = match conn {
        DbConnection::Postgresql(_) => (
            "'01900000-0000-7000-8000-' || lpad(to_hex(n.i), 12, '0')",
            "TIMESTAMP '2024-11-01 00:00:00' + make_interval(secs => CAST(n.i * ?2 AS DOUBLE PRECISION))",
        ),
        DbConnection::Sqlite(_) => (
            "printf('01900000-0000-7000-8000-%012x', n.i)",
            "datetime('2024-11-01 00:00:00', '+' || (n.i * ?2) || ' seconds')",
        ),
    };
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?1), \
         p AS (SELECT id, ROW_NUMBER() OVER (ORDER BY id) - 1 AS k FROM products), \
         c AS (SELECT COUNT(*) AS total FROM products), \
         u AS (SELECT id FROM users WHERE role = 'customer' ORDER BY created_at LIMIT 1) \
         INSERT INTO orders (id, user_id, product_id, amount_cents, currency, status, \
           created_at, updated_at, paid_at, list_price_cents, total_cents, tax_cents, \
           refunded_cents, refunded_at) \
         SELECT {id}, u.id, p.id, 500 + (n.i % 37) * 100, \
           CASE WHEN n.i % 4 = 0 THEN 'eur' ELSE 'usd' END, \
           CASE WHEN n.i % 5 = 0 THEN 'pending' WHEN n.i % 50 = 1 THEN 'refunded' ELSE 'paid' END, \
           {time}, {time}, \
           CASE WHEN n.i % 5 = 0 THEN NULL ELSE {time} END, \
           500 + (n.i % 37) * 100, \
           CASE WHEN n.i % 5 = 0 THEN NULL ELSE 500 + (n.i % 37) * 100 END, \
           CASE WHEN n.i % 5 = 0 THEN NULL ELSE 0 END, \
           CASE WHEN n.i % 50 = 1 THEN 500 + (n.i % 37) * 100 ELSE 0 END, \
           CASE WHEN n.i % 50 = 1 THEN {time} ELSE NULL END \
         FROM n CROSS JOIN c CROSS JOIN u JOIN p ON p.k = n.i % c.total"
    );
    // Two years, in seconds, over the orders.
    let step = (2 * 365 * 24 * 3600 / count.max(1)).max(1);
    match conn {
        DbConnection::Postgresql(c) => diesel::sql_query(sql.replace('?', "$"))
            .bind::<BigInt, _>(count)
            .bind::<BigInt, _>(step)
            .execute(c),
        DbConnection::Sqlite(c) => diesel::sql_query(sql)
            .bind::<BigInt, _>(count)
            .bind::<BigInt, _>(step)
            .execute(c),
    }
}

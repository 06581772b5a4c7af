//! Product queries. Synchronous: called inside `Db::run`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use shared_types::{Currency, ProductId, ProductStatus};

use crate::db::DbConnection;
use crate::pagination::Cursor;
use crate::schema::products;

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub id: ProductId,
    pub slug: String,
    pub title: String,
    pub description: String,
    pub price_cents: i64,
    pub currency: Currency,
    pub status: ProductStatus,
    pub preview_key: Option<String>,
    pub preview_content_type: Option<String>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub download_limit: Option<i32>,
    pub access_days: Option<i32>,
    pub stamp_pdfs: bool,
    pub pay_what_you_want: bool,
    pub suggested_price_cents: Option<i64>,
}

impl ProductRow {
    /// Free to everybody signed in: a fixed price of zero (pay what you want from 0 is an order
    /// of 0, not a free item).
    pub fn is_free(&self) -> bool {
        self.price_cents == 0 && !self.pay_what_you_want
    }
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductChanges {
    pub title: Option<String>,
    pub description: Option<String>,
    pub price_cents: Option<i64>,
    pub currency: Option<Currency>,
    pub status: Option<ProductStatus>,
    pub download_limit: Option<Option<i32>>,
    pub access_days: Option<Option<i32>>,
    pub stamp_pdfs: Option<bool>,
    pub pay_what_you_want: Option<bool>,
    pub suggested_price_cents: Option<Option<i64>>,
    pub preview_key: Option<Option<String>>,
    pub preview_content_type: Option<Option<String>>,
    pub updated_at: Option<NaiveDateTime>,
}

diesel::define_sql_function!(fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text);

pub struct ListFilter<'a> {
    /// None lists every status (admins); otherwise only this one.
    pub status: Option<ProductStatus>,
    pub search: Option<&'a str>,
    pub after: Option<&'a Cursor>,
    pub limit: i64,
}

/// Newest first, keyset-paginated on (created_at, id) so deep pages cost the same as the first.
pub fn list(conn: &mut DbConnection, filter: ListFilter<'_>) -> QueryResult<Vec<ProductRow>> {
    let mut query = products::table
        .select(ProductRow::as_select())
        .order_by((products::created_at.desc(), products::id.desc()))
        .limit(filter.limit)
        .into_boxed();
    if let Some(status) = filter.status {
        query = query.filter(products::status.eq(status));
    }
    if let Some(search) = filter.search {
        let pattern = format!("%{}%", escape_like(&search.to_lowercase()));
        query = query.filter(
            lower(products::title)
                .like(pattern.clone())
                .escape('\\')
                .or(lower(products::description).like(pattern).escape('\\')),
        );
    }
    if let Some(after) = filter.after {
        // The bound on the time alone lets the index start at the cursor (with only the OR, the
        // database walks the index from the newest row and filters: every page cost the pages
        // before it, 0.5 s at 1,000,000 orders).
        query = query.filter(
            products::created_at.le(after.created_at).and(
                products::created_at
                    .lt(after.created_at)
                    .or(products::id.lt(after.id.clone())),
            ),
        );
    }
    query.load(conn)
}

fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(ch);
    }
    out
}

pub fn find_by_slug(conn: &mut DbConnection, slug: &str) -> QueryResult<Option<ProductRow>> {
    products::table
        .filter(products::slug.eq(slug))
        .select(ProductRow::as_select())
        .first(conn)
        .optional()
}

pub fn find(conn: &mut DbConnection, id: &ProductId) -> QueryResult<Option<ProductRow>> {
    products::table
        .find(id)
        .select(ProductRow::as_select())
        .first(conn)
        .optional()
}

/// Products of every status.
pub fn count(conn: &mut DbConnection) -> QueryResult<i64> {
    products::table.count().get_result(conn)
}

pub fn insert(conn: &mut DbConnection, row: &ProductRow) -> QueryResult<()> {
    diesel::insert_into(products::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// One multi-row INSERT.
pub fn insert_many(conn: &mut DbConnection, rows: &[ProductRow]) -> QueryResult<()> {
    crate::execute_on_backend!(conn, diesel::insert_into(products::table).values(rows)).map(drop)
}

pub fn update(
    conn: &mut DbConnection,
    id: &ProductId,
    changes: &ProductChanges,
) -> QueryResult<usize> {
    diesel::update(products::table.find(id))
        .set(changes)
        .execute(conn)
}

/// How many products use `key` as their preview.
pub fn references(conn: &mut DbConnection, key: &str) -> QueryResult<i64> {
    products::table
        .filter(products::preview_key.eq(key))
        .count()
        .get_result(conn)
}

/// Slug and title of each of `ids`, for objects that name products.
pub fn refs(
    conn: &mut DbConnection,
    ids: &[ProductId],
) -> QueryResult<std::collections::HashMap<ProductId, shared_types::OrderProduct>> {
    if ids.is_empty() {
        return Ok(Default::default());
    }
    let rows: Vec<(ProductId, String, String)> = products::table
        .filter(products::id.eq_any(ids))
        .select((products::id, products::slug, products::title))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, slug, title)| (id, shared_types::OrderProduct { slug, title }))
        .collect())
}

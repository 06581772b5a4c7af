//! Products made by the project rather than uploaded: many rows sharing one file for benchmarks
//! (`folio seed`) and the demo shop of `cargo xtask run` (`folio demo`).

mod cover;
pub mod demo;
mod pdf;

pub use cover::Canvas;
pub use pdf::{render as render_pdf, Book};

use diesel::Connection;
use shared_types::{Currency, ProductId, ProductStatus};

use super::repo::{self, ProductRow};
use crate::db::{now, DbConnection};
use crate::storage::StoredObject;

/// Adds `count` published products that share one stored file: demo data and benchmarks.
pub fn seed(
    conn: &mut DbConnection,
    count: usize,
    file: &StoredObject,
    price_cents: i64,
) -> anyhow::Result<usize> {
    let base = now();
    let batch = uuid::Uuid::new_v4().simple().to_string();
    let rows: Vec<ProductRow> = (0..count)
        .map(|i| {
            // Distinct, increasing creation times keep the catalog order well defined.
            let at = base + chrono::TimeDelta::microseconds(i as i64);
            ProductRow {
                id: ProductId::generate(),
                slug: format!("item-{}-{i}", &batch[..8]),
                title: format!("Item {i} of {count}"),
                description: format!("Seeded item number {i}: a sample PDF for trying Folio out."),
                price_cents,
                currency: Currency::Usd,
                status: ProductStatus::Published,
                preview_key: None,
                preview_content_type: None,
                created_at: at,
                updated_at: at,
                download_limit: None,
                access_days: None,
                stamp_pdfs: false,
                pay_what_you_want: false,
                suggested_price_cents: None,
            }
        })
        .collect();
    let (files, versions): (Vec<_>, Vec<_>) = rows
        .iter()
        .enumerate()
        .map(|(i, row)| {
            crate::files::repo::new_file(&row.id, 0, format!("item-{i}.pdf"), file, row.created_at)
        })
        .unzip();
    conn.transaction(|conn| {
        for chunk in rows.chunks(500) {
            repo::insert_many(conn, chunk)?;
        }
        crate::files::repo::insert(conn, &files, &versions)
    })?;
    Ok(rows.len())
}

//! Bundles: a product whose purchase grants other products. The one module that reads and
//! writes `bundle_items`. A bundle holds ordinary products only (no bundle in a bundle), so what
//! a purchase grants is one level deep and cannot loop.

use std::collections::HashMap;

use diesel::prelude::*;
use shared_types::{BundleItem, Money, ProductId, ProductStatus};

use crate::db::DbConnection;
use crate::error::ApiError;
use crate::schema::{bundle_items, products};

/// Most products one bundle may hold.
pub const MAX_BUNDLE_ITEMS: usize = 100;

/// Which of a bundle's items to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contents {
    /// The published ones: what the bundle shows and what buying it grants now. An archived
    /// item stays with those who have it already.
    Sold,
    /// All of them, drafts and archived ones too: what the admin edits.
    All,
}

/// The contents of each of `bundles`, in the seller's order.
pub fn items_for(
    conn: &mut DbConnection,
    bundles: &[ProductId],
    contents: Contents,
) -> QueryResult<HashMap<ProductId, Vec<BundleItem>>> {
    if bundles.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = bundle_items::table
        .inner_join(products::table.on(products::id.eq(bundle_items::product_id)))
        .filter(bundle_items::bundle_id.eq_any(bundles))
        .into_boxed();
    if contents == Contents::Sold {
        query = query.filter(products::status.eq(ProductStatus::Published));
    }
    let rows: Vec<(
        ProductId,
        ProductId,
        String,
        String,
        i64,
        shared_types::Currency,
    )> = query
        .order_by((bundle_items::bundle_id, bundle_items::position))
        .select((
            bundle_items::bundle_id,
            products::id,
            products::slug,
            products::title,
            products::price_cents,
            products::currency,
        ))
        .load(conn)?;
    let mut out: HashMap<ProductId, Vec<BundleItem>> = HashMap::new();
    for (bundle, id, slug, title, cents, currency) in rows {
        out.entry(bundle).or_default().push(BundleItem {
            id,
            slug,
            title,
            price: Money::new(cents, currency),
        });
    }
    Ok(out)
}

/// The contents of one bundle (empty for an ordinary product).
pub fn items_of(
    conn: &mut DbConnection,
    bundle: &ProductId,
    contents: Contents,
) -> QueryResult<Vec<BundleItem>> {
    Ok(items_for(conn, std::slice::from_ref(bundle), contents)?
        .remove(bundle)
        .unwrap_or_default())
}

/// Whether `product` has contents (is a bundle).
fn is_bundle(conn: &mut DbConnection, product: &ProductId) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        bundle_items::table.filter(bundle_items::bundle_id.eq(product)),
    ))
    .get_result(conn)
}

/// Replaces a bundle's contents (an empty list: an ordinary product again). Refuses unknown
/// products, the bundle itself, bundles inside it, and making a bundle of a product that is in
/// another bundle.
pub fn set_items(
    conn: &mut DbConnection,
    bundle: &ProductId,
    items: &[ProductId],
) -> Result<(), ApiError> {
    let bad = |message: String| ApiError::validation("bundle_items", message);
    if items.len() > MAX_BUNDLE_ITEMS {
        return Err(bad(format!(
            "a bundle holds at most {MAX_BUNDLE_ITEMS} products"
        )));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = items.iter().find(|id| !seen.insert(*id)) {
        return Err(bad(format!("{twice} is listed twice")));
    }
    if items.contains(bundle) {
        return Err(bad("a bundle cannot contain itself".into()));
    }
    if !items.is_empty() {
        let inside: bool = diesel::select(diesel::dsl::exists(
            bundle_items::table.filter(bundle_items::product_id.eq(bundle)),
        ))
        .get_result(conn)?;
        if inside {
            return Err(bad(
                "this product is part of another bundle, so it cannot be a bundle itself".into(),
            ));
        }
        let known: Vec<ProductId> = products::table
            .filter(products::id.eq_any(items))
            .select(products::id)
            .load(conn)?;
        if let Some(unknown) = items.iter().find(|id| !known.contains(id)) {
            return Err(bad(format!("there is no product {unknown}")));
        }
        for item in items {
            if is_bundle(conn, item)? {
                return Err(bad(format!("{item} is a bundle: bundles cannot be nested")));
            }
        }
    }
    diesel::delete(bundle_items::table.filter(bundle_items::bundle_id.eq(bundle))).execute(conn)?;
    for (position, item) in items.iter().enumerate() {
        diesel::insert_into(bundle_items::table)
            .values((
                bundle_items::bundle_id.eq(bundle),
                bundle_items::product_id.eq(item),
                bundle_items::position.eq(position as i32),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// The bundles that hold `product`: what else can carry its entitlement.
pub fn bundles_holding(
    conn: &mut DbConnection,
    product: &ProductId,
) -> QueryResult<Vec<ProductId>> {
    bundle_items::table
        .filter(bundle_items::product_id.eq(product))
        .select(bundle_items::bundle_id)
        .load(conn)
}

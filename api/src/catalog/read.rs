//! Reading the catalog: the public listing (from the page cache), product pages, and the
//! visibility rule for drafts and archived products.

use std::sync::Arc;

use super::cache::Holdings;

use shared_types::{Product, ProductId, ProductPage, ProductStatus, Slug, UserId};

use super::repo::{self, ListFilter, ProductRow};
use super::{cache, to_dto, ListQuery, Listed, MAX_SEARCH_CHARS};
use crate::auth::{AuthUser, MaybeUser};
use crate::error::ApiError;
use crate::library;
use crate::pagination::{self, Cursor};
use crate::AppState;

/// A list query, checked.
struct ParsedList {
    limit: i64,
    after: Option<Cursor>,
    search: Option<String>,
}

fn parse_list(query: ListQuery) -> Result<ParsedList, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = query.cursor.as_deref().map(Cursor::decode).transpose()?;
    let search = query
        .q
        .map(|q| q.trim().to_owned())
        .filter(|q| !q.is_empty());
    if search
        .as_ref()
        .is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS)
    {
        return Err(ApiError::validation(
            "q",
            "search text must be at most 200 characters",
        ));
    }
    Ok(ParsedList {
        limit,
        after,
        search,
    })
}

/// The public catalog page as a JSON body (`ProductPage`), from the page cache when it is fresh;
/// `owned` flags are the caller's own, read from the database.
pub async fn public_page(
    state: &AppState,
    user: &MaybeUser,
    query: ListQuery,
) -> Result<bytes::Bytes, ApiError> {
    let cursor = query.cursor.clone();
    let parsed = parse_list(query)?;
    let key = cache::PageKey {
        limit: parsed.limit,
        cursor,
        search: parsed.search.clone(),
    };
    super::notify::sync(state).await?;
    let page = match state.catalog.get(&key) {
        Some(page) => page,
        None => {
            let generation = state.catalog.generation();
            let page = list_parsed(state, &MaybeUser(None), parsed, false).await?;
            let page = Arc::new(cache::Page::new(page.items, page.next_cursor));
            state.catalog.store(key, generation, page.clone());
            page
        }
    };
    let Some(user) = &user.0 else {
        return Ok(page.body.clone());
    };
    Ok(page.body_for(&*owned_by(state, &user.id).await?))
}

/// The products `user_id` owns and what their memberships unlock, from the cache when it is
/// fresh.
async fn owned_by(state: &AppState, user_id: &UserId) -> Result<Arc<Holdings>, ApiError> {
    if let Some(owned) = state.catalog.owned(user_id) {
        return Ok(owned);
    }
    let generation = state.catalog.owners_generation();
    let (id, at) = (user_id.clone(), crate::membership::access_at(state));
    let owned = state
        .db
        .run(move |conn| {
            Ok(Holdings {
                owned: library::repo::owned_by(conn, &id)?,
                unlocked: crate::membership::unlocked(conn, &id, at)?,
            })
        })
        .await?;
    let owned = Arc::new(owned);
    state
        .catalog
        .store_owned(user_id.clone(), generation, owned.clone());
    Ok(owned)
}

/// Lists products: published ones for everybody, every status for admins (`all`).
pub async fn list(
    state: &AppState,
    user: &MaybeUser,
    query: ListQuery,
    all: bool,
) -> Result<ProductPage, ApiError> {
    list_parsed(state, user, parse_list(query)?, all).await
}

async fn list_parsed(
    state: &AppState,
    user: &MaybeUser,
    query: ParsedList,
    all: bool,
) -> Result<ProductPage, ApiError> {
    let ParsedList {
        limit,
        after,
        search,
    } = query;
    let user_id = user.0.as_ref().map(|u| u.id.clone());
    let at = crate::membership::access_at(state);
    let (rows, files, owned, sales, bundles) = state
        .db
        .run(move |conn| {
            let rows = repo::list(
                conn,
                ListFilter {
                    status: (!all).then_some(ProductStatus::Published),
                    search: search.as_deref(),
                    after: after.as_ref(),
                    limit: limit + 1,
                },
            )?;
            let ids: Vec<ProductId> = rows.iter().map(|r| r.id.clone()).collect();
            let files = crate::files::repo::current_for(conn, &ids)?;
            let sales = if all {
                crate::payments::repo::paid_orders_by_product(conn, &ids)?
            } else {
                Default::default()
            };
            let owned = match user_id {
                Some(uid) => Holdings {
                    owned: library::repo::owned_among(conn, &uid, &ids)?,
                    unlocked: crate::membership::unlocked(conn, &uid, at)?,
                },
                None => Holdings::default(),
            };
            let bundles = super::bundles::items_for(
                conn,
                &ids,
                if all {
                    super::bundles::Contents::All
                } else {
                    super::bundles::Contents::Sold
                },
            )?;
            Ok((rows, files, owned, sales, bundles))
        })
        .await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |r| (r.created_at, r.id.as_str()));
    Ok(ProductPage {
        items: rows
            .iter()
            .map(|r| {
                let (mine, included) = owned.holds(&r.id, r.status);
                Product {
                    sales: all.then(|| sales.get(&r.id).copied().unwrap_or(0)),
                    bundle_items: bundles.get(&r.id).cloned().unwrap_or_default(),
                    owned: mine,
                    included,
                    ..to_dto(
                        &state.settings,
                        r,
                        files.get(&r.id).map(Vec::as_slice).unwrap_or_default(),
                        mine || included,
                    )
                }
            })
            .collect(),
        next_cursor,
    })
}

/// Whether `user` may see `row`: published products everybody; drafts and archived ones only
/// admins and users who own them. Anything else is "not found", not "forbidden", so unpublished
/// slugs do not leak.
fn visible(row: &ProductRow, user: Option<&AuthUser>, owned: bool) -> Result<(), ApiError> {
    let is_admin = user.is_some_and(|u| u.role == shared_types::Role::Admin);
    if row.status == ProductStatus::Published || owned || is_admin {
        Ok(())
    } else {
        Err(ApiError::NotFound("product"))
    }
}

/// The product at `slug` if `user` may see it, and whether `user` owns it, read from the
/// database now: for checkout, which must charge today's price.
pub async fn visible_product(
    state: &AppState,
    user: Option<&AuthUser>,
    slug: String,
) -> Result<(ProductRow, bool), ApiError> {
    if Slug::parse(&slug).is_err() {
        return Err(ApiError::NotFound("product"));
    }
    let user = user.cloned();
    state
        .db
        .run(move |conn| {
            let row = repo::find_by_slug(conn, &slug)?.ok_or(ApiError::NotFound("product"))?;
            let owned = match &user {
                Some(u) => library::repo::has_live_entitlement(conn, &u.id, &row.id)?,
                None => false,
            };
            visible(&row, user.as_ref(), owned)?;
            Ok((row, owned))
        })
        .await
}

/// What a caller holds of one product: owned outright, or unlocked by a membership.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Held {
    pub owned: bool,
    pub included: bool,
}

/// [`visible_product`] from the catalog cache when it is fresh: for the product page and
/// download links (the download itself checks the entitlement in the database again).
pub async fn visible_product_cached(
    state: &AppState,
    user: Option<&AuthUser>,
    slug: String,
) -> Result<(Arc<Listed>, Held), ApiError> {
    if Slug::parse(&slug).is_err() {
        return Err(ApiError::NotFound("product"));
    }
    super::notify::sync(state).await?;
    let row = match state.catalog.product(&slug) {
        Some(row) => row,
        None => {
            let generation = state.catalog.products_generation();
            let listed = state
                .db
                .run(move |conn| {
                    let row =
                        repo::find_by_slug(conn, &slug)?.ok_or(ApiError::NotFound("product"))?;
                    let files = crate::files::repo::current_of(conn, &row.id)?;
                    let bundle =
                        super::bundles::items_of(conn, &row.id, super::bundles::Contents::Sold)?;
                    Ok(Listed { row, files, bundle })
                })
                .await?;
            let listed = Arc::new(listed);
            state.catalog.store_product(generation, listed.clone());
            listed
        }
    };
    let held = match user {
        Some(u) => {
            let (owned, included) = owned_by(state, &u.id)
                .await?
                .holds(&row.row.id, row.row.status);
            Held { owned, included }
        }
        None => Held::default(),
    };
    visible(&row.row, user, held.owned)?;
    Ok((row, held))
}

pub async fn get(state: &AppState, user: &MaybeUser, slug: String) -> Result<Product, ApiError> {
    let (listed, held) = visible_product_cached(state, user.0.as_ref(), slug).await?;
    Ok(Product {
        bundle_items: listed.bundle.clone(),
        owned: held.owned,
        included: held.included,
        // A member sees the files a buyer would.
        ..to_dto(
            &state.settings,
            &listed.row,
            &listed.files,
            held.owned || held.included,
        )
    })
}

//! The catalog: public listing and product pages, and the admin operations that change it.

pub mod admin_routes;
pub mod cache;
pub mod demo;
pub mod repo;
pub mod routes;
pub mod upload;

use diesel::Connection;
use serde::Deserialize;
use shared_types::{
    Currency, Description, FieldError, Money, Price, Product, ProductFile, ProductPage,
    ProductStatus, Slug, Title, UpdateProductRequest,
};

use crate::auth::{AuthUser, MaybeUser};
use crate::config::Settings;
use crate::db::now;
use crate::error::ApiError;
use crate::pagination::{self, Cursor};
use crate::storage::StoredObject;
use crate::AppState;
use repo::{ListFilter, ProductChanges, ProductRow};

/// Longest search text accepted (`q`).
pub const MAX_SEARCH_CHARS: usize = 200;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Words to find in the title or description (case-insensitive).
    pub q: Option<String>,
}

pub fn to_dto(settings: &Settings, row: &ProductRow, owned: bool) -> Product {
    let currency: Currency = row.currency.parse().unwrap_or_default();
    Product {
        id: row.id.clone(),
        slug: row.slug.clone(),
        title: row.title.clone(),
        description: row.description.clone(),
        price: Money::new(row.price_cents, currency),
        is_free: row.price_cents == 0,
        status: ProductStatus::from_db(&row.status).unwrap_or(ProductStatus::Draft),
        preview_url: row
            .preview_key
            .as_ref()
            .map(|key| settings.public(&format!("/media/{key}"))),
        file: ProductFile {
            name: row.file_name.clone(),
            size: row.file_size,
            content_type: row.file_content_type.clone(),
        },
        owned,
        sales: None,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    }
}

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
    let page = match state.catalog.get(&key) {
        Some(page) => page,
        None => {
            let generation = state.catalog.generation();
            let page = list_parsed(state, &MaybeUser(None), parsed, false).await?;
            let page = std::sync::Arc::new(cache::Page::new(page.items, page.next_cursor));
            state.catalog.store(key, generation, page.clone());
            page
        }
    };
    let Some(user) = &user.0 else {
        return Ok(page.body.clone());
    };
    Ok(page.body_for(&*owned_by(state, &user.id).await?))
}

/// The products `user_id` owns, from the cache when it is fresh.
async fn owned_by(
    state: &AppState,
    user_id: &str,
) -> Result<std::sync::Arc<std::collections::HashSet<String>>, ApiError> {
    if let Some(owned) = state.catalog.owned(user_id) {
        return Ok(owned);
    }
    let generation = state.catalog.owners_generation();
    let id = user_id.to_owned();
    let owned = state
        .db
        .run(move |conn| Ok(crate::library::owned_by(conn, &id)?))
        .await?;
    let owned = std::sync::Arc::new(owned);
    state
        .catalog
        .store_owned(user_id.to_owned(), generation, owned.clone());
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
    let (rows, owned, sales) = state
        .db
        .run(move |conn| {
            let rows = repo::list(
                conn,
                ListFilter {
                    status: (!all).then_some(ProductStatus::Published.as_str()),
                    search: search.as_deref(),
                    after: after.as_ref(),
                    limit: limit + 1,
                },
            )?;
            let sales = if all {
                let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                repo::paid_orders_by_product(conn, &ids)?
            } else {
                Default::default()
            };
            let owned = match user_id {
                Some(uid) => {
                    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
                    crate::library::owned_among(conn, &uid, &ids)?
                }
                None => Default::default(),
            };
            Ok((rows, owned, sales))
        })
        .await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |r| (r.created_at, r.id.as_str()));
    Ok(ProductPage {
        items: rows
            .iter()
            .map(|r| Product {
                sales: all.then(|| sales.get(&r.id).copied().unwrap_or(0)),
                ..to_dto(&state.settings, r, owned.contains(&r.id))
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
    if row.status == ProductStatus::Published.as_str() || owned || is_admin {
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
                Some(u) => crate::library::has_live_entitlement(conn, &u.id, &row.id)?,
                None => false,
            };
            visible(&row, user.as_ref(), owned)?;
            Ok((row, owned))
        })
        .await
}

/// [`visible_product`] from the catalog cache when it is fresh: for the product page and
/// download links (the download itself checks the entitlement in the database again).
pub async fn visible_product_cached(
    state: &AppState,
    user: Option<&AuthUser>,
    slug: String,
) -> Result<(std::sync::Arc<ProductRow>, bool), ApiError> {
    if Slug::parse(&slug).is_err() {
        return Err(ApiError::NotFound("product"));
    }
    let row = match state.catalog.product(&slug) {
        Some(row) => row,
        None => {
            let generation = state.catalog.products_generation();
            let row = state
                .db
                .run(move |conn| {
                    repo::find_by_slug(conn, &slug)?.ok_or(ApiError::NotFound("product"))
                })
                .await?;
            let row = std::sync::Arc::new(row);
            state.catalog.store_product(generation, row.clone());
            row
        }
    };
    let owned = match user {
        Some(u) => owned_by(state, &u.id).await?.contains(&row.id),
        None => false,
    };
    visible(&row, user, owned)?;
    Ok((row, owned))
}

pub async fn get(state: &AppState, user: &MaybeUser, slug: String) -> Result<Product, ApiError> {
    let (row, owned) = visible_product_cached(state, user.0.as_ref(), slug).await?;
    Ok(to_dto(&state.settings, &row, owned))
}

/// Input of a product create, as read from the multipart form.
#[derive(Default)]
pub struct NewProduct {
    pub title: Option<String>,
    pub description: Option<String>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub status: Option<String>,
    pub file: Option<(StoredObject, Option<String>)>,
    pub preview: Option<StoredObject>,
}

struct ParsedNewProduct {
    title: Title,
    description: Description,
    price: Price,
    status: ProductStatus,
}

fn parse_currency(raw: Option<&str>, errors: &mut Vec<FieldError>) -> Currency {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Currency::default(),
        Some(code) => code
            .parse()
            .unwrap_or_else(|e: shared_types::ValidationError| {
                errors.push(FieldError::new("currency", e.message));
                Currency::default()
            }),
    }
}

fn parse_new(input: &NewProduct) -> Result<ParsedNewProduct, ApiError> {
    let mut errors = Vec::new();
    let title = Title::parse(input.title.as_deref().unwrap_or(""))
        .map_err(|e| errors.push(FieldError::new("title", e.message)))
        .ok();
    if title.is_some() {
        if let Err(e) = Slug::from_title(input.title.as_deref().unwrap_or("")) {
            errors.push(FieldError::new("title", e.message));
        }
    }
    let description = Description::parse(input.description.as_deref().unwrap_or(""))
        .map_err(|e| errors.push(FieldError::new("description", e.message)))
        .ok();
    let currency = parse_currency(input.currency.as_deref(), &mut errors);
    let price = match input.price.as_deref() {
        None => {
            errors.push(FieldError::new("price", "price is required (0 for free)"));
            None
        }
        Some(p) => Price::parse(p, currency)
            .map_err(|e| errors.push(FieldError::new("price", e.message)))
            .ok(),
    };
    let status = match input
        .status
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None | Some("published") => ProductStatus::Published,
        Some("draft") => ProductStatus::Draft,
        Some(_) => {
            errors.push(FieldError::new(
                "status",
                "status must be draft or published",
            ));
            ProductStatus::Draft
        }
    };
    if input.file.is_none() {
        errors.push(FieldError::new("file", "a PDF file is required"));
    }
    match (title, description, price) {
        (Some(title), Some(description), Some(price)) if errors.is_empty() => {
            Ok(ParsedNewProduct {
                title,
                description,
                price,
                status,
            })
        }
        _ => Err(ApiError::Validation(errors)),
    }
}

/// The name a download is offered under: the uploaded name without any directory part or
/// control characters, ending in the extension of what the content really is.
pub fn safe_file_name(uploaded: Option<&str>, slug: &str, extension: &str) -> String {
    let base = uploaded
        .and_then(|n| n.rsplit(['/', '\\']).next())
        .unwrap_or("")
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(c, '"' | '\\' | '/' | ':' | '*' | '?' | '<' | '>' | '|')
        })
        .collect::<String>();
    let base = base.trim().trim_start_matches('.').trim();
    let mut name: String = if base.is_empty() {
        slug.to_owned()
    } else {
        base.chars().take(150).collect()
    };
    if !name
        .to_ascii_lowercase()
        .ends_with(&format!(".{extension}"))
    {
        name.push('.');
        name.push_str(extension);
    }
    name
}

/// Creates a product from an upload whose files are already stored. On any failure the objects
/// this request created are removed, so nothing is left behind.
pub async fn create(state: &AppState, input: NewProduct) -> Result<Product, ApiError> {
    let stored: Vec<StoredObject> = input
        .file
        .iter()
        .map(|(o, _)| o.clone())
        .chain(input.preview.iter().cloned())
        .collect();
    let result = create_row(state, &input).await;
    if result.is_err() {
        state
            .storage
            .discard(&stored.iter().collect::<Vec<_>>())
            .await;
    }
    result
}

async fn create_row(state: &AppState, input: &NewProduct) -> Result<Product, ApiError> {
    let parsed = parse_new(input)?;
    let slug = Slug::from_title(parsed.title.as_ref())
        .map_err(|e| ApiError::validation("title", e.message))?;
    let (file, uploaded_name) = input.file.clone().expect("parse_new requires a file");
    let at = now();
    let row = ProductRow {
        id: crate::db::new_id(),
        file_name: safe_file_name(uploaded_name.as_deref(), slug.as_ref(), file.extension),
        slug: slug.into_inner(),
        title: parsed.title.into_inner(),
        description: parsed.description.into_inner(),
        price_cents: parsed.price.cents(),
        currency: parsed.price.currency().code().into(),
        status: parsed.status.as_str().into(),
        file_key: file.key.clone(),
        file_size: file.size,
        file_sha256: file.sha256.clone(),
        file_content_type: file.content_type.into(),
        preview_key: input.preview.as_ref().map(|p| p.key.clone()),
        preview_content_type: input.preview.as_ref().map(|p| p.content_type.to_owned()),
        created_at: at,
        updated_at: at,
    };
    let inserted = row.clone();
    state
        .db
        .write(move |conn| {
            repo::insert(conn, &inserted).map_err(|e| {
                if crate::error::is_unique_violation(&e) {
                    ApiError::SlugTaken(inserted.slug.clone())
                } else {
                    e.into()
                }
            })
        })
        .await?;
    state.catalog.invalidate();
    tracing::info!(product_id = %row.id, slug = %row.slug, "product created");
    Ok(to_dto(&state.settings, &row, false))
}

async fn load(state: &AppState, id: String) -> Result<ProductRow, ApiError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::NotFound("product"));
    }
    state
        .db
        .run(move |conn| repo::find(conn, &id)?.ok_or(ApiError::NotFound("product")))
        .await
}

/// One product by id for admins: any status, with its paid orders.
pub async fn admin_get(state: &AppState, id: String) -> Result<Product, ApiError> {
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::NotFound("product"));
    }
    let (row, sales) = state
        .db
        .run(move |conn| {
            let row = repo::find(conn, &id)?.ok_or(ApiError::NotFound("product"))?;
            let sales = repo::paid_orders_by_product(conn, std::slice::from_ref(&row.id))?;
            Ok((row, sales))
        })
        .await?;
    Ok(Product {
        sales: Some(sales.get(&row.id).copied().unwrap_or(0)),
        ..to_dto(&state.settings, &row, false)
    })
}

pub async fn update(
    state: &AppState,
    id: String,
    req: UpdateProductRequest,
) -> Result<Product, ApiError> {
    let current = load(state, id.clone()).await?;
    let mut errors = Vec::new();
    let mut changes = ProductChanges {
        updated_at: Some(now()),
        ..Default::default()
    };
    if let Some(t) = &req.title {
        match Title::parse(t) {
            Ok(t) => changes.title = Some(t.into_inner()),
            Err(e) => errors.push(FieldError::new("title", e.message)),
        }
    }
    if let Some(d) = &req.description {
        match Description::parse(d) {
            Ok(d) => changes.description = Some(d.into_inner()),
            Err(e) => errors.push(FieldError::new("description", e.message)),
        }
    }
    let currency = req
        .currency
        .unwrap_or_else(|| current.currency.parse().unwrap_or_default());
    let cents = match &req.price {
        Some(p) => Price::parse(p, currency).map(|p| p.cents()),
        None => Price::from_cents(current.price_cents, currency).map(|p| p.cents()),
    };
    match cents {
        Ok(c) => {
            changes.price_cents = Some(c);
            changes.currency = Some(currency.code().to_owned());
        }
        Err(e) => errors.push(FieldError::new("price", e.message)),
    }
    changes.status = req.status.map(|s| s.as_str().to_owned());
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let row = state
        .db
        .write(move |conn| {
            repo::update(conn, &id, &changes)?;
            repo::find(conn, &id)?.ok_or(ApiError::NotFound("product"))
        })
        .await?;
    state.catalog.invalidate();
    Ok(to_dto(&state.settings, &row, false))
}

/// Archives a product: it leaves the catalog; owners keep it in their library and can download it.
pub async fn archive(state: &AppState, id: String) -> Result<(), ApiError> {
    update(
        state,
        id,
        UpdateProductRequest {
            status: Some(ProductStatus::Archived),
            ..Default::default()
        },
    )
    .await
    .map(drop)
}

/// Adds `count` published products that share one stored file: demo data and benchmarks.
pub fn seed(
    conn: &mut crate::db::DbConnection,
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
                id: crate::db::new_id(),
                slug: format!("item-{}-{i}", &batch[..8]),
                title: format!("Item {i} of {count}"),
                description: format!("Seeded item number {i}: a sample PDF for trying Folio out."),
                price_cents,
                currency: "usd".into(),
                status: ProductStatus::Published.as_str().into(),
                file_key: file.key.clone(),
                file_name: format!("item-{i}.pdf"),
                file_size: file.size,
                file_sha256: file.sha256.clone(),
                file_content_type: file.content_type.into(),
                preview_key: None,
                preview_content_type: None,
                created_at: at,
                updated_at: at,
            }
        })
        .collect();
    conn.transaction(|conn| {
        for chunk in rows.chunks(500) {
            repo::insert_many(conn, chunk)?;
        }
        diesel::QueryResult::Ok(())
    })?;
    Ok(rows.len())
}

#[derive(Clone, Copy)]
pub enum Replace {
    File,
    Preview,
}

/// Points a product at a newly stored file or preview, then removes the old object when no
/// product uses it any more. Download links issued for the old file stop working.
pub async fn replace_object(
    state: &AppState,
    id: String,
    what: Replace,
    object: StoredObject,
    uploaded_name: Option<String>,
) -> Result<Product, ApiError> {
    let result = async {
        let current = load(state, id.clone()).await?;
        let mut changes = ProductChanges {
            updated_at: Some(now()),
            ..Default::default()
        };
        let old_key = match what {
            Replace::File => {
                changes.file_name = Some(safe_file_name(
                    uploaded_name.as_deref(),
                    &current.slug,
                    object.extension,
                ));
                changes.file_key = Some(object.key.clone());
                changes.file_size = Some(object.size);
                changes.file_sha256 = Some(object.sha256.clone());
                changes.file_content_type = Some(object.content_type.to_owned());
                Some(current.file_key.clone())
            }
            Replace::Preview => {
                changes.preview_key = Some(Some(object.key.clone()));
                changes.preview_content_type = Some(Some(object.content_type.to_owned()));
                current.preview_key.clone()
            }
        };
        let (row, orphaned) = state
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    repo::update(conn, &id, &changes)?;
                    let row = repo::find(conn, &id)?.ok_or(ApiError::NotFound("product"))?;
                    let orphaned = match old_key {
                        Some(k)
                            if k != object_key(&row, what) && repo::references(conn, &k)? == 0 =>
                        {
                            Some(k)
                        }
                        _ => None,
                    };
                    Ok::<_, ApiError>((row, orphaned))
                })
            })
            .await?;
        state.catalog.invalidate();
        if let Some(key) = orphaned {
            if let Err(e) = state.storage.delete(&key).await {
                tracing::error!(%key, error = %e, "could not remove a replaced object");
            }
        }
        Ok(to_dto(&state.settings, &row, false))
    }
    .await;
    if result.is_err() {
        state.storage.discard(&[&object]).await;
    }
    result
}

fn object_key(row: &ProductRow, what: Replace) -> String {
    match what {
        Replace::File => row.file_key.clone(),
        Replace::Preview => row.preview_key.clone().unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_lose_directories_and_get_the_real_extension() {
        assert_eq!(
            safe_file_name(Some("../../etc/passwd"), "s", "pdf"),
            "passwd.pdf"
        );
        assert_eq!(
            safe_file_name(Some("C:\\docs\\Guide.PDF"), "s", "pdf"),
            "Guide.PDF"
        );
        assert_eq!(safe_file_name(Some("a\"b\r\n.pdf"), "s", "pdf"), "ab.pdf");
        assert_eq!(
            safe_file_name(Some("cover.png"), "s", "pdf"),
            "cover.png.pdf"
        );
        assert_eq!(safe_file_name(None, "my-guide", "pdf"), "my-guide.pdf");
        assert_eq!(
            safe_file_name(Some("..."), "my-guide", "pdf"),
            "my-guide.pdf"
        );
    }
}

//! Changing the catalog (admins): create from an upload, edit, archive, replace the preview.
//! Files after the first are the files area's ([`crate::files`]). Every write drops the catalog
//! cache on this node.

use diesel::Connection;
use shared_types::{
    Delivery, Product, ProductFields, ProductId, ProductStatus, Slug, UpdateProductRequest,
};

use super::repo::{self, ProductChanges, ProductRow};
use super::{safe_file_name, to_dto};
use crate::db::now;
use crate::error::ApiError;
use crate::files;
use crate::storage::StoredObject;
use crate::AppState;

/// Input of a product create, as read from the multipart form.
#[derive(Default)]
pub struct NewProduct {
    pub title: Option<String>,
    pub description: Option<String>,
    pub price: Option<String>,
    pub currency: Option<String>,
    pub status: Option<String>,
    pub download_limit: Option<String>,
    pub access_days: Option<String>,
    pub stamp_pdfs: Option<String>,
    pub file: Option<(StoredObject, Option<String>)>,
    pub preview: Option<StoredObject>,
}

/// The form's fields with the server's own checks added: a slug can be made from the title,
/// and there is a file.
fn parse_new(input: &NewProduct) -> Result<(ProductFields, Delivery, Slug), ApiError> {
    let title = input.title.as_deref().unwrap_or("");
    let parsed = ProductFields::parse(
        title,
        input.description.as_deref().unwrap_or(""),
        input.price.as_deref(),
        input.currency.as_deref(),
        input.status.as_deref(),
    );
    let delivery = Delivery::parse(
        input.download_limit.as_deref(),
        input.access_days.as_deref(),
        input.stamp_pdfs.as_deref(),
    );
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    errors.extend(delivery.as_ref().err().cloned().unwrap_or_default());
    let slug = Slug::from_title(title);
    if let Err(e) = &slug {
        if !errors.iter().any(|f| f.field == "title") {
            errors.push(shared_types::FieldError::new("title", e.message.clone()));
        }
    }
    if input.file.is_none() {
        errors.push(shared_types::FieldError::new("file", "a file is required"));
    }
    match (parsed, delivery, slug) {
        (Ok(fields), Ok(delivery), Ok(slug)) if errors.is_empty() => Ok((fields, delivery, slug)),
        _ => Err(ApiError::Validation(errors)),
    }
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
    let (fields, delivery, slug) = parse_new(input)?;
    let (file, uploaded_name) = input.file.clone().expect("parse_new requires a file");
    let at = now();
    let id = ProductId::generate();
    let (file_row, version) = files::repo::new_file(
        &id,
        0,
        safe_file_name(uploaded_name.as_deref(), slug.as_ref(), file.extension),
        &file,
        at,
    );
    let row = ProductRow {
        id,
        slug: slug.into_inner(),
        title: fields.title.into_inner(),
        description: fields.description.into_inner(),
        price_cents: fields.price.cents(),
        currency: fields.price.currency(),
        status: fields.status,
        preview_key: input.preview.as_ref().map(|p| p.key.clone()),
        preview_content_type: input.preview.as_ref().map(|p| p.content_type.to_owned()),
        created_at: at,
        updated_at: at,
        download_limit: delivery.download_limit,
        access_days: delivery.access_days,
        stamp_pdfs: delivery.stamp_pdfs,
    };
    let version = files::stamping::prepare_version(state, version, delivery.stamp_pdfs).await;
    let inserted = row.clone();
    let current = files::repo::Current {
        file: file_row,
        version,
    };
    let stored = current.clone();
    let written = state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                repo::insert(conn, &inserted).map_err(|e| {
                    if crate::error::is_unique_violation(&e) {
                        ApiError::SlugTaken(inserted.slug.clone())
                    } else {
                        e.into()
                    }
                })?;
                files::repo::insert(
                    conn,
                    std::slice::from_ref(&stored.file),
                    std::slice::from_ref(&stored.version),
                )?;
                Ok::<_, ApiError>(())
            })
        })
        .await;
    if let Err(e) = written {
        files::stamping::discard_plan(state, &current.version).await;
        return Err(e);
    }
    state.catalog.invalidate();
    tracing::info!(product_id = %row.id, slug = %row.slug, "product created");
    Ok(to_dto(&state.settings, &row, &[current], false))
}

async fn load(state: &AppState, id: ProductId) -> Result<ProductRow, ApiError> {
    state
        .db
        .run(move |conn| repo::find(conn, &id)?.ok_or(ApiError::NotFound("product")))
        .await
}

/// A product with its files, read in one database job.
fn find_listed(
    conn: &mut crate::db::DbConnection,
    id: &ProductId,
) -> Result<super::Listed, ApiError> {
    let row = repo::find(conn, id)?.ok_or(ApiError::NotFound("product"))?;
    let files = files::repo::current_of(conn, id)?;
    Ok(super::Listed { row, files })
}

/// One product by id for admins: any status, with its paid orders.
pub async fn admin_get(state: &AppState, id: ProductId) -> Result<Product, ApiError> {
    let (listed, sales) = state
        .db
        .run(move |conn| {
            let listed = find_listed(conn, &id)?;
            let sales = crate::payments::repo::paid_orders_by_product(
                conn,
                std::slice::from_ref(&listed.row.id),
            )?;
            Ok((listed, sales))
        })
        .await?;
    Ok(Product {
        sales: Some(sales.get(&listed.row.id).copied().unwrap_or(0)),
        ..to_dto(&state.settings, &listed.row, &listed.files, false)
    })
}

pub async fn update(
    state: &AppState,
    id: ProductId,
    req: UpdateProductRequest,
) -> Result<Product, ApiError> {
    let current = load(state, id.clone()).await?;
    let edit = req
        .parse(current.price_cents, current.currency)
        .map_err(ApiError::Validation)?;
    let changes = ProductChanges {
        title: edit.title.map(|t| t.into_inner()),
        description: edit.description.map(|d| d.into_inner()),
        price_cents: Some(edit.price.cents()),
        currency: Some(edit.price.currency()),
        status: edit.status,
        download_limit: edit.download_limit,
        access_days: edit.access_days,
        stamp_pdfs: edit.stamp_pdfs,
        updated_at: Some(now()),
        ..Default::default()
    };
    let stamping_on = edit.stamp_pdfs == Some(true) && !current.stamp_pdfs;
    let listed = state
        .db
        .write(move |conn| {
            repo::update(conn, &id, &changes)?;
            find_listed(conn, &id)
        })
        .await?;
    state.catalog.invalidate();
    if stamping_on {
        // PDFs uploaded while stamping was off were not prepared: prepare them now, so the
        // admin learns at once which cannot be stamped.
        files::stamping::prepare_missing(state, &listed.files).await;
    }
    let listed = state
        .db
        .run({
            let id = listed.row.id.clone();
            move |conn| find_listed(conn, &id)
        })
        .await?;
    Ok(to_dto(&state.settings, &listed.row, &listed.files, false))
}

/// Archives a product: it leaves the catalog; owners keep it in their library and can download it.
pub async fn archive(state: &AppState, id: ProductId) -> Result<(), ApiError> {
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

/// Points a product at a newly stored preview, then removes the old one when no product uses it
/// any more.
pub async fn replace_preview(
    state: &AppState,
    id: ProductId,
    object: StoredObject,
) -> Result<Product, ApiError> {
    let result = async {
        let current = load(state, id.clone()).await?;
        let changes = ProductChanges {
            updated_at: Some(now()),
            preview_key: Some(Some(object.key.clone())),
            preview_content_type: Some(Some(object.content_type.to_owned())),
            ..Default::default()
        };
        let old_key = current.preview_key.clone();
        let new_key = object.key.clone();
        let (listed, orphaned) = state
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    repo::update(conn, &id, &changes)?;
                    let listed = find_listed(conn, &id)?;
                    let orphaned = match old_key {
                        Some(k) if k != new_key && repo::references(conn, &k)? == 0 => Some(k),
                        _ => None,
                    };
                    Ok::<_, ApiError>((listed, orphaned))
                })
            })
            .await?;
        state.catalog.invalidate();
        if let Some(key) = orphaned {
            if let Err(e) = state.storage.delete(&key).await {
                tracing::error!(%key, error = %e, "could not remove a replaced preview");
            }
        }
        Ok(to_dto(&state.settings, &listed.row, &listed.files, false))
    }
    .await;
    if result.is_err() {
        state.storage.discard(&[&object]).await;
    }
    result
}

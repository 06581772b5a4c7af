//! Changing the catalog (admins): create from an upload, edit, archive, replace a file or a
//! preview. Every write drops the catalog cache on this node.

use diesel::Connection;
use shared_types::{Product, ProductFields, ProductId, ProductStatus, Slug, UpdateProductRequest};

use super::repo::{self, ProductChanges, ProductRow};
use super::{safe_file_name, to_dto};
use crate::db::now;
use crate::error::ApiError;
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
    pub file: Option<(StoredObject, Option<String>)>,
    pub preview: Option<StoredObject>,
}

/// The form's fields with the server's own checks added: a slug can be made from the title,
/// and there is a file.
fn parse_new(input: &NewProduct) -> Result<(ProductFields, Slug), ApiError> {
    let title = input.title.as_deref().unwrap_or("");
    let parsed = ProductFields::parse(
        title,
        input.description.as_deref().unwrap_or(""),
        input.price.as_deref(),
        input.currency.as_deref(),
        input.status.as_deref(),
    );
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    let slug = Slug::from_title(title);
    if let Err(e) = &slug {
        if !errors.iter().any(|f| f.field == "title") {
            errors.push(shared_types::FieldError::new("title", e.message.clone()));
        }
    }
    if input.file.is_none() {
        errors.push(shared_types::FieldError::new(
            "file",
            "a PDF file is required",
        ));
    }
    match (parsed, slug) {
        (Ok(fields), Ok(slug)) if errors.is_empty() => Ok((fields, slug)),
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
    let (fields, slug) = parse_new(input)?;
    let (file, uploaded_name) = input.file.clone().expect("parse_new requires a file");
    let at = now();
    let row = ProductRow {
        id: ProductId::generate(),
        file_name: safe_file_name(uploaded_name.as_deref(), slug.as_ref(), file.extension),
        slug: slug.into_inner(),
        title: fields.title.into_inner(),
        description: fields.description.into_inner(),
        price_cents: fields.price.cents(),
        currency: fields.price.currency(),
        status: fields.status,
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

async fn load(state: &AppState, id: ProductId) -> Result<ProductRow, ApiError> {
    state
        .db
        .run(move |conn| repo::find(conn, &id)?.ok_or(ApiError::NotFound("product")))
        .await
}

/// One product by id for admins: any status, with its paid orders.
pub async fn admin_get(state: &AppState, id: ProductId) -> Result<Product, ApiError> {
    let (row, sales) = state
        .db
        .run(move |conn| {
            let row = repo::find(conn, &id)?.ok_or(ApiError::NotFound("product"))?;
            let sales =
                crate::payments::repo::paid_orders_by_product(conn, std::slice::from_ref(&row.id))?;
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
        updated_at: Some(now()),
        ..Default::default()
    };
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

#[derive(Clone, Copy)]
pub enum Replace {
    File,
    Preview,
}

/// Points a product at a newly stored file or preview, then removes the old object when no
/// product uses it any more. Download links issued for the old file stop working.
pub async fn replace_object(
    state: &AppState,
    id: ProductId,
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

//! Changing the catalog (admins): create from an upload, edit, archive, replace the preview.
//! Files after the first are the files area's ([`crate::files`]). Every write drops the catalog
//! cache on this node.

use diesel::Connection;
use shared_types::{
    Delivery, Price, Product, ProductFields, ProductId, ProductStatus, Selling, Slug,
    UpdateProductRequest, WebhookEventType,
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
    pub pay_what_you_want: Option<String>,
    pub suggested_price: Option<String>,
    /// Product ids, separated by commas or spaces.
    pub bundle_items: Option<String>,
    pub file: Option<(StoredObject, Option<String>)>,
    pub preview: Option<StoredObject>,
}

/// What a create makes of the form's fields.
struct Parsed {
    fields: ProductFields,
    delivery: Delivery,
    slug: Slug,
    selling: Selling,
    bundle: Vec<ProductId>,
}

/// The form's fields with the server's own checks added: a slug can be made from the title,
/// and there is a file (a bundle may go without).
fn parse_new(input: &NewProduct) -> Result<Parsed, ApiError> {
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
    let selling = Selling::parse(
        input.pay_what_you_want.as_deref(),
        input.suggested_price.as_deref(),
        parsed.as_ref().ok().map(|f| f.price),
    );
    errors.extend(selling.as_ref().err().cloned().unwrap_or_default());
    let mut bundle = Vec::new();
    for raw in input
        .bundle_items
        .as_deref()
        .unwrap_or("")
        .split([',', ' ', '\n'])
        .filter(|s| !s.trim().is_empty())
    {
        match ProductId::parse(raw.trim()) {
            Ok(id) => bundle.push(id),
            Err(_) => errors.push(shared_types::FieldError::new(
                "bundle_items",
                format!("`{}` is not a product id", raw.trim()),
            )),
        }
    }
    if !bundle.is_empty()
        && parsed.as_ref().is_ok_and(|f| f.price.is_free())
        && !selling.as_ref().is_ok_and(|s| s.pay_what_you_want)
    {
        errors.push(shared_types::FieldError::new(
            "price",
            shared_types::forms::FREE_BUNDLE,
        ));
    }
    let slug = Slug::from_title(title);
    if let Err(e) = &slug {
        if !errors.iter().any(|f| f.field == "title") {
            errors.push(shared_types::FieldError::new("title", e.message.clone()));
        }
    }
    if input.file.is_none() && bundle.is_empty() {
        errors.push(shared_types::FieldError::new("file", "a file is required"));
    }
    match (parsed, delivery, slug, selling) {
        (Ok(fields), Ok(delivery), Ok(slug), Ok(selling)) if errors.is_empty() => Ok(Parsed {
            fields,
            delivery,
            slug,
            selling,
            bundle,
        }),
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
    let Parsed {
        fields,
        delivery,
        slug,
        selling,
        bundle,
    } = parse_new(input)?;
    let at = now();
    let id = ProductId::generate();
    let row = ProductRow {
        id: id.clone(),
        slug: slug.as_ref().to_owned(),
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
        pay_what_you_want: selling.pay_what_you_want,
        suggested_price_cents: selling.suggested_cents,
    };
    let current = match input.file.clone() {
        Some((file, uploaded_name)) => {
            let (file_row, version) = files::repo::new_file(
                &id,
                0,
                safe_file_name(uploaded_name.as_deref(), slug.as_ref(), file.extension),
                &file,
                at,
            );
            let version =
                files::stamping::prepare_version(state, version, delivery.stamp_pdfs).await;
            Some(files::repo::Current {
                file: file_row,
                version,
            })
        }
        None => None,
    };
    let (inserted, stored) = (row.clone(), current.clone());
    let (settings, jobs) = (state.settings.clone(), state.settings.jobs.clone());
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
                if let Some(stored) = &stored {
                    files::repo::insert(
                        conn,
                        std::slice::from_ref(&stored.file),
                        std::slice::from_ref(&stored.version),
                    )?;
                }
                super::bundles::set_items(conn, &inserted.id, &bundle)?;
                emit_product(
                    conn,
                    &settings,
                    &jobs,
                    &inserted.id,
                    WebhookEventType::ProductCreated,
                )?;
                super::bundles::items_of(conn, &inserted.id, super::bundles::Contents::All)
                    .map_err(ApiError::from)
            })
        })
        .await;
    let bundle = match written {
        Ok(bundle) => bundle,
        Err(e) => {
            if let Some(current) = &current {
                files::stamping::discard_plan(state, &current.version).await;
            }
            return Err(e);
        }
    };
    state.catalog.invalidate();
    tracing::info!(product_id = %row.id, slug = %row.slug, "product created");
    let files: Vec<_> = current.into_iter().collect();
    Ok(Product {
        bundle_items: bundle,
        ..to_dto(&state.settings, &row, &files, false)
    })
}

async fn load(state: &AppState, id: ProductId) -> Result<ProductRow, ApiError> {
    state
        .db
        .run(move |conn| repo::find(conn, &id)?.ok_or(ApiError::NotFound("product")))
        .await
}

/// Tells the webhook endpoints about a product (as admins see it), in the caller's transaction.
fn emit_product(
    conn: &mut crate::db::DbConnection,
    settings: &crate::config::Settings,
    jobs: &crate::config::JobSettings,
    id: &ProductId,
    kind: WebhookEventType,
) -> diesel::QueryResult<()> {
    crate::webhooks::emit(conn, jobs, kind, |conn| {
        let Some(row) = repo::find(conn, id)? else {
            return Ok(None);
        };
        let files = files::repo::current_of(conn, id)?;
        let product = Product {
            bundle_items: super::bundles::items_of(conn, id, super::bundles::Contents::All)?,
            ..to_dto(settings, &row, &files, false)
        };
        Ok(Some(
            serde_json::to_value(product).expect("a product serialises"),
        ))
    })
}

/// A product with its files, read in one database job.
fn find_listed(
    conn: &mut crate::db::DbConnection,
    id: &ProductId,
) -> Result<super::Listed, ApiError> {
    let row = repo::find(conn, id)?.ok_or(ApiError::NotFound("product"))?;
    let files = files::repo::current_of(conn, id)?;
    let bundle = super::bundles::items_of(conn, id, super::bundles::Contents::All)?;
    Ok(super::Listed { row, files, bundle })
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
        ..listed_dto(state, &listed)
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
    let selling = edit_selling(&req, &current, edit.price)?;
    let bundle = req.bundle_items.clone();
    let changes = ProductChanges {
        pay_what_you_want: Some(selling.pay_what_you_want),
        suggested_price_cents: Some(selling.suggested_cents),
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
    let kind = if edit.status == Some(ProductStatus::Archived)
        && current.status != ProductStatus::Archived
    {
        WebhookEventType::ProductArchived
    } else {
        WebhookEventType::ProductUpdated
    };
    let (settings, jobs) = (state.settings.clone(), state.settings.jobs.clone());
    let listed = state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                repo::update(conn, &id, &changes)?;
                if let Some(items) = &bundle {
                    super::bundles::set_items(conn, &id, items)?;
                }
                let listed = find_listed(conn, &id)?;
                if !listed.bundle.is_empty() && listed.row.is_free() {
                    return Err(ApiError::validation(
                        "price",
                        shared_types::forms::FREE_BUNDLE,
                    ));
                }
                emit_product(conn, &settings, &jobs, &id, kind)?;
                Ok(listed)
            })
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
    Ok(listed_dto(state, &listed))
}

/// A product as admins see it after a write.
fn listed_dto(state: &AppState, listed: &super::Listed) -> Product {
    Product {
        bundle_items: listed.bundle.clone(),
        ..to_dto(&state.settings, &listed.row, &listed.files, false)
    }
}

/// Pay what you want and the suggested price after an edit: each as sent, else as it is.
fn edit_selling(
    req: &UpdateProductRequest,
    current: &ProductRow,
    price: Price,
) -> Result<Selling, ApiError> {
    let pay_what_you_want = req.pay_what_you_want.unwrap_or(current.pay_what_you_want);
    let suggested_text = match &req.suggested_price {
        Some(text) => text.clone(),
        // Kept, it must still fit the (maybe new) minimum; turning pay what you want off drops it.
        None if pay_what_you_want => current
            .suggested_price_cents
            .map(|c| format!("{}.{:02}", c / 100, c % 100)),
        None => None,
    };
    let suggested_cents = Selling::check(
        pay_what_you_want,
        suggested_text
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty()),
        price,
    )
    .map_err(|e| ApiError::validation("suggested_price", e.message))?;
    Ok(Selling {
        pay_what_you_want,
        suggested_cents,
    })
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
        Ok(listed_dto(state, &listed))
    }
    .await;
    if result.is_err() {
        state.storage.discard(&[&object]).await;
    }
    result
}

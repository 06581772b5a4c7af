//! A product's files: an ordered list, each with a history of versions (buyers get the latest),
//! of any kind. This area owns `product_files` and `file_versions` ([`repo`]); it adds, renames,
//! reorders and removes files, takes new versions (telling buyers through the job queue when the
//! admin asks: [`notices`]), prepares PDFs for stamping ([`stamping`]) and streams "Download
//! all" as a ZIP ([`zip`]).

pub mod notices;
pub mod repo;
pub mod routes;
pub mod stamping;
pub mod zip;

use diesel::Connection;
use shared_types::{
    FileHistory, FileId, FileVersion, NewVersionResponse, ProductFile, ProductId, UpdateFileRequest,
};

use crate::catalog::upload::FileUpload;
use crate::db::now;
use crate::error::ApiError;
use crate::jobs::{self, Task};
use crate::AppState;
use repo::{Current, VersionRow};

/// Longest display name of a file.
pub const MAX_NAME_CHARS: usize = 150;
/// Longest note of a version.
pub const MAX_NOTE_CHARS: usize = 2_000;

pub fn to_dto(current: &Current) -> ProductFile {
    let Current { file, version } = current;
    ProductFile {
        id: file.id.clone(),
        name: file.name.clone(),
        size: version.size,
        content_type: version.content_type.clone(),
        sha256: version.sha256.clone(),
        version: version.version,
        updated_at: version.uploaded_at.and_utc(),
        note: version.note.clone(),
        downloads_used: None,
        downloads_left: None,
    }
}

fn version_dto(row: &VersionRow, queued: i64, sent: i64) -> FileVersion {
    FileVersion {
        id: row.id.clone(),
        version: row.version,
        size: row.size,
        sha256: row.sha256.clone(),
        content_type: row.content_type.clone(),
        note: row.note.clone(),
        uploaded_at: row.uploaded_at.and_utc(),
        stamp_error: row.stamp_error.clone(),
        notices_queued: queued,
        notices_sent: sent,
    }
}

/// The display name for an upload: the one given, else the uploaded name, cleaned and ending in
/// the extension of what the content is.
fn display_name(
    given: Option<&str>,
    uploaded: Option<&str>,
    fallback: &str,
    extension: &str,
) -> Result<String, ApiError> {
    if let Some(name) = given {
        check_name(name)?;
    }
    let name = given.or(uploaded);
    Ok(crate::catalog::safe_file_name(name, fallback, extension))
}

fn check_name(name: &str) -> Result<(), ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() || trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::validation(
            "name",
            "a file name must be 1 to 150 characters",
        ));
    }
    Ok(())
}

fn parse_note(note: Option<&str>) -> Result<Option<String>, ApiError> {
    let note = note.map(str::trim).filter(|n| !n.is_empty());
    if note.is_some_and(|n| n.chars().count() > MAX_NOTE_CHARS) {
        return Err(ApiError::validation(
            "note",
            "a version note must be at most 2,000 characters",
        ));
    }
    Ok(note.map(str::to_owned))
}

/// The product's row and its files (removed ones too), for an admin change.
async fn load(
    state: &AppState,
    product: &ProductId,
) -> Result<(crate::catalog::repo::ProductRow, Vec<Current>), ApiError> {
    let id = product.clone();
    state
        .db
        .run(move |conn| {
            let row =
                crate::catalog::repo::find(conn, &id)?.ok_or(ApiError::NotFound("product"))?;
            Ok((row, repo::current_of(conn, &id)?))
        })
        .await
}

fn find_live<'a>(files: &'a [Current], file: &FileId) -> Result<&'a Current, ApiError> {
    files
        .iter()
        .find(|c| &c.file.id == file && c.file.removed_at.is_none())
        .ok_or(ApiError::NotFound("file"))
}

/// Runs `f` on the upload; when it fails, the objects the upload stored are removed again.
async fn keeping_on_success<T>(
    state: &AppState,
    upload: &FileUpload,
    f: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    match f.await {
        Ok(value) => Ok(value),
        Err(e) => {
            state.storage.discard(&[&upload.object]).await;
            Err(e)
        }
    }
}

/// Adds a file at the end of a product's list.
pub async fn add_file(
    state: &AppState,
    product: ProductId,
    upload: FileUpload,
) -> Result<ProductFile, ApiError> {
    let work = async {
        let (row, files) = load(state, &product).await?;
        let name = display_name(
            upload.text("name"),
            upload.uploaded_name.as_deref(),
            &row.slug,
            upload.object.extension,
        )?;
        let position = files
            .iter()
            .filter(|c| c.file.removed_at.is_none())
            .map(|c| c.file.position + 1)
            .max()
            .unwrap_or(0);
        let (file, version) = repo::new_file(&product, position, name, &upload.object, now());
        let version = stamping::prepare_version(state, version, row.stamp_pdfs).await;
        let current = Current { file, version };
        let stored = current.clone();
        let written = state
            .db
            .write(move |conn| {
                repo::insert(
                    conn,
                    std::slice::from_ref(&stored.file),
                    std::slice::from_ref(&stored.version),
                )?;
                touch(conn, &stored.file.product_id)
            })
            .await;
        if let Err(e) = written {
            stamping::discard_plan(state, &current.version).await;
            return Err(e);
        }
        state.catalog.invalidate();
        tracing::info!(product_id = %product, file_id = %current.file.id, "file added");
        Ok(to_dto(&current))
    };
    keeping_on_success(state, &upload, work).await
}

/// Marks the product changed (its `updated_at`), in the transaction of a file change.
fn touch(conn: &mut crate::db::DbConnection, product: &ProductId) -> Result<(), ApiError> {
    crate::catalog::repo::update(
        conn,
        product,
        &crate::catalog::repo::ProductChanges {
            updated_at: Some(now()),
            ..Default::default()
        },
    )?;
    Ok(())
}

/// Renames a file or moves it in the list.
pub async fn update_file(
    state: &AppState,
    product: ProductId,
    file: FileId,
    req: UpdateFileRequest,
) -> Result<ProductFile, ApiError> {
    let (row, files) = load(state, &product).await?;
    let current = find_live(&files, &file)?.clone();
    let name = match &req.name {
        Some(name) => {
            check_name(name)?;
            let extension =
                crate::storage::Kind::from_content_type(&current.version.content_type).extension();
            Some(crate::catalog::safe_file_name(
                Some(name),
                &row.slug,
                extension,
            ))
        }
        None => None,
    };
    let mut order: Vec<FileId> = files
        .iter()
        .filter(|c| c.file.removed_at.is_none())
        .map(|c| c.file.id.clone())
        .collect();
    if let Some(position) = req.position {
        if position < 0 {
            return Err(ApiError::validation("position", "a position is 0 or more"));
        }
        order.retain(|id| id != &file);
        order.insert((position as usize).min(order.len()), file.clone());
    }
    let reorder = req.position.is_some();
    let (id, product_id) = (file.clone(), product.clone());
    let updated = state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                if let Some(name) = &name {
                    repo::rename(conn, &id, name)?;
                }
                if reorder {
                    repo::reorder(conn, &order)?;
                }
                touch(conn, &product_id)?;
                repo::current_of(conn, &product_id)?
                    .into_iter()
                    .find(|c| c.file.id == id)
                    .ok_or(ApiError::NotFound("file"))
            })
        })
        .await?;
    state.catalog.invalidate();
    Ok(to_dto(&updated))
}

/// Removes a file from the product. Buyers who already own the product keep it only when
/// `keep_for_owners`; the bytes stay for the file's history either way.
pub async fn remove_file(
    state: &AppState,
    product: ProductId,
    file: FileId,
    keep_for_owners: bool,
) -> Result<(), ApiError> {
    let (_, files) = load(state, &product).await?;
    find_live(&files, &file)?;
    if files.iter().filter(|c| c.file.removed_at.is_none()).count() <= 1 {
        return Err(ApiError::LastFile);
    }
    state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                if repo::live_count(conn, &product)? <= 1 {
                    return Err(ApiError::LastFile);
                }
                if repo::remove(conn, &file, keep_for_owners, now())? == 0 {
                    return Err(ApiError::NotFound("file"));
                }
                touch(conn, &product)
            })
        })
        .await?;
    state.catalog.invalidate();
    Ok(())
}

/// Takes a new version of a file: buyers' next download gets it, links issued for the old one
/// answer `token_stale`. With `notify_buyers` every buyer with access is told, once, through
/// the job queue (the fan-out job is enqueued in the transaction that adds the version).
pub async fn add_version(
    state: &AppState,
    product: ProductId,
    file: FileId,
    upload: FileUpload,
) -> Result<NewVersionResponse, ApiError> {
    let work = async {
        let note = parse_note(upload.text("note"))?;
        let notify = match upload.text("notify_buyers").map(str::trim) {
            None | Some("") | Some("false") | Some("off") | Some("0") => false,
            Some("true") | Some("on") | Some("1") => true,
            Some(_) => {
                return Err(ApiError::validation(
                    "notify_buyers",
                    "notify_buyers must be true or false",
                ))
            }
        };
        let (row, files) = load(state, &product).await?;
        let current = find_live(&files, &file)?.clone();
        let version = repo::new_version(
            &file,
            current.version.version + 1,
            &upload.object,
            note,
            now(),
        );
        let version = stamping::prepare_version(state, version, row.stamp_pdfs).await;
        let stored = version.clone();
        let settings = state.settings.jobs.clone();
        let product_id = product.clone();
        let written = state
            .db
            .write(move |conn| {
                conn.transaction(|conn| {
                    // The version number is unique per file: a concurrent upload of the same
                    // file fails here rather than both becoming version n+1.
                    repo::insert_version(conn, &stored)?;
                    touch(conn, &product_id)?;
                    if notify {
                        jobs::enqueue(
                            conn,
                            &settings,
                            &Task::UpdateNotices {
                                version: stored.id.clone(),
                                after: None,
                            },
                            Some(&notices::fan_out_key(&stored.id, None)),
                        )?;
                    }
                    Ok::<_, ApiError>(())
                })
            })
            .await;
        if let Err(e) = written {
            stamping::discard_plan(state, &version).await;
            return Err(e);
        }
        if notify {
            state.wake.now();
        }
        state.catalog.invalidate();
        tracing::info!(product_id = %product, file_id = %file, version = version.version, notify, "new file version");
        let current = Current {
            file: current.file,
            version: version.clone(),
        };
        Ok(NewVersionResponse {
            file: to_dto(&current),
            version: version_dto(&version, 0, 0),
            notifying: notify,
        })
    };
    keeping_on_success(state, &upload, work).await
}

/// A file's versions, newest first, with how many update notices each queued and sent.
pub async fn history(
    state: &AppState,
    product: ProductId,
    file: FileId,
) -> Result<FileHistory, ApiError> {
    let (_, files) = load(state, &product).await?;
    let current = files
        .iter()
        .find(|c| c.file.id == file)
        .ok_or(ApiError::NotFound("file"))?
        .clone();
    let id = file.clone();
    let versions = state
        .db
        .run(move |conn| {
            let versions = repo::versions(conn, &id)?;
            let mut out = Vec::with_capacity(versions.len());
            for v in &versions {
                let (queued, sent) =
                    jobs::repo::count_by_key_prefix(conn, &notices::notice_key_prefix(&v.id))?;
                out.push(version_dto(v, queued, sent));
            }
            Ok(out)
        })
        .await?;
    Ok(FileHistory {
        file: to_dto(&current),
        versions,
    })
}

/// Files of `product` a caller with `owner` standing may download, in list order.
pub fn downloadable(files: &[Current], owner: bool) -> impl Iterator<Item = &Current> {
    files.iter().filter(move |c| c.visible_to(owner))
}

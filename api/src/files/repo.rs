//! Product files and their versions: the one module that reads and writes `product_files` and
//! `file_versions`. Synchronous: called inside `Db::run`/`Db::write`.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{FileId, FileVersionId, ProductId};

use crate::db::DbConnection;
use crate::schema::{file_versions, product_files};
use crate::storage::StoredObject;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = product_files)]
pub struct FileRow {
    pub id: FileId,
    pub product_id: ProductId,
    pub position: i32,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub removed_at: Option<NaiveDateTime>,
    pub kept_for_owners: bool,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable)]
#[diesel(table_name = file_versions)]
pub struct VersionRow {
    pub id: FileVersionId,
    pub file_id: FileId,
    pub version: i32,
    pub object_key: String,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    pub note: Option<String>,
    pub stamp_plan_key: Option<String>,
    pub stamp_error: Option<String>,
    pub uploaded_at: NaiveDateTime,
}

/// A file with its latest version: what buyers get.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    pub file: FileRow,
    pub version: VersionRow,
}

impl Current {
    /// Whether a caller sees this file: live files everybody who sees the product; removed ones
    /// only owners (and admins), when the seller kept them for owners.
    pub fn visible_to(&self, owner: bool) -> bool {
        self.file.removed_at.is_none() || (owner && self.file.kept_for_owners)
    }
}

/// The first version of a new file.
pub fn new_file(
    product: &ProductId,
    position: i32,
    name: String,
    object: &StoredObject,
    at: NaiveDateTime,
) -> (FileRow, VersionRow) {
    let file = FileRow {
        id: FileId::generate(),
        product_id: product.clone(),
        position,
        name,
        created_at: at,
        removed_at: None,
        kept_for_owners: false,
    };
    let version = new_version(&file.id, 1, object, None, at);
    (file, version)
}

pub fn new_version(
    file: &FileId,
    version: i32,
    object: &StoredObject,
    note: Option<String>,
    at: NaiveDateTime,
) -> VersionRow {
    VersionRow {
        id: FileVersionId::generate(),
        file_id: file.clone(),
        version,
        object_key: object.key.clone(),
        size: object.size,
        sha256: object.sha256.clone(),
        content_type: object.content_type.to_owned(),
        note,
        stamp_plan_key: None,
        stamp_error: None,
        uploaded_at: at,
    }
}

pub fn insert(
    conn: &mut DbConnection,
    files: &[FileRow],
    versions: &[VersionRow],
) -> QueryResult<()> {
    for chunk in files.chunks(500) {
        crate::execute_on_backend!(
            conn,
            diesel::insert_into(product_files::table).values(chunk)
        )?;
    }
    for chunk in versions.chunks(500) {
        crate::execute_on_backend!(
            conn,
            diesel::insert_into(file_versions::table).values(chunk)
        )?;
    }
    Ok(())
}

pub fn insert_version(conn: &mut DbConnection, version: &VersionRow) -> QueryResult<()> {
    diesel::insert_into(file_versions::table)
        .values(version)
        .execute(conn)
        .map(drop)
}

/// Every file of `products` (removed ones too) at its latest version, in list order.
pub fn current_for(
    conn: &mut DbConnection,
    products: &[ProductId],
) -> QueryResult<HashMap<ProductId, Vec<Current>>> {
    if products.is_empty() {
        return Ok(HashMap::new());
    }
    let files: Vec<FileRow> = product_files::table
        .filter(product_files::product_id.eq_any(products))
        .order_by((product_files::position, product_files::created_at))
        .select(FileRow::as_select())
        .load(conn)?;
    let ids: Vec<&FileId> = files.iter().map(|f| &f.id).collect();
    // Every version, keeping the highest of each file: files have few versions, and one plain
    // query runs the same on both backends.
    let versions: Vec<VersionRow> = file_versions::table
        .filter(file_versions::file_id.eq_any(ids))
        .select(VersionRow::as_select())
        .load(conn)?;
    let mut latest: HashMap<FileId, VersionRow> = HashMap::new();
    for v in versions {
        match latest.get(&v.file_id) {
            Some(have) if have.version >= v.version => {}
            _ => {
                latest.insert(v.file_id.clone(), v);
            }
        }
    }
    let mut out: HashMap<ProductId, Vec<Current>> = HashMap::new();
    for file in files {
        if let Some(version) = latest.remove(&file.id) {
            out.entry(file.product_id.clone())
                .or_default()
                .push(Current { file, version });
        }
    }
    Ok(out)
}

pub fn current_of(conn: &mut DbConnection, product: &ProductId) -> QueryResult<Vec<Current>> {
    Ok(current_for(conn, std::slice::from_ref(product))?
        .remove(product)
        .unwrap_or_default())
}

/// A file's versions, newest first.
pub fn versions(conn: &mut DbConnection, file: &FileId) -> QueryResult<Vec<VersionRow>> {
    file_versions::table
        .filter(file_versions::file_id.eq(file))
        .order_by(file_versions::version.desc())
        .select(VersionRow::as_select())
        .load(conn)
}

pub fn find_version(
    conn: &mut DbConnection,
    id: &FileVersionId,
) -> QueryResult<Option<(FileRow, VersionRow)>> {
    file_versions::table
        .inner_join(product_files::table)
        .filter(file_versions::id.eq(id))
        .select((FileRow::as_select(), VersionRow::as_select()))
        .first(conn)
        .optional()
}

/// Live (not removed) files of a product.
pub fn live_count(conn: &mut DbConnection, product: &ProductId) -> QueryResult<i64> {
    product_files::table
        .filter(product_files::product_id.eq(product))
        .filter(product_files::removed_at.is_null())
        .count()
        .get_result(conn)
}

pub fn rename(conn: &mut DbConnection, file: &FileId, name: &str) -> QueryResult<usize> {
    diesel::update(product_files::table.find(file))
        .set(product_files::name.eq(name))
        .execute(conn)
}

/// Puts the live files of `product` in `order` (positions 0, 1, …).
pub fn reorder(conn: &mut DbConnection, order: &[FileId]) -> QueryResult<()> {
    for (position, id) in order.iter().enumerate() {
        diesel::update(product_files::table.find(id))
            .set(product_files::position.eq(position as i32))
            .execute(conn)?;
    }
    Ok(())
}

pub fn remove(
    conn: &mut DbConnection,
    file: &FileId,
    keep_for_owners: bool,
    at: NaiveDateTime,
) -> QueryResult<usize> {
    diesel::update(
        product_files::table
            .find(file)
            .filter(product_files::removed_at.is_null()),
    )
    .set((
        product_files::removed_at.eq(Some(at)),
        product_files::kept_for_owners.eq(keep_for_owners),
    ))
    .execute(conn)
}

pub fn set_stamp(
    conn: &mut DbConnection,
    version: &FileVersionId,
    plan_key: Option<&str>,
    error: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(file_versions::table.find(version))
        .set((
            file_versions::stamp_plan_key.eq(plan_key),
            file_versions::stamp_error.eq(error),
        ))
        .execute(conn)
}

/// How many versions store their bytes (or stamping plan) at `key`.
pub fn references(conn: &mut DbConnection, key: &str) -> QueryResult<i64> {
    file_versions::table
        .filter(
            file_versions::object_key
                .eq(key)
                .or(file_versions::stamp_plan_key.eq(key)),
        )
        .count()
        .get_result(conn)
}

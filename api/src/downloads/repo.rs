//! The download records (`download_events`), the links already counted (`download_links`) and
//! each buyer's downloads per file (`download_counts`): this module owns those tables.

use std::collections::HashMap;

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{FileId, ProductId, UserId};

use crate::db::{new_id, now, DbConnection};
use crate::schema::{download_counts, download_events, download_links};

/// Records that `user` is being sent `bytes` of `product`'s file version `sha256`; the record's
/// id, to take it back if the download cannot start.
pub fn record(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
    sha256: &str,
    bytes: u64,
    unstamped_reason: Option<&str>,
) -> QueryResult<String> {
    let id = new_id();
    diesel::insert_into(download_events::table)
        .values((
            download_events::id.eq(&id),
            download_events::user_id.eq(user),
            download_events::product_id.eq(product),
            download_events::file_sha256.eq(sha256),
            download_events::bytes.eq(bytes as i64),
            download_events::created_at.eq(now()),
            download_events::unstamped_reason.eq(unstamped_reason),
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(download_events::table.find(id)).execute(conn)
}

/// Why a link could not be counted.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// This file's downloads are used up.
    LimitReached(FileId),
}

/// Counts the link `link` (a token's id) once against each of `files`: the first use adds one
/// download per file, later uses of the same link (Range resumes) add nothing. With a `limit`,
/// a file whose count has reached it refuses the whole link, and the caller must roll back its
/// transaction. Each count is one conditional UPDATE, so concurrent links cannot overshoot: the
/// database re-checks `used < limit` on the row it locks.
pub fn use_link(
    conn: &mut DbConnection,
    link: &str,
    user: &UserId,
    files: &[FileId],
    limit: Option<i32>,
    at: NaiveDateTime,
) -> QueryResult<Result<(), Refused>> {
    let first_use = crate::execute_on_backend!(
        conn,
        diesel::insert_into(download_links::table)
            .values((
                download_links::id.eq(link),
                download_links::user_id.eq(user),
                download_links::created_at.eq(at),
            ))
            .on_conflict(download_links::id)
            .do_nothing()
    )?;
    if first_use == 0 {
        return Ok(Ok(()));
    }
    // Links a day old have long expired (tokens live minutes): forgetting them keeps the table
    // to about a day of downloads, and costs a range scan of its creation index.
    forget_links(conn, at - chrono::TimeDelta::days(1))?;
    // A stable order: two links of one buyer for the same files lock their rows alike.
    let mut files = files.to_vec();
    files.sort();
    for file in &files {
        crate::execute_on_backend!(
            conn,
            diesel::insert_into(download_counts::table)
                .values((
                    download_counts::user_id.eq(user),
                    download_counts::file_id.eq(file),
                    download_counts::used.eq(0),
                ))
                .on_conflict((download_counts::user_id, download_counts::file_id))
                .do_nothing()
        )?;
        let row = download_counts::table
            .filter(download_counts::user_id.eq(user))
            .filter(download_counts::file_id.eq(file));
        let counted = match limit {
            Some(limit) => diesel::update(row.filter(download_counts::used.lt(limit)))
                .set(download_counts::used.eq(download_counts::used + 1))
                .execute(conn)?,
            None => diesel::update(row)
                .set(download_counts::used.eq(download_counts::used + 1))
                .execute(conn)?,
        };
        if counted == 0 {
            return Ok(Err(Refused::LimitReached(file.clone())));
        }
    }
    Ok(Ok(()))
}

/// Downloads `user` has used of each of `files`.
pub fn used(
    conn: &mut DbConnection,
    user: &UserId,
    files: &[FileId],
) -> QueryResult<HashMap<FileId, i64>> {
    if files.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(FileId, i32)> = download_counts::table
        .filter(download_counts::user_id.eq(user))
        .filter(download_counts::file_id.eq_any(files))
        .select((download_counts::file_id, download_counts::used))
        .load(conn)?;
    Ok(rows.into_iter().map(|(f, n)| (f, n.into())).collect())
}

/// Every buyer's downloads of `files`, by user.
pub fn used_by_all(
    conn: &mut DbConnection,
    files: &[FileId],
) -> QueryResult<HashMap<UserId, Vec<(FileId, i64)>>> {
    if files.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(UserId, FileId, i32)> = download_counts::table
        .filter(download_counts::file_id.eq_any(files))
        .select((
            download_counts::user_id,
            download_counts::file_id,
            download_counts::used,
        ))
        .load(conn)?;
    let mut out: HashMap<UserId, Vec<(FileId, i64)>> = HashMap::new();
    for (user, file, used) in rows {
        out.entry(user).or_default().push((file, used.into()));
    }
    Ok(out)
}

/// Gives `user` their downloads of `files` back.
pub fn reset(conn: &mut DbConnection, user: &UserId, files: &[FileId]) -> QueryResult<usize> {
    diesel::delete(
        download_counts::table
            .filter(download_counts::user_id.eq(user))
            .filter(download_counts::file_id.eq_any(files)),
    )
    .execute(conn)
}

/// Forgets counted links older than `before`: their tokens have expired, so they cannot be used
/// again (a new link counts anew either way).
pub fn forget_links(conn: &mut DbConnection, before: NaiveDateTime) -> QueryResult<usize> {
    diesel::delete(download_links::table.filter(download_links::created_at.lt(before)))
        .execute(conn)
}

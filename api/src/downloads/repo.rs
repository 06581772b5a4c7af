//! The download records (`download_events`): this module owns the table.

use diesel::prelude::*;
use shared_types::{ProductId, UserId};

use crate::db::{new_id, now, DbConnection};
use crate::schema::download_events;

/// Records that `user` is being sent `bytes` of `product`'s file version `sha256`; the record's
/// id, to take it back if the download cannot start.
pub fn record(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
    sha256: &str,
    bytes: u64,
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
        ))
        .execute(conn)?;
    Ok(id)
}

pub fn delete(conn: &mut DbConnection, id: &str) -> QueryResult<usize> {
    diesel::delete(download_events::table.find(id)).execute(conn)
}

//! What a user owns: the entitlements (this module owns the table) and the rule that says who
//! may have a product ([`access`]). The library shows, per item, when access ends and, per file,
//! the downloads used and left.

pub mod access;
pub mod repo;
pub mod routes;

use shared_types::{EntitlementId, EntitlementSummary, FileDownloads, FileId, Product, ProductId};

use crate::auth::AuthUser;
use crate::error::ApiError;
use crate::AppState;

/// The user's library, most recently acquired first; archived products stay in it.
pub async fn library(state: &AppState, user: &AuthUser) -> Result<Vec<Product>, ApiError> {
    let user_id = user.id.clone();
    let (rows, files, used, bundles, via) = state
        .db
        .run(move |conn| {
            let rows = repo::library(conn, &user_id)?;
            let ids: Vec<ProductId> = rows.iter().map(|(r, _)| r.id.clone()).collect();
            let files = crate::files::repo::current_for(conn, &ids)?;
            let file_ids: Vec<FileId> = files
                .values()
                .flatten()
                .map(|c| c.file.id.clone())
                .collect();
            let used = crate::downloads::repo::used(conn, &user_id, &file_ids)?;
            let bundles = crate::catalog::bundles::items_for(
                conn,
                &ids,
                crate::catalog::bundles::Contents::Sold,
            )?;
            let via: Vec<ProductId> = rows
                .iter()
                .filter_map(|(_, h)| h.via_product_id.clone())
                .collect();
            let via = crate::catalog::repo::refs(conn, &via)?;
            Ok((rows, files, used, bundles, via))
        })
        .await?;
    Ok(rows
        .iter()
        .map(|(row, held)| {
            let files = files.get(&row.id).map(Vec::as_slice).unwrap_or_default();
            let mut product = crate::catalog::to_dto(&state.settings, row, files, true);
            product.bundle_items = bundles.get(&row.id).cloned().unwrap_or_default();
            product.via_bundle = held
                .via_product_id
                .as_ref()
                .and_then(|id| via.get(id).cloned());
            product.access_expires_at =
                access::window_end(row, Some(held.granted_at)).map(|end| end.and_utc());
            for file in &mut product.files {
                let n = used.get(&file.id).copied().unwrap_or(0);
                file.downloads_used = Some(n);
                file.downloads_left = row.download_limit.map(|l| (i64::from(l) - n).max(0));
            }
            product
        })
        .collect())
}

/// Everybody with access to a product, with their downloads per file: for admins.
pub async fn holders(
    state: &AppState,
    product: ProductId,
) -> Result<Vec<EntitlementSummary>, ApiError> {
    state
        .db
        .run(move |conn| {
            let row =
                crate::catalog::repo::find(conn, &product)?.ok_or(ApiError::NotFound("product"))?;
            let files = crate::files::repo::current_of(conn, &product)?;
            let file_ids: Vec<FileId> = files.iter().map(|c| c.file.id.clone()).collect();
            let used = crate::downloads::repo::used_by_all(conn, &file_ids)?;
            let holders = repo::holders(conn, &product)?;
            Ok(holders
                .into_iter()
                .map(|h| {
                    let downloads = used
                        .get(&h.user_id)
                        .map(|files| {
                            files
                                .iter()
                                .map(|(file_id, used)| FileDownloads {
                                    file_id: file_id.clone(),
                                    used: *used,
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    EntitlementSummary {
                        access_expires_at: access::window_end(&row, Some(h.granted_at))
                            .map(|e| e.and_utc()),
                        id: h.id,
                        user_id: h.user_id,
                        email: h.email,
                        granted_at: h.granted_at.and_utc(),
                        downloads,
                    }
                })
                .collect())
        })
        .await
}

/// Gives a buyer their downloads of every file of the product back.
pub async fn reset_downloads(state: &AppState, entitlement: EntitlementId) -> Result<(), ApiError> {
    state
        .db
        .write(move |conn| {
            let (user, product) =
                repo::find(conn, &entitlement)?.ok_or(ApiError::NotFound("entitlement"))?;
            let files: Vec<FileId> = crate::files::repo::current_of(conn, &product)?
                .into_iter()
                .map(|c| c.file.id)
                .collect();
            crate::downloads::repo::reset(conn, &user, &files)?;
            tracing::info!(%entitlement, "downloads reset");
            Ok(())
        })
        .await
}

//! The catalog: what is for sale. [`read`] serves the public listing and product pages (through
//! the [`cache`]), [`admin`] changes it, [`seed`] makes products without uploads (benchmarks,
//! the demo shop). This module maps rows to the API's `Product`.

pub mod admin;
pub mod admin_routes;
pub mod bundles;
pub mod cache;
pub mod notify;
pub mod read;
pub mod repo;
pub mod routes;
pub mod seed;
pub mod upload;

pub use admin::{archive, create, replace_preview, update, NewProduct};
pub use read::{get, list, public_page, visible_product, visible_product_cached};
pub use seed::seed;

use serde::Deserialize;
use shared_types::{Money, Product};

use crate::config::Settings;
use crate::files::repo::Current;
use repo::ProductRow;

/// A product with its files at their latest versions, as the catalog shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub row: ProductRow,
    pub files: Vec<Current>,
    /// A bundle's published contents.
    pub bundle: Vec<shared_types::BundleItem>,
}

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

/// The API's view of a product: its live files, and for an owner also the removed files the
/// seller kept for owners.
pub fn to_dto(settings: &Settings, row: &ProductRow, files: &[Current], owned: bool) -> Product {
    Product {
        id: row.id.clone(),
        slug: row.slug.clone(),
        title: row.title.clone(),
        description: row.description.clone(),
        price: Money::new(row.price_cents, row.currency),
        pricing: if row.pay_what_you_want {
            shared_types::Pricing::PayWhatYouWant
        } else {
            shared_types::Pricing::Fixed
        },
        suggested_price: row
            .suggested_price_cents
            .map(|c| Money::new(c, row.currency)),
        is_free: row.is_free(),
        status: row.status,
        bundle_items: Vec::new(),
        via_bundle: None,
        preview_url: row
            .preview_key
            .as_ref()
            .map(|key| settings.public(&format!("/media/{key}"))),
        files: files
            .iter()
            .filter(|f| f.visible_to(owned))
            .map(crate::files::to_dto)
            .collect(),
        download_limit: row.download_limit,
        access_days: row.access_days,
        stamp_pdfs: row.stamp_pdfs,
        owned,
        included: false,
        access_expires_at: None,
        sales: None,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
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

//! The rule that decides whether a user may have a product's file, and why.
//!
//! Admins may always (to check uploads); a user who owns the product may, whatever its status
//! (an archived product stays with its buyers); anyone signed in may take a free, published
//! one. Ownership comes from entitlements (today granted by paid orders); the download checks it
//! again in the database when the file is served, so a refund revokes access at once.

use diesel::prelude::*;
use shared_types::{ProductId, ProductStatus, Role, UserId};

use crate::catalog::repo::ProductRow;
use crate::db::DbConnection;
use crate::error::ApiError;

/// Why a user may have a product.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Admins may have every file.
    Admin,
    /// The user holds a live entitlement.
    Owned,
    /// The product is free and published.
    Free,
}

/// The rule itself, on what the caller already knows.
pub fn decide(product: &ProductRow, role: Role, owned: bool) -> Result<Access, ApiError> {
    if role == Role::Admin {
        Ok(Access::Admin)
    } else if owned {
        Ok(Access::Owned)
    } else if product.price_cents == 0 && product.status == ProductStatus::Published {
        Ok(Access::Free)
    } else {
        Err(ApiError::NotPurchased)
    }
}

/// The product, and why `user` may have it, read now in one statement (product, role and
/// entitlement): for serving a file. `ApiError::TokenInvalid` when the user no longer exists.
pub fn check(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
) -> Result<(ProductRow, Access), ApiError> {
    use crate::schema::{products, users};
    let role = users::table
        .filter(users::id.eq(user))
        .select(users::role)
        .single_value();
    let owned = diesel::dsl::exists(super::repo::live(user, product));
    let (row, role, owned): (ProductRow, Option<Role>, bool) = products::table
        .find(product)
        .select((ProductRow::as_select(), role, owned))
        .first(conn)
        .optional()?
        .ok_or(ApiError::NotFound("product"))?;
    let role = role.ok_or(ApiError::TokenInvalid)?;
    let access = decide(&row, role, owned)?;
    Ok((row, access))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::Currency;

    fn product(price_cents: i64, status: ProductStatus) -> ProductRow {
        let at = chrono::Utc::now().naive_utc();
        ProductRow {
            id: ProductId::generate(),
            slug: "s".into(),
            title: "t".into(),
            description: String::new(),
            price_cents,
            currency: Currency::Usd,
            status,
            file_key: "files/x".into(),
            file_name: "x.pdf".into(),
            file_size: 1,
            file_sha256: "x".into(),
            file_content_type: "application/pdf".into(),
            preview_key: None,
            preview_content_type: None,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn who_may_have_what() {
        use ProductStatus::*;
        let paid = product(500, Published);
        let free = product(0, Published);
        let free_draft = product(0, Draft);
        let archived = product(500, Archived);
        let customer = Role::Customer;
        assert_eq!(decide(&paid, Role::Admin, false).unwrap(), Access::Admin);
        assert_eq!(decide(&paid, customer, true).unwrap(), Access::Owned);
        assert_eq!(decide(&archived, customer, true).unwrap(), Access::Owned);
        assert_eq!(decide(&free, customer, false).unwrap(), Access::Free);
        for (row, why) in [
            (&paid, "not bought"),
            (&free_draft, "free but unpublished"),
            (&archived, "gone from the catalog"),
        ] {
            assert!(
                matches!(decide(row, customer, false), Err(ApiError::NotPurchased)),
                "{why}"
            );
        }
    }
}

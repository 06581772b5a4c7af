//! The rule that decides whether a user may have a product's file, and why.
//!
//! Admins may always (to check uploads); a user who owns the product may, whatever its status
//! (an archived product stays with its buyers); anyone signed in may take a free, published
//! one. Ownership comes from entitlements (today granted by paid orders); the download checks it
//! again in the database when the file is served, so a refund revokes access at once.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use shared_types::{ProductId, ProductStatus, Role, UserId};

use super::repo::Held;
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
    /// A membership of the user's unlocks it (a published product in its plan).
    Member,
    /// The product is free and published.
    Free,
}

/// The rule itself, on what the caller already knows.
pub fn decide(
    product: &ProductRow,
    role: Role,
    owned: bool,
    member: bool,
) -> Result<Access, ApiError> {
    if role == Role::Admin {
        Ok(Access::Admin)
    } else if owned {
        Ok(Access::Owned)
    } else if member && product.status == ProductStatus::Published {
        Ok(Access::Member)
    } else if product.is_free() && product.status == ProductStatus::Published {
        Ok(Access::Free)
    } else {
        Err(ApiError::NotPurchased)
    }
}

/// What [`check`] found.
#[derive(Debug, Clone)]
pub struct Checked {
    pub product: ProductRow,
    pub access: Access,
    /// The user's live entitlement, if any (a free item is held once taken).
    pub held: Option<Held>,
    /// The user's email (stamped into PDFs).
    pub email: String,
}

/// The product, and why `user` may have it, read now (product, role, email and whether a
/// membership unlocks it in one statement, then the entitlement): for serving a file.
/// `ApiError::TokenInvalid` when the user no longer exists.
pub fn check(
    conn: &mut DbConnection,
    user: &UserId,
    product: &ProductId,
    at: crate::membership::repo::AccessAt,
) -> Result<Checked, ApiError> {
    use crate::schema::{products, users};
    let role = users::table
        .filter(users::id.eq(user))
        .select(users::role)
        .single_value();
    let email = users::table
        .filter(users::id.eq(user))
        .select(users::email)
        .single_value();
    let member = crate::membership::repo::covers(user, product, at.now, at.grace_cutoff);
    let (row, role, email, member): (ProductRow, Option<Role>, Option<String>, bool) =
        products::table
            .find(product)
            .select((ProductRow::as_select(), role, email, member))
            .first(conn)
            .optional()?
            .ok_or(ApiError::NotFound("product"))?;
    let (role, email) = role.zip(email).ok_or(ApiError::TokenInvalid)?;
    let held: Option<Held> = super::repo::live(user, product)
        .select(Held::as_select())
        .first(conn)
        .optional()?;
    let access = decide(&row, role, held.is_some(), member)?;
    Ok(Checked {
        product: row,
        access,
        held,
        email,
    })
}

/// When access granted at `granted` to `product` ends, if the product has a window.
pub fn window_end(product: &ProductRow, granted: Option<NaiveDateTime>) -> Option<NaiveDateTime> {
    let days = product.access_days?;
    Some(granted? + chrono::TimeDelta::days(days.into()))
}

/// Refuses a download outside the product's access window (admins are never refused; a free
/// item not taken yet has not started its window).
pub fn within_window(
    product: &ProductRow,
    access: Access,
    held: Option<&Held>,
    now: NaiveDateTime,
) -> Result<(), ApiError> {
    if access == Access::Admin {
        return Ok(());
    }
    match (
        window_end(product, held.map(|h| h.granted_at)),
        product.access_days,
    ) {
        (Some(end), Some(days)) if now >= end => Err(ApiError::AccessExpired(
            end.format("%-d %B %Y").to_string(),
            days,
        )),
        _ => Ok(()),
    }
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
            preview_key: None,
            preview_content_type: None,
            created_at: at,
            updated_at: at,
            download_limit: None,
            access_days: None,
            stamp_pdfs: false,
            pay_what_you_want: false,
            suggested_price_cents: None,
        }
    }

    #[test]
    fn the_window_runs_from_the_grant_and_spares_admins() {
        let mut row = product(500, ProductStatus::Published);
        row.access_days = Some(30);
        let start = chrono::NaiveDate::from_ymd_opt(2026, 1, 1)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        let held = Held {
            id: shared_types::EntitlementId::generate(),
            order_id: None,
            granted_at: start,
            via_product_id: None,
        };
        let day = |n: i64| start + chrono::TimeDelta::days(n);
        assert!(within_window(&row, Access::Owned, Some(&held), day(29)).is_ok());
        let err = within_window(&row, Access::Owned, Some(&held), day(30)).unwrap_err();
        assert!(matches!(&err, ApiError::AccessExpired(end, 30) if end == "31 January 2026"));
        assert!(within_window(&row, Access::Admin, Some(&held), day(400)).is_ok());
        assert!(
            within_window(&row, Access::Free, None, day(400)).is_ok(),
            "not taken yet"
        );
        row.access_days = None;
        assert!(within_window(&row, Access::Owned, Some(&held), day(4000)).is_ok());
    }

    #[test]
    fn who_may_have_what() {
        use ProductStatus::*;
        let paid = product(500, Published);
        let free = product(0, Published);
        let free_draft = product(0, Draft);
        let archived = product(500, Archived);
        let customer = Role::Customer;
        assert_eq!(
            decide(&paid, Role::Admin, false, false).unwrap(),
            Access::Admin
        );
        assert_eq!(decide(&paid, customer, true, false).unwrap(), Access::Owned);
        assert_eq!(
            decide(&archived, customer, true, false).unwrap(),
            Access::Owned
        );
        assert_eq!(decide(&free, customer, false, false).unwrap(), Access::Free);
        assert_eq!(
            decide(&paid, customer, false, true).unwrap(),
            Access::Member
        );
        assert!(
            decide(&archived, customer, false, true).is_err(),
            "a plan unlocks published products only"
        );
        for (row, why) in [
            (&paid, "not bought"),
            (&free_draft, "free but unpublished"),
            (&archived, "gone from the catalog"),
        ] {
            assert!(
                matches!(
                    decide(row, customer, false, false),
                    Err(ApiError::NotPurchased)
                ),
                "{why}"
            );
        }
    }
}

//! Ids of the things the API names: UUIDs in their hyphenated text form, parsed once where they
//! come in (a path, a token, a row) so that code inside never checks one again.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

/// Whether `text` is a UUID in its 36-character hyphenated form (any version, either case).
fn is_uuid(text: &str) -> bool {
    text.len() == 36
        && text.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(
            feature = "openapi",
            schema(
                value_type = String,
                pattern = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
            )
        )]
        #[cfg_attr(
            feature = "diesel",
            derive(diesel::AsExpression, diesel::FromSqlRow),
            diesel(sql_type = diesel::sql_types::Text)
        )]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses an id from text; anything but a UUID is refused.
            pub fn parse(text: &str) -> Result<Self, ValidationError> {
                if is_uuid(text) {
                    Ok(Self(text.to_ascii_lowercase()))
                } else {
                    Err(ValidationError::new(concat!("not a ", $what, " id")))
                }
            }

            /// A new time-ordered id (UUID v7).
            #[cfg(feature = "diesel")]
            pub fn generate() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = ValidationError;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> Self {
                value.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        #[cfg(feature = "diesel")]
        crate::db::text_column!($name, as_str, |s: String| {
            $name::parse(&s).map_err(|e| e.message)
        });
    };
}

id_type!(
    /// A user account's id.
    UserId,
    "user"
);
id_type!(
    /// A product's id.
    ProductId,
    "product"
);
id_type!(
    /// An order's id (one purchase attempt, one Checkout Session).
    OrderId,
    "order"
);
id_type!(
    /// One file of a product (its versions share it).
    FileId,
    "file"
);
id_type!(
    /// One uploaded version of a product file.
    FileVersionId,
    "file version"
);
id_type!(
    /// A user's entitlement to a product (bought, or claimed when free).
    EntitlementId,
    "entitlement"
);
id_type!(
    /// A discount code's id.
    DiscountId,
    "discount"
);
id_type!(
    /// A membership plan's id.
    PlanId,
    "plan"
);
id_type!(
    /// An API key's id (not its secret).
    ApiKeyId,
    "API key"
);
id_type!(
    /// An outbound webhook endpoint's id.
    WebhookEndpointId,
    "webhook endpoint"
);
id_type!(
    /// A member's subscription to a plan (Folio's id; Stripe's is kept beside it).
    SubscriptionId,
    "subscription"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyphenated_uuids_are_ids() {
        let id = ProductId::parse("0190A0A0-0000-7000-8000-000000000000").unwrap();
        assert_eq!(id.as_str(), "0190a0a0-0000-7000-8000-000000000000");
        for bad in [
            "",
            "not-a-uuid",
            "0190a0a0000070008000000000000000",
            "0190a0a0-0000-7000-8000-00000000000g",
            "0190a0a0-0000-7000-8000-0000000000000",
            "../../etc/passwd-0000-0000-000000000",
        ] {
            assert!(ProductId::parse(bad).is_err(), "{bad}");
        }
        let parsed: Result<OrderId, _> = serde_json::from_str("\"x\"");
        assert!(parsed.is_err());
    }
}

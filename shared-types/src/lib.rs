//! Folio's wire types and validation rules.
//!
//! Everything here compiles to wasm32: the web UI parses form input with the same functions the
//! server uses, so a field shows the message the server would send. Server-only derives
//! (utoipa, diesel) sit behind the `openapi` and `diesel` features. Timestamps are `chrono::DateTime<Utc>` except on
//! wasm32, where they stay RFC 3339 text (see `wire_time`).

#[cfg(feature = "diesel")]
mod db;
pub mod dto;
pub mod forms;
pub mod ids;
pub mod membership;
pub mod money;
pub mod problem;
pub mod seller;
pub mod validate;
#[cfg(target_arch = "wasm32")]
mod wire_time;

pub use dto::*;
pub use forms::{discount_code, Delivery, DiscountTerms, ProductEdit, ProductFields, Selling};
pub use ids::{
    ApiKeyId, DiscountId, EntitlementId, FileId, FileVersionId, OrderId, PlanId, ProductId,
    SubscriptionId, UserId, WebhookEndpointId,
};
pub use membership::*;
pub use money::{Currency, Money, Price};
pub use problem::{FieldError, Problem};
pub use seller::*;
pub use validate::{Description, Email, Password, Slug, Title, ValidationError};

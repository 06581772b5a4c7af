//! Request and response bodies of the HTTP API (v1).

#[cfg(target_arch = "wasm32")]
use crate::wire_time::{DateTime, Utc};
#[cfg(not(target_arch = "wasm32"))]
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::ids::{DiscountId, EntitlementId, FileId, FileVersionId, OrderId, ProductId, UserId};
use crate::money::{Currency, Money};

/// A user's role. Admins manage the catalog and orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::AsExpression, diesel::FromSqlRow),
    diesel(sql_type = diesel::sql_types::Text)
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Customer,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Customer => "customer",
            Role::Admin => "admin",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "customer" => Some(Role::Customer),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Where a product stands: only `published` ones are in the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::AsExpression, diesel::FromSqlRow),
    diesel(sql_type = diesel::sql_types::Text)
)]
#[serde(rename_all = "lowercase")]
pub enum ProductStatus {
    Draft,
    Published,
    Archived,
}

impl ProductStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ProductStatus::Draft => "draft",
            ProductStatus::Published => "published",
            ProductStatus::Archived => "archived",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(ProductStatus::Draft),
            "published" => Some(ProductStatus::Published),
            "archived" => Some(ProductStatus::Archived),
            _ => None,
        }
    }
}

/// Body of `POST /api/v1/auth/register` and `POST /api/v1/auth/login`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CredentialsRequest {
    /// Email address; trimmed and compared case-insensitively.
    #[cfg_attr(feature = "openapi", schema(example = "ada@example.com"))]
    pub email: String,
    /// Password, 8 to 128 characters.
    #[cfg_attr(feature = "openapi", schema(example = "correct horse battery"))]
    pub password: String,
}

/// Body of `POST /api/v1/auth/refresh` and `POST /api/v1/auth/logout`. Browsers may leave it
/// empty: the HttpOnly refresh cookie is used instead.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RefreshRequest {
    /// The refresh token from the last token response.
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// Tokens issued by register, login and refresh.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenResponse {
    /// Short-lived JWT for `Authorization: Bearer …`.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Single-use token that buys a new pair at `/api/v1/auth/refresh`.
    pub refresh_token: String,
}

/// The signed-in user.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserProfile {
    pub id: UserId,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

/// One downloadable file of a product, at its latest version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductFile {
    pub id: FileId,
    /// File name offered to the browser when downloading.
    pub name: String,
    /// Size in bytes of the latest version.
    pub size: i64,
    /// MIME type of the latest version, recognised from its content (`application/pdf`,
    /// `application/epub+zip`, `application/zip`, `audio/mpeg`, `video/mp4`, `image/png`,
    /// `image/jpeg`, else `application/octet-stream`).
    pub content_type: String,
    /// sha256 of the latest version, hex.
    pub sha256: String,
    /// The latest version's number, from 1.
    pub version: i32,
    /// When the latest version was uploaded.
    pub updated_at: DateTime<Utc>,
    /// The note uploaded with the latest version, if any ("Fixed typos in chapter 3").
    pub note: Option<String>,
    /// In the library only: downloads of this file the caller has used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloads_used: Option<i64>,
    /// In the library only, when the product limits downloads: how many are left.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downloads_left: Option<i64>,
}

/// One version in a file's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileVersion {
    pub id: FileVersionId,
    pub version: i32,
    pub size: i64,
    pub sha256: String,
    pub content_type: String,
    pub note: Option<String>,
    pub uploaded_at: DateTime<Utc>,
    /// For PDFs of a product that stamps: why this version cannot be stamped (encrypted,
    /// damaged); buyers then get it unstamped. Null when it can be, or is not a PDF.
    pub stamp_error: Option<String>,
    /// Update notices for this version: queued in all, and sent so far.
    pub notices_queued: i64,
    pub notices_sent: i64,
}

/// A file's history, newest version first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileHistory {
    pub file: ProductFile,
    pub versions: Vec<FileVersion>,
}

/// Body of `PATCH /api/v1/admin/products/{id}/files/{file_id}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateFileRequest {
    /// New display name, 1 to 150 characters (not only spaces); the extension of the content
    /// is added when missing.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 1, max_length = 150, pattern = "\\S")
    )]
    pub name: Option<String>,
    /// New place in the list, from 0 (past the end: last); the other files move to make room.
    #[serde(
        default,
        deserialize_with = "whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub position: Option<i32>,
}

/// Which file a download link is for: one file, or all of them as a ZIP.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DownloadTokenRequest {
    /// The file; may be left out when the product has exactly one.
    pub file_id: Option<FileId>,
    /// True for "Download all": one ZIP of every file.
    #[serde(default)]
    pub all: bool,
}

/// A buyer's access to one product, for admins: the downloads used per file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntitlementSummary {
    pub id: EntitlementId,
    pub user_id: UserId,
    pub email: String,
    pub granted_at: DateTime<Utc>,
    /// When the access window ends; null when the product has none.
    pub access_expires_at: Option<DateTime<Utc>>,
    pub downloads: Vec<FileDownloads>,
}

/// Downloads of one file by one buyer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileDownloads {
    pub file_id: FileId,
    pub used: i64,
}

/// The result of uploading a new version.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewVersionResponse {
    pub file: ProductFile,
    pub version: FileVersion,
    /// Whether buyers are being told (update notices go out through the job queue).
    pub notifying: bool,
}

/// A product in the catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Product {
    pub id: ProductId,
    /// URL-safe name, unique, derived from the title.
    pub slug: String,
    pub title: String,
    pub description: String,
    /// The price; for pay what you want, the least a buyer may pay.
    pub price: Money,
    /// How the price is set: `fixed`, or `pay_what_you_want` (the buyer sends `amount`).
    pub pricing: Pricing,
    /// Pay what you want: the amount the product page proposes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggested_price: Option<Money>,
    /// True when the price is zero and fixed: any signed-in user may download it.
    pub is_free: bool,
    pub status: ProductStatus,
    /// A bundle's contents, in the seller's order (empty for other products). Buying the
    /// bundle grants each of them that is published; admins see drafts and archived ones too.
    #[serde(default)]
    pub bundle_items: Vec<BundleItem>,
    /// In the library only: the bundle through which the caller owns this item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub via_bundle: Option<OrderProduct>,
    /// Public URL of the preview image, if there is one.
    pub preview_url: Option<String>,
    /// The files, in the seller's order.
    pub files: Vec<ProductFile>,
    /// Downloads allowed per buyer per file (one per download link); null: no limit.
    pub download_limit: Option<i32>,
    /// Days of access after purchase (or, for free items, after first taking them); null: for
    /// ever.
    pub access_days: Option<i32>,
    /// Whether every PDF a buyer downloads carries "Licensed to <email> · order <id>".
    pub stamp_pdfs: bool,
    /// Whether the caller owns it; false for anonymous callers.
    pub owned: bool,
    /// Whether the caller's membership unlocks it (downloadable while the membership lasts).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub included: bool,
    /// In the library only, with an access window: when the caller's access ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_expires_at: Option<DateTime<Utc>>,
    /// Paid orders for it; only in the admin listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// How a product's price is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Pricing {
    /// One price for everybody (discount codes apply).
    #[default]
    Fixed,
    /// The buyer chooses the amount, at least `price`, at most the server's ceiling.
    PayWhatYouWant,
}

/// One product inside a bundle.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BundleItem {
    pub id: ProductId,
    pub slug: String,
    pub title: String,
    /// Its own price, for showing what the bundle saves.
    pub price: Money,
}

/// One page of products, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductPage {
    pub items: Vec<Product>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `PATCH /api/v1/admin/products/{id}`; absent fields are left as they are.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateProductRequest {
    /// New title, 3 to 200 characters. The slug does not change.
    pub title: Option<String>,
    /// New description, at most 20,000 characters.
    pub description: Option<String>,
    /// New price as a decimal string: "0" is free, else 0.50 to 999999.99.
    pub price: Option<String>,
    pub currency: Option<Currency>,
    pub status: Option<ProductStatus>,
    /// Downloads per buyer per file, 1 to 10,000; null removes the limit.
    #[serde(
        default,
        deserialize_with = "some_whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>, minimum = 1, maximum = 10000))]
    pub download_limit: Option<Option<i32>>,
    /// Days of access after purchase, 1 to 36,500; null: for ever.
    #[serde(
        default,
        deserialize_with = "some_whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>, minimum = 1, maximum = 36500))]
    pub access_days: Option<Option<i32>>,
    /// Stamp every PDF a buyer downloads with their email and order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stamp_pdfs: Option<bool>,
    /// Let buyers choose what they pay; `price` is then the minimum (it may be 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pay_what_you_want: Option<bool>,
    /// Pay what you want: the proposed amount, a decimal string at least the minimum; null
    /// removes it.
    #[serde(
        default,
        deserialize_with = "some_text",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub suggested_price: Option<Option<String>>,
    /// Make the product a bundle of these products (ids, at most 100, none of them a bundle);
    /// an empty list makes it an ordinary product again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_items = 100))]
    pub bundle_items: Option<Vec<ProductId>>,
}

/// A text that is there, even as null (`Some(None)`: clear it), as opposed to left out.
fn some_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// A whole number as JSON Schema counts one: `3` and `3.0` alike (the document says
/// `integer`, and a client may well send either).
fn whole_number<E: serde::de::Error>(value: f64) -> Result<i32, E> {
    if value.fract() == 0.0 && value >= f64::from(i32::MIN) && value <= f64::from(i32::MAX) {
        Ok(value as i32)
    } else {
        Err(E::custom(format!("expected a whole number, got {value}")))
    }
}

/// An optional whole number.
fn whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i32>, D::Error> {
    Option::<f64>::deserialize(d)?.map(whole_number).transpose()
}

/// A whole number that is there, even as null (`Some(None)`: clear it), as opposed to left
/// out (`None`: keep it).
fn some_whole<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i32>>, D::Error> {
    whole(d).map(Some)
}

/// A short-lived link to download a product's file.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DownloadTokenResponse {
    /// Absolute URL that serves the file; needs no other credentials.
    pub url: String,
    /// The token inside the URL.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// The server's limits, for clients to check input before sending it, and where its mail goes.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ClientConfig {
    /// Largest product file accepted, in bytes.
    pub max_file_bytes: u64,
    /// The most a buyer may choose to pay for a pay-what-you-want item, in minor units.
    pub max_pay_what_you_want_cents: i64,
    /// Largest preview image accepted, in bytes.
    pub max_preview_bytes: u64,
    /// True when no SMTP server is configured (development): mail is kept in the dev mailbox
    /// that admins read at `GET /api/v1/admin/mailbox` instead of being sent.
    pub dev_mailbox: bool,
    /// Where admins look a Stripe object up: `{stripe_dashboard_url}/subscriptions/{sub_…}`.
    /// Stripe's dashboard, or in development the emulator's pages (which can also move a
    /// subscription's clock: renew, fail a renewal, recover, cancel).
    #[serde(default)]
    pub stripe_dashboard_url: String,
}

/// A liveness or readiness answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HealthResponse {
    /// `ok`, or `unavailable` when a dependency is down.
    pub status: String,
    /// Readiness only: `ok` or `unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// Readiness only: the object store, `ok` or `unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

/// Where an order stands. Only `paid` orders grant access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::AsExpression, diesel::FromSqlRow),
    diesel(sql_type = diesel::sql_types::Text)
)]
#[serde(rename_all = "lowercase")]
pub enum OrderStatus {
    Pending,
    Paid,
    Failed,
    Expired,
    Refunded,
    Disputed,
}

impl OrderStatus {
    pub const ALL: [OrderStatus; 6] = [
        OrderStatus::Pending,
        OrderStatus::Paid,
        OrderStatus::Failed,
        OrderStatus::Expired,
        OrderStatus::Refunded,
        OrderStatus::Disputed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Pending => "pending",
            OrderStatus::Paid => "paid",
            OrderStatus::Failed => "failed",
            OrderStatus::Expired => "expired",
            OrderStatus::Refunded => "refunded",
            OrderStatus::Disputed => "disputed",
        }
    }

    pub fn from_db(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == s)
    }
}

/// Body of `POST /api/v1/checkout`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckoutRequest {
    /// Slug of the product to buy.
    pub slug: String,
    /// Buying without an account: where the receipt goes. The order belongs to the account of
    /// this address (made, without a password, if there is none); the browser that started the
    /// checkout reaches the file from the success page for a while, and the receipt carries a
    /// sign-in link. Ignored when the caller is signed in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A discount code (case-insensitive), for fixed-price items. A code that cannot be used is
    /// refused with its own `code` (never a silent full price).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub discount_code: Option<String>,
    /// Pay what you want: the amount, a decimal string with at most two decimals, from the
    /// product's minimum to the server's ceiling (`ClientConfig.max_pay_what_you_want`).
    /// Left out, the suggested price (or else the minimum) is charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(max_length = 16, pattern = "^[0-9]{1,9}(\\.[0-9]{1,2})?$")
    )]
    pub amount: Option<String>,
}

/// Where to send the buyer to pay, or, when nothing is left to pay (a code took the whole
/// price off, or pay what you want at 0), the order that already granted the item.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CheckoutResponse {
    /// Stripe Checkout page to redirect the buyer to; null when nothing is left to pay.
    pub checkout_url: Option<String>,
    /// Stripe Checkout Session id; the success page is called with it. Null without a session.
    pub session_id: Option<String>,
    pub order_id: OrderId,
    /// What the order costs before tax, after any discount.
    pub amount: Money,
    /// The order's status: `pending` until Stripe reports the payment, `paid` when nothing was
    /// left to pay.
    pub status: OrderStatus,
}

/// What a discount code does to one product's price, before checkout.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiscountPreview {
    /// The code, as stored (upper case).
    pub code: String,
    /// What it is, for people: "25% off", "$5.00 off".
    pub description: String,
    pub list_price: Money,
    /// What the code takes off.
    pub discount: Money,
    /// What the buyer pays before tax.
    pub price: Money,
}

/// A discount code, for admins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Discount {
    pub id: DiscountId,
    /// Upper case; buyers may type it in any case.
    pub code: String,
    /// Percent off, 1 to 100; or null with `amount_off`.
    pub percent_off: Option<i32>,
    /// An amount off in one currency; or null with `percent_off`.
    pub amount_off: Option<Money>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Redemptions allowed in all; null: no cap.
    pub max_redemptions: Option<i32>,
    /// Redemptions allowed per customer; null: no cap.
    pub max_per_customer: Option<i32>,
    /// The products it applies to; null: every product.
    pub products: Option<Vec<ProductRef>>,
    pub active: bool,
    /// Redemptions so far: paid orders and checkouts still open (an expired or failed checkout
    /// gives its redemption back).
    pub redemptions: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Every discount code, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DiscountList {
    pub items: Vec<Discount>,
}

/// Body of `POST /api/v1/admin/discounts` and `PUT /api/v1/admin/discounts/{id}` (the whole
/// discount: left-out fields are cleared).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DiscountRequest {
    /// 3 to 32 letters, digits, `-` or `_`; case-insensitive and unique.
    #[cfg_attr(
        feature = "openapi",
        schema(min_length = 3, max_length = 32, pattern = "^[A-Za-z0-9_-]{3,32}$")
    )]
    pub code: String,
    /// Percent off, 1 to 100. Give this or `amount_off`.
    #[serde(
        default,
        deserialize_with = "whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>, minimum = 1, maximum = 100))]
    pub percent_off: Option<i32>,
    /// An amount off as a decimal string ("5" or "4.99", more than 0), in `currency`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = "^(0|0\\.0{1,2}|0\\.[5-9][0-9]?|[1-9][0-9]{0,5}(\\.[0-9]{1,2})?)$")
    )]
    pub amount_off: Option<String>,
    /// The currency of `amount_off` (default usd); the code applies only to prices in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency: Option<Currency>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// After `starts_at` when both are given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    #[serde(
        default,
        deserialize_with = "whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>, minimum = 1, maximum = 1000000))]
    pub max_redemptions: Option<i32>,
    #[serde(
        default,
        deserialize_with = "whole",
        skip_serializing_if = "Option::is_none"
    )]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i32>, minimum = 1, maximum = 1000000))]
    pub max_per_customer: Option<i32>,
    /// Limit the code to these products (at most 500); left out or null: every product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 500))]
    pub product_ids: Option<Vec<ProductId>>,
    /// Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// The product an order is for.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderProduct {
    pub slug: String,
    pub title: String,
}

/// One purchase attempt (one Stripe Checkout Session).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Order {
    pub id: OrderId,
    pub product: OrderProduct,
    /// What Stripe was asked for before tax: the list price less any discount (the subtotal).
    pub amount: Money,
    /// The product's price when the order was made, before any discount.
    pub list_price: Money,
    /// The code used and what it took off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discount: Option<OrderDiscount>,
    /// Tax, as Stripe Tax computed it (once paid, with tax on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax: Option<Money>,
    /// What the buyer paid in all, as Stripe reported it (once paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<Money>,
    /// Stripe's hosted page of the order's invoice (with tax and invoices on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoice_url: Option<String>,
    pub status: OrderStatus,
    pub created_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    /// The buyer's email; only in admin listings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
}

/// A product named by another object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProductRef {
    pub id: ProductId,
    pub slug: String,
    pub title: String,
}

/// The discount an order got.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderDiscount {
    pub code: String,
    pub amount: Money,
}

/// One page of orders, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OrderPage {
    pub items: Vec<Order>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Answer to a Stripe webhook delivery.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookAck {
    pub received: bool,
}

#[cfg(feature = "diesel")]
mod columns {
    use super::{OrderStatus, ProductStatus, Role};

    crate::db::text_column!(Role, as_str, |s: String| {
        Role::from_db(&s).ok_or_else(|| format!("unknown role {s:?}"))
    });
    crate::db::text_column!(ProductStatus, as_str, |s: String| {
        ProductStatus::from_db(&s).ok_or_else(|| format!("unknown product status {s:?}"))
    });
    crate::db::text_column!(OrderStatus, as_str, |s: String| {
        OrderStatus::from_db(&s).ok_or_else(|| format!("unknown order status {s:?}"))
    });
}

/// Where a background job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    /// Waiting for its time (a retry waits for its backoff).
    Pending,
    /// A node holds it now.
    Running,
    Done,
    /// It failed every attempt; an admin may retry it.
    Failed,
}

impl JobStatus {
    pub const ALL: [JobStatus; 4] = [
        JobStatus::Pending,
        JobStatus::Running,
        JobStatus::Done,
        JobStatus::Failed,
    ];

    /// The status as the API writes it (`failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Pending => "pending",
            JobStatus::Running => "running",
            JobStatus::Done => "done",
            JobStatus::Failed => "failed",
        }
    }
}

/// One background job (mail, and later notices and webhooks).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Job {
    pub id: String,
    /// What it does, e.g. `mail.receipt`.
    pub kind: String,
    pub status: JobStatus,
    /// Attempts made so far.
    pub attempts: i32,
    pub max_attempts: i32,
    /// When it runs (next).
    pub run_at: DateTime<Utc>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One page of jobs, newest first.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct JobPage {
    pub items: Vec<Job>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Body of `POST /api/v1/auth/email-link` and `POST /api/v1/auth/password-reset`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EmailRequest {
    /// The account's email address.
    pub email: String,
}

/// The answer to a sign-in-link or reset request: the same whether the account exists or not.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AcceptedResponse {
    /// What happens next, for people.
    pub message: String,
}

/// Body of `POST /api/v1/auth/email-link/redeem`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedeemRequest {
    /// The token from the mailed link.
    pub token: String,
}

/// Body of `POST /api/v1/auth/password-reset/confirm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ResetPasswordRequest {
    /// The token from the mailed link.
    pub token: String,
    /// The new password, 8 to 128 characters.
    pub password: String,
}

/// A message in the development mailbox (no SMTP server configured).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MailboxMessage {
    pub id: String,
    pub message_id: String,
    pub to: String,
    pub subject: String,
    pub date: DateTime<Utc>,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_statuses_are_written_as_the_api_sends_them() {
        for status in JobStatus::ALL {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
    }
}

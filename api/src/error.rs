//! The one error type of the API and its one mapping to HTTP (`application/problem+json`).

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use shared_types::{FieldError, Problem};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("the input was rejected")]
    Validation(Vec<FieldError>),
    #[error("malformed request: {detail}")]
    BadRequest { code: &'static str, detail: String },
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("authentication required")]
    Unauthenticated,
    #[error("the access token is invalid")]
    TokenInvalid,
    #[error("the access token has expired")]
    AccessTokenExpired,
    #[error("the refresh token is invalid or expired")]
    RefreshTokenInvalid,
    #[error("the refresh token was already used; its session is revoked")]
    RefreshTokenReused,
    #[error("the download link has expired")]
    DownloadTokenExpired,
    #[error("the file changed since this download link was issued")]
    DownloadTokenStale,
    #[error("you have used all {limit} downloads of “{file}”; the seller can reset them")]
    DownloadLimitReached { file: String, limit: i32 },
    #[error("your access to this item ended on {0} (it lasted {1} days after purchase)")]
    AccessExpired(String, i32),
    #[error("a product keeps at least one file: upload another before removing this one")]
    LastFile,
    #[error("this product has several files: say which (file_id), or ask for all of them (all)")]
    FileRequired,
    #[error("this action needs the admin role")]
    Forbidden,
    #[error("this API key was revoked: create a new one on the admin's API keys page")]
    ApiKeyRevoked,
    #[error("API keys work only on the admin routes (/api/v1/admin/…); sign in for the others")]
    ApiKeyNotAccepted,
    #[error("{0}")]
    InsufficientScope(String),
    #[error("{0}")]
    WebhookUrlRefused(String),
    #[error("this endpoint is disabled: enable it, then redeliver")]
    WebhookEndpointDisabled,
    #[error("this item must be purchased first")]
    NotPurchased,
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("this method is not allowed here; allowed: {0}")]
    MethodNotAllowed(String),
    #[error("that email is already registered")]
    EmailTaken,
    #[error("a product with slug `{0}` already exists")]
    SlugTaken(String),
    #[error("`{field}` is larger than the limit of {limit} bytes")]
    PayloadTooLarge { field: &'static str, limit: u64 },
    #[error("{message}")]
    UnsupportedFileType {
        field: &'static str,
        message: String,
    },
    #[error("the requested range is outside the file of {size} bytes")]
    RangeNotSatisfiable { size: u64 },
    #[error("too many attempts; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("free items need no checkout: download them directly")]
    FreeItem,
    #[error("you already own this item")]
    AlreadyOwned,
    #[error("{0}")]
    Pricing(crate::pricing::Refusal),
    #[error("a discount with the code `{0}` already exists")]
    DiscountCodeTaken(String),
    #[error("orders used this discount, so it stays: deactivate it instead")]
    DiscountInUse,
    #[error("you are already a member of this plan: manage it from your membership page")]
    AlreadySubscribed,
    #[error("members have subscribed to this plan, so it stays: deactivate it instead")]
    PlanInUse,
    #[error("members are billed in this plan's interval and currency, so those stay: make a new plan instead")]
    PlanBillingFixed,
    #[error("there is no billing account for you yet: it is made when you first subscribe")]
    NoBillingAccount,
    #[error("only a paid order can be refunded; this one is {}", .0.as_str())]
    OrderNotRefundable(shared_types::OrderStatus),
    #[error(
        "this order cost nothing (a code or a chosen amount of 0): there is no payment to refund"
    )]
    NothingToRefund,
    #[error("receipts are for paid orders; this one is {}", .0.as_str())]
    OrderNotPaid(shared_types::OrderStatus),
    #[error("only a failed job can be retried")]
    JobNotFailed,
    #[error("this link has expired: ask for a new one")]
    LinkExpired,
    #[error("this link was used already: ask for a new one")]
    LinkUsed,
    #[error("this link is not one Folio sent: ask for a new one")]
    LinkInvalid,
    #[error("sign in, or give an email address to buy without an account")]
    SignInOrGiveEmail,
    #[error("the payment provider could not complete the request; try again later")]
    PaymentProvider(#[source] crate::payments::gateway::GatewayError),
    #[error("the webhook signature is invalid: {0}")]
    InvalidSignature(#[source] crate::payments::webhook::SignatureError),
    #[error("the database is unavailable")]
    DatabaseUnavailable(#[source] anyhow::Error),
    #[error("the file store is not answering; nothing was saved: try again in a minute")]
    StorageUnavailable(#[source] anyhow::Error),
    #[error("internal error")]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    pub fn validation(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    /// The stable code clients branch on.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::BadRequest { code, .. } => code,
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::Unauthenticated => "unauthenticated",
            ApiError::TokenInvalid => "token_invalid",
            ApiError::AccessTokenExpired => "token_expired",
            ApiError::RefreshTokenInvalid => "refresh_token_invalid",
            ApiError::RefreshTokenReused => "refresh_token_reused",
            ApiError::DownloadTokenExpired => "token_expired",
            ApiError::DownloadTokenStale => "token_stale",
            ApiError::DownloadLimitReached { .. } => "download_limit_reached",
            ApiError::AccessExpired(..) => "access_expired",
            ApiError::LastFile => "last_file",
            ApiError::FileRequired => "file_required",
            ApiError::Forbidden => "forbidden",
            ApiError::ApiKeyRevoked => "api_key_revoked",
            ApiError::ApiKeyNotAccepted => "api_key_not_accepted",
            ApiError::InsufficientScope(_) => "insufficient_scope",
            ApiError::WebhookUrlRefused(_) => "webhook_url_refused",
            ApiError::WebhookEndpointDisabled => "webhook_endpoint_disabled",
            ApiError::NotPurchased => "not_purchased",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed(_) => "method_not_allowed",
            ApiError::EmailTaken => "email_taken",
            ApiError::SlugTaken(_) => "slug_taken",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedFileType { .. } => "unsupported_file_type",
            ApiError::RangeNotSatisfiable { .. } => "range_not_satisfiable",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::FreeItem => "free_item",
            ApiError::AlreadyOwned => "already_owned",
            ApiError::Pricing(r) => r.code(),
            ApiError::DiscountCodeTaken(_) => "discount_code_taken",
            ApiError::DiscountInUse => "discount_in_use",
            ApiError::AlreadySubscribed => "already_subscribed",
            ApiError::PlanInUse => "plan_in_use",
            ApiError::PlanBillingFixed => "plan_billing_fixed",
            ApiError::NoBillingAccount => "no_billing_account",
            ApiError::OrderNotRefundable(_) => "order_not_refundable",
            ApiError::NothingToRefund => "nothing_to_refund",
            ApiError::JobNotFailed => "job_not_failed",
            ApiError::OrderNotPaid(_) => "order_not_paid",
            ApiError::LinkExpired => "link_expired",
            ApiError::LinkUsed => "link_used",
            ApiError::LinkInvalid => "link_invalid",
            ApiError::SignInOrGiveEmail => "unauthenticated",
            ApiError::PaymentProvider(_) => "payment_provider_error",
            ApiError::InvalidSignature(_) => "invalid_signature",
            ApiError::DatabaseUnavailable(_) => "database_unavailable",
            ApiError::StorageUnavailable(_) => "storage_unavailable",
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn field_errors(&self) -> Vec<FieldError> {
        match self {
            ApiError::Validation(errors) => errors.clone(),
            ApiError::WebhookUrlRefused(_) => vec![FieldError::new("url", self.to_string())],
            ApiError::EmailTaken => vec![FieldError::new("email", self.to_string())],
            ApiError::SlugTaken(_) => vec![FieldError::new("title", self.to_string())],
            ApiError::DiscountCodeTaken(_) => vec![FieldError::new("code", self.to_string())],
            ApiError::Pricing(r) => vec![FieldError::new(r.field(), self.to_string())],
            ApiError::PayloadTooLarge { field, .. }
            | ApiError::UnsupportedFileType { field, .. } => {
                vec![FieldError::new(*field, self.to_string())]
            }
            _ => Vec::new(),
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.status_code();
        Problem {
            type_: "about:blank".into(),
            title: status.canonical_reason().unwrap_or("Error").to_owned(),
            status: status.as_u16(),
            detail: self.to_string(),
            code: self.code().to_owned(),
            errors: self.field_errors(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::Validation(_) | ApiError::Pricing(_) | ApiError::WebhookUrlRefused(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::InvalidCredentials
            | ApiError::Unauthenticated
            | ApiError::TokenInvalid
            | ApiError::AccessTokenExpired
            | ApiError::RefreshTokenInvalid
            | ApiError::RefreshTokenReused
            | ApiError::ApiKeyRevoked
            | ApiError::ApiKeyNotAccepted => StatusCode::UNAUTHORIZED,
            ApiError::DownloadTokenExpired | ApiError::DownloadTokenStale => StatusCode::GONE,
            ApiError::Forbidden
            | ApiError::InsufficientScope(_)
            | ApiError::NotPurchased
            | ApiError::DownloadLimitReached { .. }
            | ApiError::AccessExpired(..) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::EmailTaken
            | ApiError::SlugTaken(_)
            | ApiError::DiscountCodeTaken(_)
            | ApiError::DiscountInUse => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedFileType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            // The item's state, not the request, is what stands in the way (like already_owned).
            ApiError::FreeItem
            | ApiError::AlreadyOwned
            | ApiError::AlreadySubscribed
            | ApiError::PlanInUse
            | ApiError::PlanBillingFixed
            | ApiError::NoBillingAccount
            | ApiError::OrderNotRefundable(_)
            | ApiError::NothingToRefund => StatusCode::CONFLICT,
            ApiError::JobNotFailed
            | ApiError::WebhookEndpointDisabled
            | ApiError::OrderNotPaid(_)
            | ApiError::LastFile
            | ApiError::FileRequired => StatusCode::CONFLICT,
            ApiError::LinkExpired | ApiError::LinkUsed => StatusCode::GONE,
            // The token is the caller's only credential here.
            ApiError::LinkInvalid | ApiError::SignInOrGiveEmail => StatusCode::UNAUTHORIZED,
            ApiError::PaymentProvider(_) => StatusCode::BAD_GATEWAY,
            ApiError::InvalidSignature(_) => StatusCode::BAD_REQUEST,
            ApiError::DatabaseUnavailable(_) | ApiError::StorageUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            // The cause chain goes to the log, never to the client.
            ApiError::Internal(cause) => {
                tracing::error!(error = format!("{cause:#}"), "internal error")
            }
            ApiError::PaymentProvider(cause) => {
                tracing::error!(error = %cause, "payment provider error")
            }
            ApiError::InvalidSignature(cause) => {
                tracing::warn!(error = %cause, "webhook refused")
            }
            ApiError::DatabaseUnavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "database unavailable")
            }
            ApiError::StorageUnavailable(cause) => {
                tracing::warn!(error = format!("{cause:#}"), "object store unavailable")
            }
            _ => {}
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, "application/problem+json"));
        match self {
            ApiError::RateLimited { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, allow.as_str()));
            }
            ApiError::RangeNotSatisfiable { size } => {
                response.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
            }
            ApiError::Unauthenticated
            | ApiError::TokenInvalid
            | ApiError::AccessTokenExpired
            | ApiError::ApiKeyRevoked
            | ApiError::ApiKeyNotAccepted => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            _ => {}
        }
        response.json(self.to_problem())
    }
}

impl From<crate::pricing::Refusal> for ApiError {
    fn from(refusal: crate::pricing::Refusal) -> Self {
        ApiError::Pricing(refusal)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(err: diesel::result::Error) -> Self {
        use diesel::result::{DatabaseErrorKind, Error};
        match err {
            Error::NotFound => ApiError::NotFound("resource"),
            Error::DatabaseError(
                DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
                _,
            ) => ApiError::DatabaseUnavailable(err.into()),
            other => ApiError::Internal(other.into()),
        }
    }
}

impl From<diesel::r2d2::PoolError> for ApiError {
    fn from(err: diesel::r2d2::PoolError) -> Self {
        ApiError::DatabaseUnavailable(err.into())
    }
}

impl From<object_store::Error> for ApiError {
    fn from(err: object_store::Error) -> Self {
        // A bucket that does not answer (or answers 5xx) is an outage the client can wait out;
        // a missing object or a local disk's failure is ours.
        let outage = matches!(&err, object_store::Error::Generic { store: "S3", .. });
        let err = anyhow::Error::new(err).context("object storage");
        if outage {
            ApiError::StorageUnavailable(err)
        } else {
            ApiError::Internal(err)
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        ApiError::Internal(anyhow::anyhow!("blocking task failed: {err}"))
    }
}

pub fn is_unique_violation(err: &diesel::result::Error) -> bool {
    matches!(
        err,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

/// Turns actix's own extractor failures (bad JSON, bad query string, bad path) into problems.
pub fn json_error_handler(
    err: actix_web::error::JsonPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_json", err.to_string()).into()
}

pub fn query_error_handler(
    err: actix_web::error::QueryPayloadError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::bad_request("invalid_query", err.to_string()).into()
}

pub fn path_error_handler(
    _err: actix_web::error::PathError,
    _req: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::NotFound("resource").into()
}

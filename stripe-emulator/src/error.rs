//! Errors, and the one place where they become Stripe-shaped HTTP responses.
//!
//! Stripe answers every failure with `{"error": {"type": ..., "code": ..., "param": ...,
//! "message": ...}}` (the `error` schema wrapping `api_errors`), and clients such as async-stripe
//! parse exactly that shape, so every handler returns [`ApiError`] and nothing else builds error
//! bodies.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde_json::{json, Map, Value};

/// Failures of the Rust API ([`crate::Emulator`]'s methods). Over HTTP each maps to the
/// Stripe error it stands for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmulatorError {
    /// No object of that kind has this id.
    #[error("No such {kind}: '{id}'")]
    NotFound { kind: &'static str, id: String },
    /// The object exists but the operation does not apply to it now (e.g. paying a session that
    /// is no longer open, refunding more than remains).
    #[error("{message}")]
    InvalidState {
        message: String,
        /// The Stripe error code this corresponds to, if Stripe has one.
        code: Option<&'static str>,
        /// The request parameter at fault, if any.
        param: Option<String>,
    },
}

impl EmulatorError {
    pub(crate) fn not_found(kind: &'static str, id: &str) -> Self {
        Self::NotFound {
            kind,
            id: id.to_string(),
        }
    }

    pub(crate) fn state(message: impl Into<String>) -> Self {
        Self::InvalidState {
            message: message.into(),
            code: None,
            param: None,
        }
    }

    pub(crate) fn state_with(
        message: impl Into<String>,
        code: &'static str,
        param: Option<&str>,
    ) -> Self {
        Self::InvalidState {
            message: message.into(),
            code: Some(code),
            param: param.map(str::to_string),
        }
    }
}

/// The `type` of a Stripe error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorType {
    InvalidRequest,
    Api,
    Idempotency,
}

impl ErrorType {
    fn as_str(self) -> &'static str {
        match self {
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Api => "api_error",
            ErrorType::Idempotency => "idempotency_error",
        }
    }
}

/// An error response of the `/v1` API.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub kind: ErrorType,
    pub code: Option<&'static str>,
    pub param: Option<String>,
    pub message: String,
}

impl ApiError {
    pub fn invalid(
        code: Option<&'static str>,
        param: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            kind: ErrorType::InvalidRequest,
            code,
            param: param.map(str::to_string),
            message: message.into(),
        }
    }

    pub fn missing(param: &str) -> Self {
        Self::invalid(
            Some("parameter_missing"),
            Some(param),
            format!("Missing required param: {param}."),
        )
    }

    pub fn unknown(param: &str) -> Self {
        Self::invalid(
            Some("parameter_unknown"),
            Some(param),
            format!("Received unknown parameter: {param}"),
        )
    }

    pub fn invalid_integer(param: &str) -> Self {
        Self::invalid(
            Some("parameter_invalid_integer"),
            Some(param),
            format!("Invalid integer: {param}"),
        )
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNAUTHORIZED,
            ..Self::invalid(None, None, message)
        }
    }

    pub fn not_found_path(method: &str, path: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            ..Self::invalid(
                None,
                None,
                format!("Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."),
            )
        }
    }

    pub fn outage() -> Self {
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            kind: ErrorType::Api,
            code: None,
            param: None,
            message: "The Stripe emulator is simulating an outage (knob `api_outage`); please retry later.".into(),
        }
    }

    pub fn idempotency(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorType::Idempotency,
            ..Self::invalid(None, None, message)
        }
    }

    pub fn idempotency_in_use() -> Self {
        Self {
            status: StatusCode::CONFLICT,
            ..Self::invalid(
                Some("idempotency_key_in_use"),
                None,
                "There is currently another in-progress request using this Idempotent Key. Please try again later.",
            )
        }
    }

    /// The JSON body: `{"error": {...}}`.
    pub fn body(&self) -> Value {
        let mut error = Map::new();
        error.insert("type".into(), self.kind.as_str().into());
        if let Some(code) = self.code {
            error.insert("code".into(), code.into());
            error.insert(
                "doc_url".into(),
                format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )
                .into(),
            );
        }
        if let Some(param) = &self.param {
            error.insert("param".into(), param.clone().into());
        }
        error.insert("message".into(), self.message.clone().into());
        json!({ "error": error })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): {}",
            self.kind.as_str(),
            self.status,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(self.body())
    }
}

impl From<EmulatorError> for ApiError {
    fn from(err: EmulatorError) -> Self {
        match err {
            EmulatorError::NotFound { .. } => Self {
                status: StatusCode::NOT_FOUND,
                ..Self::invalid(Some("resource_missing"), None, err.to_string())
            },
            EmulatorError::InvalidState {
                message,
                code,
                param,
            } => Self::invalid(code, param.as_deref(), message),
        }
    }
}

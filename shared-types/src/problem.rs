//! The error body every API error carries (RFC 9457 problem details, `application/problem+json`).

use serde::{Deserialize, Serialize};

/// An API error. `code` is stable and snake_case: clients branch on it, never on `title` or
/// `detail`, which are for people and may change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// A URI naming the kind of problem (`about:blank` or a Folio docs anchor).
    #[serde(rename = "type")]
    pub type_: String,
    /// Short human-readable summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong in this occurrence, for people.
    pub detail: String,
    /// Stable machine-readable error code, e.g. `validation_failed`, `not_purchased`.
    pub code: String,
    /// Per-field messages when the input was rejected.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// One rejected input field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FieldError {
    /// The field's name as sent by the client (`email`, `price`, `file`…).
    pub field: String,
    /// What is wrong with it, for people.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

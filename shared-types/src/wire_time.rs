//! Timestamps in the web UI (wasm32). The browser only shows them, so they stay the RFC 3339
//! text the server sent: chrono's parser would be a large part of the wasm. The names match
//! chrono's so the DTOs in `dto` read the same on every target.

use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};

/// Stands for `chrono::Utc`: the server always sends UTC (`…Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utc;

/// An RFC 3339 timestamp as the server sent it, e.g. `2026-01-31T12:00:00.123Z`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DateTime<Tz>(String, #[serde(skip)] PhantomData<Tz>);

/// The RFC 3339 text.
impl<Tz> fmt::Display for DateTime<Tz> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

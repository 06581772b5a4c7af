//! Stamps PDFs for their buyers as an incremental update.
//!
//! At upload, [`prepare`] parses the PDF once and keeps a small [`Plan`]. At each download,
//! [`tail`] writes the bytes to send after the ORIGINAL file, unchanged: every page object
//! rewritten so its content is wrapped in `q … Q` and followed by a stamp stream
//! (`Licensed to <email> · order <id>`, in a per-download subset of DejaVu Sans), a new
//! document information dictionary with `/Licensee` and `/OrderId`, and a cross-reference
//! section of the same kind as the original's last one, whose `/Prev` is the original's last
//! `startxref`. The tail is deterministic, so its length (and the response's
//! Content-Length and ETag) are known before sending, and Range requests resume correctly.

mod font;
mod prepare;
mod syntax;
mod tail;

use serde::{Deserialize, Serialize};

/// Why a PDF cannot be stamped, or a stamp not written.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    /// The PDF is encrypted (its trailer has /Encrypt): an update would have to be encrypted too.
    #[error("the PDF is encrypted; upload it without a password or permissions")]
    Encrypted,
    /// The PDF cannot be read as written: truncated, broken cross-reference data, a missing
    /// page tree, or not a PDF at all.
    #[error("the PDF is damaged: {0}")]
    Damaged(String),
    /// The PDF is readable but uses something this stamper does not handle.
    #[error("the PDF cannot be stamped: {0}")]
    Unsupported(String),
    /// The stored plan could not be read (wrong format or version, or corrupted).
    #[error("the stamping plan is unreadable: {0}")]
    BadPlan(String),
    /// The stamp's font could not be built.
    #[error("the stamp's font could not be built: {0}")]
    Font(String),
}

/// Which kind of cross-reference section the original's last revision has; the tail uses the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum XrefKind {
    Table,
    Stream,
}

/// One page object as the tail rewrites it.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct PagePlan {
    id: u32,
    #[serde(rename = "g")]
    generation: u16,
    /// The whole new dictionary, `<< … >>`, ASCII, referring to the tail's new objects.
    #[serde(rename = "d")]
    dict: String,
}

/// Where a group of pages gets its stamp: the visible box and the page's rotation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Geometry {
    /// The effective CropBox (clipped to the MediaBox): x0, y0, x1, y1 with x0 < x1, y0 < y1.
    rect: [f64; 4],
    /// Clockwise rotation for display: 0, 90, 180 or 270.
    rotate: u16,
}

/// The plan's format; a stored plan of another version is refused, and should be remade
/// from the original with [`prepare`].
const PLAN_VERSION: u32 = 1;

/// Offsets, from the plan's first new object number, of the objects every tail writes.
mod layout {
    pub const OPEN: u32 = 0; // "q"
    pub const CLOSE: u32 = 1; // "Q"
    pub const TYPE0: u32 = 2;
    pub const CIDFONT: u32 = 3;
    pub const DESCRIPTOR: u32 = 4;
    pub const FONTFILE: u32 = 5;
    pub const TOUNICODE: u32 = 6;
    pub const INFO: u32 = 7;
    /// Stamp content streams, one per distinct geometry, start here.
    pub const STAMPS: u32 = 8;
}

/// What `prepare` keeps from a PDF: everything needed to write tails without reading the PDF again.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    version: u32,
    original_len: u64,
    /// The original does not end with an end-of-line: the tail starts with one.
    needs_eol: bool,
    xref: XrefKind,
    /// The original's last `startxref`: the new section's /Prev.
    prev: u64,
    /// The original trailer's /Size.
    size: u32,
    /// The first object number the tail uses.
    first_id: u32,
    root: (u32, u16),
    /// The original Info dictionary's entries (other than /Licensee and /OrderId), ` /Key value…`.
    info: String,
    /// The first element of the trailer's /ID, hex.
    id0: String,
    /// The second element of the original's /ID, hex (kept when the stamp is the same).
    id1: String,
    /// The name the stamp font has in every page's /Font resources.
    font_name: String,
    geometries: Vec<Geometry>,
    pages: Vec<PagePlan>,
    page_count: usize,
}

impl Plan {
    /// Compact JSON, for storing as a sidecar object.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs, strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Plan, StampError> {
        let plan: Plan =
            serde_json::from_slice(bytes).map_err(|e| StampError::BadPlan(e.to_string()))?;
        plan.validate()?;
        Ok(plan)
    }

    /// The length of the original PDF: the tail starts at this offset.
    pub fn original_len(&self) -> u64 {
        self.original_len
    }

    pub fn page_count(&self) -> usize {
        self.page_count
    }

    /// The checks that keep `tail` from writing nonsense from a plan that was edited or corrupted.
    fn validate(&self) -> Result<(), StampError> {
        let bad = |what: &str| Err(StampError::BadPlan(what.to_string()));
        if self.version != PLAN_VERSION {
            return bad(&format!(
                "version {} (this build reads {PLAN_VERSION})",
                self.version
            ));
        }
        if self.pages.is_empty() || self.page_count < self.pages.len() {
            return bad("no pages");
        }
        if self.geometries.is_empty() || self.prev >= self.original_len || self.first_id == 0 {
            return bad("inconsistent numbers");
        }
        let last =
            u64::from(self.first_id) + u64::from(layout::STAMPS) + self.geometries.len() as u64 + 2;
        if last > u64::from(prepare::MAX_OBJECT_NUMBER) {
            return bad("object numbers out of range");
        }
        let ascii = |s: &str| s.is_ascii();
        if !(ascii(&self.info)
            && ascii(&self.font_name)
            && self.pages.iter().all(|p| ascii(&p.dict)))
        {
            return bad("non-ASCII PDF syntax");
        }
        let hex = |s: &str| s.len().is_multiple_of(2) && s.bytes().all(|b| b.is_ascii_hexdigit());
        if !(hex(&self.id0) && hex(&self.id1)) {
            return bad("malformed /ID");
        }
        if self.geometries.iter().any(|g| {
            !g.rect.iter().all(|v| v.is_finite()) || !g.rotate.is_multiple_of(90) || g.rotate >= 360
        }) {
            return bad("malformed page geometry");
        }
        Ok(())
    }
}

/// Parses the PDF once (at upload) and checks that it can be stamped, by stamping it with a
/// test stamp and reading the result back.
pub fn prepare(pdf: &[u8]) -> Result<Plan, StampError> {
    prepare::prepare(pdf)
}

/// Who a copy is for.
pub struct Stamp<'a> {
    pub licensee: &'a str,
    pub order_id: &'a str,
}

/// The bytes to append after the original file; deterministic for the same plan and stamp (no clock, no randomness), so Range requests over (original ++ tail) resume correctly.
pub fn tail(plan: &Plan, stamp: &Stamp) -> Result<Vec<u8>, StampError> {
    plan.validate()?;
    tail::tail(plan, stamp)
}

/// Convenience for tests and the upload's test stamp: original ++ tail.
pub fn stamp(pdf: &[u8], stamp: &Stamp) -> Result<Vec<u8>, StampError> {
    let plan = prepare(pdf)?;
    let tail = tail(&plan, stamp)?;
    let mut out = Vec::with_capacity(pdf.len() + tail.len());
    out.extend_from_slice(pdf);
    out.extend_from_slice(&tail);
    Ok(out)
}

/// The text drawn on every page.
pub fn stamp_text(stamp: &Stamp) -> String {
    format!(
        "Licensed to {} \u{b7} order {}",
        stamp.licensee, stamp.order_id
    )
}

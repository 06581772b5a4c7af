//! Reading the original once: the page tree with its inherited attributes, the trailer, and
//! where the last cross-reference section starts.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};

use lopdf::{Dictionary, Document, Object, ObjectId};

use crate::syntax::{hash16, to_hex, write_entries, write_name, write_object};
use crate::{layout, Geometry, PagePlan, Plan, Stamp, StampError, XrefKind, PLAN_VERSION};

/// The largest object number readers must support (ISO 32000 Annex C).
pub(crate) const MAX_OBJECT_NUMBER: u32 = 8_388_607;
/// How deep the page tree may be.
const MAX_TREE_DEPTH: usize = 64;
/// How many references in a row are followed before giving up.
const MAX_DEREF: usize = 32;
/// Letter, the page size readers assume when no MediaBox is given.
const DEFAULT_MEDIA_BOX: [f64; 4] = [0.0, 0.0, 612.0, 792.0];

/// Attributes a page inherits from its /Pages ancestors (ISO 32000 7.7.3.4).
#[derive(Clone, Default)]
struct Inherited {
    resources: Option<Object>,
    media_box: Option<Object>,
    crop_box: Option<Object>,
    rotate: Option<Object>,
}

impl Inherited {
    fn update(&self, node: &Dictionary) -> Inherited {
        let pick =
            |key: &[u8], old: &Option<Object>| node.get(key).ok().cloned().or_else(|| old.clone());
        Inherited {
            resources: pick(b"Resources", &self.resources),
            media_box: pick(b"MediaBox", &self.media_box),
            crop_box: pick(b"CropBox", &self.crop_box),
            rotate: pick(b"Rotate", &self.rotate),
        }
    }
}

/// A page as found, before the stamp font's name is chosen.
struct FoundPage {
    id: ObjectId,
    dict: Dictionary,
    inherited: Inherited,
    /// The resources, resolved to a dictionary, with /Font resolved too.
    resources: Dictionary,
    fonts: Dictionary,
    contents: Vec<Object>,
    geometry: Geometry,
}

pub(crate) fn prepare(pdf: &[u8]) -> Result<Plan, StampError> {
    let plan = build_plan(pdf)?;
    test_stamp(pdf, &plan)?;
    Ok(plan)
}

fn build_plan(pdf: &[u8]) -> Result<Plan, StampError> {
    if !pdf.starts_with(b"%PDF-") {
        return Err(StampError::Damaged(
            "no %PDF- header at the start of the file".into(),
        ));
    }
    let startxref = find_startxref(pdf)?;
    let doc = load(pdf)?;

    if doc.xref_recovery.is_some() {
        return Err(StampError::Damaged(
            "the cross-reference data does not match the file (it had to be repaired to read)"
                .into(),
        ));
    }
    if doc.xref_start as u64 != startxref {
        return Err(StampError::Damaged(format!(
            "startxref says {startxref} but the cross-reference section was read at {}",
            doc.xref_start
        )));
    }
    let xref = match pdf.get(usize::try_from(startxref).unwrap_or(usize::MAX)..) {
        Some(rest) if rest.starts_with(b"xref") => XrefKind::Table,
        Some(_) => XrefKind::Stream,
        None => {
            return Err(StampError::Damaged(
                "startxref points past the end of the file".into(),
            ))
        }
    };

    let trailer = &doc.trailer;
    let root = trailer
        .get(b"Root")
        .and_then(Object::as_reference)
        .map_err(|_| StampError::Damaged("the trailer has no /Root reference".into()))?;
    let catalog = doc
        .get_dictionary(root)
        .map_err(|_| StampError::Damaged("the document catalog is missing".into()))?;
    let pages_root = catalog
        .get(b"Pages")
        .and_then(Object::as_reference)
        .map_err(|_| StampError::Damaged("the catalog has no /Pages reference".into()))?;

    let mut found = Vec::new();
    let mut seen = HashSet::new();
    walk(
        &doc,
        pages_root,
        &Inherited::default(),
        0,
        &mut seen,
        &mut found,
    )?;
    if found.is_empty() {
        return Err(StampError::Unsupported("the document has no pages".into()));
    }
    let lopdf_count = doc.get_pages().len();
    if lopdf_count != found.len() {
        return Err(StampError::Damaged(format!(
            "the page tree has {} pages but reads as {lopdf_count}",
            found.len()
        )));
    }

    let size = trailer
        .get(b"Size")
        .and_then(Object::as_i64)
        .ok()
        .and_then(|s| u32::try_from(s).ok())
        .unwrap_or(0);
    let first_id = size.max(doc.max_id.saturating_add(1)).max(1);

    // Distinct geometries, in page order, each with one stamp stream.
    let mut geometries: Vec<Geometry> = Vec::new();
    let mut geometry_of = Vec::with_capacity(found.len());
    for page in &found {
        let index = match geometries.iter().position(|g| *g == page.geometry) {
            Some(i) => i,
            None => {
                geometries.push(page.geometry.clone());
                geometries.len() - 1
            }
        };
        geometry_of.push(index);
    }
    let last_needed = u64::from(first_id) + u64::from(layout::STAMPS) + geometries.len() as u64 + 2;
    if last_needed > u64::from(MAX_OBJECT_NUMBER) {
        return Err(StampError::Unsupported(
            "object numbers would exceed the PDF limit".into(),
        ));
    }

    // A resource name no page uses for a font already.
    let used: BTreeSet<&[u8]> = found
        .iter()
        .flat_map(|p| p.fonts.iter().map(|(k, _)| k.as_slice()))
        .collect();
    let font_name = (1..)
        .map(|n| format!("FolioStamp{n}"))
        .find(|name| !used.contains(name.as_bytes()))
        .unwrap_or_else(|| "FolioStamp".into());

    let mut pages = Vec::with_capacity(found.len());
    for (page, geometry) in found.iter().zip(geometry_of) {
        let stamp_id = first_id + layout::STAMPS + geometry as u32;
        pages.push(PagePlan {
            id: page.id.0,
            generation: page.id.1,
            dict: page_dict(page, first_id, stamp_id, &font_name)?,
        });
    }

    let info = info_entries(&doc)?;
    let (id0, id1) = match trailer.get(b"ID").and_then(Object::as_array) {
        Ok(ids) => {
            let get = |i: usize| ids.get(i).and_then(|o| o.as_str().ok()).map(to_hex);
            match (get(0), get(1)) {
                (Some(a), Some(b)) => (a, b),
                (Some(a), None) => (a.clone(), a),
                _ => derived_id(pdf),
            }
        }
        Err(_) => derived_id(pdf),
    };

    Ok(Plan {
        version: PLAN_VERSION,
        original_len: pdf.len() as u64,
        needs_eol: !matches!(pdf.last(), Some(b'\n' | b'\r')),
        xref,
        prev: startxref,
        size,
        first_id,
        root,
        info,
        id0,
        id1,
        font_name,
        geometries,
        page_count: found.len(),
        pages,
    })
}

/// lopdf's reader, with every refusal it can give sorted into ours. The reader is third-party
/// code fed untrusted bytes: a panic in it is turned into `Damaged` rather than taking the
/// upload handler down.
fn load(pdf: &[u8]) -> Result<Document, StampError> {
    let loaded = catch_unwind(AssertUnwindSafe(|| Document::load_mem(pdf)))
        .map_err(|_| StampError::Damaged("the PDF reader gave up on this file".into()))?;
    let doc = match loaded {
        Ok(doc) => doc,
        Err(
            lopdf::Error::Decryption(_)
            | lopdf::Error::InvalidPassword
            | lopdf::Error::AlreadyEncrypted
            | lopdf::Error::UnsupportedSecurityHandler(_),
        ) => return Err(StampError::Encrypted),
        Err(e) => return Err(StampError::Damaged(e.to_string())),
    };
    // lopdf decrypts a file with an empty user password and then drops /Encrypt from the trailer.
    if doc.trailer.has(b"Encrypt") || doc.encryption_state.is_some() || doc.was_encrypted() {
        return Err(StampError::Encrypted);
    }
    Ok(doc)
}

/// The offset after the last `startxref`, which must be followed by `%%EOF` near the end.
fn find_startxref(pdf: &[u8]) -> Result<u64, StampError> {
    let damaged = |what: &str| StampError::Damaged(what.to_string());
    let tail_start = pdf.len().saturating_sub(2048);
    let tail = &pdf[tail_start..];
    let eof = rfind(tail, b"%%EOF")
        .ok_or_else(|| damaged("no %%EOF at the end: the file looks truncated"))?;
    // Anything but blank space after the last %%EOF is a cut-off update or appended junk.
    if !tail[eof + 5..]
        .iter()
        .all(|b| b.is_ascii_whitespace() || *b == 0)
    {
        return Err(damaged(
            "data after the last %%EOF: the file looks truncated or has junk appended",
        ));
    }
    let at =
        rfind(&tail[..eof], b"startxref").ok_or_else(|| damaged("no startxref before %%EOF"))?;
    let number = &tail[at + b"startxref".len()..eof];
    let text = std::str::from_utf8(number).map_err(|_| damaged("unreadable startxref"))?;
    let text = text.trim_matches(|c: char| c.is_ascii_whitespace() || c == '\0');
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(damaged("unreadable startxref"));
    }
    let offset: u64 = text.parse().map_err(|_| damaged("unreadable startxref"))?;
    if offset >= pdf.len() as u64 {
        return Err(damaged("startxref points past the end of the file"));
    }
    Ok(offset)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).rposition(|w| w == needle)
}

/// Follows references until a direct object.
fn resolve<'a>(doc: &'a Document, mut object: &'a Object) -> Option<&'a Object> {
    for _ in 0..MAX_DEREF {
        match object {
            Object::Reference(id) => object = doc.objects.get(id)?,
            other => return Some(other),
        }
    }
    None
}

fn walk(
    doc: &Document,
    node_id: ObjectId,
    inherited: &Inherited,
    depth: usize,
    seen: &mut HashSet<ObjectId>,
    out: &mut Vec<FoundPage>,
) -> Result<(), StampError> {
    if depth > MAX_TREE_DEPTH {
        return Err(StampError::Unsupported("the page tree is too deep".into()));
    }
    if !seen.insert(node_id) {
        return Err(StampError::Unsupported(format!(
            "object {} {} appears twice in the page tree",
            node_id.0, node_id.1
        )));
    }
    let node = match doc.objects.get(&node_id) {
        Some(Object::Dictionary(dict)) => dict,
        Some(_) => {
            return Err(StampError::Damaged(format!(
                "page tree node {} is not a dictionary",
                node_id.0
            )))
        }
        None => {
            return Err(StampError::Damaged(format!(
                "page tree node {} is missing",
                node_id.0
            )))
        }
    };
    let kind = node.get(b"Type").and_then(Object::as_name).ok();
    let kids = node.get(b"Kids").ok();
    let is_leaf = match kind {
        Some(b"Page") => true,
        Some(b"Pages") => false,
        _ => kids.is_none(),
    };
    let inherited = inherited.update(node);
    if !is_leaf {
        let kids = kids
            .and_then(|k| resolve(doc, k))
            .and_then(|k| k.as_array().ok())
            .ok_or_else(|| {
                StampError::Damaged(format!("page tree node {} has no /Kids array", node_id.0))
            })?;
        for kid in kids {
            let kid = kid.as_reference().map_err(|_| {
                StampError::Damaged(format!(
                    "page tree node {} has a kid that is not a reference",
                    node_id.0
                ))
            })?;
            walk(doc, kid, &inherited, depth + 1, seen, out)?;
        }
        return Ok(());
    }
    out.push(found_page(doc, node_id, node, inherited)?);
    Ok(())
}

fn found_page(
    doc: &Document,
    id: ObjectId,
    dict: &Dictionary,
    inherited: Inherited,
) -> Result<FoundPage, StampError> {
    let damaged = |what: &str| StampError::Damaged(format!("page object {}: {what}", id.0));

    let mut resources = match inherited.resources.as_ref().and_then(|r| resolve(doc, r)) {
        Some(Object::Dictionary(d)) => d.clone(),
        Some(Object::Null) | None => Dictionary::new(),
        Some(_) => return Err(damaged("/Resources is not a dictionary")),
    };
    let fonts = match resources.get(b"Font").ok().and_then(|f| resolve(doc, f)) {
        Some(Object::Dictionary(d)) => d.clone(),
        Some(Object::Null) | None => Dictionary::new(),
        Some(_) => return Err(damaged("/Font resources are not a dictionary")),
    };
    resources.remove(b"Font");

    let contents = match dict.get(b"Contents").ok() {
        None | Some(Object::Null) => Vec::new(),
        Some(Object::Reference(r)) => match doc.objects.get(r).and_then(|o| resolve(doc, o)) {
            Some(Object::Array(items)) => items.clone(),
            // A stream, or a reference to nothing (read as null): keep the reference as it is.
            _ => vec![Object::Reference(*r)],
        },
        Some(Object::Array(items)) => items.clone(),
        Some(_) => return Err(damaged("/Contents is neither a stream nor an array")),
    };
    if contents.iter().any(|c| !matches!(c, Object::Reference(_))) {
        return Err(damaged(
            "/Contents holds something other than stream references",
        ));
    }

    let rect_of = |object: Option<&Object>| -> Option<[f64; 4]> {
        let array = resolve(doc, object?)?.as_array().ok()?;
        if array.len() != 4 {
            return None;
        }
        let mut v = [0.0; 4];
        for (slot, item) in v.iter_mut().zip(array) {
            *slot = match resolve(doc, item)? {
                Object::Integer(i) => *i as f64,
                Object::Real(r) => f64::from(*r),
                _ => return None,
            };
            if !slot.is_finite() {
                return None;
            }
        }
        let rect = [
            v[0].min(v[2]),
            v[1].min(v[3]),
            v[0].max(v[2]),
            v[1].max(v[3]),
        ];
        (rect[2] > rect[0] && rect[3] > rect[1]).then_some(rect)
    };
    let media = rect_of(inherited.media_box.as_ref()).unwrap_or(DEFAULT_MEDIA_BOX);
    let visible = match rect_of(inherited.crop_box.as_ref()) {
        Some(crop) => {
            let r = [
                crop[0].max(media[0]),
                crop[1].max(media[1]),
                crop[2].min(media[2]),
                crop[3].min(media[3]),
            ];
            if r[2] > r[0] && r[3] > r[1] {
                r
            } else {
                media
            }
        }
        None => media,
    };
    let rotate = match inherited.rotate.as_ref().and_then(|r| resolve(doc, r)) {
        Some(Object::Integer(i)) => *i,
        Some(Object::Real(r)) if r.is_finite() => r.round() as i64,
        _ => 0,
    };
    // Readers treat /Rotate as a multiple of 90; round anything else to the nearest one.
    let rotate = (((rotate as f64 / 90.0).round() as i64).rem_euclid(4) * 90) as u16;

    Ok(FoundPage {
        id,
        dict: dict.clone(),
        inherited,
        resources,
        fonts,
        contents,
        geometry: Geometry {
            rect: visible,
            rotate,
        },
    })
}

/// The page dictionary the tail writes: every entry the page has, the inherited ones made
/// explicit, /Contents wrapped in q … Q plus the stamp, and /Resources written out with the
/// stamp font added.
fn page_dict(
    page: &FoundPage,
    first_id: u32,
    stamp_id: u32,
    font_name: &str,
) -> Result<String, StampError> {
    let mut out = String::with_capacity(256);
    out.push_str("<<");
    write_entries(&mut out, &page.dict, &[b"Contents", b"Resources"])?;
    for (key, value) in [
        (&b"MediaBox"[..], &page.inherited.media_box),
        (b"CropBox", &page.inherited.crop_box),
        (b"Rotate", &page.inherited.rotate),
    ] {
        if page.dict.has(key) {
            continue;
        }
        let default_media_box;
        let value = match (value, key) {
            (Some(v), _) => v,
            (None, b"MediaBox") => {
                default_media_box = Object::Array(
                    DEFAULT_MEDIA_BOX
                        .iter()
                        .map(|&v| Object::Integer(v as i64))
                        .collect(),
                );
                &default_media_box
            }
            (None, _) => continue,
        };
        out.push(' ');
        write_name(&mut out, key);
        out.push(' ');
        write_object(&mut out, value)?;
    }

    let _ = write!(out, " /Contents [{} 0 R", first_id + layout::OPEN);
    for content in &page.contents {
        out.push(' ');
        write_object(&mut out, content)?;
    }
    let _ = write!(out, " {} 0 R {stamp_id} 0 R]", first_id + layout::CLOSE);

    out.push_str(" /Resources <<");
    write_entries(&mut out, &page.resources, &[])?;
    out.push_str(" /Font <<");
    write_entries(&mut out, &page.fonts, &[])?;
    out.push(' ');
    write_name(&mut out, font_name.as_bytes());
    let _ = write!(out, " {} 0 R >> >> >>", first_id + layout::TYPE0);
    Ok(out)
}

/// The entries of the original Info dictionary, less the ones the stamp sets.
fn info_entries(doc: &Document) -> Result<String, StampError> {
    let mut out = String::new();
    if let Some(Object::Dictionary(info)) =
        doc.trailer.get(b"Info").ok().and_then(|i| resolve(doc, i))
    {
        write_entries(&mut out, info, &[b"Licensee", b"OrderId"])?;
    }
    Ok(out)
}

/// An /ID for a file that has none: a hash of its bytes, so it stays the same for the file.
fn derived_id(pdf: &[u8]) -> (String, String) {
    let id = to_hex(&hash16(&[pdf]));
    (id.clone(), id)
}

/// Stamps the file with a test stamp and reads it back, so a file that cannot be stamped is
/// refused at upload rather than at a download.
fn test_stamp(pdf: &[u8], plan: &Plan) -> Result<(), StampError> {
    let stamp = Stamp {
        licensee: "test\u{b7}stamp@example.com",
        order_id: "prepare-check",
    };
    let tail = crate::tail(plan, &stamp)?;
    let mut stamped = Vec::with_capacity(pdf.len() + tail.len());
    stamped.extend_from_slice(pdf);
    stamped.extend_from_slice(&tail);
    let failed =
        |what: String| StampError::Unsupported(format!("the test stamp did not read back: {what}"));
    let doc = catch_unwind(AssertUnwindSafe(|| Document::load_mem(&stamped)))
        .map_err(|_| failed("the reader gave up".into()))?
        .map_err(|e| failed(e.to_string()))?;
    if doc.xref_recovery.is_some() {
        return Err(failed("its cross-reference data needed repair".into()));
    }
    let pages = doc.get_pages();
    if pages.len() != plan.page_count {
        return Err(failed(format!(
            "{} pages instead of {}",
            pages.len(),
            plan.page_count
        )));
    }
    let info = doc
        .trailer
        .get(b"Info")
        .ok()
        .and_then(|i| resolve(&doc, i))
        .and_then(|i| i.as_dict().ok())
        .ok_or_else(|| failed("no Info dictionary".into()))?;
    if info.get(b"OrderId").and_then(Object::as_str).ok() != Some(&b"prepare-check"[..]) {
        return Err(failed("no /OrderId in Info".into()));
    }
    // Every page now draws the stamp font.
    for page_id in pages.values() {
        let has_font = doc
            .get_page_fonts(*page_id)
            .map(|fonts| fonts.contains_key(plan.font_name.as_bytes()))
            .unwrap_or(false);
        if !has_font {
            return Err(failed(format!(
                "page object {} lacks the stamp font",
                page_id.0
            )));
        }
    }
    Ok(())
}

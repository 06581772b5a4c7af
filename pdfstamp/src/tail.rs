//! Writing the tail: new objects, rewritten pages, and a cross-reference section with /Prev.

use std::fmt::Write as _;
use std::io::Write as _;

use crate::font::{self, StampFont};
use crate::syntax::{hash16, to_hex, write_number, write_text_string};
use crate::{layout, stamp_text, Geometry, Plan, Stamp, StampError, XrefKind};

/// The stamp's nominal size in points; it shrinks on pages too narrow for the whole line.
const FONT_SIZE: f64 = 7.0;
const MIN_FONT_SIZE: f64 = 3.0;
/// From the (displayed) bottom edge to the baseline, in points.
const BOTTOM_MARGIN: f64 = 10.0;
/// Kept free on each side of the line, in points.
const SIDE_MARGIN: f64 = 12.0;
/// The longest stamp text, in characters: an email and an order id fit many times over.
const MAX_TEXT_CHARS: usize = 1000;

struct Tail {
    buf: Vec<u8>,
    base: u64,
    /// (object number, generation, absolute offset) of each object written.
    offsets: Vec<(u32, u16, u64)>,
}

impl Tail {
    fn position(&self) -> u64 {
        self.base + self.buf.len() as u64
    }

    fn begin(&mut self, id: u32, generation: u16) {
        let offset = self.position();
        self.offsets.push((id, generation, offset));
        let _ = writeln!(self.buf, "{id} {generation} obj");
    }

    fn object(&mut self, id: u32, body: &str) {
        self.object_gen(id, 0, body);
    }

    fn object_gen(&mut self, id: u32, generation: u16, body: &str) {
        self.begin(id, generation);
        self.buf.extend_from_slice(body.as_bytes());
        self.buf.extend_from_slice(b"\nendobj\n");
    }

    fn stream(&mut self, id: u32, dict_entries: &str, data: &[u8]) {
        self.begin(id, 0);
        let _ = write!(
            self.buf,
            "<<{dict_entries} /Length {}>>\nstream\n",
            data.len()
        );
        self.buf.extend_from_slice(data);
        self.buf.extend_from_slice(b"\nendstream\nendobj\n");
    }
}

pub(crate) fn tail(plan: &Plan, stamp: &Stamp) -> Result<Vec<u8>, StampError> {
    let raw = stamp_text(stamp);
    if raw.chars().count() > MAX_TEXT_CHARS {
        return Err(StampError::Unsupported(format!(
            "the stamp text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    // Control characters (a newline in an order id, say) would draw as boxes: draw spaces.
    let drawn: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let font = font::build(&drawn)?;

    let first = plan.first_id;
    let mut out = Tail {
        buf: Vec::with_capacity(
            16_384 + plan.pages.iter().map(|p| p.dict.len() + 32).sum::<usize>(),
        ),
        base: plan.original_len,
        offsets: Vec::with_capacity(plan.pages.len() + 16),
    };
    if plan.needs_eol {
        out.buf.push(b'\n');
    }

    out.stream(first + layout::OPEN, "", b"q\n");
    out.stream(first + layout::CLOSE, "", b"\nQ\n");
    write_font(&mut out, plan, &font)?;
    write_info(&mut out, plan, stamp);
    for page in &plan.pages {
        out.object_gen(page.id, page.generation, &page.dict);
    }
    for (i, geometry) in plan.geometries.iter().enumerate() {
        let content = stamp_content(&plan.font_name, &font, geometry);
        let data = compress(content.as_bytes())?;
        out.stream(
            first + layout::STAMPS + i as u32,
            " /Filter /FlateDecode",
            &data,
        );
    }
    let mut next = first + layout::STAMPS + plan.geometries.len() as u32;
    if let Some(map) = &font.cid_to_gid {
        let data = compress(map)?;
        out.stream(next, " /Filter /FlateDecode", &data);
        next += 1;
    }

    // The second /ID element changes with the stamp, as an update's should.
    let id1 = to_hex(&hash16(&[
        plan.id1.as_bytes(),
        stamp.licensee.as_bytes(),
        stamp.order_id.as_bytes(),
    ]));
    let mut trailer = String::new();
    let _ = write!(
        trailer,
        " /Root {} {} R /Info {} 0 R /ID [<{}> <{id1}>] /Prev {}",
        plan.root.0,
        plan.root.1,
        first + layout::INFO,
        plan.id0,
        plan.prev
    );
    match plan.xref {
        XrefKind::Table => write_xref_table(&mut out, plan, next, &trailer),
        XrefKind::Stream => write_xref_stream(&mut out, plan, next, &trailer),
    }
    Ok(out.buf)
}

fn compress(data: &[u8]) -> Result<Vec<u8>, StampError> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(data)
        .and_then(|_| encoder.finish())
        .map_err(|e| StampError::Font(format!("compressing: {e}")))
}

fn write_font(out: &mut Tail, plan: &Plan, font: &StampFont) -> Result<(), StampError> {
    let first = plan.first_id;
    out.object(
        first + layout::TYPE0,
        &format!(
            "<< /Type /Font /Subtype /Type0 /BaseFont /{} /Encoding /Identity-H /DescendantFonts [{} 0 R] /ToUnicode {} 0 R >>",
            font.base_font,
            first + layout::CIDFONT,
            first + layout::TOUNICODE
        ),
    );
    let cid_to_gid = match font.cid_to_gid {
        // The map stream is written after the stamp streams.
        Some(_) => format!(
            "{} 0 R",
            first + layout::STAMPS + plan.geometries.len() as u32
        ),
        None => "/Identity".to_string(),
    };
    out.object(
        first + layout::CIDFONT,
        &format!(
            "<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{} /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> /FontDescriptor {} 0 R /DW 1000 /W {} /CIDToGIDMap {cid_to_gid} >>",
            font.base_font,
            first + layout::DESCRIPTOR,
            font.widths
        ),
    );
    out.object(
        first + layout::DESCRIPTOR,
        &format!(
            "<<{} /FontFile2 {} 0 R >>",
            font.descriptor,
            first + layout::FONTFILE
        ),
    );
    let data = compress(&font.subset)?;
    out.stream(
        first + layout::FONTFILE,
        &format!(" /Filter /FlateDecode /Length1 {}", font.subset.len()),
        &data,
    );
    let data = compress(font.to_unicode.as_bytes())?;
    out.stream(first + layout::TOUNICODE, " /Filter /FlateDecode", &data);
    Ok(())
}

fn write_info(out: &mut Tail, plan: &Plan, stamp: &Stamp) {
    let mut body = String::from("<<");
    body.push_str(&plan.info);
    body.push_str(" /Licensee ");
    write_text_string(&mut body, stamp.licensee);
    body.push_str(" /OrderId ");
    write_text_string(&mut body, stamp.order_id);
    body.push_str(" >>");
    out.object(plan.first_id + layout::INFO, &body);
}

/// The stamp's content stream for pages of one geometry: one line of grey text, centred
/// along the displayed bottom edge, upright however the page is rotated.
fn stamp_content(font_name: &str, font: &StampFont, geometry: &Geometry) -> String {
    let [x0, y0, x1, y1] = geometry.rect;
    let (width, height) = if geometry.rotate.is_multiple_of(180) {
        (x1 - x0, y1 - y0)
    } else {
        (y1 - y0, x1 - x0)
    };
    let mut size = FONT_SIZE;
    let available = (width - 2.0 * SIDE_MARGIN).max(width * 0.5);
    if font.width_per_pt * size > available && font.width_per_pt > 0.0 {
        size = (available / font.width_per_pt).max(MIN_FONT_SIZE);
    }
    let text_width = font.width_per_pt * size;
    let left = ((width - text_width) / 2.0).max(0.0);
    let bottom = BOTTOM_MARGIN.min(height * 0.05).max(size * 0.3);
    // (a b c d e f) of the text matrix for each rotation: the text's x axis runs along the
    // displayed bottom edge, its origin `left` in from the displayed left and `bottom` up.
    let m = match geometry.rotate {
        90 => [0.0, 1.0, -1.0, 0.0, x1 - bottom, y0 + left],
        180 => [-1.0, 0.0, 0.0, -1.0, x1 - left, y1 - bottom],
        270 => [0.0, -1.0, 1.0, 0.0, x0 + bottom, y1 - left],
        _ => [1.0, 0.0, 0.0, 1.0, x0 + left, y0 + bottom],
    };
    let mut s = String::with_capacity(160 + font.codes.len() * 2);
    s.push_str("\nq 0.45 g 0 Tr 0 Tc 0 Tw 100 Tz 0 Ts\nBT /");
    s.push_str(font_name);
    s.push(' ');
    write_number(&mut s, size);
    s.push_str(" Tf ");
    for v in m {
        write_number(&mut s, v);
        s.push(' ');
    }
    s.push_str("Tm <");
    for b in &font.codes {
        let _ = write!(s, "{b:02X}");
    }
    s.push_str("> Tj ET Q\n");
    s
}

/// Runs of consecutive object numbers, as the subsections of either kind of section need them.
fn runs(offsets: &[(u32, u16, u64)]) -> Vec<&[(u32, u16, u64)]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=offsets.len() {
        if i == offsets.len() || offsets[i].0 != offsets[i - 1].0 + 1 {
            runs.push(&offsets[start..i]);
            start = i;
        }
    }
    runs
}

fn sorted_offsets(mut offsets: Vec<(u32, u16, u64)>) -> Vec<(u32, u16, u64)> {
    offsets.sort_by_key(|o| o.0);
    // A page object listed twice cannot happen (prepare refuses it), but a duplicate entry
    // would make the section invalid: keep the last one written.
    offsets.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            *earlier = *later;
            true
        } else {
            false
        }
    });
    offsets
}

fn write_xref_table(out: &mut Tail, plan: &Plan, next: u32, trailer: &str) {
    let offsets = sorted_offsets(out.offsets.clone());
    let xref_at = out.position();
    let size = plan.size.max(next);
    let mut s = String::with_capacity(64 + offsets.len() * 20);
    s.push_str("xref\n");
    for run in runs(&offsets) {
        let _ = writeln!(s, "{} {}", run[0].0, run.len());
        for (_, generation, offset) in run {
            let _ = write!(s, "{offset:010} {generation:05} n\r\n");
        }
    }
    let _ = write!(
        s,
        "trailer\n<< /Size {size}{trailer} >>\nstartxref\n{xref_at}\n%%EOF\n"
    );
    out.buf.extend_from_slice(s.as_bytes());
}

fn write_xref_stream(out: &mut Tail, plan: &Plan, id: u32, trailer: &str) {
    // The cross-reference stream lists itself too.
    let xref_at = out.position();
    let mut offsets = out.offsets.clone();
    offsets.push((id, 0, xref_at));
    let offsets = sorted_offsets(offsets);
    let size = plan.size.max(id + 1);
    let wide = offsets.iter().any(|o| o.2 > u64::from(u32::MAX));
    let offset_bytes = if wide { 8 } else { 4 };
    let mut data = Vec::with_capacity(offsets.len() * (3 + offset_bytes));
    let mut index = String::new();
    for run in runs(&offsets) {
        let _ = write!(index, "{} {} ", run[0].0, run.len());
        for (_, generation, offset) in run {
            data.push(1);
            data.extend_from_slice(&offset.to_be_bytes()[8 - offset_bytes..]);
            data.extend_from_slice(&generation.to_be_bytes());
        }
    }
    let index = index.trim_end();
    let _ = write!(
        out.buf,
        "{id} 0 obj\n<< /Type /XRef /Size {size} /W [1 {offset_bytes} 2] /Index [{index}]{trailer} /Length {}>>\nstream\n",
        data.len()
    );
    out.buf.extend_from_slice(&data);
    let _ = write!(
        out.buf,
        "\nendstream\nendobj\nstartxref\n{xref_at}\n%%EOF\n"
    );
}

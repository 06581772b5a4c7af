//! The stamp's font: DejaVu Sans, subset per download to the glyphs of the stamp text.
//!
//! Written as a Type0 font with Identity-H encoding over a CIDFontType2 descendant. Codes
//! (CIDs) are the glyph ids that the subsetter assigns, so CIDToGIDMap is /Identity, except
//! when a character has no glyph of its own (no glyph in DejaVu Sans, e.g. CJK, or one glyph
//! shared by two characters): such characters get extra CIDs past the subset's glyphs,
//! mapped by a CIDToGIDMap stream to .notdef (or the shared glyph), so that every
//! character still has a code of its own in the ToUnicode CMap and extracts as itself.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

use crate::syntax::fnv64;
use crate::StampError;

/// The font bytes: DejaVu Sans, compiled in.
fn font_data() -> &'static [u8] {
    dejavu::sans::regular()
}

/// The stamp text laid out in the subset font.
pub(crate) struct StampFont {
    /// The content-stream string: two bytes (a CID) per character.
    pub codes: Vec<u8>,
    /// The text's advance in text space units per 1 point of font size.
    pub width_per_pt: f64,
    /// The PostScript name with the subset tag, e.g. `ABCDEF+DejaVuSans`.
    pub base_font: String,
    /// The /W array.
    pub widths: String,
    /// The FontDescriptor entries other than /FontFile2 (no brackets).
    pub descriptor: String,
    /// The subset TrueType font.
    pub subset: Vec<u8>,
    /// The ToUnicode CMap.
    pub to_unicode: String,
    /// The CIDToGIDMap stream's data when codes cannot be the glyph ids (else /Identity).
    pub cid_to_gid: Option<Vec<u8>>,
}

pub(crate) fn build(text: &str) -> Result<StampFont, StampError> {
    let data = font_data();
    let face = Face::parse(data, 0).map_err(|e| StampError::Font(format!("DejaVu Sans: {e}")))?;
    let units = f64::from(face.units_per_em().max(1));
    let scale = 1000.0 / units;

    // Each character's glyph in the full font; None when the font has none.
    let mut remapper = GlyphRemapper::new();
    // CID -> (glyph id in the subset, the character it stands for, width in 1/1000 em).
    let mut cids: BTreeMap<u16, (u16, char, i64)> = BTreeMap::new();
    let mut cid_of_char: BTreeMap<char, u16> = BTreeMap::new();
    // Characters that need a CID of their own beyond the subset's glyph ids.
    let mut extra: Vec<(char, u16, i64)> = Vec::new();
    let width_of = |gid: u16| -> i64 {
        let advance = face.glyph_hor_advance(GlyphId(gid)).unwrap_or(0);
        (f64::from(advance) * scale).round() as i64
    };
    let mut total_width: i64 = 0;
    let mut order: Vec<char> = Vec::with_capacity(text.chars().count());
    for c in text.chars() {
        order.push(c);
        if cid_of_char.contains_key(&c) || extra.iter().any(|(e, _, _)| *e == c) {
            continue;
        }
        let gid = face.glyph_index(c).map(|g| g.0).unwrap_or(0);
        if gid == 0 {
            extra.push((c, 0, width_of(0)));
            continue;
        }
        let new = remapper.remap(gid);
        if let std::collections::btree_map::Entry::Vacant(slot) = cids.entry(new) {
            slot.insert((new, c, width_of(gid)));
            cid_of_char.insert(c, new);
        } else {
            extra.push((c, new, width_of(gid)));
        }
    }
    // Extra CIDs come after every glyph id that the subset uses for the text.
    for ((c, gid, width), next_cid) in extra.iter().zip(u32::from(remapper.num_gids())..) {
        let cid = u16::try_from(next_cid).map_err(|_| {
            StampError::Unsupported("stamp text has too many distinct characters".into())
        })?;
        cids.insert(cid, (*gid, *c, *width));
        cid_of_char.insert(*c, cid);
    }
    let mut codes = Vec::with_capacity(order.len() * 2);
    for c in &order {
        let cid = cid_of_char.get(c).copied().unwrap_or(0);
        let width = cids.get(&cid).map(|v| v.2).unwrap_or(0);
        total_width += width;
        codes.extend_from_slice(&cid.to_be_bytes());
    }

    let subset = subsetter::subset(data, 0, &remapper)
        .map_err(|e| StampError::Font(format!("subsetting DejaVu Sans: {e}")))?;

    // A tag from the glyph set, so the same text always gives the same name.
    let tag_hash = fnv64(0xcbf2_9ce4_8422_2325, &[&codes]);
    let tag: String = (0..6)
        .map(|i| char::from(b'A' + ((tag_hash >> (i * 5)) % 26) as u8))
        .collect();
    let base_font = format!("{tag}+DejaVuSans");

    // Runs of consecutive CIDs: `first [w w w]`.
    let mut widths = String::from("[");
    let mut previous: Option<u16> = None;
    for (cid, (_, _, width)) in &cids {
        if previous.is_some_and(|p| p.checked_add(1) == Some(*cid)) {
            let _ = write!(widths, " {width}");
        } else {
            if previous.is_some() {
                widths.push(']');
            }
            let _ = write!(widths, " {cid} [{width}");
        }
        previous = Some(*cid);
    }
    if previous.is_some() {
        widths.push(']');
    }
    widths.push_str(" ]");

    let bbox = face.global_bounding_box();
    let scaled = |v: i16| (f64::from(v) * scale).round() as i64;
    let ascent = scaled(face.ascender());
    let descent = scaled(face.descender());
    // DejaVu's OS/2 table predates sCapHeight: measure the H instead.
    let cap_height = face
        .capital_height()
        .or_else(|| {
            face.glyph_index('H')
                .and_then(|g| face.glyph_bounding_box(g))
                .map(|b| b.y_max)
        })
        .map(scaled)
        .unwrap_or(ascent);
    let mut descriptor = String::new();
    let _ = write!(
        descriptor,
        " /Type /FontDescriptor /FontName /{base_font} /Flags 4 /FontBBox [{} {} {} {}] /ItalicAngle 0 /Ascent {ascent} /Descent {descent} /CapHeight {cap_height} /StemV 80",
        scaled(bbox.x_min),
        scaled(bbox.y_min),
        scaled(bbox.x_max),
        scaled(bbox.y_max),
    );

    let to_unicode = to_unicode_cmap(&cids);
    let cid_to_gid = if extra.is_empty() {
        None
    } else {
        let max_cid = cids.keys().next_back().copied().unwrap_or(0);
        let mut map = Vec::with_capacity((usize::from(max_cid) + 1) * 2);
        for cid in 0..=max_cid {
            let gid = match cids.get(&cid) {
                Some((gid, _, _)) => *gid,
                // Codes below the extras that the text does not use: the subset keeps the
                // glyph ids as they are, so the identity is right for them.
                None => cid,
            };
            map.extend_from_slice(&gid.to_be_bytes());
        }
        Some(map)
    };

    Ok(StampFont {
        codes,
        width_per_pt: total_width as f64 / 1000.0,
        base_font,
        widths,
        descriptor,
        subset,
        to_unicode,
        cid_to_gid,
    })
}

fn to_unicode_cmap(cids: &BTreeMap<u16, (u16, char, i64)>) -> String {
    let mut out = String::from(
        "/CIDInit /ProcSet findresource begin\n12 dict begin\nbegincmap\n\
         /CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def\n\
         /CMapName /Adobe-Identity-UCS def\n/CMapType 2 def\n\
         1 begincodespacerange\n<0000> <FFFF>\nendcodespacerange\n",
    );
    let entries: Vec<_> = cids.iter().collect();
    // At most 100 entries per bfchar block.
    for chunk in entries.chunks(100) {
        let _ = writeln!(out, "{} beginbfchar", chunk.len());
        for (cid, (_, c, _)) in chunk {
            let _ = write!(out, "<{cid:04X}> <");
            let mut buf = [0u16; 2];
            for unit in c.encode_utf16(&mut buf) {
                let _ = write!(out, "{unit:04X}");
            }
            out.push_str(">\n");
        }
        out.push_str("endbfchar\n");
    }
    out.push_str("endcmap\nCMapName currentdict /CMap defineresource pop\nend\nend\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn covered_text_uses_identity_codes() {
        let font = build("Licensed to zoë@пример.рф · order 42").unwrap();
        assert!(font.cid_to_gid.is_none());
        assert!(font.width_per_pt > 5.0);
        assert!(!font.subset.is_empty());
        // The subset is small: a few dozen glyphs, not the 700 KB font.
        assert!(font.subset.len() < 60_000, "{}", font.subset.len());
        assert!(font.to_unicode.contains("<0440>"), "р maps back to U+0440");
        assert!(font.widths.starts_with("[ 1 ["), "{}", font.widths);
        assert!(
            font.descriptor.contains("/CapHeight 729"),
            "{}",
            font.descriptor
        );
    }

    #[test]
    fn characters_without_glyphs_get_codes_of_their_own() {
        let font = build("a漢字a").unwrap();
        let map = font.cid_to_gid.expect("extra codes need a CIDToGIDMap");
        // Codes: a, 漢, 字, a; the two CJK characters differ and map to .notdef.
        let codes: Vec<u16> = font
            .codes
            .chunks(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(codes[0], codes[3]);
        assert_ne!(codes[1], codes[2]);
        for cid in [codes[1], codes[2]] {
            let i = usize::from(cid) * 2;
            assert_eq!(&map[i..i + 2], &[0, 0]);
        }
        assert!(font.to_unicode.contains("<6F22>"));
        assert!(font.to_unicode.contains("<5B57>"));
    }

    #[test]
    fn characters_beyond_the_bmp_map_to_surrogate_pairs() {
        let font = build("x\u{1F600}").unwrap();
        assert!(font.to_unicode.contains("<D83DDE00>"));
    }
}

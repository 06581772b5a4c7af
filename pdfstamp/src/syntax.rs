//! Writing PDF syntax: objects copied from the original, numbers, names and strings.
//!
//! Everything written here is 7-bit ASCII, so rendered dictionaries can live in the
//! JSON plan as plain strings.

use lopdf::{Dictionary, Object};
use std::fmt::Write as _;

use crate::StampError;

/// How deep copied arrays and dictionaries may nest before the file is refused.
const MAX_DEPTH: usize = 64;

/// Appends `object` in PDF syntax. Streams cannot be direct objects, so meeting one is an error.
pub(crate) fn write_object(out: &mut String, object: &Object) -> Result<(), StampError> {
    write_at(out, object, 0)
}

fn write_at(out: &mut String, object: &Object, depth: usize) -> Result<(), StampError> {
    if depth > MAX_DEPTH {
        return Err(StampError::Unsupported(format!(
            "objects nested more than {MAX_DEPTH} levels deep"
        )));
    }
    match object {
        Object::Null => out.push_str("null"),
        Object::Boolean(b) => out.push_str(if *b { "true" } else { "false" }),
        Object::Integer(i) => {
            let _ = write!(out, "{i}");
        }
        Object::Real(r) => write_number(out, f64::from(*r)),
        Object::Name(name) => write_name(out, name),
        Object::String(bytes, _) => write_string(out, bytes),
        Object::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_at(out, item, depth + 1)?;
            }
            out.push(']');
        }
        Object::Dictionary(dict) => write_dict_at(out, dict, depth + 1, &[])?,
        Object::Stream(_) => {
            return Err(StampError::Damaged(
                "a stream where only a direct object may stand".into(),
            ))
        }
        Object::Reference((id, generation)) => {
            let _ = write!(out, "{id} {generation} R");
        }
    }
    Ok(())
}

fn write_dict_at(
    out: &mut String,
    dict: &Dictionary,
    depth: usize,
    skip: &[&[u8]],
) -> Result<(), StampError> {
    out.push_str("<<");
    write_entries_at(out, dict, depth, skip)?;
    out.push_str(">>");
    Ok(())
}

/// Appends ` /Key value` for each entry of `dict` except the keys in `skip` (no brackets).
pub(crate) fn write_entries(
    out: &mut String,
    dict: &Dictionary,
    skip: &[&[u8]],
) -> Result<(), StampError> {
    write_entries_at(out, dict, 0, skip)
}

fn write_entries_at(
    out: &mut String,
    dict: &Dictionary,
    depth: usize,
    skip: &[&[u8]],
) -> Result<(), StampError> {
    for (key, value) in dict.iter() {
        if skip.contains(&key.as_slice()) {
            continue;
        }
        out.push(' ');
        write_name(out, key);
        out.push(' ');
        write_at(out, value, depth + 1)?;
    }
    Ok(())
}

/// A name with every byte outside the regular characters written as `#xx`.
pub(crate) fn write_name(out: &mut String, name: &[u8]) {
    out.push('/');
    for &b in name {
        let regular = (0x21..=0x7e).contains(&b) && !b"()<>[]{}/%#".contains(&b);
        if regular {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "#{b:02X}");
        }
    }
}

/// A byte string: literal when it is printable ASCII, hexadecimal otherwise.
pub(crate) fn write_string(out: &mut String, bytes: &[u8]) {
    if bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        out.push('(');
        for &b in bytes {
            if matches!(b, b'(' | b')' | b'\\') {
                out.push('\\');
            }
            out.push(char::from(b));
        }
        out.push(')');
    } else {
        write_hex_string(out, bytes);
    }
}

pub(crate) fn write_hex_string(out: &mut String, bytes: &[u8]) {
    out.push('<');
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
    out.push('>');
}

/// A text string (as in the document information dictionary): PDFDocEncoding's ASCII part
/// as it is, anything else as UTF-16BE with a byte order mark.
pub(crate) fn write_text_string(out: &mut String, text: &str) {
    if text.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        write_string(out, text.as_bytes());
    } else {
        let mut bytes = vec![0xFE, 0xFF];
        for unit in text.encode_utf16() {
            bytes.extend_from_slice(&unit.to_be_bytes());
        }
        write_hex_string(out, &bytes);
    }
}

/// A real number without an exponent, at most 4 decimals, trailing zeros dropped.
pub(crate) fn write_number(out: &mut String, value: f64) {
    let value = if value.is_finite() { value } else { 0.0 };
    let mut text = format!("{value:.4}");
    if text.contains('.') {
        while text.ends_with('0') {
            text.pop();
        }
        if text.ends_with('.') {
            text.pop();
        }
    }
    if text == "-0" {
        text = "0".into();
    }
    out.push_str(&text);
}

/// FNV-1a over `parts`, from a chosen basis: a small deterministic hash for ids and subset tags.
pub(crate) fn fnv64(basis: u64, parts: &[&[u8]]) -> u64 {
    let mut hash = basis;
    for part in parts {
        for &b in *part {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
        // Separates the parts, so ("ab", "c") and ("a", "bc") differ.
        hash ^= 0xff;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

/// 16 bytes from two FNV-1a runs with different bases.
pub(crate) fn hash16(parts: &[&[u8]]) -> [u8; 16] {
    let a = fnv64(0xcbf2_9ce4_8422_2325, parts);
    let b = fnv64(0x6c62_272e_07bb_0142, parts);
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a.to_be_bytes());
    out[8..].copy_from_slice(&b.to_be_bytes());
    out
}

pub(crate) fn to_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02X}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_escape_delimiters_and_high_bytes() {
        let mut out = String::new();
        write_name(&mut out, b"A B#(\xe9");
        assert_eq!(out, "/A#20B#23#28#E9");
    }

    #[test]
    fn strings_escape_or_go_hex() {
        let mut out = String::new();
        write_string(&mut out, b"a(b)\\c");
        assert_eq!(out, r"(a\(b\)\\c)");
        out.clear();
        write_string(&mut out, b"\x00\xff");
        assert_eq!(out, "<00FF>");
    }

    #[test]
    fn text_strings_use_utf16_with_bom_beyond_ascii() {
        let mut out = String::new();
        write_text_string(&mut out, "zoë");
        assert_eq!(out, "<FEFF007A006F00EB>");
        out.clear();
        write_text_string(&mut out, "plain");
        assert_eq!(out, "(plain)");
    }

    #[test]
    fn numbers_have_no_exponent() {
        for (value, text) in [
            (612.0, "612"),
            (0.5, "0.5"),
            (-0.0, "0"),
            (1e-9, "0"),
            (1e12, "1000000000000"),
            (f64::NAN, "0"),
        ] {
            let mut out = String::new();
            write_number(&mut out, value);
            assert_eq!(out, text, "{value}");
        }
    }
}

//! Recognises uploads by their first bytes, never by their name or declared type.

pub const SNIFF_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Png,
    Jpeg,
    Webp,
    Svg,
}

pub const PREVIEW_KINDS: &[Kind] = &[Kind::Png, Kind::Jpeg, Kind::Webp, Kind::Svg];
pub const FILE_KINDS: &[Kind] = &[Kind::Pdf];

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Webp => "image/webp",
            Kind::Svg => "image/svg+xml",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Png => "png",
            Kind::Jpeg => "jpg",
            Kind::Webp => "webp",
            Kind::Svg => "svg",
        }
    }

    pub fn from_extension(ext: &str) -> Option<Self> {
        [Kind::Pdf, Kind::Png, Kind::Jpeg, Kind::Webp, Kind::Svg]
            .into_iter()
            .find(|k| k.extension() == ext)
    }

    pub fn describe(self) -> &'static str {
        match self {
            Kind::Pdf => "a PDF",
            Kind::Png => "a PNG image",
            Kind::Jpeg => "a JPEG image",
            Kind::Webp => "a WebP image",
            Kind::Svg => "an SVG image",
        }
    }
}

pub fn detect(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"%PDF-") {
        return Some(Kind::Pdf);
    }
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Some(Kind::Png);
    }
    if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        return Some(Kind::Jpeg);
    }
    if head.len() >= 12 && &head[..4] == b"RIFF" && &head[8..12] == b"WEBP" {
        return Some(Kind::Webp);
    }
    if looks_like_svg(head) {
        return Some(Kind::Svg);
    }
    None
}

/// An SVG is XML text whose first element is `<svg`, possibly after a BOM, an XML declaration,
/// comments or a doctype.
fn looks_like_svg(head: &[u8]) -> bool {
    let Ok(text) =
        std::str::from_utf8(head).or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]))
    else {
        return false;
    };
    let mut rest = text.trim_start_matches('\u{feff}').trim_start();
    loop {
        if rest.starts_with("<svg") {
            return true;
        }
        let skip_to = if rest.starts_with("<?") {
            rest.find("?>").map(|i| i + 2)
        } else if rest.starts_with("<!--") {
            rest.find("-->").map(|i| i + 3)
        } else if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!doctype") {
            rest.find('>').map(|i| i + 1)
        } else {
            None
        };
        match skip_to {
            Some(i) => rest = rest[i..].trim_start(),
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_decides_not_the_name() {
        assert_eq!(detect(b"%PDF-1.7\n..."), Some(Kind::Pdf));
        assert_eq!(detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Kind::Png));
        assert_eq!(detect(&[0xFF, 0xD8, 0xFF, 0xE0]), Some(Kind::Jpeg));
        assert_eq!(detect(b"RIFF\x10\0\0\0WEBPVP8 "), Some(Kind::Webp));
        assert_eq!(
            detect(b"\xef\xbb\xbf<?xml version=\"1.0\"?>\n<!-- hi -->\n<!DOCTYPE svg>\n<svg xmlns=\"\"/>"),
            Some(Kind::Svg)
        );
        assert_eq!(detect(b"<html><svg></svg></html>"), None);
        assert_eq!(detect(b"PK\x03\x04"), None);
        assert_eq!(detect(b" %PDF-1.7"), None);
        assert_eq!(detect(b""), None);
    }
}

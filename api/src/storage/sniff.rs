//! Recognises uploads by their first bytes, never by their name or declared type.

pub const SNIFF_LEN: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Epub,
    Zip,
    Mp3,
    Mp4,
    Png,
    Jpeg,
    Webp,
    Svg,
    /// Anything else, for product files: stored and served as `application/octet-stream`.
    Binary,
}

/// What an upload is for: the kinds it may be and where it is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A product file: any content (the known kinds are recognised, the rest is binary).
    File,
    /// A preview image: PNG, JPEG, WebP or SVG only.
    Preview,
}

pub const PREVIEW_KINDS: &[Kind] = &[Kind::Png, Kind::Jpeg, Kind::Webp, Kind::Svg];

impl Purpose {
    /// The kind of an upload for this purpose, from its first bytes; `None` when refused.
    pub fn accept(self, head: &[u8]) -> Option<Kind> {
        match self {
            Purpose::File => Some(detect(head).unwrap_or(Kind::Binary)),
            Purpose::Preview => detect(head).filter(|k| PREVIEW_KINDS.contains(k)),
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Purpose::File => "a file",
            Purpose::Preview => "a PNG, JPEG, WebP or SVG image",
        }
    }
}

impl Kind {
    pub fn content_type(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Epub => "application/epub+zip",
            Kind::Zip => "application/zip",
            Kind::Mp3 => "audio/mpeg",
            Kind::Mp4 => "video/mp4",
            Kind::Binary => "application/octet-stream",
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Webp => "image/webp",
            Kind::Svg => "image/svg+xml",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Epub => "epub",
            Kind::Zip => "zip",
            Kind::Mp3 => "mp3",
            Kind::Mp4 => "mp4",
            Kind::Binary => "bin",
            Kind::Png => "png",
            Kind::Jpeg => "jpg",
            Kind::Webp => "webp",
            Kind::Svg => "svg",
        }
    }

    /// A preview kind from the extension of its stored name.
    pub fn preview_from_extension(ext: &str) -> Option<Self> {
        PREVIEW_KINDS.iter().copied().find(|k| k.extension() == ext)
    }

    /// The kind a stored content type names (product files keep theirs).
    pub fn from_content_type(content_type: &str) -> Self {
        [
            Kind::Pdf,
            Kind::Epub,
            Kind::Zip,
            Kind::Mp3,
            Kind::Mp4,
            Kind::Png,
            Kind::Jpeg,
            Kind::Webp,
            Kind::Svg,
        ]
        .into_iter()
        .find(|k| k.content_type() == content_type)
        .unwrap_or(Kind::Binary)
    }
}

pub fn detect(head: &[u8]) -> Option<Kind> {
    if head.starts_with(b"%PDF-") {
        return Some(Kind::Pdf);
    }
    if head.starts_with(b"PK\x03\x04") {
        // An EPUB is a ZIP whose first entry is `mimetype`, stored, naming the EPUB type.
        let epub = head.len() >= 58
            && &head[30..38] == b"mimetype"
            && &head[38..58] == b"application/epub+zip";
        return Some(if epub { Kind::Epub } else { Kind::Zip });
    }
    if head.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip); // an empty archive
    }
    if head.len() >= 12 && &head[4..8] == b"ftyp" {
        return Some(Kind::Mp4);
    }
    if head.starts_with(b"ID3") || is_mpeg_audio_frame(head) {
        return Some(Kind::Mp3);
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

/// An MPEG audio frame header: 11 sync bits, then a version, layer III and a bitrate that are
/// not the reserved values.
fn is_mpeg_audio_frame(head: &[u8]) -> bool {
    if head.len() < 4 || head[0] != 0xFF || head[1] & 0xE0 != 0xE0 {
        return false;
    }
    let version = (head[1] >> 3) & 0b11;
    let layer = (head[1] >> 1) & 0b11;
    let bitrate = head[2] >> 4;
    version != 0b01 && layer == 0b01 && bitrate != 0 && bitrate != 0b1111
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
        let mut epub = b"PK\x03\x04".to_vec();
        epub.extend_from_slice(&[0; 26]);
        epub.extend_from_slice(b"mimetypeapplication/epub+zip");
        assert_eq!(detect(&epub), Some(Kind::Epub));
        assert_eq!(detect(b"PK\x03\x04\x14\0\0\0"), Some(Kind::Zip));
        assert_eq!(detect(b"\0\0\0\x20ftypisom\0\0"), Some(Kind::Mp4));
        assert_eq!(detect(b"ID3\x04\0\0"), Some(Kind::Mp3));
        assert_eq!(detect(&[0xFF, 0xFB, 0x90, 0x64]), Some(Kind::Mp3));
        assert_eq!(
            detect(&[0xFF, 0xFB, 0xF0, 0x64]),
            None,
            "a reserved bitrate"
        );
        assert_eq!(Purpose::File.accept(b"plain text"), Some(Kind::Binary));
        assert_eq!(Purpose::Preview.accept(b"%PDF-1.7"), None);
        assert_eq!(Purpose::File.accept(b"\x89PNG\r\n\x1a\n"), Some(Kind::Png));
        assert_eq!(detect(b" %PDF-1.7"), None);
        assert_eq!(detect(b""), None);
    }
}

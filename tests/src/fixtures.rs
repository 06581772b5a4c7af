//! Files and forms the tests upload, and checks on what comes back.

use reqwest::multipart::{Form, Part};
use serde_json::Value;

/// A small but real PDF with `marker` in it, so different products have different bytes.
pub fn pdf(marker: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% {marker}\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}

/// A PDF of `len` bytes with varied content (for range tests).
pub fn big_pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    let mut x: u32 = 12345;
    while bytes.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        bytes.push((x >> 16) as u8);
    }
    bytes
}

pub fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    bytes.extend_from_slice(&[0x90, 0x77, 0x53, 0xDE]);
    bytes
}

pub fn svg_with_script() -> Vec<u8> {
    b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.cookie)</script></svg>"
        .to_vec()
}

pub fn product_form(title: &str, price: &str, file: Vec<u8>, preview: Option<Vec<u8>>) -> Form {
    let mut form = Form::new()
        .text("title", title.to_owned())
        .text("description", format!("All about {title}."))
        .text("price", price.to_owned())
        .part(
            "file",
            Part::bytes(file)
                .file_name("guide.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    if let Some(p) = preview {
        form = form.part(
            "preview",
            Part::bytes(p)
                .file_name("cover.png")
                .mime_str("image/png")
                .unwrap(),
        );
    }
    form
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Reads a problem+json body, checking its content type and shape.
pub async fn problem(res: reqwest::Response) -> Value {
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "status {}", res.status());
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["code"].is_string() && body["title"].is_string() && body["detail"].is_string());
    let text = body.to_string();
    let internals = internals_in(&text);
    assert!(
        internals.is_empty(),
        "error body shows {internals:?}: {text}"
    );
    body
}

/// What an error body must never show: stack traces, SQL, driver names, file paths.
pub fn internals_in(text: &str) -> Vec<&'static str> {
    const MARKERS: &[&str] = &[
        "panicked",
        "backtrace",
        ".rs:",
        "src/",
        "SELECT ",
        "INSERT ",
        "UPDATE ",
        "DELETE FROM",
        "diesel",
        "sqlite",
        "SQLITE",
        "postgres",
        "PostgreSQL",
        "libpq",
        "/tmp/",
        "/root",
        "/home/",
        "/var/",
        "folio-test-",
        "os error",
        "object_store",
        "LocalFileSystem",
    ];
    MARKERS
        .iter()
        .copied()
        .filter(|m| text.contains(m))
        .collect()
}

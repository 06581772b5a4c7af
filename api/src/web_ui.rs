//! Serving the single-page app from `web-ui/dist`: hashed assets cached for a year, index.html
//! (for every client route) never cached, and a Content-Security-Policy that allows only this
//! origin, WebAssembly compilation, and the one inline bootstrap script Trunk writes (by hash).

use std::path::{Path, PathBuf};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct WebUi {
    dist: Option<PathBuf>,
    csp: String,
}

const NOT_BUILT: &str =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Folio</title></head>\
<body><h1>Folio</h1><p>The web UI is not built. Run <code>cargo xtask run</code>, which builds it, \
or use the API at <a href=\"/api/docs/\">/api/docs</a>.</p></body></html>";

/// sha256 sources of the inline `<script>` elements of `html`, for the CSP.
fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        let after = &rest[start..];
        let Some(open_end) = after.find('>') else {
            break;
        };
        let tag = &after[..open_end];
        let body_and_more = &after[open_end + 1..];
        let Some(close) = body_and_more.find("</script>") else {
            break;
        };
        if !tag.contains(" src=") {
            let digest = Sha256::digest(&body_and_more.as_bytes()[..close]);
            hashes.push(format!(
                "'sha256-{}'",
                base64::engine::general_purpose::STANDARD.encode(digest)
            ));
        }
        rest = &body_and_more[close..];
    }
    hashes
}

/// Trunk names built assets `name-<16 hex>.<ext>`: their content never changes under a name.
fn is_hashed_asset(name: &str) -> bool {
    name.split(['-', '_', '.'])
        .any(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

impl WebUi {
    pub fn load(dist: &Path, public_origin: &str) -> Self {
        let index = dist.join("index.html");
        match std::fs::read_to_string(&index) {
            Ok(html) => {
                let scripts = inline_script_hashes(&html).join(" ");
                let csp = format!(
                    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {scripts}; style-src 'self'; \
                     img-src 'self' {public_origin} data:; connect-src 'self' {public_origin}; font-src 'self'; \
                     object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
                );
                Self {
                    dist: Some(dist.to_owned()),
                    csp,
                }
            }
            Err(_) => {
                tracing::warn!(
                    path = %index.display(),
                    "web UI not built: run `cargo xtask run` (or `trunk build --release`); the API works without it"
                );
                Self {
                    dist: None,
                    csp: "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
                        .into(),
                }
            }
        }
    }

    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let ui = web::Data::new(self.clone());
        cfg.app_data(ui).default_service(web::to(serve));
    }
}

async fn serve(req: HttpRequest, ui: web::Data<WebUi>) -> HttpResponse {
    let csp = HeaderValue::from_str(&ui.csp)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'self'"));
    let Some(dist) = &ui.dist else {
        return HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((header::CONTENT_SECURITY_POLICY, csp))
            .body(NOT_BUILT);
    };
    if !matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) {
        return HttpResponse::MethodNotAllowed().finish();
    }
    // Only plain file names directly in dist are assets; everything else is a client route.
    let name = req.path().trim_start_matches('/');
    let is_asset_name = !name.is_empty()
        && !name.contains('/')
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    let (path, cache) = if is_asset_name && dist.join(name).is_file() && name != "index.html" {
        let cache = if is_hashed_asset(name) {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        (dist.join(name), cache)
    } else {
        (dist.join("index.html"), "no-cache")
    };
    match actix_files::NamedFile::open_async(&path).await {
        Ok(file) => {
            let mut res = file.use_last_modified(false).into_response(&req);
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
            res.headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, csp);
            res
        }
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "web UI file unreadable");
            HttpResponse::NotFound().finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_scripts_are_hashed_and_external_ones_skipped() {
        let html = r#"<script src="/a.js"></script><script type="module">init()</script>"#;
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 1);
        let expected = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"init()"));
        assert_eq!(hashes[0], format!("'sha256-{expected}'"));
    }

    #[test]
    fn trunk_hashed_names_are_recognised() {
        assert!(is_hashed_asset("web-ui-3f2a9c1d0b8e7f65_bg.wasm"));
        assert!(is_hashed_asset("style-0123456789abcdef.css"));
        assert!(!is_hashed_asset("index.html"));
        assert!(!is_hashed_asset("favicon.ico"));
    }
}

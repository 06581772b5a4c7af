//! Serving the single-page apps: the shop (`index.html`, every client route) and the admin
//! (`admin.html`, for `/admin` and below), with their hashed assets.
//!
//! The files come from a folder (`FOLIO_WEB_DIST`, or `web-ui/dist` beside the working
//! directory) or, in a binary built with the `embed-web-ui` feature (`cargo xtask dist`), from
//! the binary itself. Either way they are held in memory (the whole UI is a few hundred KB), with
//! the brotli and gzip variants the build wrote beside each file (`<name>.br`, `<name>.gz`): a
//! client gets the smallest one its `Accept-Encoding` allows, and every answer says
//! `Vary: Accept-Encoding`. Hashed assets are cached for a year; the HTML pages are revalidated
//! (`no-cache` with an ETag) and carry a Content-Security-Policy that allows only this origin,
//! WebAssembly compilation, and the page's own inline bootstrap scripts (by hash).
//!
//! From a folder, the files are read again when `index.html` changes, so a `trunk build` shows
//! without a restart.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::error::ApiError;

mod embedded {
    // Written by build.rs: the files of the built web UI when the `embed-web-ui` feature is on,
    // else an empty list.
    include!(concat!(env!("OUT_DIR"), "/web_ui_embedded.rs"));
}

/// Whether this binary carries the web UI inside it.
pub fn embedded() -> bool {
    !embedded::FILES.is_empty()
}

const NOT_BUILT: &str =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Folio</title></head>\
<body><h1>Folio</h1><p>The web UI is not built. <code>cargo xtask run</code> builds it and starts \
the shop; the API works without it: see <a href=\"/api/docs/\">/api/docs</a>.</p></body></html>";

/// The page that serves client routes outside `/admin`.
const SHOP_PAGE: &str = "index.html";
/// The page that serves `/admin` and everything under it.
const ADMIN_PAGE: &str = "admin.html";

/// Where the files come from.
#[derive(Clone, Debug)]
enum Source {
    Dir(PathBuf),
    Embedded,
}

struct Asset {
    identity: Bytes,
    gzip: Option<Bytes>,
    brotli: Option<Bytes>,
    content_type: &'static str,
    cache: &'static str,
    etag: String,
    /// For HTML pages: the Content-Security-Policy that lets exactly their inline scripts run.
    csp: Option<String>,
}

#[derive(Default)]
struct Files {
    assets: HashMap<String, Asset>,
    /// Modification time of `index.html` when the folder was read.
    stamp: Option<SystemTime>,
}

#[derive(Clone)]
pub struct WebUi {
    source: Source,
    origin: String,
    files: Arc<RwLock<Files>>,
}

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

fn csp_for(html: &str, origin: &str) -> String {
    let scripts = inline_script_hashes(html).join(" ");
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {scripts}; style-src 'self'; \
         img-src 'self' {origin} data:; connect-src 'self' {origin}; font-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Trunk names built assets `name-<16 hex>.<ext>`: their content never changes under a name.
fn is_hashed_asset(name: &str) -> bool {
    name.split(['-', '_', '.', '/'])
        .any(|part| part.len() == 16 && part.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether `name` is a file name a browser asks for (an asset), rather than a client route.
fn looks_like_asset(path: &str) -> bool {
    matches!(
        path.rsplit('/').next().unwrap_or("").rsplit_once('.'),
        Some((
            _,
            "js" | "mjs" | "wasm" | "css" | "map" | "png" | "svg" | "ico" | "br" | "gz"
        ))
    )
}

/// Builds the served files from `(name, bytes)` pairs: `x.br` and `x.gz` become the encoded
/// variants of `x` rather than files of their own.
fn assemble(raw: Vec<(String, Bytes)>, origin: &str) -> HashMap<String, Asset> {
    let mut by_name: HashMap<String, Bytes> = raw.into_iter().collect();
    let mut variants: HashMap<String, (Option<Bytes>, Option<Bytes>)> = HashMap::new();
    let names: Vec<String> = by_name.keys().cloned().collect();
    for name in names {
        for (suffix, is_brotli) in [(".br", true), (".gz", false)] {
            if let Some(base) = name.strip_suffix(suffix) {
                if by_name.contains_key(base) {
                    let bytes = by_name.remove(&name).expect("listed above");
                    let entry = variants.entry(base.to_owned()).or_default();
                    if is_brotli {
                        entry.0 = Some(bytes);
                    } else {
                        entry.1 = Some(bytes);
                    }
                }
            }
        }
    }
    by_name
        .into_iter()
        .map(|(name, identity)| {
            let (brotli, gzip) = variants.remove(&name).unwrap_or_default();
            let html = name.ends_with(".html");
            let csp = html.then(|| csp_for(&String::from_utf8_lossy(&identity), origin));
            let cache = if !html && is_hashed_asset(&name) {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&identity))[..32]);
            let asset = Asset {
                content_type: content_type(&name),
                identity,
                gzip,
                brotli,
                cache,
                etag,
                csp,
            };
            (name, asset)
        })
        .collect()
}

/// Every regular file under `dir`, by its path relative to `dir` with `/` separators.
fn read_dir_files(dir: &Path) -> std::io::Result<Vec<(String, Bytes)>> {
    let mut out = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(current) = pending.pop() {
        for entry in std::fs::read_dir(&current)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                let relative = entry
                    .path()
                    .strip_prefix(dir)
                    .expect("walked from dir")
                    .to_string_lossy()
                    .replace('\\', "/");
                out.push((relative, Bytes::from(std::fs::read(entry.path())?)));
            }
        }
    }
    Ok(out)
}

fn stamp(dir: &Path) -> Option<SystemTime> {
    std::fs::metadata(dir.join(SHOP_PAGE))
        .and_then(|m| m.modified())
        .ok()
}

impl WebUi {
    /// The UI from `dir` when given (`FOLIO_WEB_DIST`), else the one built into the binary,
    /// else `web-ui/dist`.
    pub fn load(dir: Option<&Path>, public_origin: &str) -> Self {
        let source = match dir {
            Some(dir) => Source::Dir(dir.to_owned()),
            None if embedded() => Source::Embedded,
            None => Source::Dir(PathBuf::from("web-ui/dist")),
        };
        let ui = Self {
            source,
            origin: public_origin.to_owned(),
            files: Arc::default(),
        };
        ui.reload();
        if !ui
            .files
            .read()
            .expect("not poisoned")
            .assets
            .contains_key(SHOP_PAGE)
        {
            tracing::warn!(
                source = ?ui.source,
                "web UI not built: `cargo xtask run` builds it; the API works without it"
            );
        }
        ui
    }

    fn reload(&self) {
        let (raw, stamp) = match &self.source {
            Source::Embedded => (
                embedded::FILES
                    .iter()
                    .map(|(name, bytes)| ((*name).to_owned(), Bytes::from_static(bytes)))
                    .collect(),
                None,
            ),
            Source::Dir(dir) => match read_dir_files(dir) {
                Ok(files) => (files, stamp(dir)),
                Err(_) => (Vec::new(), None),
            },
        };
        let assets = assemble(raw, &self.origin);
        *self.files.write().expect("not poisoned") = Files { assets, stamp };
    }

    /// From a folder: reads it again if `index.html` changed since (a new build).
    async fn refresh(&self) {
        let Source::Dir(dir) = &self.source else {
            return;
        };
        let dir = dir.clone();
        let now = web::block(move || stamp(&dir)).await.ok().flatten();
        if now != self.files.read().expect("not poisoned").stamp {
            let ui = self.clone();
            let _ = web::block(move || ui.reload()).await;
        }
    }

    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let ui = web::Data::new(self.clone());
        cfg.app_data(ui).default_service(web::to(serve));
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Encoding {
    Brotli,
    Gzip,
    Identity,
}

/// The best encoding `accept` (an `Accept-Encoding` value) allows among brotli, gzip and none.
fn negotiate(accept: Option<&str>) -> Encoding {
    let mut brotli = false;
    let mut gzip = false;
    for item in accept.unwrap_or("").split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = parts.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        });
        if refused {
            continue;
        }
        match coding.as_str() {
            "br" => brotli = true,
            "gzip" | "x-gzip" => gzip = true,
            _ => {}
        }
    }
    if brotli {
        Encoding::Brotli
    } else if gzip {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

fn respond(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let encoding = negotiate(
        req.headers()
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok()),
    );
    let (body, coding) = match encoding {
        Encoding::Brotli if asset.brotli.is_some() => (asset.brotli.clone(), Some("br")),
        Encoding::Brotli | Encoding::Gzip if asset.gzip.is_some() => {
            (asset.gzip.clone(), Some("gzip"))
        }
        _ => (None, None),
    };
    let body = body.unwrap_or_else(|| asset.identity.clone());
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((header::CACHE_CONTROL, asset.cache))
        .insert_header((header::VARY, "Accept-Encoding"))
        .insert_header((header::ETAG, asset.etag.clone()));
    if let Some(csp) = asset
        .csp
        .as_deref()
        .and_then(|c| HeaderValue::from_str(c).ok())
    {
        res.insert_header((header::CONTENT_SECURITY_POLICY, csp));
    }
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    if fresh {
        return res
            .status(actix_web::http::StatusCode::NOT_MODIFIED)
            .finish();
    }
    if let Some(coding) = coding {
        // Bytes already encoded: actix's own compression (none is configured) must not touch it.
        res.insert_header((header::CONTENT_ENCODING, coding));
    }
    res.body(body)
}

async fn serve(req: HttpRequest, ui: web::Data<WebUi>) -> Result<HttpResponse, ApiError> {
    if !matches!(
        *req.method(),
        actix_web::http::Method::GET | actix_web::http::Method::HEAD
    ) {
        return Err(ApiError::MethodNotAllowed("GET, HEAD".into()));
    }
    let path = req.path().trim_start_matches('/');
    let page = if path == "admin" || path.starts_with("admin/") {
        ADMIN_PAGE
    } else {
        SHOP_PAGE
    };
    if !ui
        .files
        .read()
        .expect("not poisoned")
        .assets
        .contains_key(path)
    {
        // A client route: the page is read again if a new build replaced it.
        ui.refresh().await;
    }
    let files = ui.files.read().expect("not poisoned");
    let is_page = path.is_empty() || path.ends_with(".html");
    if let Some(asset) = files.assets.get(path).filter(|_| !is_page) {
        return Ok(respond(&req, asset));
    }
    if looks_like_asset(path) {
        // A missing script or stylesheet is a 404, not the HTML page under the wrong type.
        return Err(ApiError::NotFound("file"));
    }
    match files
        .assets
        .get(page)
        .or_else(|| files.assets.get(SHOP_PAGE))
    {
        Some(asset) => Ok(respond(&req, asset)),
        None => Ok(HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .insert_header((
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
            ))
            .body(NOT_BUILT)),
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

    #[test]
    fn the_best_accepted_encoding_wins() {
        assert_eq!(negotiate(Some("gzip, deflate, br, zstd")), Encoding::Brotli);
        assert_eq!(negotiate(Some("gzip")), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0, gzip;q=0.5")), Encoding::Gzip);
        assert_eq!(negotiate(Some("br;q=0.0, gzip;q=0")), Encoding::Identity);
        assert_eq!(negotiate(Some("identity")), Encoding::Identity);
        assert_eq!(negotiate(None), Encoding::Identity);
    }

    #[test]
    fn encoded_siblings_become_variants_of_their_file() {
        let files = assemble(
            vec![
                ("app-0123456789abcdef.js".into(), Bytes::from_static(b"js")),
                (
                    "app-0123456789abcdef.js.br".into(),
                    Bytes::from_static(b"b"),
                ),
                (
                    "app-0123456789abcdef.js.gz".into(),
                    Bytes::from_static(b"g"),
                ),
                (
                    "index.html".into(),
                    Bytes::from_static(b"<script>x()</script>"),
                ),
                ("orphan.gz".into(), Bytes::from_static(b"o")),
            ],
            "http://shop",
        );
        let js = &files["app-0123456789abcdef.js"];
        assert_eq!(js.brotli.as_deref(), Some(&b"b"[..]));
        assert_eq!(js.gzip.as_deref(), Some(&b"g"[..]));
        assert!(js.cache.contains("immutable"));
        assert!(!files.contains_key("app-0123456789abcdef.js.br"));
        assert!(
            files.contains_key("orphan.gz"),
            "no base file: served as itself"
        );
        let index = &files["index.html"];
        assert_eq!(index.cache, "no-cache");
        assert!(index.csp.as_deref().unwrap().contains("'sha256-"));
    }
}

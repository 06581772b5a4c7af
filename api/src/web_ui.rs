//! Serving the single-page app: built files from `web-ui/dist`, index.html for client routes.

use std::path::{Path, PathBuf};

use actix_web::{web, HttpRequest, HttpResponse};

#[derive(Clone)]
pub struct WebUi {
    dist: Option<PathBuf>,
}

const NOT_BUILT: &str =
    "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Folio</title></head>\
<body><h1>Folio</h1><p>The web UI is not built. Run <code>cargo xtask run</code>, which builds it, \
or use the API at <a href=\"/api/docs/\">/api/docs</a>.</p></body></html>";

impl WebUi {
    pub fn load(dist: &Path) -> Self {
        if dist.join("index.html").is_file() {
            Self {
                dist: Some(dist.to_owned()),
            }
        } else {
            tracing::warn!(
                path = %dist.display(),
                "web UI not built (no index.html there); the API works without it"
            );
            Self { dist: None }
        }
    }

    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        match &self.dist {
            Some(dist) => {
                let index = dist.join("index.html");
                cfg.service(
                    actix_files::Files::new("/", dist)
                        .index_file("index.html")
                        .default_handler(web::to(move |req: HttpRequest| {
                            let index = index.clone();
                            async move {
                                match actix_files::NamedFile::open_async(&index).await {
                                    Ok(file) => {
                                        let mut res = file.into_response(&req);
                                        res.headers_mut().insert(
                                            actix_web::http::header::CACHE_CONTROL,
                                            actix_web::http::header::HeaderValue::from_static(
                                                "no-cache",
                                            ),
                                        );
                                        res
                                    }
                                    Err(_) => HttpResponse::NotFound().finish(),
                                }
                            }
                        })),
                );
            }
            None => {
                cfg.default_service(web::to(|| async {
                    HttpResponse::Ok()
                        .content_type("text/html; charset=utf-8")
                        .insert_header(("Cache-Control", "no-cache"))
                        .body(NOT_BUILT)
                }));
            }
        }
    }
}

//! Things that hold across the whole API: the checked-in OpenAPI document and schema are current,
//! every admin route refuses customers and strangers, and GET never changes anything.

use folio_tests::*;
use serde_json::Value;

fn repo_file(path: &str) -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    std::fs::read_to_string(root.join(path)).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

#[test]
fn openapi_yaml_is_current() {
    let generated = folio_api::openapi::yaml();
    assert!(
        repo_file("openapi.yaml") == generated,
        "openapi.yaml is stale: run `cargo xtask openapi` and commit the result"
    );
}

backend_tests!(
    schema_rs_matches_the_migrations,
    every_admin_route_refuses_customers_and_anonymous_callers,
    get_requests_change_nothing_even_for_an_admin,
    health_and_readiness_answer,
    the_spec_and_docs_are_served_without_a_cdn,
    undeclared_methods_answer_405_with_allow_and_unknown_api_paths_404,
);

async fn schema_rs_matches_the_migrations(app: TestApp) {
    let rendered = app
        .state
        .db
        .run(|conn| {
            folio_api::db::introspect::render_schema(conn)
                .map_err(folio_api::error::ApiError::Internal)
        })
        .await
        .unwrap();
    assert!(
        repo_file("api/src/schema.rs") == rendered,
        "api/src/schema.rs differs from the {:?} migrations: run `cargo xtask schema`\n{rendered}",
        app.backend
    );
}

/// (method, path) of every operation in the served document.
async fn operations(app: &TestApp) -> Vec<(String, String)> {
    app.operations()
        .await
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "0190a0a0-0000-7000-8000-000000000000")
        .replace("{slug}", "some-slug")
        .replace("{token}", "some-token")
}

async fn every_admin_route_refuses_customers_and_anonymous_callers(app: TestApp) {
    let customer = app.customer("ada@example.com").await.access_token;
    let admin_ops: Vec<_> = operations(&app)
        .await
        .into_iter()
        .filter(|(_, p)| p.starts_with("/api/v1/admin"))
        .collect();
    assert!(admin_ops.len() >= 6, "{admin_ops:?}");
    for (method, path) in admin_ops {
        let url = app.url(&concrete(&path));
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        // A body the handler would accept is irrelevant: the role check comes first.
        let res = app
            .bare_client()
            .request(m.clone(), &url)
            .body("{}")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::UNAUTHORIZED,
            "{method} {path} anonymous"
        );
        assert_eq!(problem(res).await["code"], "unauthenticated");
        let res = app
            .bare_client()
            .request(m, &url)
            .bearer_auth(&customer)
            .body("{}")
            .header("content-type", "application/json")
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            StatusCode::FORBIDDEN,
            "{method} {path} customer"
        );
        assert_eq!(problem(res).await["code"], "forbidden");
    }
}

async fn get_requests_change_nothing_even_for_an_admin(app: TestApp) {
    // The original wiped the store on GET /admin/db-flush, so any page an admin opened could.
    let admin = app.admin().await;
    let p = app.product(&admin, "Keep Me", "0", pdf("keep")).await;
    let before = (
        app.count("products").await,
        app.count("users").await,
        app.objects().await,
    );
    for (method, path) in operations(&app).await {
        if method != "GET" {
            continue;
        }
        let path = concrete(&path).replace("some-slug", p["slug"].as_str().unwrap());
        let status = app.get(&path, Some(&admin)).await.status();
        assert!(!status.is_server_error(), "GET {path}: {status}");
    }
    let after = (
        app.count("products").await,
        app.count("users").await,
        app.objects().await,
    );
    assert_eq!(before, after);
}

const METHODS: [&str; 7] = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"];

async fn undeclared_methods_answer_405_with_allow_and_unknown_api_paths_404(app: TestApp) {
    let admin = app.admin().await;
    let mut declared: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (method, path) in operations(&app).await {
        declared.entry(path).or_default().push(method);
    }
    let mut checked = 0;
    for (path, methods) in &declared {
        let url = app.url(&concrete(path));
        for method in METHODS.iter().filter(|m| !methods.iter().any(|d| d == *m)) {
            let res = app
                .bare_client()
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    &url,
                )
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            assert_eq!(
                res.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            let allow: Vec<String> = res.headers()["allow"]
                .to_str()
                .unwrap()
                .split(',')
                .map(|m| m.trim().to_owned())
                .collect();
            let mut expected = methods.clone();
            expected.sort();
            let mut got = allow.clone();
            got.sort();
            assert_eq!(got, expected, "Allow of {path}");
            assert_eq!(problem(res).await["code"], "method_not_allowed");
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} method/path pairs");
    // The case from the issue: TRACE on the login route used to answer 200 with the web UI.
    let res = app
        .bare_client()
        .request(reqwest::Method::TRACE, app.url("/api/v1/auth/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "POST");
    for path in [
        "/api/v1/nope",
        "/api/v1/products/a/b/c",
        "/api/v2/products",
        "/api/nope",
        "/api",
        "/api/v1/admin/nope",
        "/media/nope",
    ] {
        for method in METHODS {
            let res = app
                .bare_client()
                .request(
                    reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                    app.url(path),
                )
                .bearer_auth(&admin)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::NOT_FOUND, "{method} {path}");
            assert_eq!(problem(res).await["code"], "not_found", "{method} {path}");
        }
    }
}

async fn health_and_readiness_answer(app: TestApp) {
    let res = app.get("/healthz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ok");
    let res = app.get("/", None).await;
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
}

async fn the_spec_and_docs_are_served_without_a_cdn(app: TestApp) {
    let spec: Value = app
        .get("/api/openapi.json", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(spec["info"]["title"], "Folio API");
    let res = app.get("/api/docs/", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://"), "no assets from other hosts");
}

#[actix_web::test]
async fn readiness_reports_an_unreachable_database_as_503() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    // A server whose database cannot be opened at all.
    let broken = folio_api::config::Settings::from_lookup(|k| match k {
        "DATABASE_URL" => Some("postgres://nobody@127.0.0.1:1/none".into()),
        "FOLIO_JWT_SECRET" => Some(JWT_SECRET.into()),
        "FOLIO_WEB_DIST" => Some("/nonexistent".into()),
        "STRIPE_SECRET_KEY" => Some("sk_test_unused".into()),
        "STRIPE_WEBHOOK_SECRET" => Some("whsec_unused".into()),
        "STRIPE_API_BASE" => Some("http://127.0.0.1:9/".into()),
        _ => None,
    })
    .unwrap();
    let state = folio_api::AppState::new(broken, app.state.storage.clone()).unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    actix_web::rt::spawn(folio_api::server(state, listener).unwrap());
    let client = app.bare_client();
    let res = client.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let res = client
        .get(format!("{url}/api/v1/products"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(problem(res).await["code"], "database_unavailable");
    assert_eq!(
        client
            .get(format!("{url}/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
}

#[test]
fn the_readme_lists_every_setting_as_the_code_declares_it() {
    let readme = repo_file("README.md");
    let start = readme
        .find("<!-- settings:")
        .and_then(|i| readme[i..].find('\n').map(|n| i + n + 1))
        .expect("README.md has a settings block");
    let end = readme.find("<!-- /settings -->").expect("the block ends");
    assert!(
        readme[start..end] == folio_api::config::markdown_table(),
        "README.md's settings table is stale: run `cargo xtask readme`"
    );
    for command in ["cargo xtask run", "cargo xtask test"] {
        assert!(readme.contains(command));
    }
    let schedule = folio_api::webhooks::schedule_text();
    assert!(
        readme.contains(&schedule),
        "README.md states the webhook retry schedule as the code has it: {schedule}"
    );
}

#[actix_web::test]
async fn the_web_ui_is_served_with_caching_compression_and_a_strict_csp() {
    let dist = std::env::temp_dir().join(format!("folio-dist-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dist).unwrap();
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><html><head><script type=\"module\">boot()</script></head><body></body></html>",
    )
    .unwrap();
    std::fs::write(
        dist.join("admin.html"),
        "<!doctype html><html><head><script type=\"module\">admin()</script></head><body></body></html>",
    )
    .unwrap();
    let wasm = "web-ui-0123456789abcdef_bg.wasm";
    std::fs::write(dist.join(wasm), b"\0asm-identity").unwrap();
    std::fs::write(dist.join(format!("{wasm}.br")), b"brotli-bytes").unwrap();
    std::fs::write(dist.join(format!("{wasm}.gz")), b"gzip-bytes").unwrap();
    let app = TestApp::builder(Backend::Sqlite)
        .setting("FOLIO_WEB_DIST", dist.to_str().unwrap())
        .spawn()
        .await
        .unwrap();
    let index = app.get("/library", None).await;
    assert_eq!(
        index.status(),
        StatusCode::OK,
        "client routes get index.html"
    );
    assert_eq!(index.headers()["cache-control"], "no-cache");
    let csp = index.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert!(
        csp.contains("'sha256-"),
        "the inline bootstrap is allowed by hash only: {csp}"
    );
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let etag = index.headers()["etag"].to_str().unwrap().to_owned();
    assert!(index.text().await.unwrap().contains("boot()"));
    let again = app
        .bare_client()
        .get(app.url("/"))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

    // The admin app is its own page, for /admin and below only.
    for path in ["/admin", "/admin/products", "/admin/products/x/edit"] {
        let page = app.get(path, None).await.text().await.unwrap();
        assert!(page.contains("admin()"), "{path}: {page}");
    }
    for path in ["/administrator", "/products/admin"] {
        let page = app.get(path, None).await.text().await.unwrap();
        assert!(page.contains("boot()"), "{path}: {page}");
    }
    let admin_csp = app.get("/admin/orders", None).await.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        admin_csp, csp,
        "each page's CSP names its own inline script"
    );

    // Precompressed variants by Accept-Encoding, always with Vary.
    let fetch = |encoding: Option<&'static str>| {
        let mut req = app.bare_client().get(app.url(&format!("/{wasm}")));
        if let Some(e) = encoding {
            req = req.header("accept-encoding", e);
        }
        async move { req.send().await.unwrap() }
    };
    for (accept, coding, body) in [
        (Some("gzip, deflate, br"), Some("br"), &b"brotli-bytes"[..]),
        (Some("gzip"), Some("gzip"), &b"gzip-bytes"[..]),
        (Some("br;q=0, gzip"), Some("gzip"), &b"gzip-bytes"[..]),
        (None, None, &b"\0asm-identity"[..]),
    ] {
        let res = fetch(accept).await;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(
            res.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        assert_eq!(res.headers()["vary"], "Accept-Encoding");
        assert_eq!(res.headers()["content-type"], "application/wasm");
        assert_eq!(
            res.headers()
                .get("content-encoding")
                .map(|v| v.to_str().unwrap()),
            coding,
            "{accept:?}"
        );
        assert_eq!(res.bytes().await.unwrap().as_ref(), body, "{accept:?}");
    }
    // A missing script is a 404, not the page; the encoded files are not served on their own.
    assert_eq!(
        app.get("/gone-0123456789abcdef.js", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/{wasm}.br"), None).await.status(),
        StatusCode::NOT_FOUND
    );
    // Writing to the UI is not a thing.
    let res = app
        .post_json("/library", None, &serde_json::json!({}))
        .await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(res.headers()["allow"], "GET, HEAD");
    // API misses stay problems, never the UI's index.
    let res = app.get("/api/v1/nope", None).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    problem(res).await;

    // A new build is picked up without a restart.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(
        dist.join("index.html"),
        "<!doctype html><html><head><script type=\"module\">rebuilt()</script></head><body></body></html>",
    )
    .unwrap();
    let page = app.get("/", None).await.text().await.unwrap();
    assert!(page.contains("rebuilt()"), "{page}");
    let _ = std::fs::remove_dir_all(&dist);
}

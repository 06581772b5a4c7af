//! Security probes that the other suites do not already make: unsigned and cross-audience
//! tokens, other users' ids on every user-scoped route, path traversal, response headers, and
//! proof that the log scan (in the harness, run for every test) sees what the server logs.
//!
//! Elsewhere: forged, expired, wrong-key and HS512 access tokens (auth.rs); refresh reuse
//! (auth.rs); admin routes from the OpenAPI document (contract.rs); oversized and truncated
//! multipart, a PNG named .pdf and a PDF named .png (catalog.rs); sandboxed SVG (downloads.rs);
//! brute force → 429 (auth.rs); the web UI's headers (contract.rs); error bodies are checked
//! for internals by the harness's `problem()` on every problem any test reads.

use std::time::Duration;

use base64::Engine;
use folio_tests::*;
use serde_json::{json, Value};

backend_tests!(
    unsigned_tokens_are_refused_everywhere,
    access_and_download_tokens_are_not_interchangeable,
    user_scoped_routes_refuse_other_users_ids,
    path_traversal_in_names_and_slugs_goes_nowhere,
    api_responses_carry_security_headers,
    unknown_paths_and_methods_are_problems_not_the_web_ui,
    the_log_scan_sees_request_logs_and_no_token_in_them,
);

fn b64(value: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(value.to_string())
}

/// A JWT with `alg: none` and an empty signature, as an attacker would send it.
fn unsigned(claims: &Value) -> String {
    format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(claims)
    )
}

async fn unsigned_tokens_are_refused_everywhere(app: TestApp) {
    let admin = app.admin().await;
    let product = app.product(&admin, "Guarded", "0", pdf("g")).await;
    let user = app.customer("ada@example.com").await.access_token;
    let id = app.user_id(&user).await;
    let now = chrono::Utc::now().timestamp();
    let access = unsigned(&json!({
        "sub": id, "role": "admin", "iss": "folio", "aud": "folio-api", "iat": now, "exp": now + 600,
    }));
    for path in ["/api/v1/me", "/api/v1/library", "/api/v1/admin/products"] {
        let res = app.get(path, Some(&access)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(problem(res).await["code"], "token_invalid", "{path}");
    }
    // The same with the real signature stripped off a genuine token.
    let stripped = format!("{}.", user.rsplit_once('.').unwrap().0);
    let res = app.get("/api/v1/me", Some(&stripped)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let download = unsigned(&json!({
        "sub": id, "prd": product["id"], "ver": sha256_hex(&pdf("g")),
        "iss": "folio", "aud": "folio-download", "iat": now, "exp": now + 300,
    }));
    let res = app
        .get(&format!("/api/v1/downloads/{download}"), None)
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(res).await["code"], "token_invalid");
}

async fn access_and_download_tokens_are_not_interchangeable(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Swapped", "0", pdf("s")).await;
    let user = app.customer("ada@example.com").await.access_token;
    let (_, download_token) = app.download_link(&user, "swapped").await;
    let download_token = download_token.as_str();
    // A download token is no access token...
    let res = app.get("/api/v1/me", Some(download_token)).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(res).await["code"], "token_invalid");
    // ...and an access token is no download link.
    let res = app.get(&format!("/api/v1/downloads/{user}"), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(res).await["code"], "token_invalid");
    // The genuine link works, so the refusals above are about the audience.
    let res = app
        .get(&format!("/api/v1/downloads/{download_token}"), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
}

/// Every non-admin operation that needs a signed-in caller, from the OpenAPI document.
async fn user_scoped_operations(app: &TestApp) -> Vec<(String, String)> {
    app.operations()
        .await
        .into_iter()
        .filter(|(_, path, op)| {
            !path.starts_with("/api/v1/admin")
                && op["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|r| r.get("bearer").is_some()))
        })
        .map(|(method, path, _)| (method, path))
        .collect()
}

async fn user_scoped_routes_refuse_other_users_ids(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Private Matter", "12.00", pdf("p"))
        .await;
    let alice_tokens = app.customer("alice@example.com").await;
    let alice = alice_tokens.access_token.clone();
    let mallory_tokens = app.customer("mallory@example.com").await;
    let mallory = mallory_tokens.access_token.clone();
    let started: Value = app
        .checkout(&alice, "private-matter")
        .await
        .json()
        .await
        .unwrap();
    let session = started["session_id"].as_str().unwrap().to_owned();
    let order = started["order_id"].as_str().unwrap().to_owned();
    app.emulator.pay(&session).unwrap();
    assert!(app.emulator.wait_idle(Duration::from_secs(10)).await);
    // Alice owns it now.
    let res = app
        .get(
            &format!("/api/v1/checkout/sessions/{session}"),
            Some(&alice),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.download_token(&alice, "private-matter").await.status(),
        StatusCode::OK
    );
    // And Alice is a member.
    let plan: Value = app
        .post_json(
            "/api/v1/admin/plans",
            Some(&admin),
            &json!({"name": "Members", "interval": "month", "price": "5", "all_products": true}),
        )
        .await
        .json()
        .await
        .unwrap();
    let joined: Value = app
        .post_json(
            "/api/v1/subscriptions/checkout",
            Some(&alice),
            &json!({"plan_id": plan["id"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let alice_subscription_session = joined["session_id"].as_str().unwrap().to_owned();
    app.emulator.pay(&alice_subscription_session).unwrap();
    assert!(app.emulator.wait_idle(Duration::from_secs(10)).await);

    // Each user-scoped operation, as Mallory, aimed at Alice's things. A new operation in the
    // spec fails this test until it is probed here.
    let mut probed = Vec::new();
    for (method, path) in user_scoped_operations(&app).await {
        let res = match (method.as_str(), path.as_str()) {
            ("GET", "/api/v1/checkout/sessions/{id}") => {
                let res = app
                    .get(
                        &format!("/api/v1/checkout/sessions/{session}"),
                        Some(&mallory),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
                problem(res).await;
                None
            }
            ("POST", "/api/v1/checkout/sessions/{id}/download-token") => {
                let res = app
                    .post_json(
                        &format!("/api/v1/checkout/sessions/{session}/download-token"),
                        Some(&mallory),
                        &json!({}),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
                problem(res).await;
                None
            }
            ("POST", "/api/v1/orders/{id}/receipt") => {
                let res = app
                    .post_json(
                        &format!("/api/v1/orders/{order}/receipt"),
                        Some(&mallory),
                        &json!({}),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
                problem(res).await;
                None
            }
            ("POST", "/api/v1/products/{slug}/download-token") => {
                let res = app.download_token(&mallory, "private-matter").await;
                assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
                problem(res).await;
                None
            }
            ("GET", "/api/v1/subscriptions/checkout/{session_id}") => {
                let res = app
                    .get(
                        &format!("/api/v1/subscriptions/checkout/{alice_subscription_session}"),
                        Some(&mallory),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
                problem(res).await;
                None
            }
            ("POST", "/api/v1/subscriptions/portal") => {
                // Mallory never subscribed: no portal at all, or (once she has started a
                // checkout of her own) her own, which shows nothing of Alice's membership.
                let res = app.post_json(&path, Some(&mallory), &json!({})).await;
                match res.status() {
                    StatusCode::CONFLICT => {
                        assert_eq!(problem(res).await["code"], "no_billing_account")
                    }
                    StatusCode::OK => {
                        let portal: Value = res.json().await.unwrap();
                        let page = app
                            .bare_client()
                            .get(portal["url"].as_str().unwrap())
                            .send()
                            .await
                            .unwrap()
                            .text()
                            .await
                            .unwrap();
                        assert!(!page.contains("Members"), "{path}: {page}");
                        assert!(!page.contains("alice@"), "{path}: {page}");
                    }
                    other => panic!("{path}: {other}"),
                }
                None
            }
            ("POST", "/api/v1/subscriptions/checkout") => {
                // Her own checkout, for her own (new) customer.
                let res = app
                    .post_json(&path, Some(&mallory), &json!({"plan_id": plan["id"]}))
                    .await;
                assert_eq!(res.status(), StatusCode::OK, "{path}");
                let body: Value = res.json().await.unwrap();
                assert_ne!(body["session_id"], alice_subscription_session.as_str());
                None
            }
            ("GET", "/api/v1/library")
            | ("GET", "/api/v1/orders")
            | ("GET", "/api/v1/subscriptions") => {
                let path = path.clone();
                Some(app.get(&path, Some(&mallory)).await)
            }
            ("GET", "/api/v1/me") => {
                let me: Value = app.get(&path, Some(&mallory)).await.json().await.unwrap();
                assert_eq!(me["email"], "mallory@example.com");
                None
            }
            ("POST", "/api/v1/checkout") => {
                // Mallory's own checkout; nothing of Alice's can be named in it.
                let res = app.checkout(&mallory, "private-matter").await;
                assert_eq!(res.status(), StatusCode::CREATED);
                let body: Value = res.json().await.unwrap();
                assert_ne!(body["session_id"], session.as_str());
                None
            }
            ("GET", "/api/v1/discounts/{code}") => {
                // Alice has used her one redemption of a per-customer code; Mallory still has
                // hers: the preview counts the caller's, never someone else's.
                app.product(&admin, "Second Matter", "10", pdf("s")).await;
                let res = app
                    .post_json(
                        "/api/v1/admin/discounts",
                        Some(&admin),
                        &json!({"code": "ONCE-EACH", "percent_off": 10, "max_per_customer": 1}),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::CREATED);
                let res = app
                    .post_json(
                        "/api/v1/checkout",
                        Some(&alice),
                        &json!({"slug": "second-matter", "discount_code": "once-each"}),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::CREATED);
                let preview = "/api/v1/discounts/once-each?slug=second-matter";
                let res = app.get(preview, Some(&alice)).await;
                assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
                let res = app.get(preview, Some(&mallory)).await;
                assert_eq!(res.status(), StatusCode::OK, "{path}");
                None
            }
            ("GET", "/api/v1/products") => {
                // Mallory's catalog does not mark Alice's purchase as owned.
                let res = app.get("/api/v1/products", Some(&mallory)).await;
                let body: Value = res.json().await.unwrap();
                let items = body["items"].as_array().unwrap();
                let private = items
                    .iter()
                    .find(|p| p["slug"] == "private-matter")
                    .unwrap_or_else(|| panic!("{path}: {body}"));
                assert_eq!(private["owned"], false, "{path}");
                None
            }
            ("GET", "/api/v1/products/{slug}") => {
                let res = app
                    .get("/api/v1/products/private-matter", Some(&mallory))
                    .await;
                let body: Value = res.json().await.unwrap();
                assert_eq!(body["owned"], false, "{path}");
                None
            }
            ("POST", "/api/v1/auth/logout") => {
                // Logging out ends only the caller's own session: Alice's still refreshes.
                let res = app
                    .post_json(
                        &path,
                        Some(&mallory),
                        &json!({"refresh_token": mallory_tokens.refresh_token}),
                    )
                    .await;
                assert_eq!(res.status(), StatusCode::NO_CONTENT, "{path}");
                let res = app
                    .post_json(
                        "/api/v1/auth/refresh",
                        None,
                        &json!({"refresh_token": alice_tokens.refresh_token}),
                    )
                    .await;
                assert_eq!(
                    res.status(),
                    StatusCode::OK,
                    "{path}: Alice's session survives"
                );
                let renewed: Value = res.json().await.unwrap();
                remember_secret(renewed["refresh_token"].as_str().unwrap());
                None
            }
            other => panic!("probe the new user-scoped operation {other:?} in this test"),
        };
        if let Some(res) = res {
            assert_eq!(res.status(), StatusCode::OK, "{path}");
            let body: Value = res.json().await.unwrap();
            // The library is a list; orders are a page of `items`.
            let items = body.get("items").unwrap_or(&body);
            assert_eq!(items, &json!([]), "{path} shows Alice's things: {body}");
        }
        probed.push(path);
    }
    assert!(probed.iter().any(|p| p.contains("{id}")), "{probed:?}");
    // Alice's access is untouched by all of that.
    assert_eq!(
        app.download_token(&alice, "private-matter").await.status(),
        StatusCode::OK
    );
}

async fn path_traversal_in_names_and_slugs_goes_nowhere(app: TestApp) {
    let admin = app.admin().await;
    let user = app.customer("ada@example.com").await.access_token;
    for (i, name) in [
        "../../../../etc/passwd.pdf",
        "..\\..\\windows\\win.ini.pdf",
        "/etc/shadow.pdf",
        "a/../../b.pdf",
    ]
    .into_iter()
    .enumerate()
    {
        let title = format!("Traversal {i} ../../etc");
        let form = reqwest::multipart::Form::new()
            .text("title", title.clone())
            .text("price", "0")
            .part(
                "file",
                reqwest::multipart::Part::bytes(pdf(name)).file_name(name.to_owned()),
            );
        let res = app.create_product(&admin, form).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{name}");
        let p: Value = res.json().await.unwrap();
        let slug = p["slug"].as_str().unwrap();
        assert!(
            slug.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
            "{slug}"
        );
        let shown = p["files"][0]["name"].as_str().unwrap();
        assert!(!shown.contains('/') && !shown.contains('\\'), "{shown}");
        // The download names the file without any directory part.
        let (url, _) = app.download_link(&user, slug).await;
        let res = app.bare_client().get(url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        let disposition = res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            !disposition.contains('/') && !disposition.contains('\\'),
            "{disposition}"
        );
        assert_eq!(res.bytes().await.unwrap().as_ref(), pdf(name).as_slice());
    }
    // Every object stays inside the store, under its content address.
    for key in app.objects().await {
        assert!(
            key.starts_with("files/") && !key.contains(".."),
            "unexpected object {key}"
        );
    }
    for slug in [
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2f%2e%2e%2fetc",
        "..",
        "traversal-0-etc%00",
        "traversal-0-etc%2F..%2F..",
    ] {
        let res = app.get(&format!("/api/v1/products/{slug}"), None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{slug}");
        let res = app
            .bare_client()
            .post(app.url(&format!("/api/v1/products/{slug}/download-token")))
            .bearer_auth(&user)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{slug}");
    }
}

async fn api_responses_carry_security_headers(app: TestApp) {
    let user = app.customer("ada@example.com").await.access_token;
    for (path, token) in [
        ("/api/v1/products", None),
        ("/api/v1/me", Some(user.as_str())),
        ("/api/v1/me", None),
        ("/api/v1/nowhere", None),
        ("/readyz", None),
    ] {
        let res = app.get(path, token).await;
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.get("server").is_none(), "{path}: no server banner");
    }
    // Responses that carry credentials are never cached.
    let res = app
        .post_json(
            "/api/v1/auth/login",
            None,
            &json!({"email": "ada@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let res = app.get("/api/v1/me", Some(&user)).await;
    let cache = res
        .headers()
        .get("cache-control")
        .map(|v| v.to_str().unwrap().to_owned());
    assert!(
        cache
            .as_deref()
            .is_some_and(|c| c.contains("no-store") || c.contains("private")),
        "signed-in answers are private: {cache:?}"
    );
}

async fn the_log_scan_sees_request_logs_and_no_token_in_them(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Logged", "0", pdf("l")).await;
    let user = app.customer("ada@example.com").await.access_token;
    let link: Value = app
        .download_token(&user, "logged")
        .await
        .json()
        .await
        .unwrap();
    let res = app
        .bare_client()
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let token = link["url"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    remember_secret(&token);
    // The request was logged, by its route pattern...
    let mut logs = String::new();
    for _ in 0..50 {
        logs = captured_logs();
        if logs.contains("/api/v1/downloads/{token}") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        logs.contains("/api/v1/downloads/{token}"),
        "the request was logged"
    );
    // ...and the scanner would have caught the token had it been logged.
    let leaked = format!("{logs}\nGET /api/v1/downloads/{token}\n");
    assert!(!find_leaks(&leaked, &[]).is_empty(), "a JWT is recognised");
    assert!(!find_leaks("login password=correct horse battery", &[PASSWORD.into()]).is_empty());
    assert!(find_leaks(&logs, &[token, user]).is_empty());
}

async fn unknown_paths_and_methods_are_problems_not_the_web_ui(app: TestApp) {
    let admin = app.admin().await;
    let client = app.bare_client();
    for (method, path, status, code) in [
        ("GET", "/api/v1/stripe/webhook", 405, "method_not_allowed"),
        // A known path with a method it does not take: 405 (with Allow), a problem too.
        ("DELETE", "/api/v1/products", 405, "method_not_allowed"),
        ("POST", "/api/openapi.json", 405, "method_not_allowed"),
        ("GET", "/api/v2/products", 404, "not_found"),
        ("GET", "/api/nothing", 404, "not_found"),
        ("GET", "/media/files/abc", 404, "not_found"),
        (
            "PUT",
            "/api/v1/admin/orders/x/refund",
            405,
            "method_not_allowed",
        ),
        ("GET", "/api/v1/admin/nothing/here", 404, "not_found"),
    ] {
        let res = client
            .request(method.parse().unwrap(), app.url(path))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), status, "{method} {path}");
        assert_eq!(problem(res).await["code"], code, "{method} {path}");
    }
}

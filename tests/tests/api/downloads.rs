//! Download links and file delivery, on SQLite and PostgreSQL.

use folio_tests::*;
use serde_json::{json, Value};

/// Downloads read the way every platform without Linux's fast paths reads them (object_store's
/// open, every read on the blocking pool): byte for byte, with ranges.
#[actix_web::test]
async fn downloads_work_without_the_linux_fast_paths() {
    let portable = || {
        TestApp::builder(Backend::Sqlite)
            .storage(|dir| folio_api::storage::Storage::local_portable(dir).unwrap())
            .spawn()
    };
    a_signed_in_user_downloads_a_free_item_byte_for_byte(portable().await.unwrap()).await;
    byte_ranges_are_served_and_bad_ranges_answer_416(portable().await.unwrap()).await;
}

backend_tests!(
    a_signed_in_user_downloads_a_free_item_byte_for_byte,
    paid_items_need_a_live_entitlement_checked_again_at_download,
    another_users_link_cannot_outlive_their_access,
    byte_ranges_are_served_and_bad_ranges_answer_416,
    expired_forged_and_stale_links_are_refused,
    downloads_are_recorded,
    a_download_whose_file_is_gone_fails_and_is_not_counted,
    download_records_commit_alike_on_both_backends,
    svg_previews_are_served_sandboxed,
    two_products_with_the_same_file_name_keep_their_own_bytes,
);

backend_tests_with!(
    // nginx reads the files from the storage folder: always a local one.
    &[("FOLIO_DOWNLOAD_ACCEL_PREFIX", "/_folio_objects/"), ("FOLIO_STORAGE_URL", "")] =>
    behind_nginx_the_proxy_sends_the_bytes_folio_decides_who_gets_them,
);

fn path_of(app: &TestApp, link: &Value) -> String {
    link["url"].as_str().unwrap().replace(&app.address, "")
}

async fn link(app: &TestApp, token: &str, slug: &str) -> Value {
    let res = app.download_token(token, slug).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "no-store");
    res.json().await.unwrap()
}

async fn a_signed_in_user_downloads_a_free_item_byte_for_byte(app: TestApp) {
    let admin = app.admin().await;
    let file = big_pdf(300_000);
    app.product(&admin, "Free Guide", "0", file.clone()).await;
    let res = app.download_token("", "free-guide").await;
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "anonymous callers get no link"
    );
    let customer = app.customer("ada@example.com").await.access_token;
    let link = link(&app, &customer, "free-guide").await;
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/api/v1/downloads/", app.address)),
        "absolute URL: {url}"
    );
    let expires =
        chrono::DateTime::parse_from_rfc3339(link["expires_at"].as_str().unwrap()).unwrap();
    let ttl = expires.timestamp() - chrono::Utc::now().timestamp();
    assert!((250..=301).contains(&ttl), "five minutes, got {ttl}");
    let res = app.bare_client().get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "application/pdf");
    assert_eq!(
        h["content-disposition"],
        "attachment; filename=\"guide.pdf\"; filename*=UTF-8''guide.pdf"
    );
    assert_eq!(
        h["etag"].to_str().unwrap(),
        format!("\"{}\"", sha256_hex(&file))
    );
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["cache-control"], "private, no-store");
    assert_eq!(
        h["content-length"].to_str().unwrap(),
        file.len().to_string()
    );
    let body = res.bytes().await.unwrap();
    assert_eq!(sha256_hex(&body), sha256_hex(&file));
}

async fn paid_items_need_a_live_entitlement_checked_again_at_download(app: TestApp) {
    let admin = app.admin().await;
    let product = app.product(&admin, "Paid Guide", "4.99", pdf("paid")).await;
    let buyer = app.customer("buyer@example.com").await.access_token;
    let res = app.download_token(&buyer, "paid-guide").await;
    // The original answered "Access denied." with status 200.
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(res).await["code"], "not_purchased");
    let buyer_id = app.user_id(&buyer).await;
    app.grant(&buyer_id, product["id"].as_str().unwrap()).await;
    let link = link(&app, &buyer, "paid-guide").await;
    let res = app.get(&path_of(&app, &link), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap().as_ref(), pdf("paid").as_slice());
    // A refund revokes access: the same, still-valid link stops working at once.
    app.revoke(&buyer_id, product["id"].as_str().unwrap()).await;
    let res = app.get(&path_of(&app, &link), None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(res).await["code"], "not_purchased");
    // The admin can always fetch the file to check it.
    assert_eq!(
        app.download_token(&admin, "paid-guide").await.status(),
        StatusCode::OK
    );
}

async fn another_users_link_cannot_outlive_their_access(app: TestApp) {
    let admin = app.admin().await;
    let product = app
        .product(&admin, "Private Notes", "9", pdf("private"))
        .await;
    let ada = app.customer("ada@example.com").await.access_token;
    let bob = app.customer("bob@example.com").await.access_token;
    let ada_id = app.user_id(&ada).await;
    app.grant(&ada_id, product["id"].as_str().unwrap()).await;
    // Bob cannot mint a link for Ada's purchase, nor see it in his library.
    assert_eq!(
        app.download_token(&bob, "private-notes").await.status(),
        StatusCode::FORBIDDEN
    );
    let bobs: Value = app
        .get("/api/v1/library", Some(&bob))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bobs, json!([]));
    let adas: Value = app
        .get("/api/v1/library", Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(adas[0]["slug"], "private-notes");
    // A link Ada shares is bound to Ada: once her access is revoked it is dead for anyone.
    let link = link(&app, &ada, "private-notes").await;
    app.revoke(&ada_id, product["id"].as_str().unwrap()).await;
    let res = app
        .bare_client()
        .get(link["url"].as_str().unwrap())
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Ada's access token is not a download token, and a download token is not an access token.
    let res = app.get(&format!("/api/v1/downloads/{ada}"), None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let res = app.get("/api/v1/me", link["token"].as_str()).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

async fn byte_ranges_are_served_and_bad_ranges_answer_416(app: TestApp) {
    let admin = app.admin().await;
    let file = big_pdf(10_000);
    app.product(&admin, "Ranged", "0", file.clone()).await;
    let user = app.customer("ada@example.com").await.access_token;
    let url = link(&app, &user, "ranged").await["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = |range: &'static str| {
        let (app, url) = (&app, url.clone());
        async move {
            app.bare_client()
                .get(url)
                .header("range", range)
                .send()
                .await
                .unwrap()
        }
    };
    let res = get("bytes=100-199").await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(res.bytes().await.unwrap().as_ref(), &file[100..200]);
    let res = get("bytes=-10").await;
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(res.bytes().await.unwrap().as_ref(), &file[9990..]);
    let res = get("bytes=9000-").await;
    assert_eq!(res.bytes().await.unwrap().as_ref(), &file[9000..]);
    let res = get("bytes=10000-").await;
    assert_eq!(res.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(res.headers()["content-range"], "bytes */10000");
    assert_eq!(problem(res).await["code"], "range_not_satisfiable");
    let res = get("bytes=0-1,5-9").await;
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "multiple ranges get the whole file"
    );
    assert_eq!(res.bytes().await.unwrap().len(), 10_000);
    let res = app
        .bare_client()
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"some-old-version\"")
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "If-Range with another ETag gets the whole file"
    );
}

async fn expired_forged_and_stale_links_are_refused(app: TestApp) {
    let admin = app.admin().await;
    let product = app.product(&admin, "Linked", "0", pdf("v1")).await;
    let user = app.customer("ada@example.com").await.access_token;
    let user_id = app.user_id(&user).await;
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": user_id, "prd": product["id"], "fil": product["files"][0]["id"],
        "ver": product["files"][0]["id"], "jti": "x",
        "iss": "folio", "aud": "folio-download", "iat": now - 700, "exp": now - 400,
    });
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(JWT_SECRET.as_bytes()),
    )
    .unwrap();
    let res = app.get(&format!("/api/v1/downloads/{expired}"), None).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(problem(res).await["code"], "token_expired");
    for garbled in ["garbage", "a.b.c", &expired[..expired.len() - 3]] {
        let res = app.get(&format!("/api/v1/downloads/{garbled}"), None).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{garbled}");
        assert_eq!(problem(res).await["code"], "token_invalid");
    }
    // A link names the file version: after a new upload it is stale.
    let old = link(&app, &user, "linked").await;
    let res = app
        .bare_client()
        .post(app.url(&format!(
            "/api/v1/admin/products/{}/files/{}/versions",
            product["id"].as_str().unwrap(),
            product["files"][0]["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(pdf("v2")).file_name("v2.pdf"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let res = app.get(&path_of(&app, &old), None).await;
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(problem(res).await["code"], "token_stale");
    // The next link gets the new version.
    let fresh = link(&app, &user, "linked").await;
    let res = app.get(&path_of(&app, &fresh), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.bytes().await.unwrap(), pdf("v2"));
}

async fn downloads_are_recorded(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Counted", "0", pdf("count")).await;
    let user = app.customer("ada@example.com").await.access_token;
    assert_eq!(app.count("download_events").await, 0);
    for _ in 0..2 {
        let l = link(&app, &user, "counted").await;
        assert_eq!(
            app.get(&path_of(&app, &l), None).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(app.count("download_events").await, 2);
}

async fn a_download_whose_file_is_gone_fails_and_is_not_counted(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Lost", "0", pdf("lost")).await;
    let user = app.customer("ada@example.com").await.access_token;
    let l = link(&app, &user, "lost").await;
    let key = format!("files/{}", sha256_hex(&pdf("lost")));
    assert!(app.objects().await.contains(&key), "{key} is stored");
    app.state.storage.delete(&key).await.unwrap();

    let res = app.get(&path_of(&app, &l), None).await;
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(problem(res).await["code"], "internal_error");
    assert_eq!(
        app.count("download_events").await,
        0,
        "a download that never started is not counted"
    );
}

/// A download's record does not wait for the disk on either backend (SQLite's WAL with
/// synchronous NORMAL; PostgreSQL's synchronous_commit off, for these records only).
async fn download_records_commit_alike_on_both_backends(app: TestApp) {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Setting {
        #[diesel(sql_type = diesel::sql_types::Text)]
        setting: String,
    }
    let sql = match app.backend {
        Backend::Postgres => "SELECT current_setting('synchronous_commit') AS setting",
        Backend::Sqlite => "SELECT CAST(synchronous AS TEXT) AS setting FROM pragma_synchronous",
    };
    let ask = move |conn: &mut folio_api::db::DbConnection| {
        Ok(diesel::sql_query(sql).get_result::<Setting>(conn)?.setting)
    };
    let (records, others) = (
        app.state.db.record(ask).await.unwrap(),
        app.state.db.run(ask).await.unwrap(),
    );
    match app.backend {
        Backend::Postgres => assert_eq!((records.as_str(), others.as_str()), ("off", "on")),
        // 1 is NORMAL, on every connection.
        Backend::Sqlite => assert_eq!((records.as_str(), others.as_str()), ("1", "1")),
    }
}

async fn svg_previews_are_served_sandboxed(app: TestApp) {
    let admin = app.admin().await;
    let form = product_form("Scripted Cover", "0", pdf("s"), None).part(
        "preview",
        reqwest::multipart::Part::bytes(svg_with_script()).file_name("x.svg"),
    );
    let res = app.create_product(&admin, form).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let p: Value = res.json().await.unwrap();
    let res = app
        .get(&path_of(&app, &json!({"url": p["preview_url"]})), None)
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/svg+xml");
    assert_eq!(
        res.headers()["content-security-policy"],
        "sandbox; default-src 'none'; style-src 'unsafe-inline'"
    );
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    for bad in [
        "/media/previews/..%2F..%2Fjwt-secret",
        "/media/previews/%2e%2e%2fobjects",
        "/media/previews/abc.svg",
        "/media/previews/x",
    ] {
        let res = app.get(bad, None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{bad}");
    }
}

async fn two_products_with_the_same_file_name_keep_their_own_bytes(app: TestApp) {
    // The original saved uploads under their file names: a second `guide.pdf` replaced the first.
    let admin = app.admin().await;
    let user = app.customer("ada@example.com").await.access_token;
    app.product(&admin, "First Guide", "0", pdf("first edition"))
        .await;
    app.product(&admin, "Second Guide", "0", pdf("second edition"))
        .await;
    for (slug, marker) in [
        ("first-guide", "first edition"),
        ("second-guide", "second edition"),
    ] {
        let l = link(&app, &user, slug).await;
        let res = app.get(&path_of(&app, &l), None).await;
        assert_eq!(
            res.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .split(';')
                .nth(1)
                .unwrap()
                .trim(),
            "filename=\"guide.pdf\""
        );
        assert_eq!(
            res.bytes().await.unwrap().as_ref(),
            pdf(marker).as_slice(),
            "{slug}"
        );
    }
}

/// With `FOLIO_DOWNLOAD_ACCEL_PREFIX`, a granted download is an empty answer naming the object
/// for nginx (`X-Accel-Redirect`), recorded like any other; a refused one is folio's problem
/// answer and names nothing.
async fn behind_nginx_the_proxy_sends_the_bytes_folio_decides_who_gets_them(app: TestApp) {
    let admin = app.admin().await;
    let file = pdf("handed over");
    app.product(&admin, "Handed Over", "0", file.clone()).await;
    let user = app.customer("ada@example.com").await.access_token;
    let l = link(&app, &user, "handed-over").await;
    let res = app.get(&path_of(&app, &l), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let h = res.headers().clone();
    let key = format!("files/{}", sha256_hex(&file));
    assert_eq!(
        h["x-accel-redirect"].to_str().unwrap(),
        format!("/_folio_objects/{key}")
    );
    assert!(
        app.objects().await.contains(&key),
        "the name is a stored object"
    );
    assert_eq!(h["content-type"], "application/pdf");
    assert!(h["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment; "));
    assert_eq!(h["cache-control"], "private, no-store");
    assert!(
        res.bytes().await.unwrap().is_empty(),
        "the proxy sends the bytes"
    );
    assert_eq!(app.count("download_events").await, 1);

    let res = app.get("/api/v1/downloads/not-a-token", None).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().get("x-accel-redirect").is_none());
    assert_eq!(problem(res).await["code"], "token_invalid");
    assert_eq!(app.count("download_events").await, 1);
}

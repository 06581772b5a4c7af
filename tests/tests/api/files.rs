//! Products with several files of any kind, versions, update notices, download limits, access
//! windows, "Download all" and PDF stamping: on SQLite and PostgreSQL.

use std::time::Duration;

use folio_tests::*;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

backend_tests!(
    several_files_of_any_kind_are_kept_in_order_and_served_as_attachments,
    a_new_version_reaches_the_next_download_and_old_links_go_stale,
    update_notices_arrive_once_per_buyer_and_respect_unsubscribe,
    a_limit_of_three_lets_exactly_three_of_64_parallel_links_through,
    a_resumed_download_counts_once_and_an_admin_can_reset_counts,
    the_access_window_runs_on_the_servers_clock,
    download_all_is_a_zip_whose_entries_match_each_file,
    stamped_pdfs_carry_the_buyer_and_stay_valid_pdfs,
);

const WAIT: Duration = Duration::from_secs(20);

/// A real PDF of `pages` pages (the demo shop's generator).
fn book(title: &str, pages: usize) -> Vec<u8> {
    let para: &[&str] = &["Some words on a page, enough to make a line or two of text."];
    let chapters: Vec<(&str, &[&str])> = (0..pages.max(1)).map(|_| ("Chapter", para)).collect();
    folio_api::catalog::seed::render_pdf(&folio_api::catalog::seed::Book {
        title,
        subtitle: "A test book",
        author: "Folio tests",
        chapters: &chapters,
        accent: [0.2, 0.4, 0.3],
    })
}

/// The first bytes of an EPUB: a ZIP whose first entry is `mimetype`, stored.
fn epub() -> Vec<u8> {
    let mut b = b"PK\x03\x04\x14\0\0\0\0\0\0\0\0\0".to_vec();
    b.extend_from_slice(&[0; 12]);
    b.extend_from_slice(&[8, 0, 0, 0]);
    b.extend_from_slice(b"mimetypeapplication/epub+zip");
    b.extend_from_slice(b"...the rest of the book...");
    b
}

fn zip_bytes() -> Vec<u8> {
    let mut b = b"PK\x03\x04\x14\0\0\0\x08\0".to_vec();
    b.extend_from_slice(b"templates, compressed");
    b
}

async fn add_file(app: &TestApp, admin: &str, product: &str, name: &str, bytes: Vec<u8>) -> Value {
    let res = app
        .bare_client()
        .post(app.url(&format!("/api/v1/admin/products/{product}/files")))
        .bearer_auth(admin)
        .multipart(Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned())))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "adding {name}");
    res.json().await.unwrap()
}

async fn new_version(
    app: &TestApp,
    admin: &str,
    product: &str,
    file: &str,
    bytes: Vec<u8>,
    note: &str,
    notify: bool,
) -> Value {
    let form = Form::new()
        .part("file", Part::bytes(bytes).file_name("new.pdf"))
        .text("note", note.to_owned())
        .text("notify_buyers", notify.to_string());
    let res = app
        .bare_client()
        .post(app.url(&format!(
            "/api/v1/admin/products/{product}/files/{file}/versions"
        )))
        .bearer_auth(admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn token_for(app: &TestApp, user: &str, slug: &str, body: Value) -> reqwest::Response {
    app.bare_client()
        .post(app.url(&format!("/api/v1/products/{slug}/download-token")))
        .bearer_auth(user)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn url_for(app: &TestApp, user: &str, slug: &str, body: Value) -> String {
    let res = token_for(app, user, slug, body).await;
    assert_eq!(res.status(), StatusCode::OK);
    let v: Value = res.json().await.unwrap();
    v["url"].as_str().unwrap().to_owned()
}

async fn create(
    app: &TestApp,
    admin: &str,
    title: &str,
    price: &str,
    extra: &[(&str, &str)],
    file: Vec<u8>,
) -> Value {
    let mut form = Form::new()
        .text("title", title.to_owned())
        .text("price", price.to_owned());
    for (k, v) in extra {
        form = form.text(k.to_string(), v.to_string());
    }
    form = form.part("file", Part::bytes(file).file_name("book.pdf"));
    let res = app.create_product(admin, form).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

async fn several_files_of_any_kind_are_kept_in_order_and_served_as_attachments(app: TestApp) {
    let admin = app.admin().await;
    let p = create(&app, &admin, "Bundle", "0", &[], pdf("bundle")).await;
    let id = p["id"].as_str().unwrap();
    let e = add_file(&app, &admin, id, "The Book.epub", epub()).await;
    assert_eq!(e["content_type"], "application/epub+zip");
    let z = add_file(&app, &admin, id, "templates.zip", zip_bytes()).await;
    assert_eq!(z["content_type"], "application/zip");
    let png_named_pdf = add_file(&app, &admin, id, "cover.pdf", png()).await;
    assert_eq!(
        png_named_pdf["content_type"], "image/png",
        "typed by content"
    );
    assert_eq!(png_named_pdf["name"], "cover.pdf.png");
    let text = add_file(&app, &admin, id, "notes.txt", b"plain words".to_vec()).await;
    assert_eq!(text["content_type"], "application/octet-stream");

    // Rename and move the ZIP first.
    let res = app
        .bare_client()
        .patch(app.url(&format!(
            "/api/v1/admin/products/{id}/files/{}",
            z["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .json(&json!({"name": "Templates", "position": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let renamed: Value = res.json().await.unwrap();
    assert_eq!(renamed["name"], "Templates.zip");
    let page: Value = app
        .get("/api/v1/products/bundle", None)
        .await
        .json()
        .await
        .unwrap();
    let names: Vec<&str> = page["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Templates.zip",
            "book.pdf",
            "The Book.epub",
            "cover.pdf.png",
            "notes.txt.bin"
        ]
    );

    // Each file through its own link, as an attachment that is never sniffed.
    let user = app.customer("ada@example.com").await.access_token;
    let res = token_for(&app, &user, "bundle", json!({})).await;
    assert_eq!(res.status(), StatusCode::CONFLICT, "which file?");
    assert_eq!(problem(res).await["code"], "file_required");
    let res = token_for(
        &app,
        &user,
        "bundle",
        json!({"file_id": e["id"], "all": true}),
    )
    .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "not both");
    // A file is renamed with an object, never an array in the fields' order.
    let res = app
        .bare_client()
        .patch(app.url(&format!(
            "/api/v1/admin/products/{id}/files/{}",
            e["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .json(&json!(["x.epub", 0]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    for (file, bytes, kind) in [
        (&e, epub(), "application/epub+zip"),
        (&png_named_pdf, png(), "image/png"),
        (&text, b"plain words".to_vec(), "application/octet-stream"),
    ] {
        let url = url_for(&app, &user, "bundle", json!({"file_id": file["id"]})).await;
        let res = app.bare_client().get(url).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-type"], kind);
        assert_eq!(res.headers()["x-content-type-options"], "nosniff");
        assert!(res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;"));
        assert_eq!(res.bytes().await.unwrap(), bytes);
    }

    // Removing: not the last file; a removed file kept for owners stays theirs only (Ada took
    // the free item above, so it is in her library).
    let delete = |file: &Value, keep: bool| {
        let url = app.url(&format!(
            "/api/v1/admin/products/{id}/files/{}?keep_for_owners={keep}",
            file["id"].as_str().unwrap()
        ));
        let (client, admin) = (app.bare_client(), admin.clone());
        async move { client.delete(url).bearer_auth(admin).send().await.unwrap() }
    };
    assert_eq!(delete(&text, true).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        delete(&png_named_pdf, false).await.status(),
        StatusCode::NO_CONTENT
    );
    let library: Value = app
        .get("/api/v1/library", Some(&user))
        .await
        .json()
        .await
        .unwrap();
    let mine: Vec<&str> = library[0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(
        mine.contains(&"notes.txt.bin") && !mine.contains(&"cover.pdf.png"),
        "{mine:?}"
    );
    let public: Value = app
        .get("/api/v1/products/bundle", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        public["files"].as_array().unwrap().len(),
        3,
        "removed files leave the catalog"
    );
    let other = app.customer("bob@example.com").await.access_token;
    let res = token_for(&app, &other, "bundle", json!({"file_id": text["id"]})).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "kept for owners only");
    let res = token_for(&app, &user, "bundle", json!({"file_id": text["id"]})).await;
    assert_eq!(res.status(), StatusCode::OK);
    for f in [&z, &e] {
        assert_eq!(delete(f, false).await.status(), StatusCode::NO_CONTENT);
    }
    let res = delete(&p["files"][0], false).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "last_file");
}

async fn a_new_version_reaches_the_next_download_and_old_links_go_stale(app: TestApp) {
    let admin = app.admin().await;
    let p = create(&app, &admin, "Evolving", "0", &[], pdf("v1")).await;
    let (id, file) = (
        p["id"].as_str().unwrap(),
        p["files"][0]["id"].as_str().unwrap(),
    );
    let user = app.customer("ada@example.com").await.access_token;
    let old = url_for(&app, &user, "evolving", json!({"file_id": file})).await;
    let made = new_version(&app, &admin, id, file, pdf("v2"), "Fixed chapter 3", false).await;
    assert_eq!(made["version"]["version"], 2);
    assert_eq!(made["notifying"], false);
    let res = app.bare_client().get(&old).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::GONE);
    assert_eq!(problem(res).await["code"], "token_stale");
    let fresh = url_for(&app, &user, "evolving", json!({"file_id": file})).await;
    assert_eq!(
        app.bare_client()
            .get(fresh)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
        pdf("v2")
    );
    // The library says what changed; the history keeps every version.
    let library: Value = app
        .get("/api/v1/library", Some(&user))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        library[0]["files"][0]["version"], 2,
        "a free item taken is in the library"
    );
    assert_eq!(library[0]["files"][0]["note"], "Fixed chapter 3");
    let history: Value = app
        .get(
            &format!("/api/v1/admin/products/{id}/files/{file}/versions"),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    let versions: Vec<(i64, String)> = history["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_i64().unwrap(),
                v["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [(2, sha256_hex(&pdf("v2"))), (1, sha256_hex(&pdf("v1")))]
    );
}

async fn update_notices_arrive_once_per_buyer_and_respect_unsubscribe(app: TestApp) {
    let admin = app.admin().await;
    let p = create(&app, &admin, "Newsworthy", "9.00", &[], pdf("n1")).await;
    let (id, file) = (
        p["id"].as_str().unwrap(),
        p["files"][0]["id"].as_str().unwrap(),
    );
    let mut buyers = Vec::new();
    for email in ["ada@example.com", "bob@example.com"] {
        let token = app.customer(email).await.access_token;
        app.grant(&app.user_id(&token).await, id).await;
        buyers.push(email);
    }
    app.customer("nobuy@example.com").await;
    let made = new_version(&app, &admin, id, file, pdf("n2"), "New chapter", true).await;
    assert_eq!(made["notifying"], true);
    let ada = app.smtp.wait_for("ada@example.com", 1, WAIT).await;
    app.smtp.wait_for("bob@example.com", 1, WAIT).await;
    let notice = &ada[0];
    assert_eq!(notice.subject(), "Updated: Newsworthy");
    assert!(notice.text().contains("New chapter"), "{}", notice.text());
    assert_eq!(
        notice.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let one_click = notice.header("List-Unsubscribe").unwrap();
    let one_click = one_click.trim_matches(|c| c == '<' || c == '>').to_owned();
    assert!(
        one_click.starts_with(&app.url("/api/v1/unsubscribe/")),
        "{one_click}"
    );
    assert!(
        notice
            .link(&app.url("/library/unsubscribe?token="))
            .is_some(),
        "a visible link too: {}",
        notice.text()
    );
    // The history counts them once sent.
    let sent = loop {
        let history: Value = app
            .get(
                &format!("/api/v1/admin/products/{id}/files/{file}/versions"),
                Some(&admin),
            )
            .await
            .json()
            .await
            .unwrap();
        let v = history["versions"][0].clone();
        if v["notices_sent"] == 2 {
            break v;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(sent["notices_queued"], 2);
    // Ada unsubscribes (one click, as a mail client does); the next notice goes to Bob only.
    let res = app
        .bare_client()
        .post(&one_click)
        .form(&[("List-Unsubscribe", "One-Click")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let res = app
        .bare_client()
        .post(app.url("/api/v1/unsubscribe/forged"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    new_version(&app, &admin, id, file, pdf("n3"), "", true).await;
    app.smtp.wait_for("bob@example.com", 2, WAIT).await;
    // Give a wrongly queued notice to Ada time to arrive, then check it did not.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(app.smtp.to("ada@example.com").len(), 1, "unsubscribed");
    assert_eq!(app.smtp.to("bob@example.com").len(), 2, "once per version");
    assert!(app.smtp.to("nobuy@example.com").is_empty());
}

async fn a_limit_of_three_lets_exactly_three_of_64_parallel_links_through(app: TestApp) {
    let admin = app.admin().await;
    let p = create(
        &app,
        &admin,
        "Scarce",
        "0",
        &[("download_limit", "3")],
        pdf("scarce"),
    )
    .await;
    assert_eq!(p["download_limit"], 3);
    let user = app.customer("ada@example.com").await.access_token;
    let mut urls = Vec::new();
    for _ in 0..64 {
        urls.push(url_for(&app, &user, "scarce", json!({})).await);
    }
    let client = app.bare_client();
    let results = futures_util::future::join_all(urls.iter().map(|u| {
        let client = client.clone();
        async move {
            let res = client.get(u).send().await.unwrap();
            let status = res.status();
            let body = res.bytes().await.unwrap();
            (status, body)
        }
    }))
    .await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(
        ok,
        3,
        "{:?}",
        results.iter().map(|(s, _)| *s).collect::<Vec<_>>()
    );
    let refused: Vec<Value> = results
        .iter()
        .filter(|(s, _)| *s != StatusCode::OK)
        .map(|(s, b)| {
            assert_eq!(*s, StatusCode::FORBIDDEN);
            serde_json::from_slice(b).unwrap()
        })
        .collect();
    assert!(refused
        .iter()
        .all(|p| p["code"] == "download_limit_reached"));
    assert!(
        refused[0]["detail"]
            .as_str()
            .unwrap()
            .contains("all 3 downloads"),
        "{}",
        refused[0]["detail"]
    );
    // The library says so, and no new link is given.
    let library: Value = app
        .get("/api/v1/library", Some(&user))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(library[0]["files"][0]["downloads_used"], 3);
    assert_eq!(library[0]["files"][0]["downloads_left"], 0);
    let res = token_for(&app, &user, "scarce", json!({})).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(problem(res).await["code"], "download_limit_reached");
}

async fn a_resumed_download_counts_once_and_an_admin_can_reset_counts(app: TestApp) {
    let admin = app.admin().await;
    let file = big_pdf(200_000);
    let p = create(
        &app,
        &admin,
        "Once Only",
        "0",
        &[("download_limit", "1")],
        file.clone(),
    )
    .await;
    let id = p["id"].as_str().unwrap();
    let user = app.customer("ada@example.com").await.access_token;
    let url = url_for(&app, &user, "once-only", json!({})).await;
    let client = app.bare_client();
    let first = client
        .get(&url)
        .header("Range", "bytes=0-99999")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::PARTIAL_CONTENT);
    let rest = client
        .get(&url)
        .header("Range", "bytes=100000-")
        .send()
        .await
        .unwrap();
    assert_eq!(
        rest.status(),
        StatusCode::PARTIAL_CONTENT,
        "resuming the same link is free"
    );
    let mut whole = first.bytes().await.unwrap().to_vec();
    whole.extend_from_slice(&rest.bytes().await.unwrap());
    assert_eq!(whole, file);
    let res = token_for(&app, &user, "once-only", json!({})).await;
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "a new link is a new download"
    );
    // The admin sees the count and resets it.
    let holders: Value = app
        .get(
            &format!("/api/v1/admin/products/{id}/entitlements"),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(holders[0]["email"], "ada@example.com");
    assert_eq!(holders[0]["downloads"][0]["used"], 1);
    let entitlement = holders[0]["id"].as_str().unwrap();
    let res = app
        .bare_client()
        .post(app.url(&format!(
            "/api/v1/admin/entitlements/{entitlement}/reset-downloads"
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let url = url_for(&app, &user, "once-only", json!({})).await;
    assert_eq!(
        client.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    // Customers cannot reset.
    let res = app
        .bare_client()
        .post(app.url(&format!(
            "/api/v1/admin/entitlements/{entitlement}/reset-downloads"
        )))
        .bearer_auth(&user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn the_access_window_runs_on_the_servers_clock(app: TestApp) {
    let admin = app.admin().await;
    let p = create(
        &app,
        &admin,
        "Thirty Days",
        "4.00",
        &[("access_days", "30")],
        pdf("w"),
    )
    .await;
    assert_eq!(p["access_days"], 30);
    let user = app.customer("ada@example.com").await.access_token;
    app.grant(&app.user_id(&user).await, p["id"].as_str().unwrap())
        .await;
    let url = url_for(&app, &user, "thirty-days", json!({})).await;
    let library: Value = app
        .get("/api/v1/library", Some(&user))
        .await
        .json()
        .await
        .unwrap();
    let ends =
        chrono::DateTime::parse_from_rfc3339(library[0]["access_expires_at"].as_str().unwrap())
            .unwrap();
    let days = (ends.timestamp() - chrono::Utc::now().timestamp()) / 86_400;
    assert!((29..=30).contains(&days), "{days}");
    app.state.clock.advance(chrono::TimeDelta::days(29));
    assert_eq!(
        app.bare_client().get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );
    app.state.clock.advance(chrono::TimeDelta::days(2));
    let res = app.bare_client().get(&url).send().await.unwrap();
    assert_eq!(
        res.status(),
        StatusCode::FORBIDDEN,
        "the link itself is refused too"
    );
    let body = problem(res).await;
    assert_eq!(body["code"], "access_expired");
    assert!(
        body["detail"].as_str().unwrap().contains("30 days"),
        "{}",
        body["detail"]
    );
    let res = token_for(&app, &user, "thirty-days", json!({})).await;
    assert_eq!(problem(res).await["code"], "access_expired");
    // Admins are never locked out.
    let res = token_for(&app, &admin, "thirty-days", json!({})).await;
    assert_eq!(res.status(), StatusCode::OK);
}

async fn download_all_is_a_zip_whose_entries_match_each_file(app: TestApp) {
    let admin = app.admin().await;
    let p = create(&app, &admin, "Everything", "0", &[], pdf("all")).await;
    let id = p["id"].as_str().unwrap();
    add_file(&app, &admin, id, "book.epub", epub()).await;
    add_file(&app, &admin, id, "book.pdf", big_pdf(300_000)).await; // a name taken: made unique
    let user = app.customer("ada@example.com").await.access_token;
    let url = url_for(&app, &user, "everything", json!({"all": true})).await;
    let res = app.bare_client().get(url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "application/zip");
    let length: usize = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let bytes = res.bytes().await.unwrap();
    assert_eq!(bytes.len(), length, "the length was known up front");
    let path = std::env::temp_dir().join(format!("folio-all-{}.zip", uuid::Uuid::new_v4()));
    std::fs::write(&path, &bytes).unwrap();
    let out = std::process::Command::new("python3")
        .arg("-c")
        .arg(
            "import hashlib, sys, zipfile\n\
             z = zipfile.ZipFile(sys.argv[1])\n\
             assert z.testzip() is None\n\
             for i in z.infolist(): print(i.filename, hashlib.sha256(z.read(i)).hexdigest())",
        )
        .arg(&path)
        .output()
        .expect("python3 runs");
    std::fs::remove_file(&path).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed = String::from_utf8(out.stdout).unwrap();
    let expected = format!(
        "book.pdf {}\nbook.epub {}\nbook (2).pdf {}\n",
        sha256_hex(&pdf("all")),
        sha256_hex(&epub()),
        sha256_hex(&big_pdf(300_000))
    );
    assert_eq!(listed, expected);
}

fn tool(name: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.exists())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "`{name}` is missing: .ci/run installs it (qpdf, poppler-utils)"
        );
        eprintln!("SKIPPING the stamping checks: `{name}` is not installed (apt install qpdf poppler-utils)");
    }
    found
}

async fn stamped_pdfs_carry_the_buyer_and_stay_valid_pdfs(app: TestApp) {
    let (Some(qpdf), Some(pdftotext)) = (tool("qpdf"), tool("pdftotext")) else {
        return;
    };
    let admin = app.admin().await;
    let original = book("Stamped Book", 5);
    let p = create(
        &app,
        &admin,
        "Stamped Book",
        "0",
        &[("stamp_pdfs", "true")],
        original.clone(),
    )
    .await;
    assert_eq!(p["stamp_pdfs"], true);
    let id = p["id"].as_str().unwrap();
    // An encrypted PDF is refused for stamping at upload, and served as it is.
    let dir = tempfile_dir();
    std::fs::write(dir.join("plain.pdf"), &original).unwrap();
    let status = std::process::Command::new(&qpdf)
        .args(["--encrypt", "user", "owner", "256", "--"])
        .arg(dir.join("plain.pdf"))
        .arg(dir.join("locked.pdf"))
        .status()
        .unwrap();
    assert!(status.success());
    let locked = std::fs::read(dir.join("locked.pdf")).unwrap();
    let locked_file = add_file(&app, &admin, id, "locked.pdf", locked.clone()).await;
    let history: Value = app
        .get(
            &format!(
                "/api/v1/admin/products/{id}/files/{}/versions",
                locked_file["id"].as_str().unwrap()
            ),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(history["versions"][0]["stamp_error"]
        .as_str()
        .unwrap()
        .contains("encrypted"));

    let email = "zoë@exämple.de";
    let user = app.customer(email).await.access_token;
    let url = url_for(
        &app,
        &user,
        "stamped-book",
        json!({"file_id": p["files"][0]["id"]}),
    )
    .await;
    let res = app.bare_client().get(&url).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let length: usize = res.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let stamped = res.bytes().await.unwrap().to_vec();
    assert_eq!(stamped.len(), length);
    assert!(stamped.len() > original.len());
    assert_eq!(
        &stamped[..original.len()],
        &original[..],
        "the original bytes, unchanged"
    );
    assert_ne!(etag, format!("\"{}\"", sha256_hex(&original)));
    std::fs::write(dir.join("stamped.pdf"), &stamped).unwrap();
    let check = std::process::Command::new(&qpdf)
        .arg("--check")
        .arg(dir.join("stamped.pdf"))
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
    let text = |first: &str| {
        let out = std::process::Command::new(&pdftotext)
            .args(["-f", first, "-l", first])
            .arg(dir.join("stamped.pdf"))
            .arg("-")
            .output()
            .unwrap();
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let library: Value = app
        .get("/api/v1/library", Some(&user))
        .await
        .json()
        .await
        .unwrap();
    assert!(library
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["slug"] == "stamped-book"));
    let expected = format!("Licensed to {email} · order free-");
    let (first, last) = (text("1"), text(&folio_page_count(&stamped).to_string()));
    assert!(first.contains(&expected), "{first}");
    assert!(last.contains(&expected), "{last}");
    // Range over the stamped bytes resumes into the tail.
    let res = app
        .bare_client()
        .get(&url)
        .header("Range", format!("bytes={}-", original.len() - 10))
        .header("If-Range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        res.bytes().await.unwrap().to_vec(),
        stamped[original.len() - 10..].to_vec()
    );
    // The encrypted file is sent as it is, and the record says why.
    let url = url_for(
        &app,
        &user,
        "stamped-book",
        json!({"file_id": locked_file["id"]}),
    )
    .await;
    let res = app.bare_client().get(&url).send().await.unwrap();
    assert_eq!(res.bytes().await.unwrap().to_vec(), locked);
    let reasons: Vec<Option<String>> = app
        .state
        .db
        .run(|conn| {
            use diesel::{QueryDsl, RunQueryDsl};
            use folio_api::schema::download_events;
            Ok(download_events::table
                .select(download_events::unstamped_reason)
                .load(conn)?)
        })
        .await
        .unwrap();
    assert!(
        reasons.iter().flatten().any(|r| r.contains("encrypted")),
        "{reasons:?}"
    );
    std::fs::remove_dir_all(dir).unwrap();
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("folio-stamp-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Pages of a PDF, as `pdfinfo` counts them.
fn folio_page_count(pdf: &[u8]) -> usize {
    let path = std::env::temp_dir().join(format!("folio-count-{}.pdf", uuid::Uuid::new_v4()));
    std::fs::write(&path, pdf).unwrap();
    let out = std::process::Command::new("pdfinfo")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_file(&path).unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("Pages:").map(|n| n.trim().parse().unwrap()))
        .expect("pdfinfo prints Pages:")
}

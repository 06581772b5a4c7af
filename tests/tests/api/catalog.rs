//! Catalog, admin uploads and edits, on SQLite and PostgreSQL.

use folio_tests::*;
use reqwest::multipart::{Form, Part};
use serde_json::{json, Value};

backend_tests!(
    an_admin_upload_appears_in_the_catalog_with_exact_money,
    the_catalog_pages_newest_first_without_gaps_or_repeats,
    search_matches_title_and_description_case_insensitively,
    unknown_slugs_and_ids_are_404_problems,
    bad_product_input_is_refused_and_leaves_nothing_behind,
    files_are_typed_by_content_and_a_non_image_preview_is_refused,
    a_duplicate_title_is_a_conflict_and_keeps_the_first_products_file,
    slugs_are_transliterated_and_unique,
    editing_changes_price_and_status_and_validates,
    archiving_hides_a_product_from_the_catalog_but_not_from_its_owner,
    replacing_a_preview_removes_the_old_object_when_unused,
    catalog_marks_owned_items_for_the_signed_in_user,
    malformed_multipart_bodies_are_refused_and_leave_nothing,
    admins_read_any_product_by_id_whatever_its_place_in_the_list,
);

backend_tests_with!(&[("FOLIO_MAX_FILE_BYTES", "4096"), ("FOLIO_MAX_PREVIEW_BYTES", "64")] =>
    uploads_over_the_limit_are_refused_with_413_and_leave_nothing,
    the_upload_limits_are_served_to_clients);

async fn the_upload_limits_are_served_to_clients(app: TestApp) {
    let res = app.get("/api/v1/config", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let config: Value = res.json().await.unwrap();
    assert_eq!(
        config,
        json!({"max_file_bytes": 4096, "max_preview_bytes": 64, "dev_mailbox": false,
               "max_pay_what_you_want_cents": 100_000,
               // A test key: Stripe's test-mode dashboard.
               "stripe_dashboard_url": "https://dashboard.stripe.com/test"})
    );
}

async fn admins_read_any_product_by_id_whatever_its_place_in_the_list(app: TestApp) {
    let admin = app.admin().await;
    // The edit page used to look its product up among the first 100 listed.
    let path = std::env::temp_dir().join(format!("folio-seed-{}.pdf", uuid::Uuid::new_v4()));
    std::fs::write(&path, pdf("seeded")).unwrap();
    let db = app.state.db.clone();
    let storage = app.state.storage.clone();
    let bytes = std::fs::read(&path).unwrap();
    let stored = storage
        .put_stream(
            futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]),
            u64::MAX,
            folio_api::storage::Purpose::File,
            None,
        )
        .await
        .unwrap();
    db.write(move |conn| Ok(folio_api::catalog::seed(conn, 120, &stored, 500)?))
        .await
        .unwrap();
    let draft = app
        .create_product(
            &admin,
            product_form("Hidden Draft", "3.00", pdf("d"), None).text("status", "draft"),
        )
        .await;
    assert_eq!(draft.status(), StatusCode::CREATED);
    let draft: Value = draft.json().await.unwrap();
    let page: Value = app
        .get("/api/v1/admin/products?limit=100", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let oldest = page["items"][99]["id"].as_str().unwrap().to_owned();
    for id in [draft["id"].as_str().unwrap(), oldest.as_str()] {
        let res = app
            .get(&format!("/api/v1/admin/products/{id}"), Some(&admin))
            .await;
        assert_eq!(res.status(), StatusCode::OK);
        let p: Value = res.json().await.unwrap();
        assert_eq!(p["id"], id);
        assert_eq!(p["sales"], 0);
    }
    let got: Value = app
        .get(
            &format!("/api/v1/admin/products/{}", draft["id"].as_str().unwrap()),
            Some(&admin),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(got["status"], "draft");
    for missing in ["0190a0a0-0000-7000-8000-000000000000", "not-a-uuid"] {
        let res = app
            .get(&format!("/api/v1/admin/products/{missing}"), Some(&admin))
            .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        assert_eq!(problem(res).await["code"], "not_found");
    }
    let _ = std::fs::remove_file(path);
}

async fn an_admin_upload_appears_in_the_catalog_with_exact_money(app: TestApp) {
    let admin = app.admin().await;
    let product = app
        .product(&admin, "Rust for Shopkeepers", "19.99", pdf("a"))
        .await;
    assert_eq!(product["slug"], "rust-for-shopkeepers");
    assert_eq!(
        product["price"],
        json!({"amount_cents": 1999, "currency": "usd", "display": "$19.99"})
    );
    assert_eq!(product["is_free"], false);
    assert_eq!(product["status"], "published");
    assert_eq!(product["files"][0]["content_type"], "application/pdf");
    assert_eq!(product["files"][0]["size"], pdf("a").len());
    assert_eq!(product["files"][0]["version"], 1);
    assert_eq!(product["files"][0]["sha256"], sha256_hex(&pdf("a")));
    let preview = product["preview_url"].as_str().unwrap();
    assert!(
        preview.starts_with(&app.address) && preview.contains("/media/previews/"),
        "{preview}"
    );
    let page: Value = app
        .get("/api/v1/products", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["id"], product["id"]);
    assert_eq!(page["items"][0]["owned"], false);
    assert!(page["next_cursor"].is_null());
    let one: Value = app
        .get("/api/v1/products/rust-for-shopkeepers", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["title"], "Rust for Shopkeepers");
    let res = app.get(&preview.replace(&app.address, ""), None).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert_eq!(res.bytes().await.unwrap().as_ref(), png().as_slice());
}

async fn the_catalog_pages_newest_first_without_gaps_or_repeats(app: TestApp) {
    let admin = app.admin().await;
    let mut created = Vec::new();
    for i in 0..7 {
        let p = app
            .product(&admin, &format!("Volume {i}"), "0", pdf(&i.to_string()))
            .await;
        created.push(p["slug"].as_str().unwrap().to_owned());
    }
    created.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/products?limit=3&cursor={c}"),
            None => "/api/v1/products?limit=3".to_owned(),
        };
        let page: Value = app.get(&path, None).await.json().await.unwrap();
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 3);
        seen.extend(items.iter().map(|p| p["slug"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, created);
    for bad in ["limit=0", "limit=101", "limit=abc"] {
        let res = app.get(&format!("/api/v1/products?{bad}"), None).await;
        assert!(res.status().is_client_error(), "{bad}");
        problem(res).await;
    }
    let res = app.get("/api/v1/products?cursor=bm9wZQ", None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(res).await["code"], "invalid_cursor");
}

async fn search_matches_title_and_description_case_insensitively(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Gardening Basics", "0", pdf("g")).await;
    app.product(&admin, "Cooking 100%", "0", pdf("c")).await;
    let find = |q: &'static str| {
        let app = &app;
        async move {
            let page: Value = app
                .get(&format!("/api/v1/products?q={q}"), None)
                .await
                .json()
                .await
                .unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["slug"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(find("GARDEN").await, ["gardening-basics"]);
    assert_eq!(
        find("all%20about%20cooking").await,
        ["cooking-100"],
        "description matches"
    );
    assert_eq!(find("100%25").await, ["cooking-100"], "% is literal");
    assert!(
        find("%25%25").await.is_empty(),
        "a bare wildcard matches nothing"
    );
    assert!(find("nothing-like-this").await.is_empty());
}

async fn unknown_slugs_and_ids_are_404_problems(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer("ada@example.com").await.access_token;
    for path in [
        "/api/v1/products/no-such-thing",
        "/api/v1/products/..%2F..%2Fetc",
        "/api/v1/nothing-here",
    ] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert_eq!(problem(res).await["code"], "not_found");
    }
    let res = app.download_token(&customer, "no-such-thing").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    problem(res).await;
    for id in ["not-a-uuid", "0190a0a0-0000-7000-8000-000000000000"] {
        let res = app
            .bare_client()
            .patch(app.url(&format!("/api/v1/admin/products/{id}")))
            .bearer_auth(&admin)
            .json(&json!({"title": "New title"}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id}");
        problem(res).await;
        let res = app
            .bare_client()
            .delete(app.url(&format!("/api/v1/admin/products/{id}")))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{id}");
    }
}

async fn expect_refused(app: &TestApp, admin: &str, form: Form, status: StatusCode, field: &str) {
    let res = app.create_product(admin, form).await;
    assert_eq!(res.status(), status);
    let body = problem(res).await;
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["field"] == field),
        "expected an error on {field}: {body}"
    );
    assert_eq!(app.count("products").await, 0, "no row left behind");
    assert!(
        app.objects().await.is_empty(),
        "no object left behind: {:?}",
        app.objects().await
    );
}

async fn bad_product_input_is_refused_and_leaves_nothing_behind(app: TestApp) {
    let admin = app.admin().await;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    for (title, price, field) in [
        ("ab", "5", "title"),
        (&"x".repeat(201) as &str, "5", "title"),
        ("!!!", "5", "title"),
        ("Fine title", "0.49", "price"),
        ("Fine title", "19.999", "price"),
        ("Fine title", "-1", "price"),
        ("Fine title", "1e3", "price"),
        ("Fine title", "1000000", "price"),
    ] {
        expect_refused(
            &app,
            &admin,
            product_form(title, price, pdf("x"), Some(png())),
            unprocessable,
            field,
        )
        .await;
    }
    let no_file = Form::new().text("title", "Fine title").text("price", "5");
    expect_refused(&app, &admin, no_file, unprocessable, "file").await;
    let no_price = Form::new()
        .text("title", "Fine title")
        .part("file", Part::bytes(pdf("x")).file_name("a.pdf"));
    expect_refused(&app, &admin, no_price, unprocessable, "price").await;
    let bad_currency = product_form("Fine title", "5", pdf("x"), None).text("currency", "xyz");
    expect_refused(&app, &admin, bad_currency, unprocessable, "currency").await;
    let long_description =
        product_form("Fine title", "5", pdf("x"), None).text("description", "y".repeat(20_001));
    // The form's own description field comes first; a second one is a duplicate.
    let res = app.create_product(&admin, long_description).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(res).await["code"], "duplicate_field");
    assert!(app.objects().await.is_empty());
    let too_long = Form::new()
        .text("title", "Fine title")
        .text("price", "5")
        .text("description", "y".repeat(20_001))
        .part("file", Part::bytes(pdf("x")).file_name("a.pdf"));
    expect_refused(&app, &admin, too_long, unprocessable, "description").await;
}

async fn files_are_typed_by_content_and_a_non_image_preview_is_refused(app: TestApp) {
    let admin = app.admin().await;
    let media = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    // A PNG named .pdf is stored and offered as the PNG it is.
    let png_as_pdf = Form::new()
        .text("title", "Fine title")
        .text("price", "5")
        .part(
            "file",
            Part::bytes(png())
                .file_name("book.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    let res = app.create_product(&admin, png_as_pdf).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["files"][0]["content_type"], "image/png");
    assert_eq!(p["files"][0]["name"], "book.pdf.png");
    app.state
        .storage
        .delete(&format!("files/{}", sha256_hex(&png())))
        .await
        .unwrap();
    let html_preview = product_form("Fine title", "5", pdf("x"), None).part(
        "preview",
        Part::bytes(b"<html><script>x</script></html>".to_vec()).file_name("a.png"),
    );
    let res = app.create_product(&admin, html_preview).await;
    assert_eq!(res.status(), media);
    assert_eq!(problem(res).await["code"], "unsupported_file_type");
    assert!(
        app.objects().await.is_empty(),
        "the PDF stored before the bad preview is removed (and the PNG was removed above)"
    );
    // A PDF named .png is accepted as the PDF it is, and offered under a .pdf name.
    let pdf_as_png = Form::new()
        .text("title", "Named oddly")
        .text("price", "0")
        .part(
            "file",
            Part::bytes(pdf("odd"))
                .file_name("cover.png")
                .mime_str("image/png")
                .unwrap(),
        );
    let res = app.create_product(&admin, pdf_as_png).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let p: Value = res.json().await.unwrap();
    assert_eq!(p["files"][0]["name"], "cover.png.pdf");
    assert_eq!(p["files"][0]["content_type"], "application/pdf");
}

async fn uploads_over_the_limit_are_refused_with_413_and_leave_nothing(app: TestApp) {
    let admin = app.admin().await;
    let big = big_pdf(64 * 1024);
    let res = app
        .create_product(&admin, product_form("Too big", "5", big, None))
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(res).await["errors"][0]["field"], "file");
    let res = app
        .create_product(
            &admin,
            product_form(
                "Big preview",
                "5",
                pdf("x"),
                Some([png(), vec![0; 100]].concat()),
            ),
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(res).await["errors"][0]["field"], "preview");
    assert_eq!(app.count("products").await, 0);
    assert!(app.objects().await.is_empty(), "{:?}", app.objects().await);
    let res = app
        .create_product(&admin, product_form("Just right", "5", big_pdf(4096), None))
        .await;
    assert_eq!(res.status(), StatusCode::CREATED);
}

async fn a_duplicate_title_is_a_conflict_and_keeps_the_first_products_file(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer("ada@example.com").await.access_token;
    app.product(&admin, "Same Title", "0", pdf("first")).await;
    let before = app.objects().await;
    // Same title (so same slug) and the very same file bytes.
    let res = app
        .create_product(
            &admin,
            product_form("same title!", "0", pdf("first"), Some(png())),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "slug_taken");
    assert_eq!(app.objects().await, before, "shared objects stay");
    let link: Value = app
        .download_token(&customer, "same-title")
        .await
        .json()
        .await
        .unwrap();
    let bytes = app
        .get(
            &link["url"].as_str().unwrap().replace(&app.address, ""),
            None,
        )
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(bytes.as_ref(), pdf("first").as_slice());
    // A different title with a different file is stored and leaves two files.
    app.product(&admin, "Other Title", "0", pdf("second")).await;
    assert_eq!(
        app.objects()
            .await
            .iter()
            .filter(|k| k.starts_with("files/"))
            .count(),
        2
    );
}

async fn slugs_are_transliterated_and_unique(app: TestApp) {
    let admin = app.admin().await;
    let p = app
        .product(&admin, "Café Ünïcode / Guide", "0", pdf("u"))
        .await;
    assert_eq!(p["slug"], "cafe-unicode-guide");
    let p = app.product(&admin, "../../etc/passwd", "0", pdf("p")).await;
    assert_eq!(p["slug"], "etc-passwd");
}

async fn editing_changes_price_and_status_and_validates(app: TestApp) {
    let admin = app.admin().await;
    let p = app.product(&admin, "Editable", "5", pdf("e")).await;
    let id = p["id"].as_str().unwrap();
    let patch = |body: Value| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.bare_client()
                .patch(app.url(&format!("/api/v1/admin/products/{id}")))
                .bearer_auth(admin)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let res = patch(json!({"price": "12.30", "currency": "eur", "title": "Edited"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    let edited: Value = res.json().await.unwrap();
    assert_eq!(edited["price"]["amount_cents"], 1230);
    assert_eq!(edited["price"]["display"], "€12.30");
    assert_eq!(edited["title"], "Edited");
    assert_eq!(edited["slug"], "editable", "slugs are stable");
    let res = patch(json!({"price": "0.10"})).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "price");
    let res = patch(json!({"status": "deleted"})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = patch(json!({"unknown": 1})).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let res = patch(json!({"status": "draft"})).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/products/editable", None).await.status(),
        StatusCode::NOT_FOUND
    );
    let page: Value = app
        .get("/api/v1/products", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(page["items"].as_array().unwrap().is_empty());
    let all: Value = app
        .get("/api/v1/admin/products", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(all["items"][0]["status"], "draft");
}

async fn archiving_hides_a_product_from_the_catalog_but_not_from_its_owner(app: TestApp) {
    let admin = app.admin().await;
    let owner = app.customer("owner@example.com").await.access_token;
    let other = app.customer("other@example.com").await.access_token;
    let p = app.product(&admin, "Retiring", "9.99", pdf("r")).await;
    let id = p["id"].as_str().unwrap();
    app.grant(&app.user_id(&owner).await, id).await;
    let res = app
        .bare_client()
        .delete(app.url(&format!("/api/v1/admin/products/{id}")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let page: Value = app
        .get("/api/v1/products", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(page["items"].as_array().unwrap().is_empty());
    assert_eq!(
        app.get("/api/v1/products/retiring", None).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get("/api/v1/products/retiring", Some(&other))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let mine: Value = app
        .get("/api/v1/library", Some(&owner))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(mine[0]["status"], "archived");
    assert_eq!(mine[0]["owned"], true);
    let res = app.download_token(&owner, "retiring").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        app.download_token(&other, "retiring").await.status(),
        StatusCode::NOT_FOUND
    );
}

async fn replacing_a_preview_removes_the_old_object_when_unused(app: TestApp) {
    let admin = app.admin().await;
    let p = app.product(&admin, "Versioned", "0", pdf("v1")).await;
    let id = p["id"].as_str().unwrap();
    let put = |what: &'static str, bytes: Vec<u8>| {
        let app = &app;
        let admin = admin.clone();
        async move {
            app.bare_client()
                .put(app.url(&format!("/api/v1/admin/products/{id}/{what}")))
                .bearer_auth(admin)
                .multipart(Form::new().part(what, Part::bytes(bytes).file_name("new-edition.pdf")))
                .send()
                .await
                .unwrap()
        }
    };
    // Files are no longer replaced (they get versions): the old route is gone.
    let res = put("file", pdf("v2")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let res = put("preview", pdf("not an image")).await;
    assert_eq!(res.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let res = put("preview", svg_with_script()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let updated: Value = res.json().await.unwrap();
    assert!(updated["preview_url"].as_str().unwrap().ends_with(".svg"));
    let previews: Vec<String> = app
        .objects()
        .await
        .into_iter()
        .filter(|k| k.starts_with("previews/"))
        .collect();
    assert_eq!(
        previews.len(),
        1,
        "the old PNG preview is gone: {previews:?}"
    );
    assert!(app.objects().await.iter().all(|k| !k.starts_with("tmp/")));
}

async fn catalog_marks_owned_items_for_the_signed_in_user(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    let bob = app.customer("bob@example.com").await.access_token;
    let paid = app.product(&admin, "Paid Thing", "5", pdf("p")).await;
    app.product(&admin, "Other Thing", "5", pdf("o")).await;
    app.grant(&app.user_id(&ada).await, paid["id"].as_str().unwrap())
        .await;
    let owned = |token: Option<String>| {
        let app = &app;
        async move {
            let page: Value = app
                .get("/api/v1/products", token.as_deref())
                .await
                .json()
                .await
                .unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["owned"] == true)
                .map(|p| p["slug"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(owned(Some(ada.clone())).await, ["paid-thing"]);
    assert!(owned(Some(bob.clone())).await.is_empty());
    assert!(owned(None).await.is_empty());
    let one: Value = app
        .get("/api/v1/products/paid-thing", Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["owned"], true);
}

async fn malformed_multipart_bodies_are_refused_and_leave_nothing(app: TestApp) {
    let admin = app.admin().await;
    let boundary = "XyZ";
    // A body cut off in the middle of the file part, as when a client disconnects.
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nCut Short\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"price\"\r\n\r\n0\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&big_pdf(20_000));
    let res = app
        .bare_client()
        .post(app.url("/api/v1/admin/products"))
        .bearer_auth(&admin)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(res).await["code"], "invalid_multipart");
    let res = app
        .bare_client()
        .post(app.url("/api/v1/admin/products"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    problem(res).await;
    assert_eq!(app.count("products").await, 0);
    // The storage backend removes abandoned part files in the background.
    for _ in 0..50 {
        if app.objects().await.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(app.objects().await.is_empty(), "{:?}", app.objects().await);
}

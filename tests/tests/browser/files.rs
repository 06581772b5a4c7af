//! A product's files in the browser: the admin creates a product with a PDF, adds an EPUB and
//! a ZIP on the edit page, renames and reorders them and sets a download limit; a buyer sees
//! each file in the library, downloads each, runs out on one (the button says why) and is told
//! by the server on another (used up elsewhere); a new version that tells buyers shows the
//! notices it queued, and the mailed unsubscribe link's page acts only on its button.

use std::time::Duration;

use reqwest::multipart::{Form, Part};

use super::*;

/// The first bytes of an EPUB: a ZIP whose first entry is `mimetype`, stored.
fn epub() -> Vec<u8> {
    let mut bytes = b"PK\x03\x04".to_vec();
    bytes.extend_from_slice(&[0; 26]);
    bytes.extend_from_slice(b"mimetypeapplication/epub+zip");
    bytes.extend_from_slice(&[7; 512]);
    bytes
}

/// An empty ZIP archive.
fn zip() -> Vec<u8> {
    let mut bytes = b"PK\x05\x06".to_vec();
    bytes.extend_from_slice(&[0; 18]);
    bytes
}

/// The library as the API gives it to `token`.
async fn library(app: &TestApp, token: &str) -> Vec<serde_json::Value> {
    app.get("/api/v1/library", Some(token))
        .await
        .json()
        .await
        .unwrap()
}

/// Waits until the buyer has used `n` downloads of `file` (the browser followed the link).
async fn wait_used(app: &TestApp, token: &str, file: &str, n: i64) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let used = library(app, token).await[0]["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["id"] == file)
            .and_then(|f| f["downloads_used"].as_i64());
        if used == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "downloads of {file}: {used:?}, not {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A download of one file outside the browser (another device of the buyer's).
async fn download_elsewhere(app: &TestApp, token: &str, slug: &str, file: &str) {
    let res = app
        .post_json(
            &format!("/api/v1/products/{slug}/download-token"),
            Some(token),
            &serde_json::json!({ "file_id": file }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let link: serde_json::Value = res.json().await.unwrap();
    remember_secret(link["token"].as_str().unwrap());
    let got = app
        .bare_client()
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    got.bytes().await.unwrap();
}

/// Saves `<name>-360.png` and `<name>-1440.png` with the element at `css` at the top of the
/// window; fails if the page scrolls sideways at either width.
async fn shots_of(b: &Browser, css: &str, name: &str) {
    for (width, height) in [(360, 800), (1440, 900)] {
        b.resize(width, height).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.js(&format!(
            "document.querySelector({}).scrollIntoView()",
            serde_json::Value::from(css)
        ))
        .await;
        let overflow = b
            .js("return document.documentElement.scrollWidth - innerWidth")
            .await
            .as_i64()
            .unwrap();
        assert!(
            overflow <= 0,
            "{name} at {width} px scrolls sideways by {overflow} px"
        );
        b.shot(&format!("{name}-{width}")).await;
    }
    b.resize(1280, 900).await;
}

/// The files' names in the admin's list, in order.
async fn admin_names(b: &Browser) -> Vec<String> {
    let names = b
        .js("return [...document.querySelectorAll('.admin-file .file-name')].map(n => n.textContent)")
        .await;
    serde_json::from_value(names).unwrap()
}

#[actix_web::test]
async fn an_admin_adds_files_and_a_limit_and_a_buyer_downloads_each_until_it_runs_out() {
    let Some(app) = app_with_ui_and(&[("FOLIO_JOB_POLL_MS", "100")]).await else {
        return;
    };
    let admin = app.admin().await;
    let reader = app.customer("reader@example.com").await;
    let Some(b) = browser("files-admin").await else {
        return;
    };
    let dir = &b.downloads;
    let (guide, book, extras, guide2, cover) = (
        dir.join("field-guide.pdf"),
        dir.join("field-guide.epub"),
        dir.join("maps.zip"),
        dir.join("field-guide-2.pdf"),
        dir.join("cover.png"),
    );
    std::fs::write(&cover, png()).unwrap();
    std::fs::write(&guide, pdf("field guide")).unwrap();
    std::fs::write(&book, epub()).unwrap();
    std::fs::write(&extras, zip()).unwrap();
    std::fs::write(&guide2, pdf("field guide, second edition")).unwrap();

    // Created with its first file (a PDF) and an access window.
    b.goto(&app.url("/signin?next=%2Fadmin%2Fproducts%2Fnew"))
        .await;
    b.sign_in(ADMIN_EMAIL).await;
    b.wait_heading("New product").await;
    b.fill("#title", "Field Guide Bundle").await;
    b.fill("#description", "A guide, the book and the maps.")
        .await;
    b.fill("#price", "5").await;
    b.fill("#access_days", "0").await;
    let file = b.wait("#file").await;
    b.step("choose the PDF", file.send_keys(guide.to_str().unwrap()))
        .await;
    b.click("#submit").await;
    assert!(
        b.text("#access_days-error").await.contains("1 to 36,500"),
        "the shared parser's message"
    );
    b.fill("#access_days", "30").await;
    b.click("#submit").await;
    b.wait("#saved").await;
    let product: serde_json::Value = app
        .get("/api/v1/admin/products?limit=10", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let product = product["items"][0].clone();
    let (id, slug) = (
        product["id"].as_str().unwrap().to_owned(),
        product["slug"].as_str().unwrap().to_owned(),
    );
    assert_eq!(product["access_days"], 30);
    assert_eq!(product["files"].as_array().unwrap().len(), 1);

    // The edit page: two more files at once, each with its progress.
    b.click("#edit-saved").await;
    b.wait_heading("Edit product").await;
    let edit = format!("/admin/products/{id}/edit");
    b.wait_here(&app, &edit).await;
    b.wait_count(".admin-file", 1).await;
    let picker = b.wait("#add-files").await;
    b.step(
        "choose two files",
        picker.send_keys(&format!("{}\n{}", book.display(), extras.display())),
    )
    .await;
    b.click("#upload-files").await;
    b.wait_count(".admin-file", 3).await;
    b.wait_count(".upload-done", 2).await;
    let percents = b
        .js("return [...document.querySelectorAll('.upload-percent')].map(p => p.textContent)")
        .await;
    assert_eq!(percents, serde_json::json!(["100%", "100%"]));
    let metas = b
        .js("return [...document.querySelectorAll('.admin-file .file-meta')].map(p => p.textContent)")
        .await;
    let metas: Vec<String> = serde_json::from_value(metas).unwrap();
    assert!(metas[0].starts_with("PDF · "), "{metas:?}");
    assert!(metas[1].starts_with("EPUB · "), "{metas:?}");
    assert!(metas[2].starts_with("ZIP · "), "{metas:?}");
    assert!(metas.iter().all(|m| m.ends_with("version 1")), "{metas:?}");

    // One too many: removed again, after saying whether buyers keep it.
    let picker = b.wait("#add-files").await;
    b.step(
        "choose a picture",
        picker.send_keys(cover.to_str().unwrap()),
    )
    .await;
    b.click("#upload-files").await;
    b.wait_count(".admin-file", 4).await;
    let last = ".admin-file:last-child";
    assert!(b
        .text(&format!("{last} .file-meta"))
        .await
        .starts_with("PNG · "));
    b.click(&format!("{last} .remove")).await;
    let question = b.text(&format!("{last} .confirm-remove")).await;
    assert!(question.contains("Remove “cover.png”"), "{question}");
    assert!(
        question.contains("Buyers who own it keep this file"),
        "{question}"
    );
    b.click(&format!("{last} .keep-for-owners")).await;
    b.click(&format!("{last} .confirm")).await;
    b.wait_count(".admin-file", 3).await;

    // Renamed in place, moved up, and a limit of 3.
    let files: Vec<serde_json::Value> = app
        .get(&format!("/api/v1/admin/products/{id}"), Some(&admin))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()["files"]
        .as_array()
        .unwrap()
        .clone();
    let file_id = |i: usize| files[i]["id"].as_str().unwrap().to_owned();
    let (pdf_id, epub_id, zip_id) = (file_id(0), file_id(1), file_id(2));
    let row = |id: &str| format!(".admin-file[data-file=\"{id}\"]");
    b.click(&format!("{} .rename", row(&zip_id))).await;
    b.fill(
        &format!("{} .rename-input", row(&zip_id)),
        "Maps and charts",
    )
    .await;
    b.click(&format!("{} .save-name", row(&zip_id))).await;
    b.wait_count(".rename-input", 0).await;
    assert_eq!(
        b.text(&format!("{} .file-name", row(&zip_id))).await,
        "Maps and charts.zip",
        "the server adds the extension"
    );
    b.click(&format!("{} .move-up", row(&zip_id))).await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    while admin_names(&b).await[1] != "Maps and charts.zip" {
        assert!(Instant::now() < deadline, "{:?}", admin_names(&b).await);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.fill("#download_limit", "3").await;
    b.click("#submit").await;
    b.wait("#saved").await;
    let saved: serde_json::Value = app
        .get(&format!("/api/v1/admin/products/{id}"), Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(saved["download_limit"], 3);
    let order: Vec<&str> = saved["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        ["field-guide.pdf", "Maps and charts.zip", "field-guide.epub"]
    );
    // Reload, Back and Forward: the same page, the same files, the saved limit.
    b.reload().await;
    b.wait_heading("Edit product").await;
    b.wait_here(&app, &edit).await;
    b.wait_count(".admin-file", 3).await;
    assert_eq!(
        admin_names(&b).await,
        ["field-guide.pdf", "Maps and charts.zip", "field-guide.epub"]
    );
    assert_eq!(b.value("#download_limit").await, "3");
    assert_eq!(b.value("#access_days").await, "30");
    b.back().await;
    b.wait_heading("New product").await;
    b.wait_here(&app, "/admin/products/new").await;
    b.forward().await;
    b.wait_heading("Edit product").await;
    b.wait_here(&app, &edit).await;
    b.wait_count(".admin-file", 3).await;

    // The buyer (granted here: payments are tested elsewhere) in a browser of their own.
    let reader_id = app.user_id(&reader.access_token).await;
    app.grant(&reader_id, &id).await;
    b.wait("#buyers-panel").await;
    b.click("#refresh-buyers").await;
    b.wait_count(".buyer", 1).await;
    shots_of(&b, "#files-panel", "flow-admin-files-edit").await;
    shots_of(&b, "#buyers-panel", "flow-admin-files-buyers").await;
    shots_of(&b, "h1", "flow-admin-files-form").await;
    let console = b.console().await;
    assert!(console.is_empty(), "console of the edit page: {console:?}");

    let Some(r) = browser("files-library").await else {
        return;
    };
    r.goto(&app.url("/signin?next=%2Flibrary")).await;
    r.sign_in("reader@example.com").await;
    r.wait_heading("Your library").await;
    r.wait_here(&app, "/library").await;
    r.wait_count(".library-file", 3).await;
    let file_row = |id: &str| format!(".library-file[data-file=\"{id}\"]");
    for id in [&pdf_id, &epub_id, &zip_id] {
        assert_eq!(
            r.text(&format!("{} .downloads-left", file_row(id))).await,
            "3 downloads left"
        );
    }
    assert!(r.text(".access").await.starts_with("Access until "));
    r.wait(".download-all .download-button").await;
    assert_eq!(
        r.text(&format!("{} .file-meta", file_row(&epub_id))).await,
        "EPUB · 570 bytes"
    );
    r.shots_at_both_widths("flow-library-files").await;

    // The product's page (the shop, a page load) lists the files and the terms; Back returns.
    r.click(&format!(".library-item[data-slug=\"{slug}\"] h2 a"))
        .await;
    r.wait_heading("Field Guide Bundle").await;
    r.wait_here(&app, &format!("/products/{slug}")).await;
    let listed = r.text("#product-files").await;
    assert_eq!(
        listed.lines().collect::<Vec<_>>(),
        [
            "field-guide.pdf · PDF · 156 bytes",
            "Maps and charts.zip · ZIP · 22 bytes",
            "field-guide.epub · EPUB · 570 bytes"
        ],
        "one line per file, in the seller's order"
    );
    assert_eq!(
        r.text("#delivery").await,
        "3 downloads per file · access for 30 days"
    );
    assert_eq!(r.text("#download").await, "Download all (ZIP)");
    r.shots_at_both_widths("flow-product-files").await;
    r.back().await;
    r.wait_heading("Your library").await;
    r.wait_here(&app, "/library").await;
    r.wait_count(".library-file", 3).await;

    // Each file once: its link is issued and followed (the server counts it).
    for id in [&pdf_id, &epub_id, &zip_id] {
        r.click(&format!("{} .download-button", file_row(id))).await;
        r.wait(&format!("{} .download-link", file_row(id))).await;
        wait_used(&app, &reader.access_token, id, 1).await;
        assert_eq!(
            r.text(&format!("{} .downloads-left", file_row(id))).await,
            "2 downloads left"
        );
    }
    // The PDF twice more: then its button says why it is off, and so does the ZIP's.
    for n in [2, 3] {
        r.click(&format!("{} .download-button", file_row(&pdf_id)))
            .await;
        wait_used(&app, &reader.access_token, &pdf_id, n).await;
    }
    let pdf_button = format!("{} .download-button", file_row(&pdf_id));
    r.wait(&format!("{pdf_button}[disabled]")).await;
    assert_eq!(
        r.text(&format!("{} .downloads-left", file_row(&pdf_id)))
            .await,
        "No downloads left"
    );
    assert_eq!(
        r.text(&format!("{} .download-error", file_row(&pdf_id)))
            .await,
        "You have used all 3 downloads of this file."
    );
    r.wait(".download-all .download-button[disabled]").await;
    assert!(r
        .text(".download-all .download-error")
        .await
        .contains("field-guide.pdf"));
    // The EPUB's last two downloads happen elsewhere: the page still offers one, and the
    // server's refusal is shown beside the button in its words.
    download_elsewhere(&app, &reader.access_token, &slug, &epub_id).await;
    download_elsewhere(&app, &reader.access_token, &slug, &epub_id).await;
    r.click(&format!("{} .download-button", file_row(&epub_id)))
        .await;
    let refused = r
        .text(&format!("{} .download-error", file_row(&epub_id)))
        .await;
    assert!(
        refused.contains("used all 3 downloads") && refused.contains("field-guide.epub"),
        "{refused}"
    );
    let console = r.console_but(&["403"]).await;
    assert!(console.is_empty(), "console of the library: {console:?}");
    // A reload counts from the server: the used-up files are off.
    r.reload().await;
    r.wait_heading("Your library").await;
    r.wait_here(&app, "/library").await;
    r.wait(&format!("{pdf_button}[disabled]")).await;
    r.wait(&format!(
        "{} .download-button[disabled]",
        file_row(&epub_id)
    ))
    .await;
    assert_eq!(
        r.text(&format!("{} .downloads-left", file_row(&zip_id)))
            .await,
        "2 downloads left"
    );
    r.shots_at_both_widths("flow-library-files-used").await;

    // The admin sees the counts and resets them.
    b.click("#refresh-buyers").await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let counts = b.text(".buyer .counts").await;
        if counts.contains("field-guide.pdf: 3") && counts.contains("field-guide.epub: 3") {
            break;
        }
        assert!(Instant::now() < deadline, "{counts}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A new version of the PDF that tells buyers: one buyer, one notice.
    let pdf_row = row(&pdf_id);
    b.click(&format!("{pdf_row} .new-version")).await;
    let input = b.wait(&format!("{pdf_row} .version-file")).await;
    b.step(
        "choose the new version",
        input.send_keys(guide2.to_str().unwrap()),
    )
    .await;
    b.fill(
        &format!("{pdf_row} .version-note"),
        "Fixed typos in chapter 3",
    )
    .await;
    b.click(&format!("{pdf_row} .notify-buyers")).await;
    b.click(&format!("{pdf_row} .upload-version")).await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let said = b.text(&format!("{pdf_row} .version-notice")).await;
        if said.contains("1 notice queued") {
            break;
        }
        assert!(
            !said.contains("0 notices") && Instant::now() < deadline,
            "{said}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.wait_count(&format!("{pdf_row} .file-version"), 2).await;
    assert!(b
        .text(&format!("{pdf_row} .file-meta"))
        .await
        .ends_with("version 2"));
    assert!(b
        .text(&format!(
            "{pdf_row} .file-version[data-version=\"2\"] .notices"
        ))
        .await
        .starts_with("1 queued"));
    shots_of(&b, &pdf_row, "flow-admin-files-new-version").await;
    let mail = app
        .smtp
        .wait_for("reader@example.com", 1, Duration::from_secs(20))
        .await;
    assert!(mail[0].text().contains("Fixed typos in chapter 3"));
    let link = mail[0]
        .link("/library/unsubscribe?token=")
        .expect("an unsubscribe link");
    remember_secret(link.split("token=").nth(1).unwrap());

    b.click(".buyer .reset-downloads").await;
    assert!(b
        .text("#buyers-notice")
        .await
        .contains("reader@example.com"));
    let console = b.console().await;
    assert!(console.is_empty(), "console of the edit page: {console:?}");

    // The buyer's library: the update and its note, and downloads again after the reset.
    r.reload().await;
    r.wait_heading("Your library").await;
    let updated = r
        .text(&format!("{} .file-updated", file_row(&pdf_id)))
        .await;
    assert!(
        updated.starts_with("Updated on ") && updated.ends_with(": Fixed typos in chapter 3"),
        "{updated}"
    );
    assert_eq!(
        r.text(&format!("{} .downloads-left", file_row(&pdf_id)))
            .await,
        "3 downloads left"
    );
    r.shots_at_both_widths("flow-library-files-updated").await;
    let _ = r.client.clone().close().await;
    let _ = b.client.clone().close().await;
}

/// Requests the page made to the unsubscribe endpoint.
async fn unsubscribe_requests(b: &Browser) -> i64 {
    b.js("return performance.getEntriesByType('resource').filter(e => e.name.includes('/api/v1/unsubscribe/')).length")
        .await
        .as_i64()
        .unwrap()
}

#[actix_web::test]
async fn the_unsubscribe_page_stops_update_emails_only_on_its_button() {
    let Some(app) = app_with_ui_and(&[("FOLIO_JOB_POLL_MS", "100")]).await else {
        return;
    };
    let admin = app.admin().await;
    let reader = app.customer("reader@example.com").await;
    let product = app.product(&admin, "Tide Tables", "3", pdf("tides")).await;
    let id = product["id"].as_str().unwrap();
    let file = product["files"][0]["id"].as_str().unwrap();
    app.grant(&app.user_id(&reader.access_token).await, id)
        .await;
    let new_version = |marker: &'static str| {
        let form = Form::new()
            .part(
                "file",
                Part::bytes(pdf(marker))
                    .file_name("tides.pdf")
                    .mime_str("application/pdf")
                    .unwrap(),
            )
            .text("note", marker)
            .text("notify_buyers", "true");
        app.bare_client()
            .post(app.url(&format!(
                "/api/v1/admin/products/{id}/files/{file}/versions"
            )))
            .bearer_auth(&admin)
            .multipart(form)
            .send()
    };
    assert_eq!(
        new_version("second edition").await.unwrap().status(),
        StatusCode::CREATED
    );
    let mail = app
        .smtp
        .wait_for("reader@example.com", 1, Duration::from_secs(20))
        .await;
    let link = mail[0]
        .link("/library/unsubscribe?token=")
        .expect("an unsubscribe link");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    remember_secret(&token);
    // The mailed address is the account bundle's page itself.
    let here = format!("/library/unsubscribe?token={token}");
    assert_eq!(link, here);

    let Some(b) = browser("unsubscribe").await else {
        return;
    };
    // Opened (as a mail scanner would), reloaded: nothing is sent.
    b.goto(&app.url(&link)).await;
    b.wait_heading("Update emails").await;
    b.wait("#unsubscribe").await;
    b.wait_here(&app, &here).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(unsubscribe_requests(&b).await, 0);
    b.reload().await;
    b.wait("#unsubscribe").await;
    b.wait_here(&app, &here).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(unsubscribe_requests(&b).await, 0);
    assert_eq!(b.history_length().await, 2, "the redirect added an entry");
    b.shots_at_both_widths("flow-unsubscribe").await;
    // The button does it, and says so; the address stays.
    b.click("#unsubscribe").await;
    assert_eq!(
        b.text("#unsubscribed").await,
        "Done. You will get no more update emails for this item."
    );
    assert_eq!(unsubscribe_requests(&b).await, 1);
    b.wait_here(&app, &here).await;
    b.shots_at_both_widths("flow-unsubscribed").await;
    // The next version tells no one.
    assert_eq!(
        new_version("third edition").await.unwrap().status(),
        StatusCode::CREATED
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(app.smtp.to("reader@example.com").len(), 1, "mailed again");

    // A damaged link: a clear message, after the button; none at all: said at once.
    b.goto(&app.url("/unsubscribe?token=not-a-token")).await;
    b.wait_here(&app, "/library/unsubscribe?token=not-a-token")
        .await;
    b.wait("#unsubscribe").await;
    assert!(b.absent("#unsubscribe-error").await);
    b.click("#unsubscribe").await;
    assert!(b
        .text("#unsubscribe-error")
        .await
        .contains("This unsubscribe link is not valid"));
    b.goto(&app.url("/unsubscribe")).await;
    b.wait_heading("Update emails").await;
    b.wait_here(&app, "/library/unsubscribe").await;
    assert!(b.text("#unsubscribe-error").await.contains("incomplete"));
    assert!(b.absent("#unsubscribe").await);
    let console = b.console_but(&["401"]).await;
    assert!(console.is_empty(), "console of the page: {console:?}");
    let _ = b.client.clone().close().await;
}

//! The web UI in a real browser: Debian's headless Chromium driven over WebDriver (fantoccini),
//! against the real server serving the built `web-ui/dist`, with the Stripe emulator's pages.
//!
//! Needs `FOLIO_TEST_WEB_DIST` (set by `cargo xtask test` after building the UI), `chromium` and
//! `chromedriver`. When any is missing the tests fail if `CI` is set and are skipped loudly
//! otherwise. A failing step saves a screenshot under `target/browser-screenshots/`.

use std::future::Future;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{elements::Element, error::CmdError, ClientBuilder, Locator};
use folio_tests::*;

const STEP_TIMEOUT: Duration = Duration::from_secs(30);

fn skip_or_fail(why: &str) -> Option<Browser> {
    if std::env::var_os("CI").is_some() {
        panic!("browser tests are required in CI: {why}");
    }
    eprintln!("\n!!! SKIPPED browser test: {why} !!!\n");
    None
}

fn web_dist() -> Option<PathBuf> {
    let dist = PathBuf::from(std::env::var_os("FOLIO_TEST_WEB_DIST")?);
    dist.join("index.html").is_file().then_some(dist)
}

fn which(tool: &str) -> bool {
    Command::new("which")
        .arg(tool)
        .output()
        .is_ok_and(|o| o.status.success())
}

struct Browser {
    client: fantoccini::Client,
    driver: Child,
    downloads: PathBuf,
    shots: PathBuf,
    test: &'static str,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.downloads);
    }
}

async fn browser(test: &'static str) -> Option<Browser> {
    if !which("chromium") || !which("chromedriver") {
        return skip_or_fail("chromium and chromedriver are not installed (apt-get install chromium chromium-driver)");
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let downloads = std::env::temp_dir().join(format!("folio-downloads-{id}"));
    let profile = downloads.join("profile");
    std::fs::create_dir_all(&profile).unwrap();
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--window-size=1280,900", format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": downloads.to_str().unwrap(),
                "download.prompt_for_download": false,
                "safebrowsing.enabled": false,
            },
        },
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session with headless Chromium");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let shots = target.join("browser-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    Some(Browser {
        client,
        driver,
        downloads,
        shots,
        test,
    })
}

impl Browser {
    /// Runs one step; on failure or timeout saves a screenshot named after the test and step.
    async fn step<T>(&self, what: &str, f: impl Future<Output = Result<T, CmdError>>) -> T {
        let outcome = tokio::time::timeout(STEP_TIMEOUT, f).await;
        let error = match outcome {
            Ok(Ok(value)) => return value,
            Ok(Err(e)) => e.to_string(),
            Err(_) => format!("timed out after {STEP_TIMEOUT:?}"),
        };
        let file = self.shots.join(format!(
            "{}--{}.png",
            self.test,
            what.replace([' ', '/'], "-")
        ));
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(&file, png);
        }
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        panic!(
            "browser step `{what}` failed at {url}: {error} (screenshot: {})",
            file.display()
        );
    }

    async fn goto(&self, url: &str) {
        self.step(&format!("open {url}"), self.client.goto(url))
            .await;
    }

    async fn wait(&self, css: &str) -> Element {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            match self.client.find(Locator::Css(css)).await {
                Ok(el) => return el,
                // Not there yet, or the page is navigating away after a click (chromedriver
                // then answers "aborted by navigation"): look again until the deadline.
                Err(_) if Instant::now() < deadline => {}
                Err(e) => {
                    return self
                        .step(&format!("wait for {css}"), async { Err::<Element, _>(e) })
                        .await
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn click(&self, css: &str) {
        let el = self.wait(css).await;
        self.step(&format!("click {css}"), el.click()).await;
    }

    async fn fill(&self, css: &str, text: &str) {
        let el = self.wait(css).await;
        self.step(&format!("fill {css}"), async {
            el.clear().await?;
            el.send_keys(text).await
        })
        .await;
    }

    async fn text(&self, css: &str) -> String {
        let el = self.wait(css).await;
        self.step(&format!("read {css}"), el.text()).await
    }

    async fn absent(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_err()
    }

    /// Waits for the UI to settle on a page whose heading says `title`.
    async fn wait_heading(&self, title: &str) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            if let Ok(h) = self.client.find(Locator::Css("h1")).await {
                if h.text().await.is_ok_and(|t| t == title) {
                    return;
                }
            }
            if Instant::now() > deadline {
                self.step::<()>(&format!("heading {title}"), async {
                    Err(CmdError::WaitTimeout)
                })
                .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The downloaded file's bytes, once Chromium finished writing it.
    async fn downloaded(&self) -> Option<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let done: Vec<PathBuf> = std::fs::read_dir(&self.downloads)
                .into_iter()
                .flatten()
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "pdf"))
                .collect();
            if let Some(file) = done.first() {
                return std::fs::read(file).ok();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

async fn app_with_ui() -> Option<TestApp> {
    let Some(dist) = web_dist() else {
        skip_or_fail("the web UI is not built (FOLIO_TEST_WEB_DIST): run `cargo xtask test`");
        return None;
    };
    TestApp::spawn_with(
        Backend::Sqlite,
        &[("FOLIO_WEB_DIST", dist.to_str().unwrap())],
    )
    .await
}

#[actix_web::test]
async fn a_shopper_registers_buys_on_the_checkout_page_and_downloads_the_file() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let Some(b) = browser("shopper").await else {
        return;
    };
    let admin = app.admin().await;
    let file = pdf("bought in a browser");
    app.product(&admin, "Browser Book", "7.50", file.clone())
        .await;

    b.goto(&app.url("/register")).await;
    b.fill("#email", "shopper@example.com").await;
    b.fill("#password", "short").await;
    b.click("#submit").await;
    // The shared parser's message, shown before anything is sent.
    assert_eq!(
        b.text("#password-error").await,
        shared_types::Password::parse("short").unwrap_err().message
    );
    b.fill("#password", PASSWORD).await;
    b.click("#submit").await;
    b.wait("#signout").await;

    b.goto(&app.url("/")).await;
    let card = b.text(".product-card").await;
    assert!(
        card.contains("Browser Book") && card.contains("$7.50"),
        "{card}"
    );
    b.click("a.product-link").await;
    assert_eq!(b.text("#buy").await, "Buy for $7.50");
    b.click("#buy").await;
    // Stripe's (the emulator's) hosted page, on another origin.
    b.click("#pay").await;
    let status = b.wait("#order-status[data-status=\"paid\"]").await;
    assert!(b
        .step("read status", status.text())
        .await
        .contains("Browser Book"));
    b.click("#download").await;
    let bytes = match b.downloaded().await {
        Some(bytes) => bytes,
        None => {
            // Chromium kept the file to itself: fetch the link the page produced instead.
            eprintln!("browser download not found on disk; checking the page's download link");
            let link = b.wait("#download-link").await;
            let href = b
                .step("read link", link.attr("href"))
                .await
                .expect("the link has an href");
            app.bare_client()
                .get(href)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec()
        }
    };
    assert_eq!(sha256_hex(&bytes), sha256_hex(&file));

    b.goto(&app.url("/library")).await;
    assert!(b.text(".library-item").await.contains("Browser Book"));
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn an_admin_uploads_a_pdf_with_a_preview_and_it_appears_in_the_catalog() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let Some(b) = browser("admin-upload").await else {
        return;
    };
    app.admin().await;
    let pdf_path = b.downloads.join("upload.pdf");
    let png_path = b.downloads.join("cover.png");
    std::fs::write(&pdf_path, big_pdf(3 * 1024 * 1024)).unwrap();
    std::fs::write(&png_path, png()).unwrap();

    b.goto(&app.url("/signin")).await;
    b.fill("#email", ADMIN_EMAIL).await;
    b.fill("#password", PASSWORD).await;
    b.click("#submit").await;
    b.click("#nav-admin").await;
    b.click("#new-product").await;
    b.wait_heading("New product").await;
    b.fill("#title", "Uploaded In A Browser").await;
    b.fill("#description", "Three megabytes of carefully chosen bytes.")
        .await;
    b.fill("#price", "0.40").await;
    b.click("#submit").await;
    assert!(
        b.text("#price-error").await.contains("at least $0.50"),
        "client-side check with the shared parser"
    );
    b.fill("#price", "3").await;
    let file = b.wait("#file").await;
    b.step("choose the PDF", file.send_keys(pdf_path.to_str().unwrap()))
        .await;
    let preview = b.wait("#preview").await;
    b.step(
        "choose the preview",
        preview.send_keys(png_path.to_str().unwrap()),
    )
    .await;
    b.click("#submit").await;
    b.wait("#saved").await;
    assert_eq!(b.text("#upload-percent").await, "100%");
    b.click("#view-product").await;
    b.wait_heading("Uploaded In A Browser").await;
    b.goto(&app.url("/")).await;
    b.wait(".product-card").await;
    assert!(b
        .text(".product-grid")
        .await
        .contains("Uploaded In A Browser"));
    let img = b.wait(".product-card img.preview").await;
    let src = b
        .step("read preview", img.attr("src"))
        .await
        .unwrap_or_default();
    assert!(src.contains("/media/previews/"), "{src}");
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn a_customer_cannot_use_the_admin_pages() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let Some(b) = browser("customer-admin").await else {
        return;
    };
    app.customer("ada@example.com").await;
    b.goto(&app.url("/signin")).await;
    b.fill("#email", "ada@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.click("#submit").await;
    b.wait("#signout").await;
    assert!(
        b.absent("#nav-admin").await,
        "admin navigation is hidden from customers"
    );
    b.goto(&app.url("/admin/products")).await;
    b.wait("#admin-refused").await;
    b.goto(&app.url("/admin/orders")).await;
    b.wait("#admin-refused").await;
    let _ = b.client.clone().close().await;
}

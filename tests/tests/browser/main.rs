//! The web UI in a real browser: Debian's headless Chromium driven over WebDriver (fantoccini),
//! against the real server serving the built `web-ui/dist`, with the Stripe emulator's pages.
//!
//! Needs `FOLIO_TEST_WEB_DIST` (set by `cargo xtask test` after building the UI), `chromium` and
//! `chromedriver`. When any is missing the tests fail if `CI` is set and are skipped loudly
//! otherwise. A failing step saves a screenshot under `target/browser-screenshots/`, and the
//! page tour saves one of every page at 360 and 1440 px there.
//!
//! Every browser has a profile of its own, so nothing is cached between tests: the first
//! catalog view's `transferSize` figures are what a new visitor downloads.
//!
//! This file has the harness and the tests of navigation, layout and the first view; [`mail`]
//! has the flows that go through mail (a guest's checkout, sign-in links, password resets,
//! receipts), [`admin`] the job queue and the dev mailbox, [`files`] a product's files (the
//! admin's Files and Buyers panels, the library's downloads and limits, the unsubscribe page),
//! and [`seller`] the dashboard, customers, API keys and webhooks.

mod admin;
mod files;
mod mail;
mod membership;
mod pricing;
mod seller;

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
    browser_sized(test, 1280, 900).await
}

/// A browser whose window is `width` × `height` CSS pixels.
async fn browser_sized(test: &'static str, width: u32, height: u32) -> Option<Browser> {
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
        // The console, for the tests that read it (BrowserLog).
        "goog:loggingPrefs": { "browser": "ALL" },
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                "--no-first-run", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.display()),
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

    /// Waits until `css` matches exactly `n` elements.
    async fn wait_count(&self, css: &str, n: usize) {
        let script = format!(
            "return document.querySelectorAll({}).length",
            serde_json::Value::from(css)
        );
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            let found = self.js(&script).await.as_u64().unwrap_or(0) as usize;
            if found == n {
                return;
            }
            if Instant::now() > deadline {
                self.step::<()>(&format!("{n} of {css} (are {found})"), async {
                    Err(CmdError::WaitTimeout)
                })
                .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Chooses the option `value` of the `<select>` at `css`.
    async fn choose(&self, css: &str, value: &str) {
        let el = self.wait(css).await;
        self.step(
            &format!("choose {value} in {css}"),
            el.select_by_value(value),
        )
        .await;
    }

    /// The current value of the form control at `css`.
    async fn value(&self, css: &str) -> String {
        self.wait(css).await;
        self.js(&format!(
            "return document.querySelector({}).value",
            serde_json::Value::from(css)
        ))
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
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

    /// Runs `script` (a function body) in the page and returns what it returns.
    async fn js(&self, script: &str) -> serde_json::Value {
        self.step(
            &format!("run {}", script.chars().take(40).collect::<String>()),
            self.client.execute(script, Vec::new()),
        )
        .await
    }

    /// What the address bar says, without the origin: path, query and fragment.
    async fn here(&self) -> String {
        self.js("return location.pathname + location.search + location.hash")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits until the address bar says `expected` (path, query and fragment), then checks the
    /// origin is still the app's.
    async fn wait_here(&self, app: &TestApp, expected: &str) {
        let deadline = Instant::now() + STEP_TIMEOUT;
        loop {
            // A full page load is in progress while the script cannot run.
            if let Ok(v) = self
                .client
                .execute(
                    "return [location.origin, location.pathname + location.search + location.hash]",
                    Vec::new(),
                )
                .await
            {
                if v[1] == expected {
                    assert_eq!(
                        v[0].as_str(),
                        Some(app.url("").as_str()),
                        "origin at {expected}"
                    );
                    return;
                }
            }
            if Instant::now() > deadline {
                let now = self.here().await;
                self.step::<()>(&format!("address {expected} (is {now})"), async {
                    Err(CmdError::WaitTimeout)
                })
                .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The number of entries in the tab's history.
    async fn history_length(&self) -> i64 {
        self.js("return history.length")
            .await
            .as_i64()
            .unwrap_or(-1)
    }

    async fn back(&self) {
        self.step("back", self.client.back()).await;
    }

    async fn forward(&self) {
        self.step("forward", self.client.forward()).await;
    }

    async fn reload(&self) {
        self.step("reload", self.client.refresh()).await;
    }

    async fn scroll_y(&self) -> f64 {
        self.js("return window.scrollY")
            .await
            .as_f64()
            .unwrap_or(-1.0)
    }

    /// Waits until the page is scrolled to `y` (within a pixel).
    async fn wait_scroll(&self, y: f64) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = self.scroll_y().await;
            if (now - y).abs() <= 1.0 {
                return;
            }
            if Instant::now() > deadline {
                self.step::<()>(&format!("scroll to {y} (is {now})"), async {
                    Err(CmdError::WaitTimeout)
                })
                .await;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a screenshot as `<name>.png` among the others.
    async fn shot(&self, name: &str) {
        let png = self.step("screenshot", self.client.screenshot()).await;
        std::fs::write(self.shots.join(format!("{name}.png")), png).unwrap();
    }

    async fn resize(&self, width: u32, height: u32) {
        self.step("resize", self.client.set_window_size(width, height))
            .await;
    }

    /// The console messages since the last call: `(level, message)`.
    async fn console(&self) -> Vec<(String, String)> {
        let log = self
            .step("read the console", self.client.issue_cmd(BrowserLog))
            .await;
        log.as_array()
            .into_iter()
            .flatten()
            .map(|entry| {
                (
                    entry["level"].as_str().unwrap_or_default().to_owned(),
                    entry["message"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }

    async fn sign_in(&self, email: &str) {
        self.sign_in_with(email, PASSWORD).await;
    }

    async fn sign_in_with(&self, email: &str, password: &str) {
        self.wait_heading("Sign in").await;
        self.fill("#email", email).await;
        self.fill("#password", password).await;
        self.click("#submit").await;
    }

    /// Saves `<name>-360.png` and `<name>-1440.png` of the page as it is, then gives the window
    /// back its usual size; fails if the page scrolls sideways at either width.
    async fn shots_at_both_widths(&self, name: &str) {
        for (width, height) in [(360, 800), (1440, 900)] {
            self.resize(width, height).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let overflow = self
                .js("return document.documentElement.scrollWidth - innerWidth")
                .await
                .as_i64()
                .unwrap();
            assert!(
                overflow <= 0,
                "{name} at {width} px scrolls sideways by {overflow} px"
            );
            self.shot(&format!("{name}-{width}")).await;
        }
        self.resize(1280, 900).await;
    }

    /// The console since the last look, but for the failed requests named in `expected` (the
    /// browser reports every 4xx answer there, e.g. `410 (Gone)`, and some are the point).
    async fn console_but(&self, expected: &[&str]) -> Vec<(String, String)> {
        self.console()
            .await
            .into_iter()
            .filter(|(_, message)| {
                !(message.contains("Failed to load resource")
                    && expected.iter().any(|e| message.contains(e)))
            })
            .collect()
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

/// Chromium's console through chromedriver's log endpoint (`goog:loggingPrefs` asks for it).
#[derive(Debug)]
struct BrowserLog;

impl fantoccini::wd::WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (reqwest::Method, Option<String>) {
        (
            reqwest::Method::POST,
            Some(r#"{"type":"browser"}"#.to_owned()),
        )
    }
}

/// A cover like the demo shop's (480×640, flat colours, the title in pixel letters): a few KB
/// of PNG, which is what a real catalog's first view downloads per card.
fn cover(title: &str, n: usize) -> Vec<u8> {
    use folio_api::catalog::seed::Canvas;
    let colors = [
        [47u8, 93, 80],
        [120, 60, 140],
        [30, 90, 160],
        [170, 90, 40],
        [60, 120, 60],
        [150, 50, 70],
    ];
    let (background, shape) = (colors[n % colors.len()], colors[(n + 2) % colors.len()]);
    let (w, h) = (480i64, 640i64);
    let mut canvas = Canvas::new(w as usize, h as usize, background);
    canvas.circle(w - 90, 150, 170, shape);
    canvas.circle(70, 60, 60, shape);
    canvas.rect(0, h - 70, w, 70, [250, 248, 242]);
    canvas.text(28, h - 50, 4, "FOLIO TEST", background);
    // The title in lines of at most 12 letters, broken at spaces.
    let mut title_lines: Vec<String> = Vec::new();
    for word in title.to_uppercase().split_whitespace() {
        match title_lines.last_mut() {
            Some(line) if line.len() + 1 + word.len() <= 12 => {
                line.push(' ');
                line.push_str(word);
            }
            _ => title_lines.push(word.to_owned()),
        }
    }
    let top = h - 100 - title_lines.len() as i64 * 54;
    for (i, line) in title_lines.iter().enumerate() {
        canvas.text(28, top + i as i64 * 54, 6, line, [255, 255, 255]);
    }
    canvas.png()
}

/// Published products with covers, made through the admin API; returns each one's JSON.
async fn stock(app: &TestApp, admin: &str, titles: &[(&str, &str)]) -> Vec<serde_json::Value> {
    let mut made = Vec::new();
    for (n, (title, price)) in titles.iter().enumerate() {
        let form = product_form(title, price, pdf(title), Some(cover(title, n)));
        let res = app.create_product(admin, form).await;
        assert_eq!(res.status(), StatusCode::CREATED);
        made.push(res.json().await.unwrap());
    }
    made
}

async fn app_with_ui() -> Option<TestApp> {
    app_with_ui_and(&[]).await
}

/// The server with the built UI and some settings of the test's own.
async fn app_with_ui_and(settings: &[(&str, &str)]) -> Option<TestApp> {
    let Some(dist) = web_dist() else {
        skip_or_fail("the web UI is not built (FOLIO_TEST_WEB_DIST): run `cargo xtask test`");
        return None;
    };
    let mut all = vec![("FOLIO_WEB_DIST", dist.to_str().unwrap())];
    all.extend_from_slice(settings);
    TestApp::spawn_with(Backend::Sqlite, &all).await
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
    let product = b.here().await;
    // Stripe's (the emulator's) hosted page, on another origin: first cancelled, which comes
    // back to the product with a notice, then paid.
    b.click("#buy").await;
    b.click("#cancel").await;
    b.wait_here(&app, &format!("{product}?checkout=cancelled"))
        .await;
    assert!(b.text(".notice").await.contains("cancelled"));
    b.click("#buy").await;
    b.click("#pay").await;
    let status = b.wait("#order-status[data-status=\"paid\"]").await;
    assert!(b
        .step("read status", status.text())
        .await
        .contains("Browser Book"));
    // Stripe's return address, kept true: a reload shows the same paid order.
    let success = b.here().await;
    assert!(
        success.starts_with("/checkout/success?session_id="),
        "{success}"
    );
    b.reload().await;
    b.wait("#order-status[data-status=\"paid\"]").await;
    b.wait_here(&app, &success).await;
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

const SIX_BOOKS: [(&str, &str); 6] = [
    ("Atlas of Tides", "4.00"),
    ("Bread at Home", "0"),
    ("Counting Stars", "12.50"),
    ("Dovetail Joints", "7.00"),
    ("Everyday Knots", "0"),
    ("Field Notes", "3.20"),
];

#[actix_web::test]
async fn the_first_catalog_view_transfers_at_most_150_kb() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    stock(&app, &admin, &SIX_BOOKS).await;
    // A new profile: nothing cached, so every transferSize is what came over the wire.
    let Some(b) = browser("budget").await else {
        return;
    };
    b.goto(&app.url("/")).await;
    b.wait(".product-card img.preview").await;
    // Every cover loaded and decoded, then a moment for anything else the page asks for.
    let deadline = Instant::now() + STEP_TIMEOUT;
    while b
        .js("return [...document.querySelectorAll('.product-card img')].filter(i => i.complete && i.naturalWidth > 0).length")
        .await
        != 6
    {
        assert!(Instant::now() < deadline, "the six covers did not load");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let entries = b
        .js("return [performance.getEntriesByType('navigation')[0], ...performance.getEntriesByType('resource')]
                 .map(e => [e.name, e.transferSize, e.encodedBodySize, e.decodedBodySize])")
        .await;
    let entries: Vec<(String, u64, u64, u64)> = serde_json::from_value(entries).unwrap();
    let total: u64 = entries.iter().map(|e| e.1).sum();
    let mut lines = Vec::new();
    for (name, transferred, encoded, decoded) in &entries {
        let short = name.rsplit('/').next().unwrap_or(name);
        lines.push(format!("{short} {transferred}"));
        assert!(
            *transferred > 0,
            "{name} came from a cache: the figure would not be a new visitor's"
        );
        if name.ends_with(".wasm") || name.ends_with(".js") || name.ends_with(".css") {
            assert!(encoded < decoded, "{name} was sent uncompressed");
        }
        assert!(
            !name.contains("/admin-") && !name.contains("/account-"),
            "the first catalog view loaded another bundle: {name}"
        );
    }
    let covers = entries
        .iter()
        .filter(|e| e.0.contains("/media/previews/"))
        .count();
    assert_eq!(covers, 6, "{entries:?}");
    let line = format!(
        "first catalog view: {total} bytes transferred ({} requests: {})",
        entries.len(),
        lines.join(", ")
    );
    eprintln!("{line}");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    std::fs::write(target.join("web-budget.txt"), format!("{line}\n")).unwrap();
    assert!(total <= 150_000, "{line}");
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn an_anonymous_visit_leaves_the_console_clean_and_asks_for_no_session() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    let books = stock(&app, &admin, &SIX_BOOKS[..2]).await;
    app.customer("ada@example.com").await;
    let Some(b) = browser("console").await else {
        return;
    };
    let refreshes = "return performance.getEntriesByType('resource').filter(e => e.name.includes('/auth/refresh')).length";
    b.goto(&app.url("/")).await;
    b.wait(".product-card").await;
    b.click(&format!(
        "a[href=\"/products/{}\"]",
        books[0]["slug"].as_str().unwrap()
    ))
    .await;
    b.wait_heading("Atlas of Tides").await;
    b.click("#signin-to-buy").await;
    b.wait_heading("Sign in").await;
    assert_eq!(
        b.js(refreshes).await,
        0,
        "an anonymous visitor asked for a refresh"
    );
    let console = b.console().await;
    assert!(
        console.is_empty(),
        "console of an anonymous visit: {console:?}"
    );

    // After signing in and out, the visitor is anonymous again: still nothing to refresh.
    b.sign_in("ada@example.com").await;
    b.wait("#signout").await;
    b.click("#signout").await;
    b.wait("#nav-signin").await;
    b.reload().await;
    b.wait(".product-card").await;
    assert_eq!(
        b.js(refreshes).await,
        0,
        "a signed-out visitor asked for a refresh"
    );
    let console = b.console().await;
    assert!(console.is_empty(), "console after signing out: {console:?}");
    // What an anonymous visitor's header looks like on a phone.
    b.resize(360, 800).await;
    b.wait(".product-card img.preview").await;
    b.shot("anonymous-catalog-360").await;
    b.click("#nav-signin").await;
    b.wait_heading("Sign in").await;
    b.shot("anonymous-signin-360").await;
    let console = b.console().await;
    assert!(console.is_empty(), "console at 360 px: {console:?}");
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn links_back_forward_and_reload_keep_the_address_bar_true() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    let books = stock(&app, &admin, &SIX_BOOKS[..3]).await;
    let slug = books[0]["slug"].as_str().unwrap().to_owned();
    let product = format!("/products/{slug}");
    app.customer("ada@example.com").await;
    let Some(b) = browser("address").await else {
        return;
    };

    // A link click pushes the product's address; Back, Forward and reload follow it.
    b.goto(&app.url("/")).await;
    b.wait(".product-card").await;
    b.wait_here(&app, "/").await;
    b.click(&format!("a[href=\"{product}\"]")).await;
    b.wait_heading("Atlas of Tides").await;
    b.wait_here(&app, &product).await;
    b.back().await;
    b.wait_here(&app, "/").await;
    b.wait_heading("Catalog").await;
    b.forward().await;
    b.wait_here(&app, &product).await;
    b.wait_heading("Atlas of Tides").await;
    b.reload().await;
    b.wait_heading("Atlas of Tides").await;
    b.wait_here(&app, &product).await;

    // Sign in from the product: the form comes back to it, replacing its own entry.
    b.click("#signin-to-buy").await;
    let signin = format!("/signin?next=%2Fproducts%2F{slug}");
    b.wait_here(&app, &signin).await;
    let entries = b.history_length().await;
    b.sign_in("ada@example.com").await;
    b.wait("#buy").await;
    b.wait_here(&app, &product).await;
    assert_eq!(
        b.history_length().await,
        entries,
        "signing in replaced the sign-in page's entry"
    );
    b.back().await;
    b.wait_here(&app, &product).await;
    b.forward().await;
    b.wait_here(&app, &product).await;
    b.wait("#buy").await;

    // A search is an address too.
    b.click("#nav-home").await;
    b.wait_here(&app, "/").await;
    b.fill("#search", "tides").await;
    b.click(".search button").await;
    b.wait_here(&app, "/?q=tides").await;
    let count = "return document.querySelectorAll('.product-card').length";
    let deadline = Instant::now() + STEP_TIMEOUT;
    while b.js(count).await != 1 {
        assert!(
            Instant::now() < deadline,
            "the search did not narrow the catalog"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    b.reload().await;
    b.wait(".product-card").await;
    b.wait_here(&app, "/?q=tides").await;
    assert_eq!(b.js(count).await, 1);
    assert_eq!(
        b.js("return document.querySelector('#search').value").await,
        "tides"
    );
    b.back().await;
    b.wait_here(&app, "/").await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    while b.js(count).await != 3 {
        assert!(
            Instant::now() < deadline,
            "Back did not bring the whole catalog back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The header's Library link is the other bundle: a full page load, and the same history.
    b.click("#nav-library").await;
    b.wait_heading("Your library").await;
    b.wait_here(&app, "/library").await;
    b.back().await;
    b.wait_here(&app, "/").await;
    b.wait_heading("Catalog").await;
    b.forward().await;
    b.wait_here(&app, "/library").await;
    b.wait_heading("Your library").await;
    // And back into the shop by a link in the account bundle.
    b.click("#nav-catalog").await;
    b.wait_here(&app, "/").await;
    b.wait(".product-card").await;
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn a_page_that_needs_a_session_redirects_to_sign_in_and_back() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    app.customer("ada@example.com").await;
    let Some(b) = browser("redirect").await else {
        return;
    };
    b.goto(&app.url("/")).await;
    b.wait_heading("Catalog").await;
    // The account bundle sends a signed-out visitor to sign in: a redirect, so Back skips it.
    b.goto(&app.url("/orders")).await;
    b.wait_here(&app, "/signin?next=%2Forders").await;
    b.back().await;
    b.wait_here(&app, "/").await;
    b.forward().await;
    b.wait_here(&app, "/signin?next=%2Forders").await;
    b.sign_in("ada@example.com").await;
    b.wait_heading("Your orders").await;
    b.wait_here(&app, "/orders").await;
    b.back().await;
    b.wait_here(&app, "/").await;
    b.forward().await;
    b.wait_heading("Your orders").await;
    // A reload keeps the session (the refresh cookie, asked for because of the marker).
    b.reload().await;
    b.wait_heading("Your orders").await;
    b.wait_here(&app, "/orders").await;
    // Signing out on a page that needs a session goes to the catalog, not to sign in again.
    b.click("#signout").await;
    b.wait_here(&app, "/").await;
    b.wait_heading("Catalog").await;
    b.wait("#nav-signin").await;
    // And the page left behind asks for a session again.
    b.back().await;
    b.wait_here(&app, "/signin?next=%2Forders").await;
    b.sign_in("ada@example.com").await;
    b.wait_heading("Your orders").await;
    // The admin pages send a customer nowhere: they say what the page is for.
    b.goto(&app.url("/admin/orders")).await;
    b.wait("#admin-refused").await;
    b.wait_here(&app, "/admin/orders").await;
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn back_forward_and_reload_return_to_where_the_reader_was() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    // Fourteen: a first page of twelve, and two more behind "Load more".
    let titles: Vec<String> = (1..=14).map(|n| format!("Volume {n:02}")).collect();
    let titles: Vec<(&str, &str)> = titles.iter().map(|t| (t.as_str(), "1.00")).collect();
    stock(&app, &admin, &titles).await;
    // A phone: the cards make a page several screens long.
    let Some(b) = browser_sized("scroll", 360, 740).await else {
        return;
    };
    let cards = "return document.querySelectorAll('.product-card').length";
    let wait_cards = |n: i64| {
        let b = &b;
        async move {
            let deadline = Instant::now() + STEP_TIMEOUT;
            while b.js(cards).await != n {
                assert!(
                    Instant::now() < deadline,
                    "the catalog did not show {n} cards"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    b.goto(&app.url("/")).await;
    wait_cards(12).await;
    b.click("#load-more").await;
    wait_cards(14).await;
    let room = b
        .js("return document.documentElement.scrollHeight - innerHeight")
        .await
        .as_f64()
        .unwrap();
    // Further down than twelve cards reach, so only the list as it was can bring it back.
    let y = 1400.0;
    assert!(
        room > y,
        "the catalog is too short to scroll to {y}: {room}"
    );
    b.js(&format!("window.scrollTo(0, {y})")).await;
    b.wait_scroll(y).await;
    // The scroll position is saved once scrolling pauses.
    tokio::time::sleep(Duration::from_millis(400)).await;
    // A card whose middle is in view, so clicking it does not scroll.
    let index = b
        .js("return [...document.querySelectorAll('.product-card')].findIndex(c => { const r = c.getBoundingClientRect(); const m = r.top + r.height / 2; return m > 0 && m < innerHeight; }) + 1")
        .await
        .as_i64()
        .unwrap();
    let viewport = b.js("return [innerWidth, innerHeight]").await;
    assert!(index > 0, "no card in view at {y} px in {viewport}");
    b.click(&format!(".product-card:nth-child({index}) a"))
        .await;
    b.wait(".product-info h1").await;
    assert!(b.here().await.starts_with("/products/"));
    b.wait_scroll(0.0).await;
    b.back().await;
    b.wait_here(&app, "/").await;
    wait_cards(14).await;
    b.wait_scroll(y).await;
    b.forward().await;
    b.wait(".product-info h1").await;
    b.wait_scroll(0.0).await;
    b.back().await;
    b.wait_scroll(y).await;
    // A reload shows the first page again; the position is kept as far as it reaches.
    b.js("window.scrollTo(0, 600)").await;
    b.wait_scroll(600.0).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    b.reload().await;
    wait_cards(12).await;
    b.wait_scroll(600.0).await;
    let _ = b.client.clone().close().await;
}

/// `next` as it arrives in the address (already percent-encoded where it says so), and where
/// signing in must land: the path on this origin, or the catalog.
fn redirect_cases(origin: &str) -> Vec<(String, &'static str)> {
    let encoded =
        |raw: &str| url::form_urlencoded::byte_serialize(raw.as_bytes()).collect::<String>();
    let mut cases: Vec<(String, &'static str)> = [
        // The issue's two, as sent.
        ("/%5Cexample.com", "/"),
        ("/%09/example.com", "/"),
        ("/%2F%2Fexample.com", "/"),
        ("%0a//example.com", "/"),
        ("%0D%0A//example.com", "/"),
        ("/%5C%5Cexample.com", "/"),
    ]
    .into_iter()
    .map(|(q, to)| (q.to_owned(), to))
    .collect();
    for (raw, to) in [
        ("/\\example.com", "/"),
        ("\\\\example.com", "/"),
        ("\\/example.com", "/"),
        ("//example.com", "/"),
        ("///example.com", "/"),
        (" //example.com", "/"),
        ("/\t/example.com", "/"),
        ("/\n/example.com", "/"),
        ("https://example.com", "/"),
        ("HTTPS://example.com/products/x", "/"),
        ("https:example.com", "/"),
        ("javascript:alert(1)", "/"),
        ("JavaScript:alert(document.domain)//", "/"),
        ("data:text/html,<script>alert(1)</script>", "/"),
        ("/.//example.com", "/"),
        // Tabs vanish, leaving a path on this shop: harmless, and where the browser would go.
        ("/\texample.com", "/example.com"),
        ("/products/x?y=1#z", "/products/x?y=1#z"),
        ("/library", "/library"),
    ] {
        cases.push((encoded(raw), to));
    }
    // This shop's own origin with a path that would read as another host.
    cases.push((encoded(&format!("{origin}//example.com")), "/"));
    cases
}

#[actix_web::test]
async fn signing_in_goes_on_to_next_only_within_this_shop() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    app.customer("ada@example.com").await;
    let Some(b) = browser("next").await else {
        return;
    };
    for (next, expected) in redirect_cases(&app.url("")) {
        b.goto(&app.url(&format!("/signin?next={next}"))).await;
        b.sign_in("ada@example.com").await;
        // Wherever it lands, it is this shop: wait_here checks the origin.
        b.wait_here(&app, expected).await;
        match expected {
            "/library" => b.wait_heading("Your library").await,
            "/" => b.wait_heading("Catalog").await,
            // No such product: the product page says so.
            "/products/x?y=1#z" => drop(b.wait(".product-page .error-box").await),
            _ => b.wait_heading("Page not found").await,
        }
    }
    // Registration goes on the same way, and its link from the sign-in page keeps `next`.
    b.goto(&app.url("/signin?next=%2Forders")).await;
    b.click("#to-register").await;
    b.wait_here(&app, "/register?next=%2Forders").await;
    b.fill("#email", "grace@example.com").await;
    b.fill("#password", PASSWORD).await;
    b.click("#submit").await;
    b.wait_heading("Your orders").await;
    b.wait_here(&app, "/orders").await;
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn every_page_renders_on_reload_and_reads_at_360_and_1440_px() {
    // Without SMTP: the receipt lands in the dev mailbox, whose pages are on the tour.
    let Some(app) = app_with_ui_and(&[("FOLIO_SMTP_URL", "")]).await else {
        return;
    };
    let admin = app.admin().await;
    let books = stock(&app, &admin, &SIX_BOOKS[..3]).await;
    let slug = books[0]["slug"].as_str().unwrap();
    let id = books[0]["id"].as_str().unwrap();
    // Orders to list: the admin buys the two paid books, pays for one and leaves one pending.
    let pending = app
        .checkout(&admin, books[0]["slug"].as_str().unwrap())
        .await;
    assert_eq!(pending.status(), StatusCode::CREATED);
    let paid = app
        .checkout(&admin, books[2]["slug"].as_str().unwrap())
        .await;
    assert_eq!(paid.status(), StatusCode::CREATED);
    let session: serde_json::Value = paid.json().await.unwrap();
    let session_id = session["session_id"].as_str().unwrap().to_owned();
    app.emulator.pay(&session_id).unwrap();
    let deadline = Instant::now() + STEP_TIMEOUT;
    let mail = loop {
        let list: Vec<serde_json::Value> = app
            .get("/api/v1/admin/mailbox", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        if let Some(m) = list.into_iter().next() {
            break m;
        }
        assert!(
            Instant::now() < deadline,
            "the receipt never reached the mailbox"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let message = format!("/admin/mailbox/{}", mail["id"].as_str().unwrap());
    let subject = mail["subject"].as_str().unwrap().to_owned();
    let Some(b) = browser_sized("pages", 1440, 900).await else {
        return;
    };
    b.goto(&app.url("/signin")).await;
    b.sign_in(ADMIN_EMAIL).await;
    b.wait("#signout").await;
    let product = format!("/products/{slug}");
    let edit = format!("/admin/products/{id}/edit");
    let success = format!("/checkout/success?session_id={session_id}");
    // (name, address, where it lands, what its heading says)
    let pages: Vec<(&str, &str, &str, &str)> = vec![
        ("catalog", "/", "/", "Catalog"),
        ("product", &product, &product, "Atlas of Tides"),
        ("signin", "/signin", "/signin", "Sign in"),
        ("register", "/register", "/register", "Create your account"),
        ("library", "/library", "/library", "Your library"),
        ("orders", "/orders", "/orders", "Your orders"),
        ("checkout-success", &success, &success, "Thank you!"),
        (
            "sign-in-link-ask",
            "/signin/link",
            "/signin/link",
            "Sign in with a link",
        ),
        // A made-up token: the page shows its button (and takes the token out of the address).
        (
            "sign-in-link",
            "/signin/link#token=tour",
            "/signin/link",
            "Sign in with a link",
        ),
        (
            "forgot-password",
            "/reset-password",
            "/reset-password",
            "Forgot your password?",
        ),
        (
            "reset-password",
            "/reset-password#token=tour",
            "/reset-password",
            "Choose a new password",
        ),
        (
            "unsubscribe",
            "/unsubscribe?token=tour",
            "/library/unsubscribe?token=tour",
            "Update emails",
        ),
        (
            "not-found",
            "/no/such/page",
            "/no/such/page",
            "Page not found",
        ),
        ("admin", "/admin", "/admin", "Dashboard"),
        (
            "admin-products",
            "/admin/products",
            "/admin/products",
            "Products",
        ),
        (
            "admin-new-product",
            "/admin/products/new",
            "/admin/products/new",
            "New product",
        ),
        ("admin-edit-product", &edit, &edit, "Edit product"),
        ("admin-orders", "/admin/orders", "/admin/orders", "Orders"),
        (
            "admin-customers",
            "/admin/customers",
            "/admin/customers",
            "Customers",
        ),
        (
            "admin-api-keys",
            "/admin/api-keys",
            "/admin/api-keys",
            "API keys",
        ),
        (
            "admin-webhooks",
            "/admin/webhooks",
            "/admin/webhooks",
            "Webhooks",
        ),
        ("admin-jobs", "/admin/jobs", "/admin/jobs", "Jobs"),
        (
            "admin-mailbox",
            "/admin/mailbox",
            "/admin/mailbox",
            "Mailbox",
        ),
        ("admin-mailbox-message", &message, &message, &subject),
        (
            "admin-not-found",
            "/admin/nope",
            "/admin/nope",
            "Page not found",
        ),
    ];
    for (width, height) in [(1440, 900), (360, 800)] {
        b.resize(width, height).await;
        let inner = b.js("return innerWidth").await.as_i64().unwrap();
        assert_eq!(inner, i64::from(width), "the window's width");
        for (name, address, lands, heading) in &pages {
            // What a mailed link's page kept in this tab from the last one.
            b.js("sessionStorage.clear()").await;
            b.goto(&app.url(address)).await;
            b.wait_heading(heading).await;
            b.wait_here(&app, lands).await;
            b.reload().await;
            b.wait_heading(heading).await;
            b.wait_here(&app, lands).await;
            // Lists show their rows before the picture is taken.
            for (page, row) in [
                ("admin", "#dashboard-figures"),
                ("admin-customers", ".admin-customer, #no-customers"),
                ("admin-api-keys", "#no-keys"),
                ("admin-webhooks", "#no-webhooks"),
                ("admin-products", ".admin-product"),
                ("admin-orders", ".admin-order"),
                ("admin-jobs", ".admin-job"),
                ("admin-mailbox", ".mail-row"),
                ("admin-mailbox-message", "#mail-text"),
                ("sign-in-link", "#redeem"),
                ("sign-in-link-ask", "#send-link"),
                ("reset-password", "#password"),
                ("forgot-password", "#send-link"),
                ("unsubscribe", "#unsubscribe"),
                ("admin-edit-product", ".admin-file"),
                ("orders", ".order-row"),
                ("library", ".library-item"),
                ("catalog", ".product-card img"),
            ] {
                if page == *name {
                    b.wait(row).await;
                }
            }
            if *name == "orders" {
                // Dates as the browser's Intl writes them (the orders were made just now).
                let shown = b.text(".order-row [data-label=Date]").await;
                let today = b
                    .js("return new Date().toLocaleDateString(navigator.language, { dateStyle: 'medium' })")
                    .await;
                assert_eq!(Some(shown.as_str()), today.as_str(), "the order's date");
            }
            // Nothing reaches past the window's right edge: no page scrolls sideways.
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
        // The admin's product list at this width: every title is on screen, whole.
        b.goto(&app.url("/admin/products")).await;
        b.wait(".admin-product").await;
        let titles = b
            .js("return [...document.querySelectorAll('.admin-product .cell-title')].map(t => { const r = t.getBoundingClientRect(); return [t.textContent, r.left >= 0 && r.right <= innerWidth && r.width > 0 && getComputedStyle(t).display != 'none']; })")
            .await;
        let titles: Vec<(String, bool)> = serde_json::from_value(titles).unwrap();
        assert_eq!(titles.len(), 3, "{titles:?}");
        assert!(
            titles.iter().all(|(_, seen)| *seen),
            "at {width} px: {titles:?}"
        );
    }
    let _ = b.client.clone().close().await;
}

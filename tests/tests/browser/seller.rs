//! The seller's tools in the browser: the dashboard at `/admin` charts paid orders seeded over
//! several days in two currencies (figures, three SVG charts and their tables), and its period
//! is an address (a quick range, the interval, a date typed in; Back, Forward and reload keep
//! it); the customers page searches, loads more and exports CSV, as the orders page does; an
//! API key is made (its secret shown once, then used and revoked); a webhook endpoint is made
//! (its secret shown once), turned off and on, its secret rotated, its deliveries listed and
//! one sent again, and deleted.

use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

/// Signs in on a fresh browser as the admin.
async fn admin_browser(app: &TestApp, name: &'static str) -> Option<Browser> {
    let b = browser(name).await?;
    b.goto(&app.url("/signin")).await;
    b.sign_in(ADMIN_EMAIL).await;
    b.wait("#signout").await;
    Some(b)
}

/// The text of `css` as the document has it (hidden in a closed `<details>` or not).
async fn content(b: &Browser, css: &str) -> String {
    b.wait(css).await;
    b.js(&format!(
        "return document.querySelector({}).textContent",
        serde_json::Value::from(css)
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

/// A product in `currency`, published, through the admin API; returns its slug.
async fn product_in(
    app: &TestApp,
    admin: &str,
    title: &str,
    price: &str,
    currency: &str,
) -> String {
    let form =
        product_form(title, price, pdf(title), Some(png())).text("currency", currency.to_owned());
    let res = app.create_product(admin, form).await;
    assert_eq!(res.status(), StatusCode::CREATED, "{title}");
    let product: serde_json::Value = res.json().await.unwrap();
    product["slug"].as_str().unwrap().to_owned()
}

/// `buyer` buys `slug` on the emulator, and the order is dated (made and paid) at noon UTC
/// on `day`; returns the order's id.
async fn paid_on(app: &TestApp, buyer: &str, slug: &str, day: NaiveDate) -> String {
    let res = app.checkout(buyer, slug).await;
    assert_eq!(res.status(), StatusCode::CREATED, "checkout of {slug}");
    let session: serde_json::Value = res.json().await.unwrap();
    let session_id = session["session_id"].as_str().unwrap().to_owned();
    app.emulator.pay(&session_id).unwrap();
    assert!(app.emulator.wait_idle(Duration::from_secs(20)).await);
    let order = wait_order(app, &session_id, "paid").await;
    backdate(app, &order, day).await;
    order
}

/// The order of a checkout session once it has `status`.
async fn wait_order(app: &TestApp, session_id: &str, status: &str) -> String {
    use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
    use folio_api::schema::orders;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let session = session_id.to_owned();
        let found: Vec<(String, String)> = app
            .state
            .db
            .run(move |conn| {
                Ok(orders::table
                    .filter(orders::stripe_session_id.eq(session))
                    .select((orders::id, orders::status))
                    .load(conn)?)
            })
            .await
            .unwrap();
        if let Some((id, _)) = found.iter().find(|(_, s)| s == status) {
            return id.clone();
        }
        assert!(
            Instant::now() < deadline,
            "the order of {session_id} is not {status}: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Moves an order (made and paid) to noon UTC on `day`: the dashboard counts paid orders by
/// the day they were paid.
async fn backdate(app: &TestApp, order: &str, day: NaiveDate) {
    use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
    use folio_api::schema::orders;
    let at = day.and_time(NaiveTime::from_hms_opt(12, 0, 0).unwrap());
    let id = order.to_owned();
    app.state
        .db
        .write(move |conn| {
            diesel::update(orders::table.filter(orders::id.eq(id)))
                .set((
                    orders::created_at.eq(at),
                    orders::paid_at.eq(Some(at)),
                    orders::updated_at.eq(at),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// The API's figures for a period (`from`, `to` and `interval`, or its defaults).
async fn stats(app: &TestApp, admin: &str, query: &str) -> serde_json::Value {
    let res = app
        .get(&format!("/api/v1/admin/stats{query}"), Some(admin))
        .await;
    assert_eq!(res.status(), StatusCode::OK, "stats{query}");
    res.json().await.unwrap()
}

/// Waits until the dashboard shows the figures of `from`..`to` by `interval`.
async fn wait_period(b: &Browser, from: &str, to: &str, interval: &str) {
    b.wait(&format!(
        "#dashboard-figures[data-from=\"{from}\"][data-to=\"{to}\"][data-interval=\"{interval}\"]"
    ))
    .await;
}

/// A date input set as a person does (its value, then `change`).
async fn set_date(b: &Browser, css: &str, day: &str) {
    b.wait(css).await;
    b.js(&format!(
        "const el = document.querySelector({}); el.value = {}; el.dispatchEvent(new Event('change', {{ bubbles: true }}))",
        serde_json::Value::from(css),
        serde_json::Value::from(day)
    ))
    .await;
}

/// Saves `<name>-360.png` and `<name>-1440.png` with `css` at the top of the window (below the
/// header), failing if the page scrolls sideways at either width.
async fn shots_of(b: &Browser, css: &str, name: &str) {
    for (width, height) in [(360, 800), (1440, 900)] {
        b.resize(width, height).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        b.js(&format!(
            "const el = document.querySelector({}); window.scrollTo(0, el.getBoundingClientRect().top + scrollY - 90)",
            serde_json::Value::from(css)
        ))
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let overflow = b
            .js("return document.documentElement.scrollWidth - document.documentElement.clientWidth")
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
    b.js("window.scrollTo(0, 0)").await;
}

#[actix_web::test]
async fn the_dashboard_charts_paid_orders_in_two_currencies_and_keeps_its_period_in_the_address() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    let atlas = product_in(&app, &admin, "Atlas of Tides", "12.00", "usd").await;
    let compass = product_in(&app, &admin, "Brass Compass", "8.00", "usd").await;
    let notes = product_in(&app, &admin, "Cobalt Notes", "15.00", "eur").await;
    let ada = app.customer("ada@example.com").await.access_token;
    let bob = app.customer("bob@example.com").await.access_token;
    let grace = app.customer("grace@example.com").await.access_token;
    let today = Utc::now().date_naive();
    let days_ago = |n: i64| today - chrono::Duration::days(n);
    // USD: $12 a day ago, $12 + $8 three days ago; EUR: €15 ten days ago (outside 7 days).
    paid_on(&app, &ada, &atlas, days_ago(1)).await;
    paid_on(&app, &bob, &atlas, days_ago(3)).await;
    paid_on(&app, &bob, &compass, days_ago(3)).await;
    paid_on(&app, &ada, &notes, days_ago(10)).await;
    // A checkout begun and never paid: four of five paid.
    assert_eq!(
        app.checkout(&grace, &compass).await.status(),
        StatusCode::CREATED
    );

    let month = stats(&app, &admin, "").await;
    assert_eq!(month["paid_orders"], 4, "{month}");
    let week_from = days_ago(6).to_string();
    let to = today.to_string();
    let week = stats(
        &app,
        &admin,
        &format!("?from={week_from}&to={to}&interval=day"),
    )
    .await;
    assert_eq!(week["paid_orders"], 3, "{week}");

    let Some(b) = admin_browser(&app, "dashboard").await else {
        return;
    };
    b.click("#nav-admin").await;
    b.click("#admin-dashboard").await;
    b.wait_heading("Dashboard").await;
    b.wait_here(&app, "/admin").await;
    let month_from = month["from"].as_str().unwrap().to_owned();
    wait_period(&b, &month_from, &to, "day").await;
    assert_eq!(b.value("#range-from").await, month_from);
    assert_eq!(b.value("#range-to").await, to);
    assert_eq!(b.value("#range-interval").await, "day");

    // The figures.
    assert_eq!(b.text("#stat-paid-orders .stat-value").await, "4");
    assert_eq!(b.text("#stat-revenue [data-currency=usd]").await, "$32.00");
    assert_eq!(b.text("#stat-revenue [data-currency=eur]").await, "€15.00");
    assert_eq!(b.text("#stat-conversion .stat-value").await, "80%");
    assert_eq!(
        b.text("#stat-new-customers .stat-value").await,
        month["new_customers"].to_string()
    );
    assert_eq!(
        b.text("#stat-downloads .stat-value").await,
        month["downloads"].to_string()
    );

    // Three charts, each an image with a summary and a table below it.
    for chart in [
        "#chart-revenue-usd",
        "#chart-revenue-eur",
        "#chart-orders",
        "#chart-top",
    ] {
        let svg = b.wait(&format!("{chart} svg[role=img]")).await;
        let label = b
            .step("read the summary", svg.attr("aria-label"))
            .await
            .unwrap_or_default();
        assert!(!label.is_empty(), "{chart} has no summary");
        assert_eq!(
            b.text(&format!("{chart} details summary")).await,
            "Show as table"
        );
    }
    let usd = b
        .step(
            "usd",
            b.wait("#chart-revenue-usd svg").await.attr("aria-label"),
        )
        .await
        .unwrap();
    assert!(usd.contains("$32.00") && usd.contains("$20.00"), "{usd}");
    let usd_table = content(&b, "#table-revenue-usd").await;
    assert!(
        usd_table.contains("$20.00") && usd_table.contains("$12.00"),
        "{usd_table}"
    );
    assert!(content(&b, "#table-revenue-eur").await.contains("€15.00"));
    // One row a day, thirty of them; the busiest day had two orders.
    b.wait_count(
        "#table-orders tbody tr",
        month["series"].as_array().unwrap().len(),
    )
    .await;
    let counts = b
        .js("return [...document.querySelectorAll('#table-orders .cell-orders')].map(c => Number(c.textContent))")
        .await;
    let counts: Vec<i64> = serde_json::from_value(counts).unwrap();
    assert_eq!(counts.iter().sum::<i64>(), 4);
    assert_eq!(counts.iter().max(), Some(&2));
    let top = content(&b, "#table-top").await;
    assert!(
        top.contains("Atlas of Tides")
            && top.contains("$24.00")
            && top.contains("Cobalt Notes")
            && top.contains("€15.00"),
        "{top}"
    );
    // The axis speaks money: a tick reads like `$20`.
    let ticks = content(&b, "#chart-revenue-usd svg").await;
    assert!(ticks.contains('$'), "{ticks}");
    b.shots_at_both_widths("flow-dashboard-30-days").await;
    shots_of(&b, "#chart-revenue-usd", "flow-dashboard-revenue").await;
    shots_of(&b, "#chart-orders", "flow-dashboard-orders").await;
    shots_of(&b, "#chart-top", "flow-dashboard-top").await;

    // The details open as a table a person can read.
    b.click("#chart-orders summary").await;
    b.wait("#table-orders tbody tr").await;
    shots_of(&b, "#table-orders", "flow-dashboard-table").await;

    // Seven days: a new address; the EUR order is outside.
    let entries = b.history_length().await;
    b.js("window.scrollTo(0, 0)").await;
    b.click("#range-7d").await;
    let seven = format!("/admin?from={week_from}&to={to}&interval=day");
    b.wait_here(&app, &seven).await;
    wait_period(&b, &week_from, &to, "day").await;
    assert_eq!(
        b.history_length().await,
        entries + 1,
        "a new period is a new entry"
    );
    assert_eq!(b.text("#stat-paid-orders .stat-value").await, "3");
    assert!(b.absent("#chart-revenue-eur").await);
    assert_eq!(b.value("#range-from").await, week_from);
    assert_eq!(
        b.step("pressed", b.wait("#range-7d").await.attr("aria-pressed"))
            .await
            .as_deref(),
        Some("true")
    );
    b.shots_at_both_widths("flow-dashboard-7-days").await;
    // Reload keeps it; Back returns to the 30 days, Forward to the seven.
    b.reload().await;
    wait_period(&b, &week_from, &to, "day").await;
    b.wait_here(&app, &seven).await;
    assert_eq!(b.text("#stat-paid-orders .stat-value").await, "3");
    b.back().await;
    b.wait_here(&app, "/admin").await;
    wait_period(&b, &month_from, &to, "day").await;
    assert_eq!(b.text("#stat-paid-orders .stat-value").await, "4");
    assert_eq!(b.value("#range-from").await, month_from);
    b.forward().await;
    b.wait_here(&app, &seven).await;
    wait_period(&b, &week_from, &to, "day").await;

    // By week, then from a date typed in.
    b.choose("#range-interval", "week").await;
    b.wait_here(
        &app,
        &format!("/admin?from={week_from}&to={to}&interval=week"),
    )
    .await;
    wait_period(&b, &week_from, &to, "week").await;
    let eleven = days_ago(11).to_string();
    set_date(&b, "#range-from", &eleven).await;
    b.wait_here(&app, &format!("/admin?from={eleven}&to={to}&interval=week"))
        .await;
    wait_period(&b, &eleven, &to, "week").await;
    assert_eq!(b.text("#stat-paid-orders .stat-value").await, "4");
    b.wait("#chart-revenue-eur svg").await;
    // A first day after the last is refused on the page.
    set_date(
        &b,
        "#range-from",
        &(today + chrono::Duration::days(3)).to_string(),
    )
    .await;
    b.wait("#range-error").await;
    b.wait_here(&app, &format!("/admin?from={eleven}&to={to}&interval=week"))
        .await;

    // A period without sales says so instead of drawing empty axes.
    let (old_from, old_to) = (days_ago(400), days_ago(390));
    b.goto(&app.url(&format!("/admin?from={old_from}&to={old_to}&interval=day")))
        .await;
    wait_period(&b, &old_from.to_string(), &old_to.to_string(), "day").await;
    assert_eq!(b.text("#no-sales").await, "No sales in this period.");
    assert!(b.absent("#chart-orders").await);
    b.shots_at_both_widths("flow-dashboard-no-sales").await;
    let console = b.console().await;
    assert!(console.is_empty(), "console of the dashboard: {console:?}");
    let _ = b.client.clone().close().await;
}

/// The file Chromium saved as `name` in the test's downloads folder, once written.
async fn saved(b: &Browser, name: &str) -> String {
    let file = b.downloads.join(name);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Ok(text) = std::fs::read_to_string(&file) {
            if !text.is_empty() {
                return text;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name} was not downloaded into {}", b.downloads.display());
}

#[actix_web::test]
async fn the_customers_page_searches_loads_more_and_exports_as_the_orders_page_does() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    let slug = product_in(&app, &admin, "Export Guide", "9.00", "usd").await;
    let ada = app.customer("ada@example.com").await.access_token;
    app.customer("adam@example.com").await;
    app.customer("bob@example.com").await;
    paid_on(&app, &ada, &slug, Utc::now().date_naive()).await;

    let Some(b) = admin_browser(&app, "customers").await else {
        return;
    };
    b.click("#nav-admin").await;
    b.click("#admin-customers").await;
    b.wait_heading("Customers").await;
    b.wait_here(&app, "/admin/customers").await;
    b.wait_count(".admin-customer", 3).await;
    let row = b
        .text(".admin-customer[data-email=\"ada@example.com\"]")
        .await;
    assert!(row.contains('1'), "{row}");
    b.shots_at_both_widths("flow-admin-customers").await;

    // A search is an address: reload and Back keep it.
    b.fill("#customer-q", "ada").await;
    b.click("#customer-search").await;
    b.wait_here(&app, "/admin/customers?q=ada").await;
    b.wait_count(".admin-customer", 2).await;
    b.reload().await;
    b.wait_count(".admin-customer", 2).await;
    assert_eq!(b.value("#customer-q").await, "ada");
    b.back().await;
    b.wait_here(&app, "/admin/customers").await;
    b.wait_count(".admin-customer", 3).await;
    assert_eq!(b.value("#customer-q").await, "");

    // A page at a time: Load more adds the next.
    b.goto(&app.url("/admin/customers?limit=2")).await;
    b.wait_count(".admin-customer", 2).await;
    b.click("#load-more-customers").await;
    b.wait_count(".admin-customer", 3).await;
    assert!(b.absent("#load-more-customers").await);

    // The search as CSV.
    b.goto(&app.url("/admin/customers?q=ada")).await;
    b.wait_count(".admin-customer", 2).await;
    b.click("#export-customers").await;
    let csv = saved(&b, "customers.csv").await;
    assert!(
        csv.contains("ada@example.com")
            && csv.contains("adam@example.com")
            && !csv.contains("bob@example.com"),
        "{csv}"
    );

    // The orders page exports what its filter shows.
    b.goto(&app.url("/admin/orders")).await;
    b.wait(".admin-order").await;
    b.choose("#order-filter", "paid").await;
    b.click("#export-orders").await;
    let csv = saved(&b, "orders.csv").await;
    assert!(csv.contains("ada@example.com"), "{csv}");
    let console = b.console().await;
    assert!(
        console.is_empty(),
        "console of the customers page: {console:?}"
    );
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn an_api_key_is_made_shown_once_used_and_revoked() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    app.admin().await;
    let Some(b) = admin_browser(&app, "api-keys").await else {
        return;
    };
    b.click("#nav-admin").await;
    b.click("#admin-api-keys").await;
    b.wait_heading("API keys").await;
    b.wait_here(&app, "/admin/api-keys").await;
    b.wait("#no-keys").await;

    // Nothing chosen: the shared rules' messages, before anything is sent.
    b.click("#create-key").await;
    let problems = shared_types::ApiKeyRequest {
        name: String::new(),
        scopes: Vec::new(),
    }
    .check()
    .unwrap_err();
    for p in &problems {
        assert_eq!(b.text(&format!("#{}-error", p.field)).await, p.message);
    }
    b.fill("#name", "Accounting export").await;
    b.click("#scope-orders-read").await;
    b.click("#scope-stats-read").await;
    b.shots_at_both_widths("flow-api-key-form").await;
    b.click("#create-key").await;
    b.wait("#new-secret").await;
    let secret = b.value("#secret-value").await;
    remember_secret(&secret);
    assert!(secret.starts_with("folio_sk_"), "{secret}");
    assert!(b
        .text("#new-secret")
        .await
        .contains("will not be shown again"));
    let row = ".api-key[data-name=\"Accounting export\"]";
    let listed = b.text(row).await;
    assert!(
        listed.contains("orders:read") && listed.contains("stats:read"),
        "{listed}"
    );
    let prefix = b.text(&format!("{row} .key-prefix")).await;
    assert!(
        secret.starts_with(prefix.trim_end_matches('…')),
        "{prefix} is not the start of the secret"
    );
    b.shots_at_both_widths("flow-api-key-secret").await;

    // The key works for what it may do, and not beyond.
    assert_eq!(
        app.get("/api/v1/admin/stats", Some(&secret)).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.get("/api/v1/admin/webhooks", Some(&secret))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );

    // Shown once: a reload lists the key, never its secret.
    b.reload().await;
    b.wait(row).await;
    assert!(b.absent("#new-secret").await);
    let page = b.js("return document.documentElement.outerHTML").await;
    assert!(!page.as_str().unwrap().contains(&secret));

    // Revoked (after a confirmation): marked so, and refused.
    b.js("window.confirm = () => true").await;
    b.click(&format!("{row} .revoke-key")).await;
    b.wait(&format!("{row}[data-revoked=\"true\"]")).await;
    assert!(b
        .text(&format!("{row} .key-status"))
        .await
        .contains("revoked"));
    assert_eq!(
        app.get("/api/v1/admin/stats", Some(&secret)).await.status(),
        StatusCode::UNAUTHORIZED
    );
    b.shots_at_both_widths("flow-api-key-revoked").await;
    let console = b.console().await;
    assert!(
        console.is_empty(),
        "console of the API keys page: {console:?}"
    );
    let _ = b.client.clone().close().await;
}

/// A loopback HTTP server that answers 200 to every request; returns its URL.
async fn webhook_sink() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/folio-events", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut buf = [0u8; 8192];
                // The head, then as much body as it announces.
                loop {
                    let Ok(n) = socket.read(&mut buf).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let length = text
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if seen.len() >= end + 4 + length {
                            break;
                        }
                    }
                }
                let _ = socket
                    .write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    url
}

#[actix_web::test]
async fn a_webhook_endpoint_is_made_listed_turned_off_and_on_rotated_redelivered_and_deleted() {
    // The receiver is on loopback, which only a server that allows private targets posts to.
    let Some(app) = app_with_ui_and(&[("FOLIO_WEBHOOK_PRIVATE_TARGETS", "allow")]).await else {
        return;
    };
    let admin = app.admin().await;
    let url = webhook_sink().await;
    let Some(b) = admin_browser(&app, "webhooks").await else {
        return;
    };
    b.click("#nav-admin").await;
    b.click("#admin-webhooks").await;
    b.wait_heading("Webhooks").await;
    b.wait_here(&app, "/admin/webhooks").await;
    b.wait("#no-webhooks").await;

    // Nothing typed: the shared rules' messages.
    b.click("#create-webhook").await;
    let problems = shared_types::WebhookEndpointRequest {
        url: String::new(),
        description: String::new(),
        events: Vec::new(),
        enabled: true,
    }
    .check()
    .unwrap_err();
    for p in &problems {
        assert_eq!(b.text(&format!("#{}-error", p.field)).await, p.message);
    }
    b.fill("#url", "ftp://example.com/hook").await;
    b.click("#create-webhook").await;
    assert!(b.text("#url-error").await.contains("http"));
    b.fill("#url", &url).await;
    b.fill("#description", "The test's sink").await;
    b.click("#event-product-created").await;
    b.click("#event-order-paid").await;
    b.shots_at_both_widths("flow-webhook-form").await;
    b.click("#create-webhook").await;
    b.wait("#new-secret").await;
    let secret = b.value("#secret-value").await;
    remember_secret(&secret);
    assert!(secret.starts_with("whsec_"), "{secret}");
    let row = format!(".webhook[data-url=\"{url}\"]");
    let listed = b.text(&row).await;
    assert!(
        listed.contains("order.paid")
            && listed.contains("product.created")
            && listed.contains("enabled"),
        "{listed}"
    );
    b.shots_at_both_widths("flow-webhook-secret").await;
    b.reload().await;
    b.wait(&row).await;
    assert!(b.absent("#new-secret").await);

    // Off, then on again.
    b.click(&format!("{row} .toggle-hook")).await;
    b.wait(&format!("{row}[data-enabled=\"false\"]")).await;
    assert!(b.text(&format!("{row} .toggle-hook")).await == "Enable");
    b.click(&format!("{row} .toggle-hook")).await;
    b.wait(&format!("{row}[data-enabled=\"true\"]")).await;

    // A new secret, shown once, unlike the first.
    b.js("window.confirm = () => true").await;
    b.click(&format!("{row} .rotate-hook")).await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    let rotated = loop {
        let now = b.value("#secret-value").await;
        if now != secret {
            break now;
        }
        assert!(Instant::now() < deadline, "the secret was not rotated");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    remember_secret(&rotated);
    assert!(rotated.starts_with("whsec_"));
    assert!(b
        .text("#new-secret")
        .await
        .contains("will not be shown again"));

    // An event to deliver: a product made.
    app.product(&admin, "Hooked Handbook", "5.00", pdf("hooked"))
        .await;
    b.click(&format!("{row} .hook-deliveries")).await;
    b.wait_heading("Webhook deliveries").await;
    let here = b.here().await;
    assert!(here.starts_with("/admin/webhooks/"), "{here}");
    assert!(b.text("#webhook-url").await.contains(&url));
    let deadline = Instant::now() + Duration::from_secs(60);
    while b.absent(".delivery").await {
        assert!(Instant::now() < deadline, "no delivery was listed");
        b.click("#refresh-deliveries").await;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let first = b.text(".delivery").await;
    assert!(first.contains("product.created"), "{first}");
    b.click(".delivery-detail summary").await;
    assert!(b
        .text(".delivery-detail .request-excerpt")
        .await
        .contains("Hooked Handbook"));
    b.shots_at_both_widths("flow-webhook-deliveries").await;
    b.click(".delivery .redeliver").await;
    assert!(b.text("#delivery-notice").await.contains("product.created"));
    b.reload().await;
    b.wait(".delivery").await;
    b.wait_here(&app, &here).await;

    // Deleted (after a confirmation).
    b.click("#all-webhooks").await;
    b.wait(&row).await;
    b.js("window.confirm = () => true").await;
    b.click(&format!("{row} .delete-hook")).await;
    b.wait("#no-webhooks").await;
    let console = b.console().await;
    assert!(
        console.is_empty(),
        "console of the webhooks pages: {console:?}"
    );
    let _ = b.client.clone().close().await;
}

//! Seller tools on both backends: the dashboard's figures against sums computed by hand, CSV
//! exports read back by Python's `csv` module, and API keys over every admin route.

use chrono::NaiveDateTime;
use folio_api::payments::repo::{insert_order, OrderRow};
use folio_tests::*;
use reqwest::Method;
use serde_json::{json, Value};
use shared_types::{Currency, OrderId, OrderStatus, ProductId, UserId};

backend_tests!(
    the_dashboard_figures_are_the_sums_of_the_orders,
    the_dashboard_refuses_periods_it_cannot_read,
    csv_exports_round_trip_through_python_with_hostile_cells,
    csv_exports_stream_every_page,
);
backend_tests_with!(&[("FOLIO_API_KEY_RATE_LIMIT", "10000")] =>
    every_admin_route_takes_a_key_with_its_scope_and_refuses_one_without,
);
backend_tests_with!(&[("FOLIO_API_KEY_RATE_LIMIT", "3")] =>
    a_key_is_limited_on_its_own_and_revoked_at_once,
);

fn at(day: &str, time: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(&format!("{day} {time}"), "%Y-%m-%d %H:%M:%S").unwrap()
}

/// One order as the ledger holds it: made at `created`, paid (with a total) when `paid` is
/// set, refunded by `refunded` at `refunded_at`.
struct Seed {
    product: ProductId,
    currency: Currency,
    total: i64,
    created: NaiveDateTime,
    paid: Option<NaiveDateTime>,
    refunded: i64,
    refunded_at: Option<NaiveDateTime>,
}

async fn seed(app: &TestApp, user: &str, orders: Vec<Seed>) {
    let user = UserId::parse(user).unwrap();
    app.state
        .db
        .write(move |conn| {
            for s in orders {
                let status = match (s.paid, s.refunded) {
                    (None, _) => OrderStatus::Pending,
                    (Some(_), r) if r >= s.total => OrderStatus::Refunded,
                    _ => OrderStatus::Paid,
                };
                insert_order(
                    conn,
                    &OrderRow {
                        id: OrderId::generate(),
                        user_id: user.clone(),
                        product_id: s.product,
                        amount_cents: s.total,
                        currency: s.currency,
                        stripe_session_id: None,
                        stripe_payment_intent_id: None,
                        status,
                        created_at: s.created,
                        updated_at: s.created,
                        paid_at: s.paid,
                        list_price_cents: s.total,
                        discount_id: None,
                        discount_code: None,
                        tax_cents: s.paid.map(|_| 0),
                        total_cents: s.paid.map(|_| s.total),
                        stripe_invoice_id: None,
                        invoice_url: None,
                        refunded_cents: s.refunded,
                        refunded_at: s.refunded_at,
                    },
                )?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

async fn stats(app: &TestApp, admin: &str, query: &str) -> Value {
    let (status, body) = send(
        app,
        Method::GET,
        &format!("/api/v1/admin/stats?{query}"),
        Some(admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn cents(revenue: &Value, currency: &str, field: &str) -> i64 {
    revenue
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["currency"] == currency)
        .map_or(0, |r| r[field]["amount_cents"].as_i64().unwrap())
}

async fn the_dashboard_figures_are_the_sums_of_the_orders(app: TestApp) {
    let admin = app.admin().await;
    let book = app.product(&admin, "Ledger Book", "10.00", pdf("a")).await;
    let zine = app.product(&admin, "Ledger Zine", "3.00", pdf("b")).await;
    let (book_id, zine_id) = (
        ProductId::parse(book["id"].as_str().unwrap()).unwrap(),
        ProductId::parse(zine["id"].as_str().unwrap()).unwrap(),
    );
    let buyer = app.customer("ledger@example.com").await.access_token;
    let buyer_id = app.user_id(&buyer).await;
    let (usd, eur) = (Currency::Usd, Currency::Eur);
    let order = |product: &ProductId, currency, total, day: &str, paid: bool| Seed {
        product: product.clone(),
        currency,
        total,
        created: at(day, "09:00:00"),
        paid: paid.then(|| at(day, "09:05:00")),
        refunded: 0,
        refunded_at: None,
    };
    seed(
        &app,
        &buyer_id,
        vec![
            // 30 October (a Friday): two paid, one abandoned.
            order(&book_id, usd, 1000, "2026-10-30", true),
            order(&zine_id, usd, 300, "2026-10-30", true),
            order(&zine_id, usd, 300, "2026-10-30", false),
            // 31 October: paid, then refunded in full on 2 November.
            Seed {
                refunded: 1000,
                refunded_at: Some(at("2026-11-02", "12:00:00")),
                ..order(&book_id, usd, 1000, "2026-10-31", true)
            },
            // 1 November: euros, refunded in part on 3 November.
            Seed {
                refunded: 200,
                refunded_at: Some(at("2026-11-03", "08:00:00")),
                ..order(&book_id, eur, 900, "2026-11-01", true)
            },
            // 2 November, the last second of the day, and 4 November (outside the period).
            Seed {
                paid: Some(at("2026-11-02", "23:59:59")),
                ..order(&zine_id, eur, 250, "2026-11-02", true)
            },
            order(&book_id, usd, 5000, "2026-11-04", true),
        ],
    )
    .await;

    let s = stats(&app, &admin, "from=2026-10-30&to=2026-11-03&interval=day").await;
    // Gross: paid in the period; refunds: made in the period; net: the difference.
    assert_eq!(cents(&s["revenue"], "usd", "gross"), 1000 + 300 + 1000);
    assert_eq!(cents(&s["revenue"], "usd", "refunds"), 1000);
    assert_eq!(cents(&s["revenue"], "usd", "net"), 1300);
    assert_eq!(cents(&s["revenue"], "eur", "gross"), 900 + 250);
    assert_eq!(cents(&s["revenue"], "eur", "refunds"), 200);
    assert_eq!(cents(&s["revenue"], "eur", "net"), 950);
    assert_eq!(s["paid_orders"], 5);
    assert_eq!(s["checkouts_started"], 6);
    assert_eq!(s["checkouts_completed"], 5);
    assert!((s["conversion"].as_f64().unwrap() - 5.0 / 6.0).abs() < 1e-9);
    // Every day of the period, in order, empty days included.
    let series = s["series"].as_array().unwrap();
    let days: Vec<&str> = series
        .iter()
        .map(|b| b["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        days,
        [
            "2026-10-30",
            "2026-10-31",
            "2026-11-01",
            "2026-11-02",
            "2026-11-03"
        ]
    );
    let paid: Vec<i64> = series
        .iter()
        .map(|b| b["paid_orders"].as_i64().unwrap())
        .collect();
    assert_eq!(paid, [2, 1, 1, 1, 0]);
    assert_eq!(cents(&series[0]["revenue"], "usd", "gross"), 1300);
    assert_eq!(cents(&series[3]["revenue"], "usd", "refunds"), 1000);
    assert_eq!(cents(&series[3]["revenue"], "usd", "net"), -1000);
    assert_eq!(cents(&series[3]["revenue"], "eur", "gross"), 250);
    assert_eq!(cents(&series[4]["revenue"], "eur", "refunds"), 200);
    // The best sellers: the book in dollars, the book in euros, the zine in each.
    let top: Vec<(String, String, i64, i64)> = s["top_products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["product"]["title"].as_str().unwrap().to_owned(),
                t["gross"]["currency"].as_str().unwrap().to_owned(),
                t["gross"]["amount_cents"].as_i64().unwrap(),
                t["paid_orders"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            ("Ledger Book".into(), "usd".into(), 2000, 2),
            ("Ledger Book".into(), "eur".into(), 900, 1),
            ("Ledger Zine".into(), "usd".into(), 300, 1),
            ("Ledger Zine".into(), "eur".into(), 250, 1),
        ]
    );

    // Across the month boundary by month and by week (weeks start on Monday).
    let by_month = stats(&app, &admin, "from=2026-10-30&to=2026-11-04&interval=month").await;
    let months: Vec<(String, i64)> = by_month["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap().to_owned(),
                cents(&b["revenue"], "usd", "gross"),
            )
        })
        .collect();
    assert_eq!(
        months,
        [("2026-10-01".into(), 2300), ("2026-11-01".into(), 5000)]
    );
    let by_week = stats(&app, &admin, "from=2026-10-30&to=2026-11-04&interval=week").await;
    let weeks: Vec<(String, i64)> = by_week["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["start"].as_str().unwrap().to_owned(),
                b["paid_orders"].as_i64().unwrap(),
            )
        })
        .collect();
    // 26 Oct – 1 Nov: four paid; 2 Nov – 8 Nov: two.
    assert_eq!(weeks, [("2026-10-26".into(), 4), ("2026-11-02".into(), 2)]);

    // An empty period: zeros, and every day still listed.
    let empty = stats(&app, &admin, "from=2025-01-01&to=2025-01-31").await;
    assert_eq!(empty["paid_orders"], 0);
    assert_eq!(empty["checkouts_started"], 0);
    assert_eq!(empty["conversion"], Value::Null);
    assert_eq!(empty["revenue"], json!([]));
    assert_eq!(empty["top_products"], json!([]));
    assert_eq!(empty["series"].as_array().unwrap().len(), 31);

    // The default period ends today and holds the accounts made today.
    let today = stats(&app, &admin, "").await;
    assert_eq!(today["series"].as_array().unwrap().len(), 30);
    assert_eq!(today["new_customers"], 1);
    assert_eq!(
        today["to"].as_str().unwrap(),
        app.state.clock.now().date().format("%Y-%m-%d").to_string()
    );
}

async fn the_dashboard_refuses_periods_it_cannot_read(app: TestApp) {
    let admin = app.admin().await;
    for (query, field) in [
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("interval=hour", "interval"),
        ("from=2026-11-02&to=2026-11-01", "from"),
        ("from=2025-01-01&to=2026-06-01&interval=day", "from"),
    ] {
        let (status, body) = send(
            &app,
            Method::GET,
            &format!("/api/v1/admin/stats?{query}"),
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {body}");
        assert_eq!(body["code"], "validation_failed");
        assert_eq!(body["errors"][0]["field"], field, "{query}: {body}");
    }
    // Longer periods are fine by week.
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/v1/admin/stats?from=2025-01-01&to=2026-06-01&interval=week",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// Reads CSV text with Python's `csv` module and answers its rows.
fn python_rows(csv_text: &str) -> Vec<Vec<String>> {
    let dir = tempfile_dir();
    let path = dir.join("export.csv");
    std::fs::write(&path, csv_text).unwrap();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import csv, json, sys\nwith open(sys.argv[1], newline='', encoding='utf-8') as f:\n    print(json.dumps(list(csv.reader(f))))",
        ])
        .arg(&path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("folio-csv-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn export(app: &TestApp, admin: &str, path: &str) -> String {
    let res = app.get(path, Some(admin)).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()["content-type"].to_str().unwrap(),
        "text/csv; charset=utf-8"
    );
    assert!(res.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("attachment"));
    res.text().await.unwrap()
}

async fn csv_exports_round_trip_through_python_with_hostile_cells(app: TestApp) {
    let admin = app.admin().await;
    let hostile = [
        "=HYPERLINK(\"http://evil.example\",\"Click\")",
        "+1, a \"quoted\" title",
        "-2 minus",
        "@SUM(A1:A9)",
        "Plain, with a comma",
    ];
    let mut ids = Vec::new();
    for (i, title) in hostile.iter().enumerate() {
        let p = app
            .product(&admin, title, "4.00", pdf(&format!("h{i}")))
            .await;
        ids.push(ProductId::parse(p["id"].as_str().unwrap()).unwrap());
    }
    let buyer = app.customer("=1+1@example.com").await.access_token;
    let buyer_id = app.user_id(&buyer).await;
    seed(
        &app,
        &buyer_id,
        ids.iter()
            .enumerate()
            .map(|(i, id)| Seed {
                product: id.clone(),
                currency: Currency::Usd,
                total: 400 + i as i64,
                created: at("2026-11-20", &format!("10:00:0{i}")),
                paid: Some(at("2026-11-20", &format!("10:01:0{i}"))),
                refunded: 0,
                refunded_at: None,
            })
            .collect(),
    )
    .await;

    let text = export(&app, &admin, "/api/v1/admin/orders.csv").await;
    assert!(text.contains("\r\n"), "records end with CRLF");
    let rows = python_rows(&text);
    let header = &rows[0];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows.len(), 1 + hostile.len());
    // Newest first: the last seeded comes first.
    for (row, (i, title)) in rows[1..].iter().zip(hostile.iter().enumerate().rev()) {
        let expected = if title.starts_with(['=', '+', '-', '@']) {
            format!("'{title}")
        } else {
            (*title).to_owned()
        };
        assert_eq!(row[col("product_title")], expected);
        assert_eq!(row[col("buyer_email")], "'=1+1@example.com");
        assert_eq!(row[col("total_cents")], (400 + i).to_string());
        assert_eq!(row[col("status")], "paid");
        assert_eq!(row[col("currency")], "usd");
        assert_eq!(row.len(), header.len());
    }
    // The filter of the list: none refunded.
    let refunded = export(&app, &admin, "/api/v1/admin/orders.csv?status=refunded").await;
    assert_eq!(python_rows(&refunded).len(), 1);

    let text = export(&app, &admin, "/api/v1/admin/customers.csv").await;
    let rows = python_rows(&text);
    assert_eq!(
        rows[0],
        [
            "id",
            "email",
            "created_at",
            "email_verified",
            "paid_orders",
            "last_paid_at"
        ]
    );
    let me = rows.iter().find(|r| r[0] == buyer_id).expect("the buyer");
    assert_eq!(me[1], "'=1+1@example.com");
    assert_eq!(me[4], hostile.len().to_string());
    assert_eq!(me[5], "2026-11-20T10:01:04Z");
    // The list's search applies: nobody matches.
    let none = export(&app, &admin, "/api/v1/admin/customers.csv?q=nobody-here").await;
    assert_eq!(python_rows(&none).len(), 1);
    // And the JSON list agrees.
    let (status, page) = send(
        &app,
        Method::GET,
        "/api/v1/admin/customers?q=1%2B1",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["paid_orders"], hostile.len());
}

/// More orders than one page of the export (500): every one comes out once, in order.
async fn csv_exports_stream_every_page(app: TestApp) {
    let admin = app.admin().await;
    let p = app.product(&admin, "Many", "1.00", pdf("many")).await;
    let id = ProductId::parse(p["id"].as_str().unwrap()).unwrap();
    let buyer = app.customer("many@example.com").await.access_token;
    let buyer_id = app.user_id(&buyer).await;
    let n = 1234;
    let base = at("2026-11-01", "00:00:00");
    seed(
        &app,
        &buyer_id,
        (0..n)
            .map(|i| Seed {
                product: id.clone(),
                currency: Currency::Usd,
                total: 100 + i,
                // Pairs share a creation time: the id orders them.
                created: base + chrono::TimeDelta::seconds(i / 2),
                paid: Some(base + chrono::TimeDelta::seconds(i / 2)),
                refunded: 0,
                refunded_at: None,
            })
            .collect(),
    )
    .await;
    let rows = python_rows(&export(&app, &admin, "/api/v1/admin/orders.csv").await);
    assert_eq!(rows.len() as i64, n + 1);
    let ids: std::collections::HashSet<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids.len() as i64, n, "no order twice");
    let mut totals: Vec<i64> = rows[1..].iter().map(|r| r[12].parse().unwrap()).collect();
    totals.sort();
    assert_eq!(totals, (100..100 + n).collect::<Vec<_>>());
    let created: Vec<&str> = rows[1..].iter().map(|r| r[1].as_str()).collect();
    let mut sorted = created.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(created, sorted, "newest first");
}

async fn make_key(app: &TestApp, admin: &str, name: &str, scopes: &[&str]) -> (String, String) {
    let (status, body) = send(
        app,
        Method::POST,
        "/api/v1/admin/api-keys",
        Some(admin),
        Some(json!({"name": name, "scopes": scopes})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let secret = body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("folio_sk_"));
    assert!(secret.starts_with(body["key"]["prefix"].as_str().unwrap()));
    folio_tests::remember_secret(&secret);
    (body["key"]["id"].as_str().unwrap().to_owned(), secret)
}

/// The scope an operation's document names for keys (None: a signed-in admin only).
fn declared_scope(op: &Value) -> Option<String> {
    op["security"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|req| req.get("api_key"))
        .map(|scopes| {
            let scopes = scopes.as_array().unwrap();
            assert_eq!(scopes.len(), 1, "one scope per operation: {op}");
            scopes[0].as_str().unwrap().to_owned()
        })
}

async fn call(app: &TestApp, method: &str, path: &str, key: &str) -> (StatusCode, Value) {
    let path = path
        .replace("{id}", "0190c1d2-0000-7000-8000-000000000000")
        .replace("{file_id}", "0190c1d2-0000-7000-8000-000000000001")
        .replace("{delivery_id}", "0190c1d2-0000-7000-8000-000000000002");
    let method = Method::from_bytes(method.as_bytes()).unwrap();
    let body = matches!(method, Method::POST | Method::PUT | Method::PATCH).then(|| json!({}));
    send(app, method, &path, Some(key), body).await
}

async fn every_admin_route_takes_a_key_with_its_scope_and_refuses_one_without(app: TestApp) {
    let admin = app.admin().await;
    let all = [
        "catalog:read",
        "catalog:write",
        "orders:read",
        "orders:refund",
        "customers:read",
        "stats:read",
        "webhooks:write",
    ];
    let mut keys = std::collections::HashMap::new();
    for scope in all {
        let (_, only) = make_key(&app, &admin, &format!("only {scope}"), &[scope]).await;
        let others: Vec<&str> = all.iter().copied().filter(|s| *s != scope).collect();
        let (_, without) = make_key(&app, &admin, &format!("all but {scope}"), &others).await;
        keys.insert(scope, (only, without));
    }
    let (_, everything) = make_key(&app, &admin, "everything", &all).await;
    let ops: Vec<_> = app
        .operations()
        .await
        .into_iter()
        .filter(|(_, path, _)| path.starts_with("/api/v1/admin/"))
        .collect();
    assert!(ops.len() >= 40, "the admin routes: {}", ops.len());
    let mut scoped = 0;
    for (method, path, op) in &ops {
        match declared_scope(op) {
            Some(scope) => {
                scoped += 1;
                let (only, without) = &keys[scope.as_str()];
                let (status, body) = call(&app, method, path, without).await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} without {scope}: {body}"
                );
                assert_eq!(body["code"], "insufficient_scope", "{method} {path}");
                assert!(body["detail"].as_str().unwrap().contains(&scope));
                let (status, body) = call(&app, method, path, only).await;
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{method} {path} with {scope}: {status} {body}"
                );
                if method == "GET" && !path.contains('{') && !path.ends_with(".csv") {
                    assert_eq!(
                        status,
                        StatusCode::OK,
                        "{method} {path} with {scope}: {body}"
                    );
                }
            }
            None => {
                let (status, body) = call(&app, method, path, &everything).await;
                assert_eq!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{method} {path} (admins only): {body}"
                );
                assert_eq!(body["code"], "insufficient_scope");
            }
        }
    }
    assert!(scoped >= 35, "scoped operations: {scoped}");
    // The key management itself is for a signed-in admin only.
    for path in ["/api/v1/admin/api-keys", "/api/v1/admin/jobs"] {
        let (status, _) = call(&app, "GET", path, &everything).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
    }
    // A key works only on the admin routes.
    let (status, body) = send(&app, Method::GET, "/api/v1/me", Some(&everything), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "api_key_not_accepted");
    // A made-up key is refused.
    let (status, body) = send(
        &app,
        Method::GET,
        "/api/v1/admin/orders",
        Some("folio_sk_notarealkeynotarealkeynotareal"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "token_invalid");
}

async fn a_key_is_limited_on_its_own_and_revoked_at_once(app: TestApp) {
    let admin = app.admin().await;
    let (id, reader) = make_key(&app, &admin, "reader", &["orders:read"]).await;
    let (_, other) = make_key(&app, &admin, "other", &["orders:read"]).await;
    for _ in 0..3 {
        let (status, body) = send(
            &app,
            Method::GET,
            "/api/v1/admin/orders",
            Some(&reader),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let res = app.get("/api/v1/admin/orders", Some(&reader)).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    // Another key has its own budget, and the admin's session none at all.
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/v1/admin/orders",
        Some(&other),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    for _ in 0..5 {
        let (status, _) = send(
            &app,
            Method::GET,
            "/api/v1/admin/orders",
            Some(&admin),
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
    // The list shows the prefix and the last use, never the secret.
    let (_, list) = send(
        &app,
        Method::GET,
        "/api/v1/admin/api-keys",
        Some(&admin),
        None,
    )
    .await;
    let listed = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .unwrap()
        .clone();
    assert!(listed["last_used_at"].is_string());
    assert!(!list.to_string().contains(&reader));
    assert!(reader.starts_with(listed["prefix"].as_str().unwrap()));
    // Revoked: the next request of the other key is refused, on its first try.
    let (other_id, other_key) = make_key(&app, &admin, "to revoke", &["orders:read"]).await;
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/v1/admin/orders",
        Some(&other_key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, revoked) = send(
        &app,
        Method::POST,
        &format!("/api/v1/admin/api-keys/{other_id}/revoke"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(revoked["revoked_at"].is_string());
    let (status, body) = send(
        &app,
        Method::GET,
        "/api/v1/admin/orders",
        Some(&other_key),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], "api_key_revoked");
    // A key cannot refund without orders:refund; the document says which scope it lacks.
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v1/admin/orders/0190c1d2-0000-7000-8000-000000000000/refund",
        Some(&other),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["detail"].as_str().unwrap().contains("orders:refund"));
    // Bad requests to make one lose nothing and say why.
    let (status, body) = send(
        &app,
        Method::POST,
        "/api/v1/admin/api-keys",
        Some(&admin),
        Some(json!({"name": " ", "scopes": []})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);

    // A key is worth its maker's role: a second admin's key stops when they are demoted.
    let email = shared_types::Email::parse("second-admin@example.com").unwrap();
    let password = shared_types::Password::parse("a long admin password").unwrap();
    app.state
        .db
        .write(move |conn| Ok(folio_api::auth::create_admin(conn, &email, &password).unwrap()))
        .await
        .unwrap();
    let second = app
        .login("second-admin@example.com", "a long admin password")
        .await
        .json::<Value>()
        .await
        .unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let second_id = app.user_id(&second).await;
    let (_, theirs) = make_key(&app, &second, "theirs", &["orders:read"]).await;
    let (status, _) = send(
        &app,
        Method::GET,
        "/api/v1/admin/orders",
        Some(&theirs),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let id = UserId::parse(&second_id).unwrap();
    app.state
        .db
        .write(move |conn| {
            Ok(folio_api::auth::repo::set_role(
                conn,
                &id,
                shared_types::Role::Customer,
                folio_api::db::now(),
            )?)
        })
        .await
        .unwrap();
    let (status, body) = send(
        &app,
        Method::GET,
        "/api/v1/admin/orders",
        Some(&theirs),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["code"], "forbidden");
}

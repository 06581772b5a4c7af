//! Memberships on SQLite and PostgreSQL, through the Stripe emulator's subscriptions: plans,
//! subscribing, access that follows the subscription (renewals, failures and the grace,
//! recovery, cancel at period end, the end), events late, twice and reversed, refunds of a
//! renewal, the mails, and one member's billing kept from another.

use std::time::Duration;

use folio_tests::*;
use serde_json::{json, Value};
use stripe_emulator::{Advance, Knobs};

backend_tests!(
    plans_are_managed_by_admins_and_offered_when_active,
    a_member_downloads_every_product_including_one_added_later,
    a_listed_plan_unlocks_its_products_and_a_bundles_items_only,
    a_paid_renewal_mails_its_receipt_and_keeps_access,
    a_failed_renewal_keeps_access_for_the_grace_and_recovery_restores_it,
    cancel_at_period_end_keeps_access_to_the_end,
    the_end_takes_the_plan_away_and_leaves_what_was_bought,
    events_twice_concurrently_and_reversed_end_in_stripes_state,
    a_refunded_renewal_does_not_end_the_membership,
    one_member_cannot_reach_anothers_billing,
);

const WAIT: Duration = Duration::from_secs(20);

async fn create_plan(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, plan) = send(
        app,
        reqwest::Method::POST,
        "/api/v1/admin/plans",
        Some(admin),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    plan
}

async fn all_access(app: &TestApp, admin: &str) -> Value {
    create_plan(
        app,
        admin,
        json!({"name": "All access", "description": "Everything", "interval": "month",
               "price": "9", "currency": "eur", "all_products": true}),
    )
    .await
}

/// Subscribes `token` to `plan` and pays on the emulator: the Stripe subscription id.
async fn subscribe(app: &TestApp, token: &str, plan: &Value) -> String {
    let (status, started) = send(
        app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/checkout",
        Some(token),
        Some(json!({"plan_id": plan["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{started}");
    assert!(started["checkout_url"].as_str().unwrap().contains("/pay/"));
    let session_id = started["session_id"].as_str().unwrap().to_owned();
    app.emulator.pay(&session_id).unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    let session = app.emulator.session(&session_id).unwrap();
    assert_eq!(session["mode"], "subscription");
    session["subscription"].as_str().unwrap().to_owned()
}

async fn advance(app: &TestApp, subscription: &str, action: Advance) -> Value {
    let sub = app
        .emulator
        .advance_subscription(subscription, action, None)
        .unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    sub
}

async fn memberships(app: &TestApp, token: &str) -> Vec<Value> {
    let (status, page) = send(
        app,
        reqwest::Method::GET,
        "/api/v1/subscriptions",
        Some(token),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

async fn only_membership(app: &TestApp, token: &str) -> Value {
    let items = memberships(app, token).await;
    assert_eq!(items.len(), 1, "{items:?}");
    items[0].clone()
}

/// Whether `token` gets a download link for `slug` (403 `not_purchased` otherwise).
async fn may_download(app: &TestApp, token: &str, slug: &str) -> bool {
    let res = app.download_token(token, slug).await;
    match res.status() {
        StatusCode::OK => true,
        StatusCode::FORBIDDEN => {
            let problem: Value = res.json().await.unwrap();
            assert_eq!(problem["code"], "not_purchased", "{problem}");
            false
        }
        other => panic!("download link for {slug}: {other}"),
    }
}

/// Downloads `slug`'s file through a link, checking it is the file (and that the download
/// itself, not only the link, lets the member have it).
async fn fetch_file(app: &TestApp, token: &str, slug: &str) -> StatusCode {
    let (url, _) = app.download_link(token, slug).await;
    app.bare_client().get(url).send().await.unwrap().status()
}

fn subjects(app: &TestApp, to: &str) -> Vec<String> {
    app.smtp
        .messages()
        .into_iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .map(|m| m.subject())
        .collect()
}

async fn wait_for_subject(app: &TestApp, to: &str, subject: &str) -> Received {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        if let Some(m) = app
            .smtp
            .messages()
            .into_iter()
            .find(|m| m.to.iter().any(|t| t == to) && m.subject().contains(subject))
        {
            return m;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no mail “{subject}” to {to}: {:?}",
            subjects(app, to)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the job queue has nothing due (the mails of what happened so far are sent).
async fn settle(app: &TestApp) {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let pending: i64 = {
            use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
            use folio_api::schema::jobs;
            app.state
                .db
                .run(|conn| {
                    Ok(jobs::table
                        .filter(jobs::done_at.is_null())
                        .filter(jobs::failed_at.is_null())
                        .count()
                        .get_result(conn)?)
                })
                .await
                .unwrap()
        };
        if pending == 0 {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "jobs still pending");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn plans_are_managed_by_admins_and_offered_when_active(app: TestApp) {
    let admin = app.admin().await;
    let customer = app.customer("ada@example.com").await.access_token;
    let book = app.product(&admin, "Planned Book", "12", pdf("p")).await;

    // Every problem at once, each on its field.
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/plans",
        Some(&admin),
        Some(json!({"name": "  ", "interval": "month", "price": "0.10"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "price", "product_ids"], "{problem}");
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/plans",
        Some(&admin),
        Some(json!({"name": "Ghost", "interval": "year", "price": "5",
                    "product_ids": [shared_types::ProductId::generate()]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "product_ids");
    // Customers may not.
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/plans",
        Some(&customer),
        Some(json!({"name": "Mine", "interval": "month", "price": "1", "all_products": true})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let yearly = create_plan(
        &app,
        &admin,
        json!({"name": "Books", "interval": "year", "price": "40",
               "product_ids": [book["id"], book["id"]]}),
    )
    .await;
    assert_eq!(yearly["price"]["amount_cents"], 4000);
    assert_eq!(yearly["products"].as_array().unwrap().len(), 1, "{yearly}");
    assert_eq!(yearly["products"][0]["slug"], book["slug"]);
    assert_eq!(yearly["members"], 0);
    let monthly = all_access(&app, &admin).await;
    assert_eq!(monthly["products"], json!([]));

    // Offered: active plans, cheapest first, without the admin's counts.
    let (_, offered) = send(&app, reqwest::Method::GET, "/api/v1/plans", None, None).await;
    let names: Vec<&str> = offered["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["All access", "Books"]);
    assert!(offered["items"][0].get("members").is_none());

    // Replaced whole; deactivated, it is no longer offered nor sold.
    let path = format!("/api/v1/admin/plans/{}", yearly["id"].as_str().unwrap());
    let (status, edited) = send(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(&admin),
        Some(
            json!({"name": "Books, yearly", "interval": "year", "price": "45",
                    "product_ids": [book["id"]], "active": false}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["active"], false);
    let (_, offered) = send(&app, reqwest::Method::GET, "/api/v1/plans", None, None).await;
    assert_eq!(offered["items"].as_array().unwrap().len(), 1);
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/checkout",
        Some(&customer),
        Some(json!({"plan_id": yearly["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A checkout started, the plan edited, a checkout again: a new session at the new price
    // (the first one's idempotency key is not sent again with other parameters).
    let bob = app.customer("bob@example.com").await.access_token;
    let start = async |token: &str| {
        let (status, started) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/subscriptions/checkout",
            Some(token),
            Some(json!({"plan_id": monthly["id"]})),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{started}");
        started["session_id"].as_str().unwrap().to_owned()
    };
    let first = start(&bob).await;
    assert_eq!(start(&bob).await, first, "a second click: the same session");
    let monthly_path = format!("/api/v1/admin/plans/{}", monthly["id"].as_str().unwrap());
    let (status, _) = send(
        &app,
        reqwest::Method::PUT,
        &monthly_path,
        Some(&admin),
        Some(
            json!({"name": "All access", "interval": "month", "price": "10",
                    "currency": "eur", "all_products": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let second = start(&bob).await;
    assert_ne!(second, first);
    let session = app.emulator.session(&second).unwrap();
    assert_eq!(session["amount_total"], 1000, "{session}");

    // Unused: deleted. Used: kept, and its billing terms fixed.
    let (status, _) = send(&app, reqwest::Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&app, reqwest::Method::GET, &path, Some(&admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    subscribe(&app, &customer, &monthly).await;
    let path = format!("/api/v1/admin/plans/{}", monthly["id"].as_str().unwrap());
    let (status, problem) = send(&app, reqwest::Method::DELETE, &path, Some(&admin), None).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("plan_in_use"))
    );
    let (status, problem) = send(
        &app,
        reqwest::Method::PUT,
        &path,
        Some(&admin),
        Some(
            json!({"name": "All access", "interval": "year", "price": "90",
                    "currency": "eur", "all_products": true}),
        ),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("plan_billing_fixed")),
        "{problem}"
    );
    let (_, listed) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/plans",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(listed["items"][0]["members"], 1, "{listed}");
    assert_eq!(listed["items"][0]["price"]["amount_cents"], 1000);
    let (_, members) = send(
        &app,
        reqwest::Method::GET,
        &format!(
            "/api/v1/admin/members?plan_id={}",
            monthly["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(
        members["items"][0]["member_email"], "ada@example.com",
        "{members}"
    );
    assert!(members["items"][0]["stripe_id"]
        .as_str()
        .unwrap()
        .starts_with("sub_"));
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/members",
        Some(&customer),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Subscribing twice is refused while the first can still be paid.
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/checkout",
        Some(&customer),
        Some(json!({"plan_id": monthly["id"]})),
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("already_subscribed"))
    );
}

async fn a_member_downloads_every_product_including_one_added_later(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    let first = app.product(&admin, "First Guide", "15", pdf("first")).await;
    let slug = first["slug"].as_str().unwrap();
    assert!(!may_download(&app, &ada, slug).await);
    let plan = all_access(&app, &admin).await;
    subscribe(&app, &ada, &plan).await;

    let membership = only_membership(&app, &ada).await;
    assert_eq!(membership["status"], "active", "{membership}");
    assert_eq!(membership["access"], true);
    assert_eq!(membership["cancel_at_period_end"], false);
    assert!(membership["current_period_end"].is_string());
    assert_eq!(membership["plan"]["name"], "All access");
    assert_eq!(fetch_file(&app, &ada, slug).await, StatusCode::OK);

    // Added after she joined: hers too; the catalog says so.
    let later = app.product(&admin, "Later Guide", "25", pdf("later")).await;
    let later_slug = later["slug"].as_str().unwrap();
    assert_eq!(fetch_file(&app, &ada, later_slug).await, StatusCode::OK);
    let page: Value = app
        .get("/api/v1/products", Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    for item in page["items"].as_array().unwrap() {
        assert_eq!(
            (item["owned"].as_bool(), item["included"].as_bool()),
            (Some(false), Some(true)),
            "{item}"
        );
    }
    let one: Value = app
        .get(&format!("/api/v1/products/{later_slug}"), Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["included"], true);
    // Not for anybody else; drafts are not in the plan.
    let bob = app.customer("bob@example.com").await.access_token;
    assert!(!may_download(&app, &bob, later_slug).await);
    let anonymous: Value = app
        .get("/api/v1/products", None)
        .await
        .json()
        .await
        .unwrap();
    assert!(anonymous["items"][0].get("included").is_none());

    // The welcome, once, naming the plan.
    let welcome = wait_for_subject(&app, "ada@example.com", "Welcome to All access").await;
    assert!(
        welcome.text().contains("everything added later"),
        "{}",
        welcome.text()
    );
    settle(&app).await;
    assert_eq!(subjects(&app, "ada@example.com").len(), 1);
}

async fn a_listed_plan_unlocks_its_products_and_a_bundles_items_only(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    let listed = app.product(&admin, "Listed", "10", pdf("l")).await;
    let inside = app.product(&admin, "Inside", "10", pdf("i")).await;
    let outside = app.product(&admin, "Outside", "10", pdf("o")).await;
    let res = app
        .bare_client()
        .post(app.url("/api/v1/admin/products"))
        .bearer_auth(&admin)
        .multipart(
            reqwest::multipart::Form::new()
                .text("title", "The Bundle")
                .text("price", "15")
                .text("bundle_items", inside["id"].as_str().unwrap().to_owned()),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let bundle: Value = res.json().await.unwrap();
    let plan = create_plan(
        &app,
        &admin,
        json!({"name": "Some", "interval": "month", "price": "3",
               "product_ids": [listed["id"], bundle["id"]]}),
    )
    .await;
    subscribe(&app, &ada, &plan).await;
    for (product, unlocked) in [(&listed, true), (&inside, true), (&outside, false)] {
        let slug = product["slug"].as_str().unwrap();
        assert_eq!(may_download(&app, &ada, slug).await, unlocked, "{slug}");
    }
    assert_eq!(
        fetch_file(&app, &ada, inside["slug"].as_str().unwrap()).await,
        StatusCode::OK
    );
    // Archived products leave the plan (their buyers keep them).
    let res = app
        .bare_client()
        .delete(app.url(&format!(
            "/api/v1/admin/products/{}",
            listed["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let res = app
        .download_token(&ada, listed["slug"].as_str().unwrap())
        .await;
    assert_ne!(res.status(), StatusCode::OK);
}

async fn a_paid_renewal_mails_its_receipt_and_keeps_access(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    let book = app.product(&admin, "Renewed Book", "10", pdf("r")).await;
    let plan = all_access(&app, &admin).await;
    let sub = subscribe(&app, &ada, &plan).await;
    let renewed = advance(&app, &sub, Advance::Renew).await;
    let after = only_membership(&app, &ada).await;
    assert_eq!(after["status"], "active");
    let end: chrono::DateTime<chrono::Utc> = after["current_period_end"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        end.timestamp(),
        renewed["items"]["data"][0]["current_period_end"]
            .as_i64()
            .unwrap(),
        "the renewed period, as Stripe has it"
    );
    assert!(may_download(&app, &ada, book["slug"].as_str().unwrap()).await);
    let receipt = wait_for_subject(&app, "ada@example.com", "Your receipt: All access").await;
    assert!(receipt.text().contains("9.00"), "{}", receipt.text());
    assert!(receipt.text().contains("/invoices/"), "{}", receipt.text());
    settle(&app).await;
    let mut got = subjects(&app, "ada@example.com");
    got.sort();
    assert_eq!(got, ["Welcome to All access", "Your receipt: All access"]);
}

async fn a_failed_renewal_keeps_access_for_the_grace_and_recovery_restores_it(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    let book = app.product(&admin, "Grace Book", "10", pdf("g")).await;
    let slug = book["slug"].as_str().unwrap();
    let plan = all_access(&app, &admin).await;
    let sub = subscribe(&app, &ada, &plan).await;
    advance(&app, &sub, Advance::Fail).await;

    let m = only_membership(&app, &ada).await;
    assert_eq!(
        (m["status"].as_str(), m["access"].as_bool()),
        (Some("past_due"), Some(true))
    );
    let until: chrono::DateTime<chrono::Utc> = m["access_until"].as_str().unwrap().parse().unwrap();
    let left = until - chrono::Utc::now();
    assert!(
        left > chrono::TimeDelta::hours(71) && left <= chrono::TimeDelta::hours(72),
        "three days of grace by default: {left}"
    );
    assert!(may_download(&app, &ada, slug).await);
    let failed = wait_for_subject(&app, "ada@example.com", "payment for All access failed").await;
    let portal = failed.link(&app.url("/membership?portal=1"));
    assert!(portal.is_some(), "the way to the portal: {}", failed.text());
    // A second failed attempt on the same invoice is a second notice, not a second grace.
    advance(&app, &sub, Advance::Fail).await;
    let again = only_membership(&app, &ada).await;
    assert_eq!(again["access_until"], m["access_until"]);

    // The grace ends: so does access (the catalog shows it within its short cache life; the
    // download is refused at once).
    app.state
        .clock
        .advance(chrono::TimeDelta::hours(72) + chrono::TimeDelta::minutes(1));
    assert!(!may_download(&app, &ada, slug).await);
    assert_eq!(only_membership(&app, &ada).await["access"], false);

    // Paid at last: back.
    advance(&app, &sub, Advance::Recover).await;
    let m = only_membership(&app, &ada).await;
    assert_eq!(
        (m["status"].as_str(), m["access"].as_bool()),
        (Some("active"), Some(true))
    );
    assert!(m["access_until"].is_null());
    assert!(may_download(&app, &ada, slug).await);
    settle(&app).await;
    let got = subjects(&app, "ada@example.com");
    assert_eq!(
        got.iter().filter(|s| s.contains("failed")).count(),
        2,
        "one notice per failed attempt: {got:?}"
    );
}

async fn cancel_at_period_end_keeps_access_to_the_end(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    let book = app.product(&admin, "Ending Book", "10", pdf("e")).await;
    let slug = book["slug"].as_str().unwrap();
    let plan = all_access(&app, &admin).await;
    let sub = subscribe(&app, &ada, &plan).await;
    advance(&app, &sub, Advance::CancelAtPeriodEnd).await;
    let m = only_membership(&app, &ada).await;
    assert_eq!(m["status"], "active");
    assert_eq!(m["cancel_at_period_end"], true);
    assert_eq!(m["access_until"], m["current_period_end"]);
    assert!(may_download(&app, &ada, slug).await);
    // Resumed, then cancelled again.
    advance(&app, &sub, Advance::Resume).await;
    assert!(only_membership(&app, &ada).await["access_until"].is_null());
    advance(&app, &sub, Advance::CancelAtPeriodEnd).await;

    // Past the period's end access ends, even before Stripe says the subscription is over.
    app.state.clock.advance(chrono::TimeDelta::days(32));
    assert!(!may_download(&app, &ada, slug).await);
    // Stripe ends it at the period's end.
    advance(&app, &sub, Advance::Renew).await;
    let m = only_membership(&app, &ada).await;
    assert_eq!(
        (m["status"].as_str(), m["access"].as_bool()),
        (Some("canceled"), Some(false))
    );
    wait_for_subject(&app, "ada@example.com", "has ended").await;
}

async fn the_end_takes_the_plan_away_and_leaves_what_was_bought(app: TestApp) {
    let admin = app.admin().await;
    let token = &app.customer("ada@example.com").await.access_token;
    let bought = app.product(&admin, "Bought Book", "10", pdf("b")).await;
    let borrowed = app.product(&admin, "Borrowed Book", "10", pdf("w")).await;
    let ada = app.user_id(token).await;
    app.grant(&ada, bought["id"].as_str().unwrap()).await;
    let plan = all_access(&app, &admin).await;
    let sub = subscribe(&app, token, &plan).await;
    assert!(may_download(&app, token, borrowed["slug"].as_str().unwrap()).await);
    advance(&app, &sub, Advance::Cancel).await;
    let m = only_membership(&app, token).await;
    assert_eq!(
        (m["status"].as_str(), m["access"].as_bool()),
        (Some("canceled"), Some(false))
    );
    assert!(!may_download(&app, token, borrowed["slug"].as_str().unwrap()).await);
    assert!(may_download(&app, token, bought["slug"].as_str().unwrap()).await);
    let ended = wait_for_subject(&app, "ada@example.com", "has ended").await;
    assert!(
        ended.text().contains("stays in your library"),
        "{}",
        ended.text()
    );
    // Over, it may be taken again.
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/checkout",
        Some(token),
        Some(json!({"plan_id": plan["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

/// (status, access, cancel_at_period_end, period end) of the only membership.
async fn state_of(app: &TestApp, token: &str) -> (Value, Value, Value, Value) {
    let m = only_membership(app, token).await;
    (
        m["status"].clone(),
        m["access"].clone(),
        m["cancel_at_period_end"].clone(),
        m["current_period_end"].clone(),
    )
}

async fn events_twice_concurrently_and_reversed_end_in_stripes_state(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    app.product(&admin, "Some Book", "10", pdf("s")).await;
    let plan = all_access(&app, &admin).await;
    // Every event three times at once, all held back, then sent newest first.
    app.emulator.set_knobs(Knobs {
        duplicates: 2,
        concurrent: true,
        hold: true,
        ..Knobs::default()
    });
    let (status, started) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/checkout",
        Some(&ada),
        Some(json!({"plan_id": plan["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let session_id = started["session_id"].as_str().unwrap();
    app.emulator.pay(session_id).unwrap();
    let sub = app.emulator.session(session_id).unwrap()["subscription"]
        .as_str()
        .unwrap()
        .to_owned();
    for action in [
        Advance::Renew,
        Advance::Fail,
        Advance::Recover,
        Advance::CancelAtPeriodEnd,
    ] {
        app.emulator
            .advance_subscription(&sub, action, None)
            .unwrap();
    }
    assert!(
        memberships(&app, &ada).await.is_empty(),
        "nothing delivered yet"
    );
    app.emulator.release(true);
    assert!(app.emulator.wait_idle(WAIT).await);
    let delivered = app.emulator.deliveries();
    assert!(
        delivered.iter().all(|d| d.status == Some(200)),
        "{delivered:?}"
    );

    // Stripe's state: active, cancelling at the end of the renewed period.
    let stripe = app.emulator.subscription(&sub).unwrap();
    let end = stripe["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap();
    let (status, access, cancelling, period_end) = state_of(&app, &ada).await;
    assert_eq!(
        (status, access, cancelling),
        (json!("active"), json!(true), json!(true))
    );
    let period_end: chrono::DateTime<chrono::Utc> = period_end.as_str().unwrap().parse().unwrap();
    assert_eq!(period_end.timestamp(), end);

    // Each mail once, whatever the deliveries: the welcome and the two paid renewals (the
    // failed invoice was paid on recovery); the failure notice is moot once recovered.
    settle(&app).await;
    let mut got = subjects(&app, "ada@example.com");
    got.sort();
    assert_eq!(
        got,
        [
            "Welcome to All access",
            "Your receipt: All access",
            "Your receipt: All access",
        ]
    );
    assert_eq!(app.count("subscriptions").await, 1);
}

async fn a_refunded_renewal_does_not_end_the_membership(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    let book = app.product(&admin, "Kept Book", "10", pdf("k")).await;
    let plan = all_access(&app, &admin).await;
    let sub = subscribe(&app, &ada, &plan).await;
    let renewed = advance(&app, &sub, Advance::Renew).await;
    let invoice = match &renewed["latest_invoice"] {
        Value::String(id) => id.clone(),
        other => other["id"].as_str().unwrap().to_owned(),
    };
    let intent = app
        .emulator
        .invoice_payment_intent(&invoice)
        .expect("the renewal was paid");
    let res = app
        .bare_client()
        .post(format!("{}/v1/refunds", app.emulator.base_url()))
        .bearer_auth("sk_test_folio")
        .form(&[("payment_intent", intent.as_str())])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.text().await.unwrap());
    assert!(app.emulator.wait_idle(WAIT).await);
    let refunded = app
        .emulator
        .deliveries()
        .iter()
        .any(|d| d.event_type == "charge.refunded" && d.status == Some(200));
    assert!(refunded, "Folio heard of the refund");
    let m = only_membership(&app, &ada).await;
    assert_eq!(
        (m["status"].as_str(), m["access"].as_bool()),
        (Some("active"), Some(true))
    );
    assert!(may_download(&app, &ada, book["slug"].as_str().unwrap()).await);
}

async fn one_member_cannot_reach_anothers_billing(app: TestApp) {
    let admin = app.admin().await;
    let ada = app.customer("ada@example.com").await.access_token;
    let bob = app.customer("bob@example.com").await.access_token;
    let plan = all_access(&app, &admin).await;
    let (status, started) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/checkout",
        Some(&ada),
        Some(json!({"plan_id": plan["id"]})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let session_id = started["session_id"].as_str().unwrap().to_owned();
    app.emulator.pay(&session_id).unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);

    // Bob has no billing account, so no portal; Ada's session is not his to follow.
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/portal",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("no_billing_account"))
    );
    let follow = format!("/api/v1/subscriptions/checkout/{session_id}");
    let (status, _) = send(&app, reqwest::Method::GET, &follow, Some(&bob), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(memberships(&app, &bob).await.is_empty());
    let (status, problem) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/subscriptions/checkout/cs_test_nobody",
        Some(&bob),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");
    // Anonymous callers get nothing at all.
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/portal",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // Ada follows her own and opens her own portal, which names her customer only.
    let (status, page) = send(&app, reqwest::Method::GET, &follow, Some(&ada), None).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(page["items"][0]["status"], "active");
    let (status, portal) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/portal",
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{portal}");
    let html = app
        .bare_client()
        .get(portal["url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("All access"), "{html}");

    // Bob subscribes: his own customer, and his portal shows only his subscription.
    subscribe(&app, &bob, &plan).await;
    let (_, bobs) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/subscriptions/portal",
        Some(&bob),
        None,
    )
    .await;
    assert_ne!(bobs["url"], portal["url"]);
    let mut distinct = std::collections::HashSet::new();
    for email in ["ada@example.com", "bob@example.com"] {
        let email = email.to_owned();
        let customer: Option<String> = app
            .state
            .db
            .run(move |conn| {
                use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
                use folio_api::schema::users;
                Ok(users::table
                    .filter(users::email.eq(email))
                    .select(users::stripe_customer_id)
                    .first(conn)?)
            })
            .await
            .unwrap();
        assert!(distinct.insert(customer.expect("a customer was made")));
    }
}

//! Pricing on SQLite and PostgreSQL: discount codes (each refusal, the rounding rule, the caps
//! under concurrency and their release), pay what you want, bundles, and Stripe Tax with
//! invoices through the emulator.

use std::time::Duration;

use folio_tests::*;
use serde_json::{json, Value};

backend_tests!(
    discount_codes_are_managed_by_admins,
    each_unusable_code_is_refused_with_its_own_code,
    the_rounding_rule_and_codes_that_take_everything_off,
    twenty_concurrent_checkouts_share_the_last_redemption_and_expiry_gives_it_back,
    per_customer_caps_hold,
    pay_what_you_want_checks_the_amount,
    a_bundle_grants_its_items_and_a_refund_takes_back_only_what_no_other_order_gave,
);

backend_tests_with!(&[("FOLIO_STRIPE_TAX", "on")] =>
    with_stripe_tax_the_order_records_tax_total_and_its_invoice,
);

backend_tests_with!(&[("FOLIO_STRIPE_TAX", "on"), ("FOLIO_PRICES_INCLUDE_TAX", "true")] =>
    prices_that_include_tax_charge_the_price,
);

const WAIT: Duration = Duration::from_secs(20);

async fn create_discount(app: &TestApp, admin: &str, body: Value) -> Value {
    let (status, discount) = send(
        app,
        reqwest::Method::POST,
        "/api/v1/admin/discounts",
        Some(admin),
        Some(body),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{discount}");
    discount
}

async fn checkout(app: &TestApp, token: &str, body: Value) -> (StatusCode, Value) {
    send(
        app,
        reqwest::Method::POST,
        "/api/v1/checkout",
        Some(token),
        Some(body),
    )
    .await
}

/// A checkout that must be refused with `code`.
async fn refused(app: &TestApp, token: &str, body: Value, code: &str) -> Value {
    let (status, problem) = checkout(app, token, body).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["code"], code, "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().len() > 20,
        "a sentence for the buyer: {problem}"
    );
    problem
}

async fn library_slugs(app: &TestApp, token: &str) -> Vec<String> {
    let mine: Value = app
        .get("/api/v1/library", Some(token))
        .await
        .json()
        .await
        .unwrap();
    let mut slugs: Vec<String> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect();
    slugs.sort();
    slugs
}

async fn own_orders(app: &TestApp, token: &str) -> Vec<Value> {
    let page: Value = app
        .get("/api/v1/orders", Some(token))
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn discount_codes_are_managed_by_admins(app: TestApp) {
    let admin = app.admin().await;
    let product = app.product(&admin, "Coded Book", "20", pdf("c")).await;
    let discount = create_discount(
        &app,
        &admin,
        json!({"code": "spring-25", "percent_off": 25, "max_redemptions": 1,
               "product_ids": [product["id"]]}),
    )
    .await;
    assert_eq!(discount["code"], "SPRING-25", "stored upper case");
    assert_eq!(discount["redemptions"], 0);
    assert_eq!(discount["products"][0]["slug"], "coded-book");
    // Unique whatever the case.
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/discounts",
        Some(&admin),
        Some(json!({"code": "Spring-25", "amount_off": "5"})),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "discount_code_taken");
    // Bad terms are field errors, all at once.
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/admin/discounts",
        Some(&admin),
        Some(json!({"code": "x", "percent_off": 101, "amount_off": "1",
                    "starts_at": "2027-01-02T00:00:00Z", "ends_at": "2027-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["code", "percent_off", "ends_at"], "{problem}");
    for body in [
        json!({"code": "PCT", "percent_off": 0}),
        json!({"code": "AMT", "amount_off": "0.001"}),
        json!({"code": "CAP", "percent_off": 5, "max_redemptions": 0}),
        json!({"code": "NOPE", "percent_off": 5,
               "product_ids": [shared_types::ProductId::generate().to_string()]}),
    ] {
        let (status, problem) = send(
            &app,
            reqwest::Method::POST,
            "/api/v1/admin/discounts",
            Some(&admin),
            Some(body.clone()),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body} → {problem}"
        );
    }
    // Shoppers cannot manage codes.
    let shopper = app.customer("shopper@example.com").await.access_token;
    let (status, _) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/discounts",
        Some(&shopper),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // The preview shows the price before checkout.
    let (status, preview) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/discounts/spring-25?slug=coded-book",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["price"]["amount_cents"], 1500);
    assert_eq!(preview["discount"]["amount_cents"], 500);
    assert_eq!(preview["description"], "25% off");
    // Used once, it is listed with its redemption and cannot be deleted, only deactivated.
    let (status, started) = checkout(
        &app,
        &shopper,
        json!({"slug": "coded-book", "discount_code": "SPRING-25"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["amount"]["amount_cents"], 1500);
    let id = discount["id"].as_str().unwrap();
    let (_, list) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/admin/discounts",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(list["items"][0]["redemptions"], 1);
    let (_, redemptions) = send(
        &app,
        reqwest::Method::GET,
        &format!("/api/v1/admin/discounts/{id}/redemptions"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(redemptions["items"][0]["id"], started["order_id"]);
    assert_eq!(redemptions["items"][0]["discount"]["code"], "SPRING-25");
    assert_eq!(redemptions["items"][0]["list_price"]["amount_cents"], 2000);
    let (status, problem) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/admin/discounts/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "discount_in_use");
    let (status, edited) = send(
        &app,
        reqwest::Method::PUT,
        &format!("/api/v1/admin/discounts/{id}"),
        Some(&admin),
        Some(json!({"code": "SPRING-25", "percent_off": 25, "active": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{edited}");
    assert_eq!(edited["active"], false);
    assert_eq!(edited["products"], Value::Null, "now for every product");
    // An unused code can be deleted.
    let unused = create_discount(&app, &admin, json!({"code": "GONE", "amount_off": "1"})).await;
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/admin/discounts/{}", unused["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
}

async fn each_unusable_code_is_refused_with_its_own_code(app: TestApp) {
    let admin = app.admin().await;
    let book = app.product(&admin, "Refusal Book", "10", pdf("r")).await;
    app.product(&admin, "Other Book", "10", pdf("o")).await;
    let shopper = app.customer("shopper@example.com").await.access_token;
    create_discount(
        &app,
        &admin,
        json!({"code": "OFF", "percent_off": 10, "active": false}),
    )
    .await;
    create_discount(
        &app,
        &admin,
        json!({"code": "SOON", "percent_off": 10, "starts_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    create_discount(
        &app,
        &admin,
        json!({"code": "OLD", "percent_off": 10, "ends_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    create_discount(
        &app,
        &admin,
        json!({"code": "ONLY-OTHER", "percent_off": 10,
               "product_ids": [book["id"]]}),
    )
    .await;
    create_discount(
        &app,
        &admin,
        json!({"code": "EUROS", "amount_off": "2", "currency": "eur"}),
    )
    .await;
    let buy = |code: &str| json!({"slug": "other-book", "discount_code": code});
    refused(&app, &shopper, buy("NO-SUCH-CODE"), "discount_invalid").await;
    refused(&app, &shopper, buy("off"), "discount_invalid").await;
    refused(&app, &shopper, buy("soon"), "discount_not_started").await;
    let problem = refused(&app, &shopper, buy("old"), "discount_expired").await;
    assert!(problem["detail"].as_str().unwrap().contains("2020-01-01"));
    refused(&app, &shopper, buy("only-other"), "discount_not_applicable").await;
    refused(&app, &shopper, buy("euros"), "discount_not_applicable").await;
    assert_eq!(
        refused(&app, &shopper, buy("off"), "discount_invalid").await["errors"][0]["field"],
        "discount_code"
    );
    // Never a silent full price: nothing was ordered.
    assert_eq!(app.count("orders").await, 0);
    // The preview refuses alike.
    let (status, problem) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/discounts/old?slug=other-book",
        None,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "discount_expired");
    // The scoped code works on its own product.
    let (status, started) = checkout(
        &app,
        &shopper,
        json!({"slug": "refusal-book", "discount_code": "Only-Other"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["amount"]["amount_cents"], 900);
}

async fn the_rounding_rule_and_codes_that_take_everything_off(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Cheap Zine", "0.99", pdf("z")).await;
    app.product(&admin, "Given Away", "12", pdf("g")).await;
    app.product(&admin, "Over Taken", "3", pdf("t")).await;
    create_discount(&app, &admin, json!({"code": "THIRD", "percent_off": 33})).await;
    create_discount(&app, &admin, json!({"code": "FREE", "percent_off": 100})).await;
    create_discount(&app, &admin, json!({"code": "BIG", "amount_off": "50"})).await;
    let shopper = app.customer("shopper@example.com").await.access_token;
    // 33 % of 0.99 = 0.3267: 0.33 off (half up), 0.66 charged, exactly what Stripe is asked for.
    let (status, started) = checkout(
        &app,
        &shopper,
        json!({"slug": "cheap-zine", "discount_code": "third"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["amount"]["amount_cents"], 66);
    let session = app
        .emulator
        .session(started["session_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(session["amount_total"], 66);
    app.emulator
        .pay(started["session_id"].as_str().unwrap())
        .unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    let orders = own_orders(&app, &shopper).await;
    assert_eq!(orders[0]["status"], "paid");
    assert_eq!(orders[0]["amount"]["amount_cents"], 66);
    assert_eq!(orders[0]["list_price"]["amount_cents"], 99);
    assert_eq!(orders[0]["discount"]["amount"]["amount_cents"], 33);
    assert_eq!(orders[0]["total"]["amount_cents"], session["amount_total"]);
    // 100 % off: granted without Stripe, an order of 0.
    let sessions_before = app.emulator.events().len();
    for (slug, code) in [("given-away", "FREE"), ("over-taken", "big")] {
        let (status, started) =
            checkout(&app, &shopper, json!({"slug": slug, "discount_code": code})).await;
        assert_eq!(status, StatusCode::CREATED, "{started}");
        assert_eq!(started["status"], "paid");
        assert_eq!(started["checkout_url"], Value::Null);
        assert_eq!(started["amount"]["amount_cents"], 0);
    }
    assert_eq!(
        app.emulator.events().len(),
        sessions_before,
        "Stripe never heard of them"
    );
    assert_eq!(
        library_slugs(&app, &shopper).await,
        ["cheap-zine", "given-away", "over-taken"]
    );
    let orders = own_orders(&app, &shopper).await;
    let over = orders
        .iter()
        .find(|o| o["product"]["slug"] == "over-taken")
        .unwrap();
    assert_eq!(over["amount"]["amount_cents"], 0);
    assert_eq!(
        over["discount"]["amount"]["amount_cents"], 300,
        "at most the price"
    );
    // Nothing went through Stripe, so there is nothing to refund.
    let (status, problem) = send(
        &app,
        reqwest::Method::POST,
        &format!(
            "/api/v1/admin/orders/{}/refund",
            over["id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    assert_eq!(problem["code"], "nothing_to_refund");
    // Owned, so a second checkout is refused before any code is looked at.
    let (status, problem) = checkout(
        &app,
        &shopper,
        json!({"slug": "given-away", "discount_code": "FREE"}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(problem["code"], "already_owned");
    // The receipt of an order of 0 is mailed too.
    let receipts = app.smtp.wait_for("shopper@example.com", 3, WAIT).await;
    assert_eq!(receipts.len(), 3);
}

async fn twenty_concurrent_checkouts_share_the_last_redemption_and_expiry_gives_it_back(
    app: TestApp,
) {
    let admin = app.admin().await;
    app.product(&admin, "Scarce Deal", "10", pdf("s")).await;
    create_discount(
        &app,
        &admin,
        json!({"code": "LAST-ONE", "percent_off": 25, "max_redemptions": 1}),
    )
    .await;
    let mut shoppers = Vec::new();
    for i in 0..20 {
        shoppers.push(
            app.customer(&format!("shopper{i}@example.com"))
                .await
                .access_token,
        );
    }
    let body = json!({"slug": "scarce-deal", "discount_code": "last-one"});
    let results = futures_util::future::join_all(
        shoppers
            .iter()
            .map(|token| checkout(&app, token, body.clone())),
    )
    .await;
    let won: Vec<&Value> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .map(|(_, v)| v)
        .collect();
    assert_eq!(won.len(), 1, "exactly one discounted session: {results:?}");
    assert_eq!(won[0]["amount"]["amount_cents"], 750);
    for (status, problem) in results.iter().filter(|(s, _)| *s != StatusCode::CREATED) {
        assert_eq!(*status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(problem["code"], "discount_exhausted");
    }
    // The session holds the redemption until it ends, and says when at most.
    let session_id = won[0]["session_id"].as_str().unwrap().to_owned();
    let session = app.emulator.session(&session_id).unwrap();
    let lives = session["expires_at"].as_i64().unwrap() - chrono::Utc::now().timestamp();
    assert!((30 * 60..=36 * 60).contains(&lives), "{lives} s");
    // Abandoned: Stripe expires it, and the redemption comes back.
    app.emulator.expire(&session_id).unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    let (status, started) = checkout(&app, &shoppers[7], body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["amount"]["amount_cents"], 750);
    refused(&app, &shoppers[8], body, "discount_exhausted").await;
}

async fn per_customer_caps_hold(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "First Volume", "10", pdf("1")).await;
    app.product(&admin, "Second Volume", "10", pdf("2")).await;
    create_discount(
        &app,
        &admin,
        json!({"code": "WELCOME", "percent_off": 50, "max_per_customer": 1}),
    )
    .await;
    let ada = app.customer("ada@example.com").await.access_token;
    let bob = app.customer("bob@example.com").await.access_token;
    let (status, _) = checkout(
        &app,
        &ada,
        json!({"slug": "first-volume", "discount_code": "welcome"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    refused(
        &app,
        &ada,
        json!({"slug": "second-volume", "discount_code": "WELCOME"}),
        "discount_limit_reached",
    )
    .await;
    // The preview knows it too, for a signed-in buyer.
    let (status, problem) = send(
        &app,
        reqwest::Method::GET,
        "/api/v1/discounts/welcome?slug=second-volume",
        Some(&ada),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "discount_limit_reached");
    let (status, _) = checkout(
        &app,
        &bob,
        json!({"slug": "second-volume", "discount_code": "WELCOME"}),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "another customer has their own"
    );
    // A guest is counted by the address's account.
    let (status, _) = send(
        &app,
        reqwest::Method::POST,
        "/api/v1/checkout",
        None,
        Some(json!({"slug": "second-volume", "discount_code": "WELCOME",
                    "email": "ada@example.com"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

async fn pay_what_you_want_checks_the_amount(app: TestApp) {
    let admin = app.admin().await;
    let form = product_form("Tip Jar", "2", pdf("t"), None)
        .text("pay_what_you_want", "true")
        .text("suggested_price", "5");
    let res = app.create_product(&admin, form).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let product: Value = res.json().await.unwrap();
    assert_eq!(product["pricing"], "pay_what_you_want");
    assert_eq!(product["suggested_price"]["amount_cents"], 500);
    assert_eq!(product["is_free"], false);
    let form = product_form("Name Your Price", "0", pdf("n"), None).text("pay_what_you_want", "on");
    assert_eq!(
        app.create_product(&admin, form).await.status(),
        StatusCode::CREATED
    );
    // A suggestion below the minimum is refused.
    let form = product_form("Bad Suggestion", "5", pdf("b"), None)
        .text("pay_what_you_want", "true")
        .text("suggested_price", "1");
    let res = app.create_product(&admin, form).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem(res).await["errors"][0]["field"], "suggested_price");
    app.product(&admin, "Fixed Thing", "3", pdf("f")).await;

    let shopper = app.customer("shopper@example.com").await.access_token;
    let buy = |amount: &str| json!({"slug": "tip-jar", "amount": amount});
    refused(&app, &shopper, buy("1.99"), "amount_below_minimum").await;
    refused(&app, &shopper, buy("2.505"), "amount_invalid").await;
    refused(&app, &shopper, buy("-3"), "amount_invalid").await;
    let problem = refused(&app, &shopper, buy("1000.01"), "amount_above_maximum").await;
    assert!(problem["detail"].as_str().unwrap().contains("$1,000.00"));
    refused(
        &app,
        &shopper,
        json!({"slug": "fixed-thing", "amount": "9"}),
        "amount_not_allowed",
    )
    .await;
    refused(
        &app,
        &shopper,
        json!({"slug": "tip-jar", "amount": "4", "discount_code": "ANY"}),
        "discount_invalid",
    )
    .await;
    // At the minimum, the minimum is what Stripe is asked for.
    let (status, started) = checkout(&app, &shopper, buy("2")).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["amount"]["amount_cents"], 200);
    let session = app
        .emulator
        .session(started["session_id"].as_str().unwrap())
        .unwrap();
    assert_eq!(session["amount_total"], 200);
    // Left out, the suggested price.
    let other = app.customer("other@example.com").await.access_token;
    let (_, started) = checkout(&app, &other, json!({"slug": "tip-jar"})).await;
    assert_eq!(started["amount"]["amount_cents"], 500);
    // 0 on a free minimum: granted like a free item, recorded as an order of 0.
    let (status, started) = checkout(
        &app,
        &shopper,
        json!({"slug": "name-your-price", "amount": "0"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    assert_eq!(started["status"], "paid");
    assert_eq!(started["checkout_url"], Value::Null);
    assert!(library_slugs(&app, &shopper)
        .await
        .contains(&"name-your-price".to_owned()));
    // But between 0 and Stripe's least charge it is refused.
    refused(
        &app,
        &other,
        json!({"slug": "name-your-price", "amount": "0.20"}),
        "amount_below_minimum",
    )
    .await;
    // A pay-what-you-want item from 0 is not free to download without that order.
    let res = app.download_token(&other, "name-your-price").await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn a_bundle_grants_its_items_and_a_refund_takes_back_only_what_no_other_order_gave(
    app: TestApp,
) {
    let admin = app.admin().await;
    let a = app.product(&admin, "Part One", "10", pdf("a")).await;
    let b = app.product(&admin, "Part Two", "10", pdf("b")).await;
    // A bundle needs no file of its own.
    let form = reqwest::multipart::Form::new()
        .text("title", "Complete Set")
        .text("price", "15")
        .text(
            "bundle_items",
            format!(
                "{},{}",
                a["id"].as_str().unwrap(),
                b["id"].as_str().unwrap()
            ),
        );
    let res = app.create_product(&admin, form).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let bundle: Value = res.json().await.unwrap();
    assert_eq!(bundle["bundle_items"][0]["slug"], "part-one");
    assert_eq!(bundle["bundle_items"][1]["slug"], "part-two");
    // No nesting, no self.
    let (status, problem) = send(
        &app,
        reqwest::Method::PATCH,
        &format!("/api/v1/admin/products/{}", a["id"].as_str().unwrap()),
        Some(&admin),
        Some(json!({"bundle_items": [bundle["id"]]})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "bundle_items");
    let page: Value = app
        .get("/api/v1/products/complete-set", None)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["bundle_items"].as_array().unwrap().len(), 2);

    // Ada owns part one already, then buys the set.
    let ada = app.customer("ada@example.com").await.access_token;
    let (_, first) = checkout(&app, &ada, json!({"slug": "part-one"})).await;
    app.emulator
        .pay(first["session_id"].as_str().unwrap())
        .unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    let (status, set) = checkout(&app, &ada, json!({"slug": "complete-set"})).await;
    assert_eq!(status, StatusCode::CREATED, "{set}");
    app.emulator
        .pay(set["session_id"].as_str().unwrap())
        .unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    assert_eq!(
        library_slugs(&app, &ada).await,
        ["complete-set", "part-one", "part-two"]
    );
    let mine: Value = app
        .get("/api/v1/library", Some(&ada))
        .await
        .json()
        .await
        .unwrap();
    let two = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["slug"] == "part-two")
        .unwrap();
    assert_eq!(two["via_bundle"]["slug"], "complete-set");
    let res = app.download_token(&ada, "part-two").await;
    assert_eq!(res.status(), StatusCode::OK);

    // Archiving an item does not take it from buyers.
    let (status, _) = send(
        &app,
        reqwest::Method::DELETE,
        &format!("/api/v1/admin/products/{}", b["id"].as_str().unwrap()),
        Some(&admin),
        None,
    )
    .await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        app.download_token(&ada, "part-two").await.status(),
        StatusCode::OK
    );

    // Refunding the set takes back part two and the set; part one came with its own order.
    let (status, refunded) = send(
        &app,
        reqwest::Method::POST,
        &format!(
            "/api/v1/admin/orders/{}/refund",
            set["order_id"].as_str().unwrap()
        ),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refunded}");
    assert_eq!(library_slugs(&app, &ada).await, ["part-one"]);
    // Archived and no longer hers, it is not even there for her.
    assert_eq!(
        app.download_token(&ada, "part-two").await.status(),
        StatusCode::NOT_FOUND
    );

    // Bob buys the set first and part one after? He cannot: he owns it. A refund of his set
    // then takes everything back.
    let bob = app.customer("bob@example.com").await.access_token;
    let (_, set) = checkout(&app, &bob, json!({"slug": "complete-set"})).await;
    app.emulator
        .pay(set["session_id"].as_str().unwrap())
        .unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    // Part two is archived: a new buyer gets only what is still sold.
    assert_eq!(
        library_slugs(&app, &bob).await,
        ["complete-set", "part-one"]
    );
    let (status, problem) = checkout(&app, &bob, json!({"slug": "part-one"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{problem}");
    // A lost dispute of the set revokes it too.
    let pi = app
        .emulator
        .session(set["session_id"].as_str().unwrap())
        .unwrap()["payment_intent"]
        .as_str()
        .unwrap()
        .to_owned();
    let dispute = app.emulator.create_dispute(&pi).unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    app.emulator.close_dispute(&dispute, false).unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
    assert!(library_slugs(&app, &bob).await.is_empty());
}

/// Pays a session on the emulator, as a buyer in Germany (19 %).
async fn pay_in_germany(app: &TestApp, session_id: &str) {
    app.emulator.pay(session_id).unwrap();
    assert!(app.emulator.wait_idle(WAIT).await);
}

async fn with_stripe_tax_the_order_records_tax_total_and_its_invoice(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Taxed Guide", "19.99", pdf("t")).await;
    let shopper = app.customer("shopper@example.com").await.access_token;
    let (status, started) = checkout(&app, &shopper, json!({"slug": "taxed-guide"})).await;
    assert_eq!(status, StatusCode::CREATED, "{started}");
    let session_id = started["session_id"].as_str().unwrap();
    let session = app.emulator.session(session_id).unwrap();
    assert_eq!(session["automatic_tax"]["enabled"], true);
    assert_eq!(session["tax_id_collection"]["enabled"], true);
    assert_eq!(session["billing_address_collection"], "required");
    assert_eq!(session["invoice_creation"]["enabled"], true);
    pay_in_germany(&app, session_id).await;
    let session = app.emulator.session(session_id).unwrap();
    // 19 % of 19.99 = 3.7981: 3.80.
    assert_eq!(session["total_details"]["amount_tax"], 380);
    assert_eq!(session["amount_total"], 2379);
    // The invoice's page is fetched by a job just after.
    let deadline = std::time::Instant::now() + WAIT;
    let order = loop {
        let order = own_orders(&app, &shopper).await.remove(0);
        if order["invoice_url"].is_string() || std::time::Instant::now() > deadline {
            break order;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(order["status"], "paid");
    assert_eq!(order["amount"]["amount_cents"], 1999);
    assert_eq!(order["tax"]["amount_cents"], 380);
    assert_eq!(order["total"]["amount_cents"], session["amount_total"]);
    let invoice_url = order["invoice_url"].as_str().expect("an invoice link");
    let page = app.bare_client().get(invoice_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("23.79"),
        "the invoice shows the total: {html}"
    );
    // The receipt says what was charged, tax included.
    let receipt = app.smtp.wait_for("shopper@example.com", 1, WAIT).await;
    assert!(
        receipt[0].text().contains("$23.79"),
        "{}",
        receipt[0].text()
    );
}

async fn prices_that_include_tax_charge_the_price(app: TestApp) {
    let admin = app.admin().await;
    app.product(&admin, "Inclusive Guide", "11.90", pdf("i"))
        .await;
    let shopper = app.customer("shopper@example.com").await.access_token;
    let (_, started) = checkout(&app, &shopper, json!({"slug": "inclusive-guide"})).await;
    let session_id = started["session_id"].as_str().unwrap();
    pay_in_germany(&app, session_id).await;
    let session = app.emulator.session(session_id).unwrap();
    assert_eq!(session["amount_total"], 1190);
    // 11.90 × 19 / 119 = 1.90.
    assert_eq!(session["total_details"]["amount_tax"], 190);
    let order = own_orders(&app, &shopper).await.remove(0);
    assert_eq!(order["total"]["amount_cents"], 1190);
    assert_eq!(order["tax"]["amount_cents"], 190);
}

//! The HTTP API and the hosted page, spoken to directly.

use serde_json::{json, Value};

use crate::support::{
    create_session, emulator, get_json, http, paid_session, pair, post_form, session_form, settle,
    KEY,
};

#[actix_web::test]
async fn api_keys_are_required() {
    let em = emulator(None);
    let base = em.base_url();
    let client = http();
    let url = format!("{base}/v1/checkout/sessions/cs_test_x");

    let none = client.get(&url).send().await.unwrap();
    assert_eq!(none.status(), 401);
    let body: Value = none.json().await.unwrap();
    assert_eq!(body["error"]["type"], "invalid_request_error");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("did not provide an API key"));

    for auth in [
        "Bearer sk_live_1234567890abcdef",
        "Bearer pk_test_abc",
        "Bearer sk_test_",
        "Token sk_test_x",
    ] {
        let response = client
            .get(&url)
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{auth}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid API Key provided"),
            "{body}"
        );
    }
    let live = client
        .get(&url)
        .header("Authorization", "Bearer sk_live_1234567890abcdef")
        .send()
        .await
        .unwrap();
    let body: Value = live.json().await.unwrap();
    assert!(
        !body.to_string().contains("1234567890"),
        "keys are masked: {body}"
    );

    // A valid key gets past the gate (to a 404 for this id); so does curl's `-u sk_test_...:`.
    let ok = client.get(&url).bearer_auth(KEY).send().await.unwrap();
    assert_eq!(ok.status(), 404);
    assert!(ok.headers().contains_key("request-id"));
    let basic = client
        .get(&url)
        .basic_auth(KEY, Some(""))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 404);
}

#[actix_web::test]
async fn bracket_notation_is_parsed() {
    let em = emulator(None);
    let base = em.base_url();
    // Literal brackets (async-stripe), indices out of order, `expand[]`, nested metadata.
    let body = [
        "mode=payment",
        "line_items[1][price_data][currency]=usd",
        "line_items[1][price_data][unit_amount]=500",
        "line_items[1][price_data][product_data][name]=Second",
        "line_items[1][quantity]=3",
        "line_items[0][price_data][currency]=USD",
        "line_items[0][price_data][unit_amount]=1999",
        "line_items[0][price_data][product_data][name]=First+book",
        "line_items[0][quantity]=1",
        "success_url=http://shop.test/ok",
        "metadata[order_id]=42",
        "metadata[note]=a%26b%3Dc",
        "payment_intent_data[metadata][order_id]=42",
        "expand[]=line_items",
    ]
    .join("&");
    let (status, session, _) =
        post_form(&http(), &format!("{base}/v1/checkout/sessions"), &body).await;
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["amount_total"], 1999 + 1500);
    assert_eq!(session["currency"], "usd");
    assert_eq!(
        session["metadata"],
        json!({"order_id": "42", "note": "a&b=c"})
    );
    let items = session["line_items"]["data"].as_array().unwrap();
    assert_eq!(items[0]["description"], "First book");
    assert_eq!(items[1]["description"], "Second");
    assert_eq!(items[1]["quantity"], 3);
    assert_eq!(items[1]["amount_total"], 1500);

    // Fully percent-encoded keys (browsers, `curl --data-urlencode`, reqwest's `.form`).
    let encoded = [
        ("mode", "payment"),
        ("line_items[0][price_data][currency]", "eur"),
        ("line_items[0][price_data][unit_amount]", "750"),
        ("line_items[0][price_data][product_data][name]", "Encoded"),
        ("line_items[0][quantity]", "2"),
        (
            "success_url",
            "https://shop.test/ok?id={CHECKOUT_SESSION_ID}",
        ),
    ];
    let response = http()
        .post(format!("{base}/v1/checkout/sessions"))
        .bearer_auth(KEY)
        .form(&encoded)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["amount_total"], 1500);
    assert_eq!(session["currency"], "eur");

    // Both ways of writing `expand` in a query string.
    let id = session["id"].as_str().unwrap();
    for query in [
        "expand[]=line_items",
        "expand[0]=line_items",
        "expand%5B0%5D=line_items",
    ] {
        let (status, s) = get_json(
            &http(),
            &format!("{base}/v1/checkout/sessions/{id}?{query}"),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(s["line_items"]["object"], "list", "{query}");
    }
}

#[actix_web::test]
async fn bad_parameters_get_stripe_errors() {
    let em = emulator(None);
    let url = format!("{}/v1/checkout/sessions", em.base_url());
    let client = http();
    let cases: Vec<(String, &str, &str)> = vec![
        (
            session_form().replace("unit_amount]=1999", "unit_amount]=49"),
            "amount_too_small",
            "line_items[0][price_data][unit_amount]",
        ),
        (
            session_form().replace("unit_amount]=1999", "unit_amount]=12.5"),
            "parameter_invalid_integer",
            "line_items[0][price_data][unit_amount]",
        ),
        (
            format!("{}&bogus=1", session_form()),
            "parameter_unknown",
            "bogus",
        ),
        (
            format!("{}&line_items[0][bogus]=1", session_form()),
            "parameter_unknown",
            "line_items[0][bogus]",
        ),
        (
            format!(
                "{}&payment_intent_data[capture_method]=manual",
                session_form()
            ),
            "parameter_unknown",
            "payment_intent_data[capture_method]",
        ),
        (
            session_form().replace("line_items[0][quantity]=1", "line_items[0][qty]=1"),
            "parameter_missing",
            "line_items[0][quantity]",
        ),
        (
            "mode=payment&success_url=http://shop.test/".to_string(),
            "parameter_missing",
            "line_items",
        ),
        (
            session_form().replace(
                "cancel_url=http%3A%2F%2Fshop.test%2Fcancel",
                "cancel_url=nope",
            ),
            "url_invalid",
            "cancel_url",
        ),
        (
            session_form().replace("&customer_email=ada%40example.com", ""),
            "",
            "",
        ),
    ];
    for (body, code, param) in cases {
        let (status, json, _) = post_form(&client, &url, &body).await;
        if code.is_empty() {
            assert_eq!(status, 200, "{json}");
            continue;
        }
        assert_eq!(status, 400, "{body}: {json}");
        assert_eq!(json["error"]["type"], "invalid_request_error");
        assert_eq!(json["error"]["code"], code, "{json}");
        assert_eq!(json["error"]["param"], param, "{json}");
        assert!(json["error"]["message"].as_str().is_some());
    }

    let without_success = session_form().replace(
        "&success_url=http%3A%2F%2Fshop.test%2Fok%3Fsession%3D%7BCHECKOUT_SESSION_ID%7D",
        "",
    );
    let (status, json, _) = post_form(&client, &url, &without_success).await;
    assert_eq!(
        (status, json["error"]["code"].as_str()),
        (400, Some("parameter_missing"))
    );
    assert_eq!(json["error"]["param"], "success_url");

    let (status, json, _) = post_form(
        &client,
        &url,
        &session_form().replace("mode=payment", "mode=setup"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(json["error"]["param"], "mode");

    let (status, json, _) = post_form(&client, &url, "line_items[0]=1&line_items[0][x]=2").await;
    assert_eq!(status, 400, "{json}");

    let (status, json) = get_json(&client, &format!("{}/v1/customers", em.base_url())).await;
    assert_eq!(status, 404);
    assert!(json["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("Unrecognized request URL"));
}

#[actix_web::test]
async fn idempotency_keys_return_the_stored_session() {
    let em = emulator(None);
    let url = format!("{}/v1/checkout/sessions", em.base_url());
    let client = http();
    let send = |body: String, key: &'static str| {
        let client = client.clone();
        let url = url.clone();
        async move {
            let response = client
                .post(&url)
                .bearer_auth(KEY)
                .header("Idempotency-Key", key)
                .body(body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let replayed = response.headers().contains_key("idempotent-replayed");
            (status, replayed, response.json::<Value>().await.unwrap())
        }
    };
    let (s1, r1, first) = send(session_form(), "key-1").await;
    let (s2, r2, second) = send(session_form(), "key-1").await;
    assert_eq!((s1, s2, r1, r2), (200, 200, false, true));
    assert_eq!(first, second);
    let (s3, _, third) = send(session_form(), "key-2").await;
    assert_eq!(s3, 200);
    assert_ne!(third["id"], first["id"]);
    // The same parameters in another order (a client's map, say) are the same request.
    let reordered: Vec<String> = session_form().split('&').rev().map(str::to_owned).collect();
    let (s4, r4, fourth) = send(reordered.join("&"), "key-1").await;
    assert_eq!((s4, r4), (200, true));
    assert_eq!(fourth["id"], first["id"]);

    let (status, _, error) = send(session_form().replace("1999", "2999"), "key-1").await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["type"], "idempotency_error");

    // A failed request stores nothing: the key can be used again once the request is fixed.
    let (status, _, _) = send(session_form().replace("1999", "1"), "key-3").await;
    assert_eq!(status, 400);
    let (status, _, _) = send(session_form(), "key-3").await;
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn the_hosted_page_pays() {
    let (em, hooks) = pair();
    let session = create_session(&em).await;
    let id = session["id"].as_str().unwrap();
    let url = session["url"].as_str().unwrap();
    let client = http();

    let page = client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    for needle in [
        "Rust for Shopkeepers",
        "$19.99",
        &format!(r#"action="/pay/{id}/pay""#),
        &format!(r#"action="/pay/{id}/pay-async""#),
        &format!(r#"action="/pay/{id}/decline""#),
        &format!(r#"action="/pay/{id}/cancel""#),
        r#"<button type="submit" id="pay""#,
        r#"<button type="submit" id="pay-async""#,
        r#"<button type="submit" id="decline""#,
        r#"<button type="submit" id="cancel""#,
        r#"method="post""#,
    ] {
        assert!(html.contains(needle), "page lacks {needle}:\n{html}");
    }
    assert!(
        !html.contains("<script") && !html.contains("src=\"http"),
        "no external assets"
    );

    let paid = client.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"],
        format!("http://shop.test/ok?session={id}").as_str()
    );
    let now = em.session(id).unwrap();
    assert_eq!(now["status"], "complete");
    assert_eq!(now["payment_status"], "paid");
    assert!(now["payment_intent"].as_str().unwrap().starts_with("pi_"));
    assert_eq!(now["customer_details"]["email"], "ada@example.com");

    let after = client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(after.contains("no longer payable"));
    assert!(!after.contains("<button"));
    // A second click goes to the success page again, without a second event.
    let again = client.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(again.status(), 303);
    settle(&em).await;
    let events = hooks.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "checkout.session.completed");
    assert_eq!(events[0]["data"]["object"]["id"], id);

    let missing = client
        .get(format!("{}/pay/cs_test_nope", em.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
}

#[actix_web::test]
async fn decline_and_cancel_leave_the_session_open() {
    let (em, hooks) = pair();
    let session = create_session(&em).await;
    let id = session["id"].as_str().unwrap();
    let url = session["url"].as_str().unwrap();
    let client = http();

    let declined = client.post(format!("{url}/decline")).send().await.unwrap();
    assert_eq!(declined.status(), 402);
    let html = declined.text().await.unwrap();
    assert!(html.contains("Your card was declined."));
    assert!(html.contains(r#"id="pay""#), "the customer can try again");
    assert_eq!(em.session(id).unwrap()["status"], "open");

    let cancelled = client.post(format!("{url}/cancel")).send().await.unwrap();
    assert_eq!(cancelled.status(), 303);
    assert_eq!(cancelled.headers()["location"], "http://shop.test/cancel");
    assert_eq!(em.session(id).unwrap()["status"], "open");

    settle(&em).await;
    assert!(hooks.received().is_empty());
    assert!(em.events().is_empty());
}

#[actix_web::test]
async fn pay_later_settles_or_fails_after_the_delay() {
    let (em, hooks) = pair();
    let client = http();

    let session = create_session(&em).await;
    let id = session["id"].as_str().unwrap();
    let url = session["url"].as_str().unwrap();
    let response = client
        .post(format!("{url}/pay-async"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("http://shop.test/ok?session={id}").as_str()
    );
    let pending = em.session(id).unwrap();
    assert_eq!(
        (
            pending["status"].as_str(),
            pending["payment_status"].as_str()
        ),
        (Some("complete"), Some("unpaid"))
    );
    settle(&em).await;
    assert_eq!(em.session(id).unwrap()["payment_status"], "paid");

    let failing = create_session(&em).await;
    let failing_id = failing["id"].as_str().unwrap();
    let response = client
        .post(format!("{}/pay-async", failing["url"].as_str().unwrap()))
        .form(&[("outcome", "fail")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    settle(&em).await;
    assert_eq!(em.session(failing_id).unwrap()["payment_status"], "unpaid");

    let types: Vec<(String, String)> = hooks
        .events()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["data"]["object"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(types.contains(&("checkout.session.completed".into(), id.into())));
    assert!(types.contains(&("checkout.session.async_payment_succeeded".into(), id.into())));
    assert!(types.contains(&("checkout.session.completed".into(), failing_id.into())));
    assert!(types.contains(&(
        "checkout.session.async_payment_failed".into(),
        failing_id.into()
    )));
    assert_eq!(types.len(), 4);
}

#[actix_web::test]
async fn sessions_expire() {
    let (em, hooks) = pair();
    let client = http();
    let base = em.base_url();
    let session = create_session(&em).await;
    let id = session["id"].as_str().unwrap();

    let (status, expired, _) = post_form(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}/expire"),
        "",
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(expired["status"], "expired");
    assert_eq!(expired["url"], Value::Null);

    let (status, again, _) = post_form(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}/expire"),
        "",
    )
    .await;
    assert_eq!(status, 400, "{again}");
    assert!(em.pay(id).is_err());
    let page = client
        .post(format!("{base}/pay/{id}/pay"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 409);
    assert!(page.text().await.unwrap().contains("no longer payable"));

    let (status, _, _) = post_form(
        &client,
        &format!("{base}/v1/checkout/sessions/cs_test_nope/expire"),
        "",
    )
    .await;
    assert_eq!(status, 404);
    settle(&em).await;
    let events = hooks.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "checkout.session.expired");
    assert!(events[0]["request"]["id"]
        .as_str()
        .unwrap()
        .starts_with("req_"));
}

#[actix_web::test]
async fn refunds_partial_then_full() {
    let (em, hooks) = pair();
    let client = http();
    let base = em.base_url();
    let (_, pi) = paid_session(&em).await;
    let refunds = format!("{base}/v1/refunds");

    let (status, first, _) = post_form(
        &client,
        &refunds,
        &format!("payment_intent={pi}&amount=500&metadata[ticket]=7"),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        (
            first["object"].as_str(),
            first["amount"].as_i64(),
            first["status"].as_str()
        ),
        (Some("refund"), Some(500), Some("succeeded"))
    );
    assert_eq!(first["metadata"]["ticket"], "7");
    let charge = first["charge"].as_str().unwrap().to_string();

    let (status, error, _) =
        post_form(&client, &refunds, &format!("charge={charge}&amount=1500")).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "amount_too_large");

    let (status, rest, _) = post_form(&client, &refunds, &format!("charge={charge}")).await;
    assert_eq!(status, 200);
    assert_eq!(rest["amount"], 1499);

    let (status, error, _) =
        post_form(&client, &refunds, &format!("payment_intent={pi}&amount=1")).await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "charge_already_refunded");
    let (status, error, _) = post_form(&client, &refunds, "payment_intent=pi_nope").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("resource_missing"))
    );
    let (status, error, _) = post_form(&client, &refunds, "amount=5").await;
    assert_eq!(
        (status, error["error"]["code"].as_str()),
        (400, Some("parameter_missing"))
    );

    let (_, charge_json) = get_json(&client, &format!("{base}/v1/charges/{charge}")).await;
    assert_eq!(charge_json["amount_refunded"], 1999);
    assert_eq!(charge_json["refunded"], true);
    assert_eq!(charge_json["refunds"]["data"].as_array().unwrap().len(), 2);

    settle(&em).await;
    let mut refunded: Vec<(i64, bool)> = hooks
        .events()
        .iter()
        .filter(|e| e["type"] == "charge.refunded")
        .map(|e| {
            (
                e["data"]["object"]["amount_refunded"].as_i64().unwrap(),
                e["data"]["object"]["refunded"].as_bool().unwrap(),
            )
        })
        .collect();
    // Each event is delivered by a task of its own: they may land in any order.
    refunded.sort_unstable();
    assert_eq!(refunded, [(500, false), (1999, true)]);
}

#[actix_web::test]
async fn disputes_over_http() {
    let (em, hooks) = pair();
    let client = http();
    let base = em.base_url();
    let (_, pi) = paid_session(&em).await;

    let created = client
        .post(format!("{base}/_emulator/disputes"))
        .form(&[("payment_intent", pi.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 200);
    let dispute: Value = created.json().await.unwrap();
    assert_eq!(dispute["status"], "needs_response");
    assert_eq!(dispute["payment_intent"], pi.as_str());
    assert!(dispute["charge"].as_str().unwrap().starts_with("ch_"));
    let id = dispute["id"].as_str().unwrap();

    let closed = client
        .post(format!("{base}/_emulator/disputes/{id}/close"))
        .json(&json!({"status": "lost"}))
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    assert_eq!(closed.json::<Value>().await.unwrap()["status"], "lost");
    let twice = client
        .post(format!("{base}/_emulator/disputes/{id}/close?status=won"))
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 400);
    let unknown = client
        .post(format!("{base}/_emulator/disputes"))
        .json(&json!({"payment_intent": "pi_nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);

    settle(&em).await;
    // Each event is delivered by a task of its own, as Stripe does: they may land in any order.
    let events = hooks.events();
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    assert_eq!(
        types,
        [
            "charge.dispute.closed",
            "charge.dispute.created",
            "checkout.session.completed"
        ]
    );
    let created = events
        .iter()
        .find(|e| e["type"] == "charge.dispute.created")
        .unwrap();
    let charge = &created["data"]["object"]["charge"];
    let (_, charge) = get_json(
        &client,
        &format!("{base}/v1/charges/{}", charge.as_str().unwrap()),
    )
    .await;
    assert_eq!(charge["disputed"], true);
}

#[actix_web::test]
async fn knobs_over_http_and_api_outage() {
    let em = emulator(None);
    let client = http();
    let base = em.base_url();

    let response = client
        .post(format!("{base}/_emulator/knobs"))
        .json(&json!({"api_outage": true, "duplicates": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let knobs = em.knobs();
    assert!(knobs.api_outage);
    assert_eq!(knobs.duplicates, 2);
    assert!(!knobs.hold);
    let current: Value = client
        .get(format!("{base}/_emulator/knobs"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(current["duplicates"], 2);
    let bad = client
        .post(format!("{base}/_emulator/knobs"))
        .json(&json!({"nope": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let (status, body, _) = post_form(
        &client,
        &format!("{base}/v1/checkout/sessions"),
        &session_form(),
    )
    .await;
    assert_eq!(status, 500);
    assert_eq!(body["error"]["type"], "api_error");
    // The page and the controls keep working during an outage.
    client
        .post(format!("{base}/_emulator/knobs"))
        .json(&json!({"api_outage": false}))
        .send()
        .await
        .unwrap();
    let (status, _, _) = post_form(
        &client,
        &format!("{base}/v1/checkout/sessions"),
        &session_form(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        em.knobs().duplicates,
        2,
        "a partial update keeps the other knobs"
    );
}

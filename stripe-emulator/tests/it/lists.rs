//! The list endpoints a shop reconciles with (`GET /v1/checkout/sessions`, `/v1/charges`,
//! `/v1/refunds`), the knob `drop_webhooks` that makes reconciling necessary, and
//! `Emulator::refund`, a refund made on Stripe's side.

use std::time::Duration;

use serde_json::{json, Value};
use stripe::StripeRequest;
use stripe_emulator::{Advance, Emulator, EmulatorError};
use stripe_types::{List, RangeBoundsTs, RangeQueryTs};

use crate::support::{
    create_session, get_json, http, now, paid_session, pair, post_form, settle, subscribe, KEY,
};
use crate::validator::spec;

const DAY: i64 = 24 * 3600;

fn ids(list: &Value) -> Vec<String> {
    list["data"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|item| item["id"].as_str().unwrap().to_string())
        .collect()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// GETs `path` (with its query) under `/v1`, expecting 200.
async fn list(em: &Emulator, path: &str) -> Value {
    let (status, json) = get_json(&http(), &format!("{}/v1{path}", em.base_url())).await;
    assert_eq!(status, 200, "{path}: {json}");
    assert_eq!(json["object"], "list", "{json}");
    json
}

/// GETs `path` under `/v1`, expecting Stripe's 400 `invalid_request_error`; returns `error`.
async fn refused(em: &Emulator, path: &str) -> Value {
    let (status, json) = get_json(&http(), &format!("{}/v1{path}", em.base_url())).await;
    assert_eq!(status, 400, "{path}: {json}");
    assert_eq!(json["error"]["type"], "invalid_request_error", "{json}");
    json["error"].clone()
}

/// Walks a list with `limit=1` and `starting_after` to its end; every page but the last says
/// `has_more`.
async fn walk(em: &Emulator, path: &str, filter: &str) -> Vec<String> {
    let mut walked = Vec::new();
    loop {
        let cursor = walked
            .last()
            .map(|c| format!("&starting_after={c}"))
            .unwrap_or_default();
        let page = list(em, &format!("{path}?limit=1{filter}{cursor}")).await;
        let page_ids = ids(&page);
        if page_ids.is_empty() {
            assert_eq!(page["has_more"], false);
            return walked;
        }
        assert_eq!(page_ids.len(), 1, "{page}");
        walked.extend(page_ids);
        if page["has_more"] == false {
            return walked;
        }
        assert!(walked.len() < 100, "the walk does not end");
    }
}

/// The bad `limit`s, an unknown cursor (Stripe's `resource_missing`), both cursors at once, an
/// unknown parameter and a bad `created` bound, on one list.
async fn assert_refuses_what_stripe_refuses(em: &Emulator, path: &str, kind: &str, unknown: &str) {
    for bad in ["0", "101", "-1", "ten"] {
        let error = refused(em, &format!("{path}?limit={bad}")).await;
        assert_eq!(error["param"], "limit", "{bad}: {error}");
        assert_eq!(error["code"], "parameter_invalid_integer", "{bad}: {error}");
    }
    for cursor in ["starting_after", "ending_before"] {
        let error = refused(em, &format!("{path}?{cursor}={unknown}")).await;
        assert_eq!(error["code"], "resource_missing", "{error}");
        assert_eq!(error["param"], cursor);
        assert_eq!(error["message"], format!("No such {kind}: '{unknown}'"));
    }
    let first = ids(&list(em, path).await)[0].clone();
    let error = refused(
        em,
        &format!("{path}?starting_after={first}&ending_before={first}"),
    )
    .await;
    assert_eq!(error["code"], "parameters_exclusive");
    let error = refused(em, &format!("{path}?colour=blue")).await;
    assert_eq!(
        (&error["code"], &error["param"]),
        (&json!("parameter_unknown"), &json!("colour"))
    );
    let error = refused(em, &format!("{path}?created[gte]=yesterday")).await;
    assert_eq!(
        (&error["code"], &error["param"]),
        (&json!("parameter_invalid_integer"), &json!("created[gte]"))
    );
    let error = refused(em, &format!("{path}?created[since]=1")).await;
    assert_eq!(error["param"], "created[since]");
}

#[actix_web::test]
async fn checkout_sessions_are_listed_newest_first_with_cursors_and_filters() {
    let (em, _hooks) = pair();
    let a = create_session(&em).await;
    let a_created = a["created"].as_i64().unwrap();
    // The others a second later, so that `created` tells them apart; among them, the order
    // they were made in does.
    while now() <= a_created {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let b = create_session(&em).await;
    let c = create_session(&em).await;
    let d = create_session(&em).await;
    let (a, b, c, d) = (id(&a), id(&b), id(&c), id(&d));
    em.pay(&c).unwrap();
    em.expire(&d).unwrap();
    let b_created = em.session(&b).unwrap()["created"].as_i64().unwrap();
    assert!(b_created > a_created);
    let newest_first = [d.as_str(), c.as_str(), b.as_str(), a.as_str()]
        .map(str::to_string)
        .to_vec();

    let all = list(&em, "/checkout/sessions").await;
    assert_eq!(all["url"], "/v1/checkout/sessions");
    assert_eq!(all["has_more"], false);
    assert_eq!(ids(&all), newest_first);
    // Each exactly as `GET /v1/checkout/sessions/{id}` shows it.
    for item in all["data"].as_array().unwrap() {
        let one = list_free_get(&em, &format!("/checkout/sessions/{}", id(item))).await;
        assert_eq!(item, &one);
        spec().assert_valid("checkout.session", item);
        assert!(item.get("line_items").is_none());
    }

    // Pages of one, to the end.
    assert_eq!(walk(&em, "/checkout/sessions", "").await, newest_first);
    let first_two = list(&em, "/checkout/sessions?limit=2").await;
    assert_eq!(
        (ids(&first_two), &first_two["has_more"]),
        (vec![d.clone(), c.clone()], &json!(true))
    );
    let rest = list(
        &em,
        &format!("/checkout/sessions?limit=2&starting_after={c}"),
    )
    .await;
    assert_eq!(
        (ids(&rest), &rest["has_more"]),
        (vec![b.clone(), a.clone()], &json!(false))
    );
    // `ending_before`: the ones just newer than the cursor, still newest first.
    let before = list(
        &em,
        &format!("/checkout/sessions?limit=2&ending_before={a}"),
    )
    .await;
    assert_eq!(
        (ids(&before), &before["has_more"]),
        (vec![c.clone(), b.clone()], &json!(true))
    );
    let before = list(&em, &format!("/checkout/sessions?ending_before={b}")).await;
    assert_eq!(
        (ids(&before), &before["has_more"]),
        (vec![d.clone(), c.clone()], &json!(false))
    );
    let none = list(&em, &format!("/checkout/sessions?ending_before={d}")).await;
    assert!(ids(&none).is_empty());

    // `created`, bounds and exact.
    let q = |query: String| {
        let em = em.clone();
        async move { ids(&list(&em, &format!("/checkout/sessions?{query}")).await) }
    };
    assert_eq!(
        q(format!("created[gt]={a_created}")).await,
        [d.as_str(), c.as_str(), b.as_str()]
    );
    assert_eq!(
        q(format!("created[gte]={b_created}")).await,
        [d.as_str(), c.as_str(), b.as_str()]
    );
    assert_eq!(q(format!("created[lte]={a_created}")).await, [a.as_str()]);
    assert_eq!(q(format!("created[lt]={b_created}")).await, [a.as_str()]);
    assert_eq!(q(format!("created={a_created}")).await, [a.as_str()]);
    assert_eq!(
        q(format!(
            "created[gte]={a_created}&created[lt]={}",
            b_created + 1
        ))
        .await,
        newest_first
    );
    assert!(q(format!("created[gt]={}", now() + 60)).await.is_empty());
    // With a cursor, as a reconciling shop pages through a window.
    assert_eq!(
        q(format!(
            "created[gte]={a_created}&limit=1&starting_after={c}"
        ))
        .await,
        [b.as_str()]
    );

    // `status`, `payment_intent`, `customer_details[email]`.
    assert_eq!(q("status=complete".into()).await, [c.as_str()]);
    assert_eq!(q("status=expired".into()).await, [d.as_str()]);
    assert_eq!(q("status=open".into()).await, [b.as_str(), a.as_str()]);
    let pi = em.session(&c).unwrap()["payment_intent"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(q(format!("payment_intent={pi}")).await, [c.as_str()]);
    assert!(q("payment_intent=pi_nope".into()).await.is_empty());
    assert_eq!(
        q("customer_details[email]=ada%40example.com".into()).await,
        [c.as_str()]
    );
    assert!(q("payment_link=plink_123".into()).await.is_empty());
    let error = refused(&em, "/checkout/sessions?status=paid").await;
    assert_eq!(error["param"], "status");

    // `expand[]=data.line_items`, as the retrieve endpoint's `expand[]=line_items`.
    let expanded = list(&em, "/checkout/sessions?limit=1&expand[]=data.line_items").await;
    assert_eq!(
        expanded["data"][0]["line_items"]["data"][0]["amount_total"],
        1999
    );
    spec().assert_valid("checkout.session", &expanded["data"][0]);
    let error = refused(&em, "/checkout/sessions?expand[]=line_items").await;
    assert_eq!(error["param"], "expand[0]");

    assert_refuses_what_stripe_refuses(
        &em,
        "/checkout/sessions",
        "checkout.session",
        "cs_test_nope",
    )
    .await;
    settle(&em).await;
}

/// GETs a retrieve endpoint, expecting 200.
async fn list_free_get(em: &Emulator, path: &str) -> Value {
    let (status, json) = get_json(&http(), &format!("{}/v1{path}", em.base_url())).await;
    assert_eq!(status, 200, "{path}: {json}");
    json
}

#[actix_web::test]
async fn charges_and_refunds_are_listed_like_stripe() {
    let (em, _hooks) = pair();
    let client = http();
    let base = em.base_url();
    let (_, pi1) = paid_session(&em).await;
    let (_, pi2) = paid_session(&em).await;
    let (_, sub) = subscribe(&em).await;
    // A renewal dated three days back: its charge's `created` is then.
    let renewed_at = now() - 3 * DAY;
    em.advance_subscription(&sub, Advance::Renew, Some(renewed_at))
        .unwrap();
    let renewal = em
        .invoice(
            em.subscription(&sub).unwrap()["latest_invoice"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let renewal_charge = renewal["charge"].as_str().unwrap().to_string();
    let renewal_pi = em
        .invoice_payment_intent(renewal["id"].as_str().unwrap())
        .unwrap();
    let customer = em.subscription(&sub).unwrap()["customer"]
        .as_str()
        .unwrap()
        .to_string();

    let charges = list(&em, "/charges?limit=100").await;
    assert_eq!(charges["url"], "/v1/charges");
    assert_eq!(charges["has_more"], false);
    let data = charges["data"].as_array().unwrap();
    assert_eq!(
        data.len(),
        4,
        "two payments, the subscription's first invoice, its renewal"
    );
    // Newest first by `created`: the renewal, made last but dated back, comes last.
    let created: Vec<i64> = data
        .iter()
        .map(|c| c["created"].as_i64().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    assert_eq!(id(&data[3]), renewal_charge);
    assert_eq!(data[3]["created"], renewed_at);
    assert_eq!(data[3]["payment_intent"], renewal_pi.as_str());
    assert!(data[3]["invoice"].is_string());
    assert_eq!(data[2]["payment_intent"], pi1.as_str());
    assert_eq!(data[1]["payment_intent"], pi2.as_str());
    for charge in data {
        let one = list_free_get(&em, &format!("/charges/{}", id(charge))).await;
        assert_eq!(charge, &one);
        spec().assert_valid("charge", charge);
    }
    let charge1 = id(&data[2]);
    let charge2 = id(&data[1]);
    assert_eq!(walk(&em, "/charges", "").await, ids(&charges));
    assert_eq!(
        ids(&list(&em, &format!("/charges?payment_intent={pi1}")).await),
        [charge1.as_str()]
    );
    assert_eq!(
        ids(&list(&em, &format!("/charges?created[lt]={}", now() - DAY)).await),
        [renewal_charge.as_str()]
    );
    assert_eq!(
        ids(&list(&em, &format!("/charges?customer={customer}")).await).len(),
        2
    );
    assert!(ids(&list(&em, "/charges?transfer_group=group_1").await).is_empty());
    assert_eq!(
        ids(&list(
            &em,
            &format!("/charges?limit=2&ending_before={renewal_charge}")
        )
        .await),
        [charge2.as_str(), charge1.as_str()]
    );

    // Refunds: two partial ones of the first payment, all of the second, and one of the
    // renewal made on Stripe's side.
    let mut made = Vec::new();
    for form in [
        format!("payment_intent={pi1}&amount=500&metadata[ticket]=T-1"),
        format!("payment_intent={pi1}&amount=300&reason=requested_by_customer"),
        format!("charge={charge2}"),
    ] {
        let (status, refund, _) = post_form(&client, &format!("{base}/v1/refunds"), &form).await;
        assert_eq!(status, 200, "{refund}");
        made.push(id(&refund));
    }
    made.push(em.refund(&renewal_pi, Some(100)).unwrap());
    let refunds = list(&em, "/refunds").await;
    assert_eq!(refunds["url"], "/v1/refunds");
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();
    assert_eq!(ids(&refunds), newest_first);
    for refund in refunds["data"].as_array().unwrap() {
        let one = list_free_get(&em, &format!("/refunds/{}", id(refund))).await;
        assert_eq!(refund, &one);
        spec().assert_valid("refund", refund);
        assert!(refund["created"].as_i64().unwrap() >= now() - 60);
    }
    assert_eq!(refunds["data"][3]["metadata"]["ticket"], "T-1");
    assert_eq!(refunds["data"][2]["reason"], "requested_by_customer");
    assert_eq!(walk(&em, "/refunds", "").await, newest_first);
    assert_eq!(
        walk(&em, "/refunds", &format!("&charge={charge1}")).await,
        [made[1].as_str(), made[0].as_str()]
    );
    assert_eq!(
        ids(&list(&em, &format!("/refunds?payment_intent={pi2}")).await),
        [made[2].as_str()]
    );
    assert_eq!(
        ids(&list(&em, &format!("/refunds?payment_intent={renewal_pi}")).await),
        [made[3].as_str()]
    );
    assert!(ids(&list(&em, &format!("/refunds?created[lt]={}", now() - DAY)).await).is_empty());
    let page = list(&em, &format!("/refunds?limit=2&ending_before={}", made[0])).await;
    assert_eq!(
        (ids(&page), &page["has_more"]),
        (vec![made[2].clone(), made[1].clone()], &json!(true))
    );

    // The charges show their refunds.
    let charge = list(&em, &format!("/charges?payment_intent={pi1}")).await["data"][0].clone();
    assert_eq!(
        (&charge["amount_refunded"], &charge["refunded"]),
        (&json!(800), &json!(false))
    );
    let charge = list(&em, &format!("/charges?payment_intent={pi2}")).await["data"][0].clone();
    assert_eq!(charge["refunded"], true);

    assert_refuses_what_stripe_refuses(&em, "/charges", "charge", "ch_nope").await;
    assert_refuses_what_stripe_refuses(&em, "/refunds", "refund", "re_nope").await;
    settle(&em).await;
}

#[actix_web::test]
async fn refunds_made_on_stripes_side_are_like_the_apis() {
    let (em, hooks) = pair();
    let (_, pi) = paid_session(&em).await;
    settle(&em).await;
    let mark = em.events().len();
    let refund_id = em.refund(&pi, Some(250)).unwrap();
    assert!(refund_id.starts_with("re_"), "{refund_id}");
    let refund = list_free_get(&em, &format!("/refunds/{refund_id}")).await;
    assert_eq!(
        (&refund["amount"], &refund["payment_intent"]),
        (&json!(250), &json!(pi))
    );
    assert_eq!(refund["status"], "succeeded");
    let events = em.events();
    assert_eq!(events.len(), mark + 1);
    let event = &events[mark];
    assert_eq!(event["type"], "charge.refunded");
    assert_eq!(event["data"]["object"]["amount_refunded"], 250);
    // Not the application's request.
    assert!(event["request"]["id"].is_null());
    settle(&em).await;
    assert_eq!(hooks.events().last().unwrap()["type"], "charge.refunded");

    // The rest, then nothing is left; the API's errors.
    em.refund(&pi, None).unwrap();
    let charge = list(&em, &format!("/charges?payment_intent={pi}")).await["data"][0].clone();
    assert_eq!(
        (&charge["amount_refunded"], &charge["refunded"]),
        (&json!(1999), &json!(true))
    );
    let code = |err: EmulatorError| match err {
        EmulatorError::InvalidState { code, .. } => code,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        code(em.refund(&pi, None).unwrap_err()),
        Some("charge_already_refunded")
    );
    assert_eq!(
        code(em.refund("pi_nope", None).unwrap_err()),
        Some("resource_missing")
    );
    let (_, other) = paid_session(&em).await;
    assert_eq!(
        code(em.refund(&other, Some(5000)).unwrap_err()),
        Some("amount_too_large")
    );
    assert_eq!(
        code(em.refund(&other, Some(0)).unwrap_err()),
        Some("parameter_invalid_integer")
    );
    settle(&em).await;
}

#[actix_web::test]
async fn dropped_webhooks_are_recorded_but_never_sent() {
    let (em, hooks) = pair();
    let client = http();
    let base = em.base_url();
    let response = client
        .post(format!("{base}/_emulator/knobs"))
        .json(&json!({"drop_webhooks": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let knobs: Value = response.json().await.unwrap();
    assert_eq!(knobs["drop_webhooks"], true);
    assert!(em.knobs().drop_webhooks);
    assert_eq!(em.knobs().retry_base_ms, 10, "the other knobs are kept");

    let (session, pi) = paid_session(&em).await;
    let refund = em.refund(&pi, Some(100)).unwrap();
    settle(&em).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(hooks.received().is_empty(), "{:?}", hooks.events());

    // Recorded as raised...
    let events = em.events();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["checkout.session.completed", "charge.refunded"]);
    let listed: Value = client
        .get(format!("{base}/_emulator/events"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(&listed, &Value::from(events.clone()));
    // ...and logged as dropped, once each.
    let log = em.deliveries();
    assert_eq!(log.len(), 2, "{log:?}");
    for (delivery, event) in log.iter().zip(&events) {
        assert_eq!(delivery.event_id, event["id"].as_str().unwrap());
        assert!(delivery.dropped);
        assert_eq!((delivery.attempt, delivery.status), (0, None));
        assert!(delivery.error.as_deref().unwrap().contains("drop_webhooks"));
        assert!(!delivery.succeeded());
    }
    let logged: Value = client
        .get(format!("{base}/_emulator/deliveries"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(logged[0]["dropped"], true);

    // Holding while dropping keeps nothing to release.
    em.set_knobs(stripe_emulator::Knobs {
        hold: true,
        ..em.knobs()
    });
    em.refund(&pi, Some(100)).unwrap();
    em.release(false);

    // Turned off: nothing is resent, not by a release nor by setting the URL again...
    client
        .post(format!("{base}/_emulator/knobs"))
        .json(&json!({"drop_webhooks": false, "hold": false}))
        .send()
        .await
        .unwrap();
    assert!(!em.knobs().drop_webhooks);
    em.release(false);
    em.set_webhook_url(&hooks.url);
    settle(&em).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(hooks.received().is_empty(), "{:?}", hooks.events());
    assert_eq!(em.deliveries().len(), 3);

    // ...new events go out again...
    em.refund(&pi, Some(100)).unwrap();
    settle(&em).await;
    let received = hooks.events();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["type"], "charge.refunded");
    assert_eq!(received[0]["data"]["object"]["amount_refunded"], 300);

    // ...and the lists tell what the shop missed.
    let sessions = list(&em, &format!("/checkout/sessions?payment_intent={pi}")).await;
    assert_eq!(ids(&sessions), [session.as_str()]);
    assert_eq!(sessions["data"][0]["payment_status"], "paid");
    let refunds = list(&em, &format!("/refunds?payment_intent={pi}")).await;
    assert_eq!(refunds["data"].as_array().unwrap().len(), 3);
    assert_eq!(ids(&refunds)[2], refund);
}

fn client(em: &Emulator) -> stripe::Client {
    stripe::ClientBuilder::new(KEY)
        .url(format!("{}/", em.base_url()))
        .build()
        .expect("client")
}

#[actix_web::test]
async fn async_stripe_reads_the_lists() {
    use stripe_checkout::checkout_session::ListCheckoutSession;
    use stripe_core::charge::ListCharge;
    use stripe_core::refund::ListRefund;
    use stripe_shared::{Charge, CheckoutSession, CheckoutSessionStatus, Refund, RefundReason};

    let (em, _hooks) = pair();
    let stripe = client(&em);
    let (first_session, pi) = paid_session(&em).await;
    let (second_session, _) = paid_session(&em).await;
    let open = id(&create_session(&em).await);
    let (_, sub) = subscribe(&em).await;
    em.advance_subscription(&sub, Advance::Renew, Some(now() - 3 * DAY))
        .unwrap();
    let (status, _, _) = post_form(
        &http(),
        &format!("{}/v1/refunds", em.base_url()),
        &format!(
            "payment_intent={pi}&amount=500&reason=requested_by_customer&metadata[ticket]=T-1"
        ),
    )
    .await;
    assert_eq!(status, 200);
    em.refund(&pi, None).unwrap();
    let since = now() - DAY;

    // Sessions, as Folio asks: a plain request for `List<CheckoutSession>`, by page.
    let page: List<CheckoutSession> = ListCheckoutSession::new()
        .limit(2)
        .created(RangeQueryTs::gte(since))
        .build()
        .customize::<List<CheckoutSession>>()
        .send(&stripe)
        .await
        .expect("sessions");
    assert_eq!(page.url, "/v1/checkout/sessions");
    assert!(page.has_more);
    let newest: Vec<String> = page
        .data
        .iter()
        .map(|s| s.id.as_str().to_string())
        .collect();
    assert_eq!(newest[1], open);
    let next = ListCheckoutSession::new()
        .limit(10)
        .created(RangeQueryTs::Bounds(RangeBoundsTs {
            gte: Some(since),
            lte: Some(now() + 60),
            ..RangeBoundsTs::default()
        }))
        .starting_after(open.as_str())
        .send(&stripe)
        .await
        .expect("sessions");
    assert!(!next.has_more);
    let older: Vec<&str> = next.data.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(older, [second_session.as_str(), first_session.as_str()]);
    assert_eq!(
        next.data[1]
            .payment_intent
            .as_ref()
            .map(|p| p.id().as_str().to_string()),
        Some(pi.clone())
    );
    let complete = ListCheckoutSession::new()
        .status(CheckoutSessionStatus::Complete)
        .payment_intent(pi.as_str())
        .send(&stripe)
        .await
        .expect("sessions");
    assert_eq!(complete.data.len(), 1);
    assert_eq!(complete.data[0].amount_total, Some(1999));

    // Charges, the subscription's included.
    let charges: List<Charge> = ListCharge::new()
        .limit(100)
        .build()
        .customize::<List<Charge>>()
        .send(&stripe)
        .await
        .expect("charges");
    assert_eq!(charges.data.len(), 4);
    assert!(charges
        .data
        .windows(2)
        .all(|w| w[0].created >= w[1].created));
    let paid = charges
        .data
        .iter()
        .find(|c| c.payment_intent.as_ref().map(|p| p.id().as_str()) == Some(pi.as_str()))
        .expect("the first payment's charge");
    assert_eq!(
        (paid.amount, paid.amount_refunded, paid.refunded),
        (1999, 1999, true)
    );
    let old = ListCharge::new()
        .created(RangeQueryTs::lt(since))
        .send(&stripe)
        .await
        .expect("charges");
    assert_eq!(old.data.len(), 1);
    assert_eq!(
        old.data[0].description.as_deref(),
        Some("Subscription update")
    );

    // Refunds, of one charge.
    let refunds: List<Refund> = ListRefund::new()
        .charge(paid.id.as_str())
        .build()
        .customize::<List<Refund>>()
        .send(&stripe)
        .await
        .expect("refunds");
    assert_eq!(refunds.data.len(), 2);
    assert_eq!(refunds.data[0].amount, 1499);
    assert_eq!(refunds.data[1].amount, 500);
    assert_eq!(
        refunds.data[1].reason,
        Some(RefundReason::RequestedByCustomer)
    );
    assert_eq!(
        refunds.data[1]
            .metadata
            .as_ref()
            .and_then(|m| m.get("ticket"))
            .map(String::as_str),
        Some("T-1")
    );
    let by_intent = ListRefund::new()
        .payment_intent(pi.as_str())
        .limit(1)
        .starting_after(refunds.data[0].id.as_str())
        .send(&stripe)
        .await
        .expect("refunds");
    assert_eq!(by_intent.data.len(), 1);
    assert_eq!(by_intent.data[0].id, refunds.data[1].id);
    assert!(!by_intent.has_more);
    settle(&em).await;
}

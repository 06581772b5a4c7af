//! Every object the emulator returns or emits matches Stripe's published schema.

use serde_json::{json, Value};
use stripe_emulator::{Advance, AfterRetries, CustomerDetails, Knobs};

use crate::support::{
    create_session, create_session_with, delete, get_json, http, now, paid_session, post_form,
    session_form, settle, subscribe, subscribe_with, subscription_form, taxed_form, Receiver, KEY,
};
use crate::validator::{object_schema_for, spec};

const LINE_ITEMS: &str = "/components/schemas/checkout.session/properties/line_items";

#[actix_web::test]
async fn checkout_sessions_match_the_schema() {
    let hooks = Receiver::start();
    let em = crate::support::emulator(Some(&hooks.url));
    let client = http();
    let base = em.base_url();

    let created = create_session(&em).await;
    spec().assert_valid("checkout.session", &created);
    assert!(created.get("line_items").is_none());

    let id = created["id"].as_str().unwrap();
    let (status, expanded) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}?expand[]=line_items"),
    )
    .await;
    assert_eq!(status, 200);
    spec().assert_valid("checkout.session", &expanded);
    assert_eq!(expanded["line_items"]["data"].as_array().unwrap().len(), 1);

    let (status, list) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}/line_items"),
    )
    .await;
    assert_eq!(status, 200);
    spec().validate_pointer(LINE_ITEMS, &list).unwrap();

    em.pay(id).unwrap();
    let (_, paid) = get_json(&client, &format!("{base}/v1/checkout/sessions/{id}")).await;
    spec().assert_valid("checkout.session", &paid);
    assert_eq!(paid["payment_status"], "paid");

    let other = create_session(&em).await;
    let other_id = other["id"].as_str().unwrap();
    let (status, expired, _) = post_form(
        &client,
        &format!("{base}/v1/checkout/sessions/{other_id}/expire"),
        "",
    )
    .await;
    assert_eq!(status, 200);
    spec().assert_valid("checkout.session", &expired);
    assert_eq!(expired["status"], "expired");
    settle(&em).await;
}

#[actix_web::test]
async fn refunds_charges_disputes_and_events_match_the_schema() {
    let (em, hooks) = crate::support::pair();
    let client = http();
    let base = em.base_url();
    let (_, pi) = paid_session(&em).await;

    let (status, refund, _) = post_form(
        &client,
        &format!("{base}/v1/refunds"),
        &format!(
            "payment_intent={pi}&amount=500&metadata[reason]=test&reason=requested_by_customer"
        ),
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    spec().assert_valid("refund", &refund);

    let charge_id = refund["charge"].as_str().unwrap();
    let (status, charge) = get_json(&client, &format!("{base}/v1/charges/{charge_id}")).await;
    assert_eq!(status, 200);
    spec().assert_valid("charge", &charge);

    let (status, refund_again) = get_json(
        &client,
        &format!("{base}/v1/refunds/{}", refund["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(refund_again, refund);

    let dispute_id = em.create_dispute(&pi).unwrap();
    let (status, dispute) = get_json(&client, &format!("{base}/v1/disputes/{dispute_id}")).await;
    assert_eq!(status, 200);
    spec().assert_valid("dispute", &dispute);
    em.close_dispute(&dispute_id, false).unwrap();

    // A delayed payment that fails, and one that expires, to cover every event type.
    let late = create_session(&em).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    em.pay_async(&late, false).unwrap();
    let gone = create_session(&em).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    em.expire(&gone).unwrap();
    settle(&em).await;

    let events = em.events();
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types,
        [
            "charge.dispute.closed",
            "charge.dispute.created",
            "charge.refunded",
            "checkout.session.async_payment_failed",
            "checkout.session.completed",
            "checkout.session.expired",
        ]
    );
    for event in &events {
        spec().assert_valid("event", event);
        let kind = event["type"].as_str().unwrap();
        spec().assert_valid(object_schema_for(kind), &event["data"]["object"]);
    }
    // What went over the wire is what `events()` reports.
    assert_eq!(hooks.events().len(), events.len());
}

#[actix_web::test]
async fn taxed_sessions_invoices_and_their_events_match_the_schema() {
    let (em, _hooks) = crate::support::pair();
    let client = http();
    let base = em.base_url();
    let session_id = |s: &Value| s["id"].as_str().unwrap().to_string();

    let open = create_session_with(&em, &taxed_form("exclusive", 1999, true)).await;
    spec().assert_valid("checkout.session", &open);
    let id = session_id(&open);
    em.pay_with(
        &id,
        &CustomerDetails {
            name: Some("Ada Lovelace".into()),
            line1: Some("Unter den Linden 1".into()),
            postal_code: Some("10117".into()),
            city: Some("Berlin".into()),
            business_name: Some("Analytical Engines GmbH".into()),
            tax_id: Some("DE123456789".into()),
            ..CustomerDetails::in_country("DE")
        },
    )
    .unwrap();
    let (status, paid) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}?expand[]=line_items"),
    )
    .await;
    assert_eq!(status, 200);
    spec().assert_valid("checkout.session", &paid);
    assert_eq!(paid["total_details"]["amount_tax"], 380);
    let (_, list) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}/line_items"),
    )
    .await;
    spec().validate_pointer(LINE_ITEMS, &list).unwrap();

    let invoice_id = paid["invoice"].as_str().unwrap();
    let (status, invoice) = get_json(&client, &format!("{base}/v1/invoices/{invoice_id}")).await;
    assert_eq!(status, 200);
    spec().assert_valid("invoice", &invoice);
    let pi = paid["payment_intent"].as_str().unwrap();
    let (status, refund, _) = post_form(
        &client,
        &format!("{base}/v1/refunds"),
        &format!("payment_intent={pi}&amount=100"),
    )
    .await;
    assert_eq!(status, 200);
    let (_, charge) = get_json(
        &client,
        &format!("{base}/v1/charges/{}", refund["charge"].as_str().unwrap()),
    )
    .await;
    spec().assert_valid("charge", &charge);

    // Inclusive tax, a country without tax, delayed payment, an invoice without automatic tax,
    // address collection alone, and a taxed session that expires unpaid.
    let inclusive =
        session_id(&create_session_with(&em, &taxed_form("inclusive", 1999, true)).await);
    em.pay_async_with(&inclusive, true, &CustomerDetails::in_country("FR"))
        .unwrap();
    let us = session_id(&create_session_with(&em, &taxed_form("exclusive", 1999, true)).await);
    em.pay_with(&us, &CustomerDetails::in_country("US"))
        .unwrap();
    let plain_invoice = format!("{}&invoice_creation[enabled]=true", session_form());
    let plain = session_id(&create_session_with(&em, &plain_invoice).await);
    em.pay(&plain).unwrap();
    let address = format!("{}&billing_address_collection=required", session_form());
    let address = session_id(&create_session_with(&em, &address).await);
    em.pay(&address).unwrap();
    let expiring =
        session_id(&create_session_with(&em, &taxed_form("exclusive", 1999, true)).await);
    em.expire(&expiring).unwrap();
    settle(&em).await;
    for id in [&inclusive, &us, &plain, &address, &expiring] {
        spec().assert_valid("checkout.session", &em.session(id).unwrap());
    }
    let plain = em.session(&plain).unwrap();
    let plain = em.invoice(plain["invoice"].as_str().unwrap()).unwrap();
    spec().assert_valid("invoice", &plain);
    assert_eq!(plain["tax"], Value::Null);
    assert_eq!(plain["total"], 1999);

    let events = em.events();
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types,
        [
            "charge.refunded",
            "checkout.session.async_payment_succeeded",
            "checkout.session.completed",
            "checkout.session.expired",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
        ]
    );
    for event in &events {
        spec().assert_valid("event", event);
        let kind = event["type"].as_str().unwrap();
        spec().assert_valid(object_schema_for(kind), &event["data"]["object"]);
    }
}

#[actix_web::test]
async fn subscriptions_customers_portals_and_their_events_match_the_schema() {
    let (em, _hooks) = crate::support::pair();
    let client = http();
    let base = em.base_url();

    let (status, customer, _) = post_form(
        &client,
        &format!("{base}/v1/customers"),
        "email=ada%40example.com&name=Ada&description=Member&phone=%2B491234&metadata[user_id]=7",
    )
    .await;
    assert_eq!(status, 200, "{customer}");
    spec().assert_valid("customer", &customer);
    let customer_id = customer["id"].as_str().unwrap();

    // A session for the existing customer, through the page's form.
    let form = subscription_form().replace(
        "customer_email=ada%40example.com",
        &format!("customer={customer_id}"),
    );
    let open = create_session_with(&em, &form).await;
    spec().assert_valid("checkout.session", &open);
    let id = open["id"].as_str().unwrap();
    let (_, expanded) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}?expand[]=line_items"),
    )
    .await;
    spec().assert_valid("checkout.session", &expanded);
    assert_eq!(
        expanded["line_items"]["data"][0]["price"]["type"],
        "recurring"
    );
    let (_, list) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}/line_items"),
    )
    .await;
    spec().validate_pointer(LINE_ITEMS, &list).unwrap();
    em.pay(id).unwrap();
    let paid = em.session(id).unwrap();
    spec().assert_valid("checkout.session", &paid);
    let sub_id = paid["subscription"].as_str().unwrap().to_string();
    let (status, whole) = get_json(
        &client,
        &format!(
            "{base}/v1/checkout/sessions/{id}?expand[]=subscription&expand[]=customer&expand[]=invoice&expand[]=line_items"
        ),
    )
    .await;
    assert_eq!(status, 200, "{whole}");
    spec().assert_valid("checkout.session", &whole);
    assert_eq!(whole["subscription"]["id"], sub_id.as_str());
    assert_eq!(whole["customer"]["id"], customer_id);
    assert_eq!(whole["invoice"]["billing_reason"], "subscription_create");
    let (status, _) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}?expand[]=payment_intent"),
    )
    .await;
    assert_eq!(status, 400);

    // Every kind of subscription event: taxed, renewed, failed twice, recovered, pending
    // cancellation and resumption, given up (both ways), deleted.
    let (_, taxed) = subscribe_with(
        &em,
        &format!(
            "{}&automatic_tax[enabled]=true&billing_address_collection=required&tax_id_collection[enabled]=true",
            subscription_form()
        ),
    )
    .await;
    em.advance_subscription(&taxed, Advance::Renew, None)
        .unwrap();
    em.advance_subscription(&sub_id, Advance::Renew, Some(now() - 3600))
        .unwrap();
    em.advance_subscription(&sub_id, Advance::Fail, None)
        .unwrap();
    em.advance_subscription(&sub_id, Advance::Fail, None)
        .unwrap();
    em.advance_subscription(&sub_id, Advance::Recover, None)
        .unwrap();
    em.advance_subscription(&sub_id, Advance::CancelAtPeriodEnd, None)
        .unwrap();
    em.advance_subscription(&sub_id, Advance::Resume, None)
        .unwrap();
    let (_, unpaid) = subscribe(&em).await;
    em.advance_subscription(&unpaid, Advance::Fail, None)
        .unwrap();
    em.advance_subscription(&unpaid, Advance::GiveUp(AfterRetries::MarkUnpaid), None)
        .unwrap();
    let (_, given_up) = subscribe(&em).await;
    em.advance_subscription(&given_up, Advance::Fail, None)
        .unwrap();
    em.advance_subscription(&given_up, Advance::GiveUp(AfterRetries::Cancel), None)
        .unwrap();
    let (_, ending) = subscribe(&em).await;
    em.advance_subscription(&ending, Advance::CancelAtPeriodEnd, None)
        .unwrap();
    em.advance_subscription(&ending, Advance::Renew, None)
        .unwrap();
    let (status, deleted) = delete(&client, &format!("{base}/v1/subscriptions/{sub_id}"), "").await;
    assert_eq!(status, 200);
    spec().assert_valid("subscription", &deleted);

    let (status, portal, _) = post_form(
        &client,
        &format!("{base}/v1/billing_portal/sessions"),
        &format!("customer={customer_id}&return_url=http%3A%2F%2Fshop.test%2Faccount&locale=de"),
    )
    .await;
    assert_eq!(status, 200, "{portal}");
    spec().assert_valid("billing_portal.session", &portal);

    // The objects as the API serves them.
    for sub in [&taxed, &unpaid, &given_up, &ending, &sub_id] {
        let (status, json) = get_json(
            &client,
            &format!("{base}/v1/subscriptions/{sub}?expand[]=latest_invoice&expand[]=customer"),
        )
        .await;
        assert_eq!(status, 200);
        spec().assert_valid("subscription", &json);
        spec().assert_valid("invoice", &json["latest_invoice"]);
        spec().assert_valid("customer", &json["customer"]);
    }
    let (_, subs) = get_json(&client, &format!("{base}/v1/subscriptions?status=all")).await;
    assert_eq!(subs["data"].as_array().unwrap().len(), 5);
    for sub in subs["data"].as_array().unwrap() {
        spec().assert_valid("subscription", sub);
    }
    let (_, invoices) = get_json(
        &client,
        &format!("{base}/v1/invoices?limit=100&expand[]=data.payments"),
    )
    .await;
    for invoice in invoices["data"].as_array().unwrap() {
        spec().assert_valid("invoice", invoice);
    }
    let taxed_invoice = em
        .invoice(
            em.subscription(&taxed).unwrap()["latest_invoice"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(taxed_invoice["tax"], 171, "19 % of €9.00");
    assert_eq!(taxed_invoice["amount_paid"], 1071);
    let (_, customer) = get_json(&client, &format!("{base}/v1/customers/{customer_id}")).await;
    spec().assert_valid("customer", &customer);
    settle(&em).await;

    let events = em.events();
    let mut types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    types.sort_unstable();
    types.dedup();
    assert_eq!(
        types,
        [
            "billing_portal.session.created",
            "checkout.session.completed",
            "customer.created",
            "customer.subscription.created",
            "customer.subscription.deleted",
            "customer.subscription.updated",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_failed",
            "invoice.payment_succeeded",
        ]
    );
    for event in &events {
        spec().assert_valid("event", event);
        let kind = event["type"].as_str().unwrap();
        spec().assert_valid(object_schema_for(kind), &event["data"]["object"]);
    }
}

#[actix_web::test]
async fn async_payment_succeeded_matches_the_schema() {
    let (em, _hooks) = crate::support::pair();
    let id = create_session(&em).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    em.pay_async(&id, true).unwrap();
    settle(&em).await;
    let event = em
        .events()
        .into_iter()
        .find(|e| e["type"] == "checkout.session.async_payment_succeeded")
        .expect("event");
    spec().assert_valid("event", &event);
    spec().assert_valid("checkout.session", &event["data"]["object"]);
}

#[actix_web::test]
async fn errors_match_the_schema() {
    let em = crate::support::emulator(None);
    let client = http();
    let base = em.base_url();
    let mut bodies = Vec::new();

    let unauthenticated = client
        .post(format!("{base}/v1/checkout/sessions"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    bodies.push(unauthenticated.json::<Value>().await.unwrap());

    let (status, bad, _) = post_form(
        &client,
        &format!("{base}/v1/checkout/sessions"),
        "mode=payment",
    )
    .await;
    assert_eq!(status, 400);
    bodies.push(bad);

    let (status, missing) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/cs_test_nope"),
    )
    .await;
    assert_eq!(status, 404);
    bodies.push(missing);

    em.set_knobs(Knobs {
        api_outage: true,
        ..Knobs::default()
    });
    let outage = client
        .get(format!("{base}/v1/checkout/sessions/cs_test_nope"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(outage.status(), 500);
    bodies.push(outage.json::<Value>().await.unwrap());

    for body in &bodies {
        spec().assert_valid("error", body);
    }
    assert_eq!(bodies[3]["error"]["type"], "api_error");
}

/// The validator is only worth something if it can say no.
#[actix_web::test]
async fn the_validator_rejects_what_stripe_would_not_send() {
    let em = crate::support::emulator(None);
    let session = create_session(&em).await;
    assert!(spec().validate("checkout.session", &session).is_ok());

    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut copy = session.clone();
        edit(&mut copy);
        spec().validate("checkout.session", &copy)
    };

    let missing = broken(&|s| {
        s.as_object_mut().unwrap().remove("mode");
    });
    assert!(
        missing
            .as_ref()
            .unwrap_err()
            .iter()
            .any(|e| e.contains("`mode`")),
        "{missing:?}"
    );
    let bad_enum = broken(&|s| s["status"] = json!("paid"));
    assert!(bad_enum.unwrap_err()[0].contains("is not one of"));
    let wrong_type = broken(&|s| s["amount_total"] = json!("1999"));
    assert!(wrong_type.unwrap_err()[0].contains("expected integer"));
    let not_nullable = broken(&|s| s["livemode"] = Value::Null);
    assert!(not_nullable.unwrap_err()[0].contains("not nullable"));
    let too_long = broken(&|s| s["client_reference_id"] = json!("x".repeat(5001)));
    assert!(too_long.unwrap_err()[0].contains("longer than"));
    let bad_metadata = broken(&|s| s["metadata"]["n"] = json!(1));
    assert!(bad_metadata.unwrap_err()[0].contains("$.metadata.n"));
    let bad_nested = broken(&|s| s["automatic_tax"]["status"] = json!("bogus"));
    assert!(bad_nested.is_err());
    let bad_any_of = broken(&|s| s["payment_intent"] = json!(42));
    assert!(bad_any_of.unwrap_err()[0].contains("anyOf"));

    let mut item_list =
        json!({"object": "list", "data": [{"object": "item"}], "has_more": false, "url": "/x"});
    let errors = spec().validate_pointer(LINE_ITEMS, &item_list).unwrap_err();
    assert!(
        errors
            .iter()
            .any(|e| e.contains("$.data[0]: missing required property `id`")),
        "{errors:?}"
    );
    item_list["data"] = json!([]);
    assert!(spec().validate_pointer(LINE_ITEMS, &item_list).is_ok());

    let error_without_type = json!({"error": {"message": "x"}});
    assert!(spec().validate("error", &error_without_type).is_err());
}

//! Stripe Billing: customers, subscription-mode checkout, renewals and failed payments, the
//! control route, the billing portal, lists, and what Stripe refuses.

use serde_json::{json, Value};
use stripe_emulator::{Advance, AfterRetries, EmulatorError};

use crate::support::{
    create_session_with, delete, emulator, event_types_since, get_json, http, now, pair,
    plus_months, post_form, settle, subscribe, subscribe_with, subscription_form, KEY,
};

const DAY: i64 = 24 * 3600;

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// The events raised from the `from`-th on.
fn events_since(em: &stripe_emulator::Emulator, from: usize) -> Vec<Value> {
    em.events()[from..].to_vec()
}

fn item(sub: &Value) -> &Value {
    &sub["items"]["data"][0]
}

#[actix_web::test]
async fn paying_a_subscription_session_subscribes() {
    let (em, hooks) = pair();
    let before = now();
    let session = create_session_with(&em, &subscription_form()).await;
    assert_eq!(session["mode"], "subscription");
    assert_eq!(session["subscription"], Value::Null);
    assert_eq!(session["customer"], Value::Null);
    assert_eq!(session["payment_intent"], Value::Null);
    assert_eq!(session["invoice"], Value::Null);
    assert_eq!(session["amount_total"], 900);
    let session_id = id(&session);

    em.pay(&session_id).unwrap();
    let after = now();
    let paid = em.session(&session_id).unwrap();
    assert_eq!(
        (&paid["status"], &paid["payment_status"]),
        (&json!("complete"), &json!("paid"))
    );
    assert_eq!(paid["payment_intent"], Value::Null);
    let sub_id = paid["subscription"].as_str().unwrap();
    let customer = paid["customer"].as_str().unwrap();
    let invoice_id = paid["invoice"].as_str().unwrap();
    assert!(sub_id.starts_with("sub_") && customer.starts_with("cus_"));
    assert_eq!(paid["customer_details"]["email"], "ada@example.com");

    let sub = em.subscription(sub_id).unwrap();
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["customer"], customer);
    assert_eq!(sub["cancel_at_period_end"], false);
    assert_eq!(sub["canceled_at"], Value::Null);
    assert_eq!(sub["ended_at"], Value::Null);
    assert_eq!(sub["latest_invoice"], invoice_id);
    assert_eq!(sub["metadata"], json!({"user_id": "7", "plan_id": "gold"}));
    assert_eq!(sub["currency"], "eur");
    let start = item(&sub)["current_period_start"].as_i64().unwrap();
    assert!((before..=after).contains(&start));
    assert_eq!(item(&sub)["current_period_end"], plus_months(start, 1));
    assert_eq!(sub["current_period_end"], item(&sub)["current_period_end"]);
    assert_eq!(item(&sub)["price"]["recurring"]["interval"], "month");
    assert_eq!(item(&sub)["price"]["recurring"]["interval_count"], 1);
    assert_eq!(item(&sub)["price"]["unit_amount"], 900);
    assert_eq!(item(&sub)["quantity"], 1);

    let customer_json = em.customer(customer).unwrap();
    assert_eq!(customer_json["email"], "ada@example.com");
    assert_eq!(customer_json["currency"], "eur");
    assert_eq!(em.subscriptions_of(customer), vec![sub.clone()]);

    let invoice = em.invoice(invoice_id).unwrap();
    assert_eq!(invoice["billing_reason"], "subscription_create");
    assert_eq!(invoice["status"], "paid");
    assert_eq!(
        (&invoice["amount_paid"], &invoice["amount_due"]),
        (&json!(900), &json!(900))
    );
    assert_eq!(invoice["attempt_count"], 1);
    assert_eq!(invoice["customer"], customer);
    assert_eq!(invoice["subscription"], sub_id);
    assert_eq!(invoice["parent"]["type"], "subscription_details");
    assert_eq!(
        invoice["parent"]["subscription_details"]["subscription"],
        sub_id
    );
    assert_eq!(
        invoice["parent"]["subscription_details"]["metadata"]["user_id"],
        "7"
    );
    assert_eq!(invoice["created"], start);
    let line = &invoice["lines"]["data"][0];
    assert_eq!(line["period"]["start"], start);
    assert_eq!(line["period"]["end"], item(&sub)["current_period_end"]);
    assert_eq!(
        line["description"],
        "1 × Folio Membership (at €9.00 / month)"
    );
    assert_eq!(line["parent"]["type"], "subscription_item_details");
    assert_eq!(
        line["parent"]["subscription_item_details"]["subscription_item"],
        item(&sub)["id"]
    );
    assert!(invoice["hosted_invoice_url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/invoices/{invoice_id}")));

    // Stripe's order, each object as it was then.
    let events = em.events();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "customer.created",
            "customer.subscription.created",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
            "checkout.session.completed",
        ]
    );
    assert_eq!(events[0]["data"]["object"]["id"], customer);
    assert_eq!(events[1]["data"]["object"]["status"], "active");
    assert_eq!(events[1]["data"]["object"]["latest_invoice"], invoice_id);
    let statuses: Vec<&Value> = events[2..6]
        .iter()
        .map(|e| &e["data"]["object"]["status"])
        .collect();
    assert_eq!(
        statuses,
        [
            &json!("draft"),
            &json!("open"),
            &json!("paid"),
            &json!("paid")
        ]
    );
    assert_eq!(events[6]["data"]["object"]["subscription"], sub_id);
    assert_eq!(events[6]["data"]["object"]["invoice"], invoice_id);

    // The first payment is refundable like any other; the subscription goes on.
    let pi = em.invoice_payment_intent(invoice_id).unwrap();
    let (status, refund, _) = post_form(
        &http(),
        &format!("{}/v1/refunds", em.base_url()),
        &format!("payment_intent={pi}"),
    )
    .await;
    assert_eq!((status, &refund["amount"]), (200, &json!(900)), "{refund}");
    assert_eq!(em.subscription(sub_id).unwrap()["status"], "active");
    settle(&em).await;
    assert_eq!(hooks.events().len(), 8);
}

#[actix_web::test]
async fn the_page_subscribes_an_existing_customer() {
    let (em, _hooks) = pair();
    let client = http();
    let base = em.base_url();
    let (status, customer, _) = post_form(
        &client,
        &format!("{base}/v1/customers"),
        "email=grace%40example.com&name=Grace+Hopper&metadata[user_id]=8",
    )
    .await;
    assert_eq!(status, 200, "{customer}");
    let customer_id = id(&customer);
    let form = subscription_form().replace(
        "customer_email=ada%40example.com",
        &format!("customer={customer_id}"),
    );
    let session = create_session_with(&em, &form).await;
    assert_eq!(session["customer"], customer_id.as_str());
    let session_id = id(&session);
    let url = session["url"].as_str().unwrap().to_string();

    let page = client.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    for needle in [
        "<h1>Subscribe</h1>",
        "Folio Membership",
        "€9.00 per month",
        "Total due today",
        r#"<button type="submit" id="pay" name="pay">Subscribe</button>"#,
        &format!(r#"action="/pay/{session_id}/decline""#),
        &format!(r#"action="/pay/{session_id}/cancel""#),
    ] {
        assert!(html.contains(needle), "page lacks {needle}:\n{html}");
    }
    assert!(
        !html.contains("pay-async"),
        "no delayed payment for subscriptions"
    );
    assert!(!html.contains("<script"));

    // Declined: the session stays open, as for payments.
    let declined = client.post(format!("{url}/decline")).send().await.unwrap();
    assert_eq!(declined.status(), 402);
    assert!(declined
        .text()
        .await
        .unwrap()
        .contains("Your card was declined."));
    assert_eq!(em.session(&session_id).unwrap()["status"], "open");
    let later = client
        .post(format!("{url}/pay-async"))
        .send()
        .await
        .unwrap();
    assert_eq!(later.status(), 400);
    assert_eq!(em.session(&session_id).unwrap()["status"], "open");

    let mark = em.events().len();
    let paid = client.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"],
        format!("http://shop.test/member?session={session_id}").as_str()
    );
    let done = em.session(&session_id).unwrap();
    assert_eq!(done["customer"], customer_id.as_str());
    assert_eq!(done["customer_details"]["email"], "grace@example.com");
    let sub = em
        .subscription(done["subscription"].as_str().unwrap())
        .unwrap();
    assert_eq!(sub["customer"], customer_id.as_str());
    // No customer.created: the customer existed.
    assert_eq!(
        event_types_since(&em, mark),
        [
            "customer.subscription.created",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
            "checkout.session.completed",
        ]
    );
    let after = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(after.contains("no longer payable"));
    assert!(after.contains(&format!(
        "href=\"/invoices/{}\"",
        done["invoice"].as_str().unwrap()
    )));
    settle(&em).await;
}

#[actix_web::test]
async fn renewals_fail_recover_and_refund() {
    let (em, _hooks) = pair();
    let client = http();
    let base = em.base_url();
    let (_, sub_id) = subscribe(&em).await;
    let first = em.subscription(&sub_id).unwrap();

    // The period ended 10 days ago and renewed then.
    let renewed_at = now() - 10 * DAY;
    let mark = em.events().len();
    let renewed = em
        .advance_subscription(&sub_id, Advance::Renew, Some(renewed_at))
        .unwrap();
    assert_eq!(renewed["status"], "active");
    assert_eq!(item(&renewed)["current_period_start"], renewed_at);
    assert_eq!(
        item(&renewed)["current_period_end"],
        plus_months(renewed_at, 1)
    );
    let events = events_since(&em, mark);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
            "customer.subscription.updated",
        ]
    );
    let invoice = &events[2]["data"]["object"];
    assert_eq!(invoice["billing_reason"], "subscription_cycle");
    assert_eq!(invoice["created"], renewed_at);
    assert_eq!(invoice["amount_paid"], 900);
    assert_eq!(
        invoice["lines"]["data"][0]["period"],
        json!({"start": renewed_at, "end": plus_months(renewed_at, 1)})
    );
    assert_eq!(renewed["latest_invoice"], invoice["id"]);
    let previous = &events[4]["data"]["previous_attributes"];
    assert_eq!(previous["latest_invoice"], first["latest_invoice"]);
    assert_eq!(
        previous["items"]["data"][0]["current_period_start"],
        item(&first)["current_period_start"]
    );
    assert_eq!(events[4]["data"]["object"], renewed);

    // Refunding the renewal does not touch the subscription.
    let pi = em
        .invoice_payment_intent(invoice["id"].as_str().unwrap())
        .unwrap();
    let (status, refund, _) = post_form(
        &client,
        &format!("{base}/v1/refunds"),
        &format!("payment_intent={pi}"),
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    let (_, charge) = get_json(
        &client,
        &format!("{base}/v1/charges/{}", refund["charge"].as_str().unwrap()),
    )
    .await;
    assert_eq!(charge["invoice"], invoice["id"]);
    assert_eq!(charge["customer"], renewed["customer"]);
    assert_eq!(charge["refunded"], true);
    assert_eq!(em.subscription(&sub_id).unwrap()["status"], "active");

    // The next renewal, four days ago, fails.
    let failed_at = now() - 4 * DAY;
    let mark = em.events().len();
    let past_due = em
        .advance_subscription(&sub_id, Advance::Fail, Some(failed_at))
        .unwrap();
    assert_eq!(past_due["status"], "past_due");
    assert_eq!(item(&past_due)["current_period_start"], failed_at);
    let events = events_since(&em, mark);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "invoice.created",
            "invoice.finalized",
            "invoice.payment_failed",
            "customer.subscription.updated",
        ]
    );
    let open = &events[2]["data"]["object"];
    let open_id = open["id"].as_str().unwrap().to_string();
    assert_eq!(open["status"], "open");
    assert_eq!(open["attempt_count"], 1);
    assert_eq!(open["amount_paid"], 0);
    assert_eq!(open["amount_remaining"], 900);
    assert_eq!(open["next_payment_attempt"], failed_at + 3 * DAY);
    assert_eq!(open["status_transitions"]["finalized_at"], failed_at);
    assert_eq!(past_due["latest_invoice"], open_id.as_str());
    assert_eq!(events[3]["data"]["previous_attributes"]["status"], "active");
    assert_eq!(
        em.customer(past_due["customer"].as_str().unwrap()).unwrap()["delinquent"],
        true
    );
    // Its payment intent has nothing to refund.
    let open_pi = em.invoice_payment_intent(&open_id).unwrap();
    let (status, error, _) = post_form(
        &client,
        &format!("{base}/v1/refunds"),
        &format!("payment_intent={open_pi}"),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["code"], "charge_not_refundable");

    // A further attempt on the same invoice fails too: no new period, no subscription event.
    let mark = em.events().len();
    let again = em
        .advance_subscription(&sub_id, Advance::Fail, None)
        .unwrap();
    assert_eq!(event_types_since(&em, mark), ["invoice.payment_failed"]);
    assert_eq!(again, past_due);
    let invoice = em.invoice(&open_id).unwrap();
    assert_eq!(invoice["attempt_count"], 2);
    assert_eq!(invoice["status"], "open");

    // A past-due subscription cannot renew; recovering pays the open invoice.
    let err = em
        .advance_subscription(&sub_id, Advance::Renew, None)
        .unwrap_err();
    assert!(matches!(err, EmulatorError::InvalidState { .. }), "{err}");
    assert!(err.to_string().contains(&open_id));
    let mark = em.events().len();
    let recovered = em
        .advance_subscription(&sub_id, Advance::Recover, None)
        .unwrap();
    assert_eq!(recovered["status"], "active");
    let events = events_since(&em, mark);
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "invoice.paid",
            "invoice.payment_succeeded",
            "customer.subscription.updated"
        ]
    );
    assert_eq!(events[0]["data"]["object"]["attempt_count"], 3);
    assert_eq!(events[0]["data"]["object"]["amount_paid"], 900);
    assert_eq!(
        events[0]["data"]["object"]["next_payment_attempt"],
        Value::Null
    );
    assert_eq!(
        events[2]["data"]["previous_attributes"],
        json!({"status": "past_due"})
    );
    assert_eq!(item(&recovered)["current_period_start"], failed_at);
    assert_eq!(
        em.customer(recovered["customer"].as_str().unwrap())
            .unwrap()["delinquent"],
        false
    );
    let err = em
        .advance_subscription(&sub_id, Advance::Recover, None)
        .unwrap_err();
    assert!(err.to_string().contains("no unpaid invoice"), "{err}");
    assert_eq!(em.subscription_invoices(&sub_id).len(), 3);

    // Unknown subscriptions and future times are refused.
    assert!(matches!(
        em.advance_subscription("sub_nope", Advance::Renew, None),
        Err(EmulatorError::NotFound { .. })
    ));
    assert!(em
        .advance_subscription(&sub_id, Advance::Renew, Some(now() + 3600))
        .is_err());
    settle(&em).await;
}

#[actix_web::test]
async fn giving_up_cancels_or_leaves_unpaid() {
    let (em, _hooks) = pair();
    let (_, canceled) = subscribe(&em).await;
    em.advance_subscription(&canceled, Advance::Fail, Some(now() - 20 * DAY))
        .unwrap();
    let open = em.subscription(&canceled).unwrap()["latest_invoice"]
        .as_str()
        .unwrap()
        .to_string();
    let at = now() - DAY;
    let mark = em.events().len();
    let gone = em
        .advance_subscription(&canceled, Advance::GiveUp(AfterRetries::Cancel), Some(at))
        .unwrap();
    assert_eq!(
        event_types_since(&em, mark),
        ["customer.subscription.deleted"]
    );
    assert_eq!(gone["status"], "canceled");
    assert_eq!(
        (&gone["canceled_at"], &gone["ended_at"]),
        (&json!(at), &json!(at))
    );
    assert_eq!(gone["cancellation_details"]["reason"], "payment_failed");
    let invoice = em.invoice(&open).unwrap();
    assert_eq!(invoice["status"], "open", "the invoice stays open");
    assert_eq!(invoice["next_payment_attempt"], Value::Null);
    assert_eq!(invoice["auto_advance"], false);
    for action in [Advance::Renew, Advance::Recover, Advance::Cancel] {
        assert!(em.advance_subscription(&canceled, action, None).is_err());
    }

    let (_, unpaid) = subscribe(&em).await;
    // Only a past-due subscription has retries to give up on.
    assert!(em
        .advance_subscription(&unpaid, Advance::GiveUp(AfterRetries::MarkUnpaid), None)
        .is_err());
    em.advance_subscription(&unpaid, Advance::Fail, None)
        .unwrap();
    let mark = em.events().len();
    let marked = em
        .advance_subscription(&unpaid, Advance::GiveUp(AfterRetries::MarkUnpaid), None)
        .unwrap();
    assert_eq!(marked["status"], "unpaid");
    let events = events_since(&em, mark);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "customer.subscription.updated");
    assert_eq!(
        events[0]["data"]["previous_attributes"],
        json!({"status": "past_due"})
    );
    let invoice = em
        .invoice(marked["latest_invoice"].as_str().unwrap())
        .unwrap();
    assert_eq!(invoice["next_payment_attempt"], Value::Null);
    // A manual attempt can still fail (no further automatic one), or succeed.
    em.advance_subscription(&unpaid, Advance::Fail, None)
        .unwrap();
    let invoice = em
        .invoice(marked["latest_invoice"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (&invoice["attempt_count"], &invoice["next_payment_attempt"]),
        (&json!(2), &Value::Null)
    );
    let active = em
        .advance_subscription(&unpaid, Advance::Recover, None)
        .unwrap();
    assert_eq!(active["status"], "active");
    settle(&em).await;
}

#[actix_web::test]
async fn cancel_at_period_end_then_the_period_ends() {
    let (em, _hooks) = pair();
    let client = http();
    let base = em.base_url();
    let (_, sub_id) = subscribe(&em).await;
    let url = format!("{base}/v1/subscriptions/{sub_id}");
    let period_end = item(&em.subscription(&sub_id).unwrap())["current_period_end"].clone();

    let mark = em.events().len();
    let (status, pending, _) = post_form(&client, &url, "cancel_at_period_end=true").await;
    assert_eq!(status, 200, "{pending}");
    assert_eq!(pending["cancel_at_period_end"], true);
    assert_eq!(pending["cancel_at"], period_end);
    assert!(pending["canceled_at"].as_i64().is_some());
    assert_eq!(pending["status"], "active");
    let events = events_since(&em, mark);
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "customer.subscription.updated");
    assert_eq!(
        events[0]["data"]["previous_attributes"],
        json!({
            "cancel_at": null,
            "cancel_at_period_end": false,
            "canceled_at": null,
            "cancellation_details": {"reason": null}
        })
    );
    assert_eq!(
        events[0]["request"]["id"]
            .as_str()
            .map(|r| r.starts_with("req_")),
        Some(true)
    );
    // Asking again changes nothing and raises nothing; the control refuses it as pointless.
    let mark = em.events().len();
    let (status, _, _) = post_form(&client, &url, "cancel_at_period_end=true").await;
    assert_eq!(status, 200);
    assert_eq!(em.events().len(), mark);
    assert!(em
        .advance_subscription(&sub_id, Advance::CancelAtPeriodEnd, None)
        .is_err());

    // Resume, then cancel at period end again, both through the control.
    let resumed = em
        .advance_subscription(&sub_id, Advance::Resume, None)
        .unwrap();
    assert_eq!(
        (
            &resumed["cancel_at_period_end"],
            &resumed["cancel_at"],
            &resumed["canceled_at"]
        ),
        (&json!(false), &Value::Null, &Value::Null)
    );
    assert!(em
        .advance_subscription(&sub_id, Advance::Resume, None)
        .is_err());
    em.advance_subscription(&sub_id, Advance::CancelAtPeriodEnd, None)
        .unwrap();

    // The period ends: the subscription ends, with no renewal invoice.
    let at = now() - 60;
    let mark = em.events().len();
    let ended = em
        .advance_subscription(&sub_id, Advance::Renew, Some(at))
        .unwrap();
    assert_eq!(
        event_types_since(&em, mark),
        ["customer.subscription.deleted"]
    );
    assert_eq!(ended["status"], "canceled");
    assert_eq!(ended["ended_at"], at);
    assert_eq!(item(&ended)["current_period_end"], at);
    assert_eq!(em.subscription_invoices(&sub_id).len(), 1);
    let err = em
        .advance_subscription(&sub_id, Advance::Renew, None)
        .unwrap_err();
    assert!(err.to_string().contains("canceled"), "{err}");

    // A canceled subscription takes only metadata and cancellation details.
    let (status, error, _) = post_form(&client, &url, "cancel_at_period_end=false").await;
    assert_eq!(status, 400);
    assert_eq!(
        error["error"]["message"],
        "A canceled subscription can only update its cancellation_details and metadata."
    );
    let (status, noted, _) = post_form(
        &client,
        &url,
        "metadata[note]=left&cancellation_details[feedback]=too_expensive",
    )
    .await;
    assert_eq!(status, 200, "{noted}");
    assert_eq!(noted["metadata"]["note"], "left");
    assert_eq!(noted["metadata"]["user_id"], "7", "metadata is merged");
    assert_eq!(noted["cancellation_details"]["feedback"], "too_expensive");
    settle(&em).await;
}

#[actix_web::test]
async fn delete_cancels_now() {
    let (em, _hooks) = pair();
    let client = http();
    let base = em.base_url();
    let (_, sub_id) = subscribe(&em).await;
    let url = format!("{base}/v1/subscriptions/{sub_id}");
    let before = now();
    let mark = em.events().len();
    let (status, canceled) = delete(&client, &url, "").await;
    assert_eq!(status, 200, "{canceled}");
    assert_eq!(canceled["status"], "canceled");
    let at = canceled["canceled_at"].as_i64().unwrap();
    assert!(at >= before);
    assert_eq!(canceled["ended_at"], at);
    assert_eq!(
        canceled["cancellation_details"]["reason"],
        "cancellation_requested"
    );
    assert_eq!(
        event_types_since(&em, mark),
        ["customer.subscription.deleted"]
    );
    // Stripe answers a second cancellation as if the subscription were gone.
    let (status, again) = delete(&client, &url, "").await;
    assert_eq!(status, 404);
    assert_eq!(again["error"]["code"], "resource_missing");

    let (_, other) = subscribe(&em).await;
    let (status, with_details) = delete(
        &client,
        &format!("{base}/v1/subscriptions/{other}?cancellation_details[comment]=moving&invoice_now=false"),
        "",
    )
    .await;
    assert_eq!(status, 200, "{with_details}");
    assert_eq!(with_details["cancellation_details"]["comment"], "moving");
    let (status, error) = delete(
        &client,
        &format!("{base}/v1/subscriptions/{other}"),
        "prorate=maybe",
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["param"], "prorate");
    let (status, _) = delete(&client, &format!("{base}/v1/subscriptions/sub_nope"), "").await;
    assert_eq!(status, 404);
    settle(&em).await;
}

#[actix_web::test]
async fn subscriptions_and_invoices_are_listed_like_stripe() {
    let em = emulator(None);
    let client = http();
    let base = em.base_url();
    let (_, a) = subscribe(&em).await;
    let (_, b) = subscribe(&em).await;
    let (_, c) = subscribe(&em).await;
    let customer_of = |s: &str| {
        em.subscription(s).unwrap()["customer"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (status, _) = delete(&client, &format!("{base}/v1/subscriptions/{c}"), "").await;
    assert_eq!(status, 200);
    em.advance_subscription(&a, Advance::Renew, None).unwrap();

    let ids = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap().to_string())
            .collect()
    };
    // Newest first; canceled ones only when asked for.
    let (status, list) = get_json(&client, &format!("{base}/v1/subscriptions")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["object"], "list");
    assert_eq!(list["url"], "/v1/subscriptions");
    assert_eq!(list["has_more"], false);
    assert_eq!(ids(&list), [b.clone(), a.clone()]);
    let (_, all) = get_json(&client, &format!("{base}/v1/subscriptions?status=all")).await;
    assert_eq!(ids(&all), [c.clone(), b.clone(), a.clone()]);
    let (_, canceled) =
        get_json(&client, &format!("{base}/v1/subscriptions?status=canceled")).await;
    assert_eq!(ids(&canceled), [c.as_str()]);
    let (_, mine) = get_json(
        &client,
        &format!(
            "{base}/v1/subscriptions?customer={}&status=active",
            customer_of(&a)
        ),
    )
    .await;
    assert_eq!(ids(&mine), [a.as_str()]);
    let (_, trialing) =
        get_json(&client, &format!("{base}/v1/subscriptions?status=trialing")).await;
    assert!(ids(&trialing).is_empty());

    // Cursors.
    let (_, first) = get_json(
        &client,
        &format!("{base}/v1/subscriptions?status=all&limit=1"),
    )
    .await;
    assert_eq!(
        (ids(&first), &first["has_more"]),
        (vec![c.clone()], &json!(true))
    );
    let (_, next) = get_json(
        &client,
        &format!("{base}/v1/subscriptions?status=all&limit=1&starting_after={c}"),
    )
    .await;
    assert_eq!(
        (ids(&next), &next["has_more"]),
        (vec![b.clone()], &json!(true))
    );
    let (_, last) = get_json(
        &client,
        &format!("{base}/v1/subscriptions?status=all&limit=5&starting_after={b}"),
    )
    .await;
    assert_eq!(
        (ids(&last), &last["has_more"]),
        (vec![a.clone()], &json!(false))
    );
    let (_, back) = get_json(
        &client,
        &format!("{base}/v1/subscriptions?status=all&limit=1&ending_before={a}"),
    )
    .await;
    assert_eq!(
        (ids(&back), &back["has_more"]),
        (vec![b.clone()], &json!(true))
    );
    for (query, param) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("starting_after=sub_nope", "starting_after"),
        ("status=bogus", "status"),
        ("bogus=1", "bogus"),
        ("expand[]=latest_invoice", "expand[0]"),
    ] {
        let (status, error) = get_json(&client, &format!("{base}/v1/subscriptions?{query}")).await;
        assert_eq!(status, 400, "{query}: {error}");
        assert_eq!(error["error"]["param"], param, "{query}");
    }
    let (status, expanded) = get_json(
        &client,
        &format!("{base}/v1/subscriptions?expand[]=data.latest_invoice&expand[]=data.customer"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(expanded["data"][0]["latest_invoice"]["object"], "invoice");
    assert_eq!(expanded["data"][0]["customer"]["object"], "customer");

    // Invoices, by subscription or customer, newest first.
    let (status, invoices) =
        get_json(&client, &format!("{base}/v1/invoices?subscription={a}")).await;
    assert_eq!(status, 200, "{invoices}");
    assert_eq!(invoices["url"], "/v1/invoices");
    let reasons: Vec<&Value> = invoices["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| &i["billing_reason"])
        .collect();
    assert_eq!(
        reasons,
        [&json!("subscription_cycle"), &json!("subscription_create")]
    );
    let (_, by_customer) = get_json(
        &client,
        &format!("{base}/v1/invoices?customer={}", customer_of(&b)),
    )
    .await;
    assert_eq!(by_customer["data"].as_array().unwrap().len(), 1);
    assert_eq!(by_customer["data"][0]["subscription"], b.as_str());
    let (_, all_invoices) = get_json(&client, &format!("{base}/v1/invoices?limit=100")).await;
    assert_eq!(all_invoices["data"].as_array().unwrap().len(), 4);
    let (_, open) = get_json(&client, &format!("{base}/v1/invoices?status=open")).await;
    assert!(open["data"].as_array().unwrap().is_empty());

    // One invoice, with its payment.
    let invoice_id = invoices["data"][0]["id"].as_str().unwrap();
    let (status, invoice) = get_json(
        &client,
        &format!("{base}/v1/invoices/{invoice_id}?expand[]=payments"),
    )
    .await;
    assert_eq!(status, 200, "{invoice}");
    let payment = &invoice["payments"]["data"][0];
    assert_eq!(payment["payment"]["type"], "payment_intent");
    assert_eq!(
        payment["payment"]["payment_intent"].as_str(),
        em.invoice_payment_intent(invoice_id).as_deref()
    );
    assert_eq!(payment["status"], "paid");
    let (_, plain) = get_json(&client, &format!("{base}/v1/invoices/{invoice_id}")).await;
    assert!(
        plain.get("payments").is_none(),
        "only when expanded, as on Stripe"
    );

    let (status, sub) = get_json(
        &client,
        &format!("{base}/v1/subscriptions/{a}?expand[]=latest_invoice"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(sub["latest_invoice"]["id"], invoice_id);
    let (status, missing) = get_json(&client, &format!("{base}/v1/subscriptions/sub_nope")).await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "resource_missing");
    assert_eq!(
        missing["error"]["message"],
        "No such subscription: 'sub_nope'"
    );
}

#[actix_web::test]
async fn creating_customers_is_idempotent() {
    let em = emulator(None);
    let client = http();
    let base = em.base_url();
    let send = |body: &'static str, key: &'static str| {
        let client = client.clone();
        let url = format!("{base}/v1/customers");
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
    let body = "email=ada%40example.com&metadata[user_id]=7";
    let (s1, r1, first) = send(body, "folio-customer-7").await;
    let (s2, r2, second) = send(body, "folio-customer-7").await;
    assert_eq!((s1, s2, r1, r2), (200, 200, false, true));
    assert_eq!(first, second);
    assert_eq!(first["object"], "customer");
    assert_eq!(first["email"], "ada@example.com");
    assert_eq!(first["metadata"], json!({"user_id": "7"}));
    assert_eq!(first["currency"], Value::Null);
    let (status, _, error) = send("email=other%40example.com", "folio-customer-7").await;
    assert_eq!(status, 400);
    assert_eq!(error["error"]["type"], "idempotency_error");
    assert_eq!(em.events().len(), 1, "one customer.created");
    assert_eq!(em.events()[0]["type"], "customer.created");
    assert_eq!(
        em.events()[0]["request"]["idempotency_key"],
        "folio-customer-7"
    );

    let (status, got) = get_json(&client, &format!("{base}/v1/customers/{}", id(&first))).await;
    assert_eq!(status, 200);
    assert_eq!(got, first);
    assert_eq!(em.customer(&id(&first)).unwrap(), first);
    let (status, missing) = get_json(&client, &format!("{base}/v1/customers/cus_nope")).await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["message"], "No such customer: 'cus_nope'");
    for (body, code, param) in [
        ("email=not-an-email", "email_invalid", "email"),
        (
            "email=a%40b.c&address[city]=Paris",
            "parameter_unknown",
            "address[city]",
        ),
        ("metadata[k]=v&expand[]=subscriptions", "", "expand[0]"),
    ] {
        let (status, error, _) = post_form(&client, &format!("{base}/v1/customers"), body).await;
        assert_eq!(status, 400, "{body}");
        if !code.is_empty() {
            assert_eq!(error["error"]["code"], code, "{body}");
        }
        assert_eq!(error["error"]["param"], param, "{body}");
    }
}

/// Every `action="..."` of a page's forms.
fn form_actions(html: &str) -> Vec<String> {
    html.split("action=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// Every `href="..."` of a page.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

#[actix_web::test]
async fn the_portal_manages_subscriptions() {
    let (em, _hooks) = pair();
    let client = http();
    let base = em.base_url();
    let (_, sub_id) = subscribe(&em).await;
    let customer = em.subscription(&sub_id).unwrap()["customer"]
        .as_str()
        .unwrap()
        .to_string();
    let mark = em.events().len();
    let (status, portal, _) = post_form(
        &client,
        &format!("{base}/v1/billing_portal/sessions"),
        &format!("customer={customer}&return_url=http%3A%2F%2Fshop.test%2Faccount"),
    )
    .await;
    assert_eq!(status, 200, "{portal}");
    assert_eq!(portal["object"], "billing_portal.session");
    assert_eq!(portal["customer"], customer.as_str());
    assert_eq!(portal["return_url"], "http://shop.test/account");
    assert_eq!(portal["livemode"], false);
    let url = portal["url"].as_str().unwrap().to_string();
    let portal_id = id(&portal);
    assert_eq!(url, format!("{base}/portal/{portal_id}"));
    assert_eq!(
        event_types_since(&em, mark),
        ["billing_portal.session.created"]
    );

    let get_page = |url: String| {
        let client = client.clone();
        async move {
            let response = client.get(&url).send().await.unwrap();
            let status = response.status().as_u16();
            (status, response.text().await.unwrap())
        }
    };
    let (status, html) = get_page(url.clone()).await;
    assert_eq!(status, 200);
    let period_end = item(&em.subscription(&sub_id).unwrap())["current_period_end"]
        .as_i64()
        .unwrap();
    let renews = chrono::DateTime::from_timestamp(period_end, 0)
        .unwrap()
        .format("%-d %B %Y")
        .to_string();
    for needle in [
        "<h1>Manage your subscription</h1>",
        "<h2>Subscriptions</h2>",
        "ada@example.com",
        "Folio Membership",
        "€9.00 per month",
        &format!("Active · Renews on {renews}"),
        "Cancel at period end",
        "Cancel now",
        r#"<a id="return" href="http://shop.test/account">Return to the shop</a>"#,
        "<h2>Invoices</h2>",
        "FOLIO-0001",
    ] {
        assert!(html.contains(needle), "portal lacks {needle}:\n{html}");
    }
    assert!(!html.contains("Update card and pay"));
    assert!(!html.contains("<script") && !html.contains("src=\"http"));
    assert!(html.contains(&format!("aria-labelledby=\"title-{sub_id}\"")));
    // Nothing on the page leads to a 404 (the browser console stays clean).
    for link in links(&html).into_iter().filter(|l| l.starts_with('/')) {
        let (status, _) = get_page(format!("{base}{link}")).await;
        assert_eq!(status, 200, "{link}");
    }
    let (status, _) = get_page(format!("{base}/favicon.ico")).await;
    assert_eq!(status, 200);

    let post = |action: String| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let response = client
                .post(format!("{base}{action}"))
                .form(&[("x", "")])
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let location = response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string());
            (status, location, response.text().await.unwrap())
        }
    };
    let action_for = |html: &str, name: &str| -> String {
        form_actions(html)
            .into_iter()
            .find(|a| a.ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("no {name} form:\n{html}"))
    };

    // Cancel at period end.
    let mark = em.events().len();
    let (status, location, _) = post(action_for(&html, "cancel-at-period-end")).await;
    assert_eq!(status, 303);
    let location = location.unwrap();
    assert_eq!(
        location,
        format!("/portal/{portal_id}?done=cancel-at-period-end")
    );
    assert_eq!(
        event_types_since(&em, mark),
        ["customer.subscription.updated"]
    );
    assert_eq!(
        em.subscription(&sub_id).unwrap()["cancel_at_period_end"],
        true
    );
    let (_, html) = get_page(format!("{base}{location}")).await;
    assert!(html.contains(&format!("Cancels on {renews}")), "{html}");
    assert!(html.contains("role=\"status\""));
    assert!(html.contains("Resume") && !html.contains("Cancel at period end"));

    // Resume.
    let (status, _, _) = post(action_for(&html, "resume")).await;
    assert_eq!(status, 303);
    assert_eq!(
        em.subscription(&sub_id).unwrap()["cancel_at_period_end"],
        false
    );
    // A stale form: resuming again is refused on the page.
    let (status, _, refused) = post(action_for(&html, "resume")).await;
    assert_eq!(status, 400);
    assert!(refused.contains("role=\"alert\""), "{refused}");

    // A failed renewal: the portal offers to pay.
    em.advance_subscription(&sub_id, Advance::Fail, None)
        .unwrap();
    let (_, html) = get_page(url.clone()).await;
    assert!(html.contains("Past due · The payment of €9.00"), "{html}");
    assert!(html.contains("Update card and pay"));
    let mark = em.events().len();
    let (status, _, _) = post(action_for(&html, "pay")).await;
    assert_eq!(status, 303);
    assert_eq!(
        event_types_since(&em, mark),
        [
            "invoice.paid",
            "invoice.payment_succeeded",
            "customer.subscription.updated"
        ]
    );
    assert_eq!(em.subscription(&sub_id).unwrap()["status"], "active");

    // Cancel now.
    let (_, html) = get_page(url.clone()).await;
    let mark = em.events().len();
    let (status, _, _) = post(action_for(&html, "cancel")).await;
    assert_eq!(status, 303);
    assert_eq!(
        event_types_since(&em, mark),
        ["customer.subscription.deleted"]
    );
    let (_, html) = get_page(url.clone()).await;
    assert!(html.contains("Canceled · Ended on"), "{html}");
    assert!(
        form_actions(&html).is_empty(),
        "no buttons for a canceled subscription"
    );

    // Other customers' subscriptions and unknown portals are not found.
    let (_, stranger) = subscribe(&em).await;
    let (status, _, _) = post(format!(
        "/portal/{portal_id}/subscriptions/{stranger}/cancel"
    ))
    .await;
    assert_eq!(status, 404);
    assert_eq!(em.subscription(&stranger).unwrap()["status"], "active");
    let (status, _) = get_page(format!("{base}/portal/bps_nope")).await;
    assert_eq!(status, 404);
    let (status, _, _) = post(format!("/portal/{portal_id}/subscriptions/{sub_id}/pause")).await;
    assert_eq!(status, 404);
    settle(&em).await;
}

#[actix_web::test]
async fn the_hosted_invoice_page_pays_an_open_invoice() {
    let (em, _hooks) = pair();
    let client = http();
    let (_, sub_id) = subscribe(&em).await;
    let past_due = em
        .advance_subscription(&sub_id, Advance::Fail, None)
        .unwrap();
    let invoice = em
        .invoice(past_due["latest_invoice"].as_str().unwrap())
        .unwrap();
    let url = invoice["hosted_invoice_url"].as_str().unwrap();
    let html = client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-status=\"open\""), "{html}");
    assert!(html.contains("the payment failed"));
    assert!(
        html.contains(r#"<button type="submit" id="pay">Pay €9.00</button>"#),
        "{html}"
    );
    let paid = client.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(em.subscription(&sub_id).unwrap()["status"], "active");
    let html = client.get(url).send().await.unwrap().text().await.unwrap();
    assert!(html.contains("data-status=\"paid\""));
    assert!(!html.contains("id=\"pay\""));
    let again = client.post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(again.status(), 400);
    settle(&em).await;
}

#[actix_web::test]
async fn the_control_route_advances_subscriptions() {
    let em = emulator(None);
    let client = http();
    let base = em.base_url();
    let (_, sub_id) = subscribe(&em).await;
    let url = format!("{base}/_emulator/subscriptions/{sub_id}/advance");
    let at = now() - 4 * DAY;

    let failed = client
        .post(&url)
        .form(&[("action", "fail"), ("at", &at.to_string())])
        .send()
        .await
        .unwrap();
    assert_eq!(failed.status(), 200);
    let failed: Value = failed.json().await.unwrap();
    assert_eq!(failed["status"], "past_due");
    assert_eq!(failed["items"]["data"][0]["current_period_start"], at);

    let unpaid = client
        .post(&url)
        .json(&json!({"action": "give_up", "then": "unpaid"}))
        .send()
        .await
        .unwrap();
    assert_eq!(unpaid.status(), 200);
    assert_eq!(unpaid.json::<Value>().await.unwrap()["status"], "unpaid");
    let recovered = client
        .post(format!("{url}?action=recover"))
        .send()
        .await
        .unwrap();
    assert_eq!(recovered.json::<Value>().await.unwrap()["status"], "active");
    let renewed = client
        .post(&url)
        .json(&json!({"action": "renew", "at": now()}))
        .send()
        .await
        .unwrap();
    assert_eq!(renewed.status(), 200);

    for (body, status, param) in [
        (json!({}), 400, Some("action")),
        (json!({"action": "pause"}), 400, Some("action")),
        (
            json!({"action": "renew", "then": "unpaid"}),
            400,
            Some("then"),
        ),
        (
            json!({"action": "give_up", "then": "later"}),
            400,
            Some("then"),
        ),
        (json!({"action": "renew", "at": "soon"}), 400, Some("at")),
        (
            json!({"action": "renew", "at": now() + 3600}),
            400,
            Some("at"),
        ),
        (json!({"action": "recover"}), 400, None),
    ] {
        let response = client.post(&url).json(&body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"]["type"], "invalid_request_error", "{body}");
        if let Some(param) = param {
            assert_eq!(error["error"]["param"], param, "{body}: {error}");
        }
    }
    let missing = client
        .post(format!("{base}/_emulator/subscriptions/sub_nope/advance"))
        .form(&[("action", "renew")])
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    let error: Value = missing.json().await.unwrap();
    assert_eq!(error["error"]["code"], "resource_missing");

    let canceled = client
        .post(&url)
        .form(&[("action", "cancel")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        canceled.json::<Value>().await.unwrap()["status"],
        "canceled"
    );
    let again = client
        .post(&url)
        .form(&[("action", "renew")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 400);
}

#[actix_web::test]
async fn subscription_sessions_refuse_what_stripe_refuses() {
    let em = emulator(None);
    let client = http();
    let base = em.base_url();
    let url = format!("{base}/v1/checkout/sessions");
    let sub = subscription_form();
    let one_time = crate::support::session_form();
    let cases: Vec<(String, &str)> = vec![
        (
            sub.replace("&line_items[0][price_data][recurring][interval]=month", ""),
            "line_items",
        ),
        (
            format!("{sub}&payment_intent_data[metadata][x]=1"),
            "payment_intent_data",
        ),
        (
            format!("{sub}&invoice_creation[enabled]=true"),
            "invoice_creation",
        ),
        (
            format!("{one_time}&line_items[0][price_data][recurring][interval]=month"),
            "line_items[0][price_data][recurring]",
        ),
        (
            format!("{one_time}&subscription_data[metadata][x]=1"),
            "subscription_data",
        ),
        (
            sub.replace("interval]=month", "interval]=fortnight"),
            "line_items[0][price_data][recurring][interval]",
        ),
        (
            format!("{sub}&line_items[0][price_data][recurring][interval_count]=13"),
            "line_items[0][price_data][recurring][interval_count]",
        ),
        (
            format!("{sub}&line_items[0][price_data][recurring][interval_count]=0"),
            "line_items[0][price_data][recurring][interval_count]",
        ),
        (
            format!("{sub}&line_items[0][price_data][recurring][usage_type]=metered"),
            "line_items[0][price_data][recurring][usage_type]",
        ),
        (
            format!("{sub}&subscription_data[trial_period_days]=14"),
            "subscription_data[trial_period_days]",
        ),
        (
            format!("{sub}&subscription_data[bogus]=1"),
            "subscription_data[bogus]",
        ),
        (
            format!("{sub}&discounts[0][coupon]=SUMMER"),
            "discounts[0][coupon]",
        ),
        (
            sub.replace("customer_email=ada%40example.com", "customer=cus_nope"),
            "customer",
        ),
        (
            format!("{sub}&customer=cus_nope"),
            "customer_email",
        ),
        (
            format!(
                "{sub}&line_items[1][price_data][currency]=eur&line_items[1][price_data][unit_amount]=5000\
                 &line_items[1][price_data][recurring][interval]=year\
                 &line_items[1][price_data][product_data][name]=Extra&line_items[1][quantity]=1"
            ),
            "line_items[1][price_data][recurring]",
        ),
        (
            format!(
                "{sub}&line_items[1][price_data][currency]=eur&line_items[1][price_data][unit_amount]=5000\
                 &line_items[1][price_data][product_data][name]=Setup+fee&line_items[1][quantity]=1"
            ),
            "line_items[1][price_data][recurring]",
        ),
    ];
    for (body, param) in cases {
        let (status, json, _) = post_form(&client, &url, &body).await;
        assert_eq!(status, 400, "{body}: {json}");
        assert_eq!(json["error"]["type"], "invalid_request_error");
        assert_eq!(json["error"]["param"], param, "{body}: {json}");
        assert!(json["error"]["message"].as_str().is_some());
    }
    let (_, json, _) = post_form(
        &client,
        &url,
        &sub.replace("customer_email=ada%40example.com", "customer=cus_nope"),
    )
    .await;
    assert_eq!(json["error"]["code"], "resource_missing");
    assert_eq!(json["error"]["message"], "No such customer: 'cus_nope'");

    // What is accepted: a yearly plan every year, two items of one interval, a description.
    for ok in [
        sub.replace("interval]=month", "interval]=year"),
        format!(
            "{sub}&line_items[0][price_data][recurring][interval_count]=3&subscription_data[description]=Quarterly"
        ),
        format!(
            "{sub}&line_items[1][price_data][currency]=eur&line_items[1][price_data][unit_amount]=300\
             &line_items[1][price_data][recurring][interval]=month\
             &line_items[1][price_data][product_data][name]=Audiobooks&line_items[1][quantity]=2"
        ),
    ] {
        let (status, json, _) = post_form(&client, &url, &ok).await;
        assert_eq!(status, 200, "{ok}: {json}");
    }
    let (_, two) = subscribe_with(
        &em,
        &format!(
            "{sub}&line_items[1][price_data][currency]=eur&line_items[1][price_data][unit_amount]=300\
             &line_items[1][price_data][recurring][interval]=month\
             &line_items[1][price_data][product_data][name]=Audiobooks&line_items[1][quantity]=2"
        ),
    )
    .await;
    let two = em.subscription(&two).unwrap();
    assert_eq!(two["items"]["data"].as_array().unwrap().len(), 2);
    let invoice = em.invoice(two["latest_invoice"].as_str().unwrap()).unwrap();
    assert_eq!(invoice["amount_paid"], 900 + 600);
    let (_, yearly) = subscribe_with(&em, &sub.replace("interval]=month", "interval]=year")).await;
    let yearly = em.subscription(&yearly).unwrap();
    assert_eq!(
        item(&yearly)["current_period_end"],
        plus_months(item(&yearly)["current_period_start"].as_i64().unwrap(), 12)
    );

    // The portal refuses what Stripe refuses.
    let portal = format!("{base}/v1/billing_portal/sessions");
    for (body, code, param) in [
        (
            "return_url=http%3A%2F%2Fshop.test%2F",
            "parameter_missing",
            "customer",
        ),
        ("customer=cus_nope", "resource_missing", "customer"),
        (
            "customer=cus_nope&return_url=nope",
            "url_invalid",
            "return_url",
        ),
        (
            "customer=cus_nope&configuration=bpc_nope",
            "resource_missing",
            "configuration",
        ),
        (
            "customer=cus_nope&flow_data[type]=subscription_cancel",
            "parameter_unknown",
            "flow_data[type]",
        ),
    ] {
        let (status, json, _) = post_form(&client, &portal, body).await;
        assert_eq!(status, 400, "{body}: {json}");
        assert_eq!(json["error"]["code"], code, "{body}: {json}");
        assert_eq!(json["error"]["param"], param, "{body}");
    }
    // Subscription updates are strict too.
    let (_, sub_id) = subscribe(&em).await;
    for (body, param) in [
        ("cancel_at_period_end=yes", "cancel_at_period_end"),
        ("items[0][price]=price_x", "items[0][price]"),
        (
            "cancellation_details[feedback]=meh",
            "cancellation_details[feedback]",
        ),
    ] {
        let (status, json, _) =
            post_form(&client, &format!("{base}/v1/subscriptions/{sub_id}"), body).await;
        assert_eq!(status, 400, "{body}: {json}");
        assert_eq!(json["error"]["param"], param, "{body}");
    }
    let (status, _) = get_json(&client, &format!("{base}/v1/customers")).await;
    assert_eq!(status, 404, "listing customers is not emulated");
}

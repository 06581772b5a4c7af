//! Stripe Tax, billing details and invoices: the arithmetic, the page, the API and the events.

use std::collections::HashMap;

use serde_json::{json, Value};
use stripe_emulator::{default_tax_rates, CustomerDetails, EmulatorError, DEFAULT_COUNTRY};

use crate::support::{
    create_session, create_session_with, emulator, get_json, http, pair, post_form, session_form,
    settle, taxed_form,
};

fn id_of(session: &Value) -> String {
    session["id"].as_str().expect("id").to_string()
}

/// Pays a fresh session of `form` from `country` and returns the paid session.
async fn paid_in(em: &stripe_emulator::Emulator, form: &str, country: &str) -> Value {
    let id = id_of(&create_session_with(em, form).await);
    em.pay_with(&id, &CustomerDetails::in_country(country))
        .expect("pay");
    em.session(&id).expect("session")
}

/// (amount_subtotal, total_details.amount_tax, amount_total) of a session.
fn amounts(session: &Value) -> (i64, i64, i64) {
    (
        session["amount_subtotal"].as_i64().unwrap(),
        session["total_details"]["amount_tax"].as_i64().unwrap(),
        session["amount_total"].as_i64().unwrap(),
    )
}

#[actix_web::test]
async fn exclusive_tax_is_added_and_charged() {
    let (em, _hooks) = pair();
    let client = http();
    let base = em.base_url();
    let open = create_session_with(&em, &taxed_form("exclusive", 1999, false)).await;
    // Before the customer says where they are, Stripe has no tax yet.
    assert_eq!(amounts(&open), (1999, 0, 1999));
    assert_eq!(
        open["automatic_tax"],
        json!({"enabled": true, "liability": {"type": "self"}, "provider": null, "status": "requires_location_inputs"})
    );
    assert_eq!(open["billing_address_collection"], "required");
    assert_eq!(open["tax_id_collection"]["enabled"], true);
    assert_eq!(open["invoice"], Value::Null);

    let id = id_of(&open);
    let details = CustomerDetails {
        name: Some("Ada Lovelace".into()),
        line1: Some("Unter den Linden 1".into()),
        postal_code: Some("10117".into()),
        city: Some("Berlin".into()),
        business_name: Some("Analytical Engines GmbH".into()),
        tax_id: Some("DE 123456789".into()),
        ..CustomerDetails::in_country("de")
    };
    em.pay_with(&id, &details).unwrap();
    let paid = em.session(&id).unwrap();
    // 1999 × 19 % = 379.81 → 380.
    assert_eq!(amounts(&paid), (1999, 380, 2379));
    assert_eq!(paid["automatic_tax"]["status"], "complete");
    assert_eq!(paid["automatic_tax"]["provider"], "stripe");
    assert_eq!(
        paid["customer_details"],
        json!({
            "address": {"city": "Berlin", "country": "DE", "line1": "Unter den Linden 1",
                        "line2": null, "postal_code": "10117", "state": null},
            "business_name": "Analytical Engines GmbH",
            "email": "ada@example.com",
            "individual_name": "Ada Lovelace",
            "name": "Analytical Engines GmbH",
            "phone": null,
            "tax_exempt": "none",
            "tax_ids": [{"type": "eu_vat", "value": "DE123456789"}]
        })
    );
    let (_, items) = get_json(
        &client,
        &format!("{base}/v1/checkout/sessions/{id}/line_items"),
    )
    .await;
    let item = &items["data"][0];
    assert_eq!(
        (
            &item["amount_subtotal"],
            &item["amount_tax"],
            &item["amount_total"]
        ),
        (&json!(1999), &json!(380), &json!(2379))
    );
    assert_eq!(item["price"]["tax_behavior"], "exclusive");

    // The payment is the total: a full refund and a dispute are of 2379.
    let pi = paid["payment_intent"].as_str().unwrap();
    let (status, refund, _) = post_form(
        &client,
        &format!("{base}/v1/refunds"),
        &format!("payment_intent={pi}"),
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    assert_eq!(refund["amount"], 2379);
    let (_, charge) = get_json(
        &client,
        &format!("{base}/v1/charges/{}", refund["charge"].as_str().unwrap()),
    )
    .await;
    assert_eq!(charge["amount"], 2379);
    assert_eq!(charge["billing_details"]["address"]["country"], "DE");
    assert_eq!(charge["billing_details"]["name"], "Analytical Engines GmbH");
    let other = paid_in(&em, &taxed_form("exclusive", 1999, false), "FR").await;
    let dispute = em
        .create_dispute(other["payment_intent"].as_str().unwrap())
        .unwrap();
    let (_, dispute) = get_json(&client, &format!("{base}/v1/disputes/{dispute}")).await;
    // 1999 × 20 % = 399.8 → 400.
    assert_eq!(dispute["amount"], 2399);
    settle(&em).await;
}

#[actix_web::test]
async fn inclusive_tax_is_part_of_the_price() {
    let em = emulator(None);
    let fr = paid_in(&em, &taxed_form("inclusive", 1999, false), "FR").await;
    // 1999 × 20/120 = 333.17 → 333, and the customer pays the price.
    assert_eq!(amounts(&fr), (1999, 333, 1999));
    let ie = paid_in(&em, &taxed_form("inclusive", 1999, false), "IE").await;
    // 1999 × 23/123 = 373.80 → 374.
    assert_eq!(amounts(&ie), (1999, 374, 1999));
    // `unspecified` counts as exclusive (the emulated account's default).
    let unspecified = paid_in(&em, &taxed_form("unspecified", 1000, false), "NL").await;
    assert_eq!(amounts(&unspecified), (1000, 210, 1210));
}

#[actix_web::test]
async fn a_country_without_tax_pays_the_subtotal() {
    let em = emulator(None);
    for behavior in ["exclusive", "inclusive"] {
        let us = paid_in(&em, &taxed_form(behavior, 1999, false), "US").await;
        assert_eq!(amounts(&us), (1999, 0, 1999), "{behavior}");
        assert_eq!(us["automatic_tax"]["status"], "complete");
        // Not in the table at all: not collected either.
        let ch = paid_in(&em, &taxed_form(behavior, 1999, false), "CH").await;
        assert_eq!(amounts(&ch), (1999, 0, 1999), "{behavior}");
    }
}

#[actix_web::test]
async fn rounding_is_half_up() {
    let em = emulator(None);
    // 50 × 21 % = 10.5 → 11 (banker's rounding would give 10).
    let nl = paid_in(&em, &taxed_form("exclusive", 50, false), "NL").await;
    assert_eq!(amounts(&nl), (50, 11, 61));
    em.set_tax_rates(HashMap::from([
        ("de".to_string(), 700),
        ("LU".to_string(), 10_000),
    ]))
    .unwrap();
    // 1999 × 7 % = 139.93 → 140.
    let reduced = paid_in(&em, &taxed_form("exclusive", 1999, false), "DE").await;
    assert_eq!(amounts(&reduced), (1999, 140, 2139));
    // 101 × 100/200 = 50.5 → 51.
    let half = paid_in(&em, &taxed_form("inclusive", 101, false), "LU").await;
    assert_eq!(amounts(&half), (101, 51, 101));
    // FR was left out of the new table.
    let fr = paid_in(&em, &taxed_form("exclusive", 1999, false), "FR").await;
    assert_eq!(amounts(&fr), (1999, 0, 1999));
}

#[actix_web::test]
async fn pay_uses_the_default_country_and_checks_details() {
    let em = emulator(None);
    assert_eq!(em.default_country(), DEFAULT_COUNTRY);
    assert_eq!(em.tax_rates(), default_tax_rates());
    assert_eq!(default_tax_rates()["DE"], 1900);

    let id = id_of(&create_session_with(&em, &taxed_form("exclusive", 1999, false)).await);
    let bad = CustomerDetails {
        tax_id: Some("not a vat".into()),
        ..CustomerDetails::in_country("DE")
    };
    match em.pay_with(&id, &bad) {
        Err(EmulatorError::InvalidState { code, param, .. }) => {
            assert_eq!(
                (code, param.as_deref()),
                (Some("tax_id_invalid"), Some("tax_id"))
            )
        }
        other => panic!("expected tax_id_invalid, got {other:?}"),
    }
    assert!(em
        .pay_with(&id, &CustomerDetails::in_country("Deutschland"))
        .is_err());
    assert_eq!(em.session(&id).unwrap()["status"], "open");

    em.pay(&id).unwrap();
    let paid = em.session(&id).unwrap();
    assert_eq!(amounts(&paid), (1999, 380, 2379));
    assert_eq!(paid["customer_details"]["address"]["country"], "DE");
    assert_eq!(paid["customer_details"]["address"]["line1"], Value::Null);
    assert_eq!(paid["customer_details"]["tax_ids"], json!([]));

    em.set_default_country("nl").unwrap();
    assert_eq!(em.default_country(), "NL");
    assert!(em.set_default_country("Netherlands").is_err());
    let id = id_of(&create_session_with(&em, &taxed_form("exclusive", 1000, false)).await);
    em.pay(&id).unwrap();
    assert_eq!(amounts(&em.session(&id).unwrap()), (1000, 210, 1210));
    assert!(em
        .set_tax_rates(HashMap::from([("DE".to_string(), 10_001)]))
        .is_err());
    assert_eq!(
        em.tax_rates(),
        default_tax_rates(),
        "a refused table changes nothing"
    );
}

#[actix_web::test]
async fn invoices_only_when_asked() {
    let (em, _hooks) = pair();
    let without = paid_in(&em, &taxed_form("exclusive", 1999, false), "DE").await;
    assert_eq!(without["invoice"], Value::Null);
    assert_eq!(without["invoice_creation"], Value::Null);
    let disabled = format!(
        "{}&invoice_creation[enabled]=false",
        taxed_form("exclusive", 1999, false)
    );
    let disabled = paid_in(&em, &disabled, "DE").await;
    assert_eq!(disabled["invoice"], Value::Null);
    assert_eq!(disabled["invoice_creation"]["enabled"], false);
    settle(&em).await;
    assert!(em
        .events()
        .iter()
        .all(|e| !e["type"].as_str().unwrap().starts_with("invoice.")));

    let with = paid_in(&em, &taxed_form("exclusive", 1999, true), "DE").await;
    assert_eq!(with["invoice_creation"]["enabled"], true);
    assert_eq!(
        with["invoice_creation"]["invoice_data"]["metadata"],
        json!({"order_id": "42"})
    );
    let invoice_id = with["invoice"].as_str().expect("invoice id");
    assert!(invoice_id.starts_with("in_"));
    settle(&em).await;
    let events: Vec<(String, Value)> = em
        .events()
        .into_iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["data"]["object"].clone(),
            )
        })
        .skip_while(|(_, object)| object["id"] != with["id"])
        .collect();
    let kinds: Vec<&str> = events.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "checkout.session.completed",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid"
        ]
    );
    assert_eq!(events[0].1["invoice"], invoice_id);
    let statuses: Vec<&Value> = events[1..].iter().map(|(_, o)| &o["status"]).collect();
    assert_eq!(statuses, [&json!("draft"), &json!("open"), &json!("paid")]);
    assert_eq!(events[1].1["hosted_invoice_url"], Value::Null);
    assert_eq!(events[3].1, em.invoice(invoice_id).unwrap());
}

#[actix_web::test]
async fn invoices_over_http_and_their_page() {
    let em = emulator(None);
    let client = http();
    let base = em.base_url();
    let id = id_of(&create_session_with(&em, &taxed_form("exclusive", 1999, true)).await);
    em.pay_with(
        &id,
        &CustomerDetails {
            name: Some("Ada <Lovelace>".into()),
            line1: Some("1 Rue de Rivoli".into()),
            postal_code: Some("75001".into()),
            city: Some("Paris".into()),
            business_name: Some("Engines SARL".into()),
            tax_id: Some("FR12345678901".into()),
            ..CustomerDetails::in_country("FR")
        },
    )
    .unwrap();
    let invoice_id = em.session(&id).unwrap()["invoice"]
        .as_str()
        .unwrap()
        .to_string();

    let (status, invoice) = get_json(&client, &format!("{base}/v1/invoices/{invoice_id}")).await;
    assert_eq!(status, 200, "{invoice}");
    assert_eq!(invoice["object"], "invoice");
    assert_eq!(invoice["status"], "paid");
    assert_eq!(invoice["number"], "FOLIO-0001");
    assert_eq!(invoice["currency"], "eur");
    // 1999 × 20 % = 399.8 → 400.
    assert_eq!(
        [
            &invoice["subtotal"],
            &invoice["tax"],
            &invoice["total"],
            &invoice["amount_due"],
            &invoice["amount_paid"],
            &invoice["amount_remaining"]
        ],
        [
            &json!(1999),
            &json!(400),
            &json!(2399),
            &json!(2399),
            &json!(2399),
            &json!(0)
        ]
    );
    assert_eq!(invoice["total_excluding_tax"], 1999);
    assert_eq!(invoice["customer_name"], "Engines SARL");
    assert_eq!(invoice["customer_email"], "ada@example.com");
    assert_eq!(invoice["customer_address"]["city"], "Paris");
    assert_eq!(
        invoice["customer_tax_ids"],
        json!([{"type": "eu_vat", "value": "FR12345678901"}])
    );
    assert_eq!(invoice["metadata"], json!({"order_id": "42"}));
    assert_eq!(invoice["description"], "Order 42");
    assert_eq!(
        invoice["payment_intent"],
        em.session(&id).unwrap()["payment_intent"]
    );
    assert_eq!(invoice["total_taxes"][0]["amount"], 400);
    assert_eq!(invoice["total_taxes"][0]["taxable_amount"], 1999);
    let line = &invoice["lines"]["data"][0];
    assert_eq!(
        (&line["amount"], &line["quantity"]),
        (&json!(1999), &json!(1))
    );
    assert_eq!(line["taxes"][0]["amount"], 400);
    let url = invoice["hosted_invoice_url"].as_str().unwrap();
    assert_eq!(url, format!("{base}/invoices/{invoice_id}"));

    // Behind the key check like every /v1 route; unknown ids are resource_missing.
    let unauthenticated = client
        .get(format!("{base}/v1/invoices/{invoice_id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(unauthenticated.status(), 401);
    let (status, missing) = get_json(&client, &format!("{base}/v1/invoices/in_nope")).await;
    assert_eq!(status, 404);
    assert_eq!(missing["error"]["code"], "resource_missing");
    let (status, _) = get_json(
        &client,
        &format!("{base}/v1/invoices/{invoice_id}?expand[]=customer"),
    )
    .await;
    assert_eq!(status, 400);

    // The hosted page needs no key.
    let page = client.get(url).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    for needle in [
        "FOLIO-0001",
        "Folio",
        "Engines SARL",
        "Ada &lt;Lovelace&gt;",
        "1 Rue de Rivoli",
        "75001 Paris",
        "France",
        "FR12345678901",
        "Rust for Shopkeepers",
        "€19.99",
        "€4.00",
        "Tax 20% (France)",
        "€23.99",
        "data-status=\"paid\"",
        "Order 42",
    ] {
        assert!(
            html.contains(needle),
            "invoice page lacks {needle}:\n{html}"
        );
    }
    assert!(!html.contains("<script"));
    let missing = client
        .get(format!("{base}/invoices/in_nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);

    // Numbers count up.
    let second = id_of(&create_session_with(&em, &taxed_form("inclusive", 1999, true)).await);
    em.pay(&second).unwrap();
    let second = em.session(&second).unwrap();
    let second = em.invoice(second["invoice"].as_str().unwrap()).unwrap();
    assert_eq!(second["number"], "FOLIO-0002");
    // Inclusive: 1999 × 19/119 = 319.17 → 319, within the price.
    assert_eq!(
        [
            &second["subtotal"],
            &second["tax"],
            &second["total"],
            &second["subtotal_excluding_tax"]
        ],
        [&json!(1999), &json!(319), &json!(1999), &json!(1680)]
    );
}

#[actix_web::test]
async fn bad_tax_parameters_get_stripe_errors() {
    let em = emulator(None);
    let url = format!("{}/v1/checkout/sessions", em.base_url());
    let client = http();
    let taxed = taxed_form("exclusive", 1999, true);
    let cases: Vec<(String, &str, &str)> = vec![
        (
            taxed.replace(
                "billing_address_collection=required",
                "billing_address_collection=always",
            ),
            "",
            "billing_address_collection",
        ),
        (
            taxed.replace("automatic_tax[enabled]=true", "automatic_tax[enabled]=yes"),
            "",
            "automatic_tax[enabled]",
        ),
        (
            taxed.replace("automatic_tax[enabled]=true", "automatic_tax[bogus]=1"),
            "parameter_missing",
            "automatic_tax[enabled]",
        ),
        (
            format!("{taxed}&automatic_tax[bogus]=1"),
            "parameter_unknown",
            "automatic_tax[bogus]",
        ),
        (
            format!("{taxed}&automatic_tax[liability][type]=account"),
            "",
            "automatic_tax[liability][type]",
        ),
        (
            format!("{taxed}&tax_id_collection[required]=always"),
            "",
            "tax_id_collection[required]",
        ),
        (
            taxed.replace(
                "invoice_creation[enabled]=true",
                "invoice_creation[enabled]=",
            ),
            "",
            "invoice_creation[enabled]",
        ),
        (
            taxed.replace("invoice_creation[enabled]=true&", ""),
            "parameter_missing",
            "invoice_creation[enabled]",
        ),
        (
            format!("{taxed}&invoice_creation[invoice_data][bogus]=1"),
            "parameter_unknown",
            "invoice_creation[invoice_data][bogus]",
        ),
        (
            format!("{taxed}&invoice_creation[invoice_data][account_tax_ids][0]=txi_1"),
            "resource_missing",
            "invoice_creation[invoice_data][account_tax_ids][0]",
        ),
        (
            taxed.replace("tax_behavior]=exclusive", "tax_behavior]=both"),
            "",
            "line_items[0][price_data][tax_behavior]",
        ),
        (
            format!("{taxed}&invoice_creation[invoice_data][custom_fields][0][name]=PO"),
            "parameter_missing",
            "invoice_creation[invoice_data][custom_fields][0][value]",
        ),
    ];
    for (body, code, param) in cases {
        let (status, json, _) = post_form(&client, &url, &body).await;
        assert_eq!(status, 400, "{body}: {json}");
        assert_eq!(json["error"]["type"], "invalid_request_error");
        assert_eq!(json["error"]["param"], param, "{json}");
        if !code.is_empty() {
            assert_eq!(json["error"]["code"], code, "{json}");
        }
    }
    // Everything Folio may send is accepted.
    let full = format!(
        "{taxed}&billing_address_collection=auto&tax_id_collection[required]=if_supported\
         &automatic_tax[liability][type]=self&invoice_creation[invoice_data][footer]=Thanks\
         &invoice_creation[invoice_data][custom_fields][0][name]=PO\
         &invoice_creation[invoice_data][custom_fields][0][value]=7\
         &invoice_creation[invoice_data][rendering_options][amount_tax_display]=include_inclusive_tax"
    );
    let (status, json, _) = post_form(&client, &url, &full).await;
    assert_eq!(status, 200, "{json}");
    assert_eq!(json["billing_address_collection"], "auto");
    assert_eq!(json["tax_id_collection"]["required"], "if_supported");
    assert_eq!(
        json["invoice_creation"]["invoice_data"]["custom_fields"],
        json!([{"name": "PO", "value": "7"}])
    );
}

#[actix_web::test]
async fn sessions_without_tax_parameters_are_unchanged() {
    let em = emulator(None);
    let session = create_session(&em).await;
    assert_eq!(
        session["automatic_tax"],
        json!({"enabled": false, "liability": null, "status": null})
    );
    assert_eq!(
        session["tax_id_collection"],
        json!({"enabled": false, "required": "never"})
    );
    for field in ["billing_address_collection", "invoice", "invoice_creation"] {
        assert_eq!(session[field], Value::Null, "{field}");
    }
    let id = id_of(&session);
    let page = http()
        .get(session["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(!html.contains("<fieldset") && !html.contains("id=\"tax\""));
    assert!(html.contains("<td id=\"total\">$19.99</td>"));
    // A form posted to a session that collects nothing is ignored, as before.
    let paid = http()
        .post(format!("{}/pay", session["url"].as_str().unwrap()))
        .form(&[("country", "FR"), ("tax_id", "bogus")])
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    let paid = em.session(&id).unwrap();
    assert_eq!(amounts(&paid), (1999, 0, 1999));
    assert_eq!(
        paid["customer_details"],
        json!({"address": null, "email": "ada@example.com", "name": null, "phone": null,
               "tax_exempt": "none", "tax_ids": []})
    );
    // A lone address collection records the address but computes no tax.
    let address_only = format!("{}&billing_address_collection=auto", session_form());
    let only = paid_in(&em, &address_only, "FR").await;
    assert_eq!(amounts(&only), (1999, 0, 1999));
    assert_eq!(only["customer_details"]["address"]["country"], "FR");
    assert_eq!(only["automatic_tax"]["enabled"], false);
}

/// The labels of a page: every `id` of an input or select must have a `<label for>`.
fn assert_labelled(html: &str) {
    for tag in ["<input ", "<select "] {
        for chunk in html.split(tag).skip(1) {
            let id = chunk
                .split("id=\"")
                .nth(1)
                .and_then(|rest| rest.split('"').next())
                .expect("field id");
            let wrapped = tag == "<input " && chunk.contains("type=\"checkbox\"");
            assert!(
                wrapped || html.contains(&format!("<label for=\"{id}\">")),
                "no label for #{id}"
            );
        }
    }
}

#[actix_web::test]
async fn the_page_collects_details_and_shows_the_tax() {
    let (em, _hooks) = pair();
    let client = http();
    let session = create_session_with(&em, &taxed_form("exclusive", 1999, true)).await;
    let id = id_of(&session);
    let url = session["url"].as_str().unwrap().to_string();

    let html = client.get(&url).send().await.unwrap().text().await.unwrap();
    for needle in [
        r#"<form method="post" action="/pay/"#,
        r#"name="name""#,
        r#"name="line1""#,
        r#"name="postal_code""#,
        r#"name="city""#,
        r#"<select id="country" name="country""#,
        r#"<option value="DE" selected>Germany (DE)</option>"#,
        r#"<option value="FR">France (FR)</option>"#,
        r#"name="business_name""#,
        r#"name="tax_id""#,
        r#"<td id="subtotal" class="amount" data-amount="1999">€19.99</td>"#,
        r#"<td id="tax" class="amount" data-amount="380">€3.80</td>"#,
        r#"<td id="total" class="amount" data-amount="2379">€23.79</td>"#,
        "Tax 19% (Germany)",
        r#"<button type="submit" id="update" formmethod="get""#,
        r#"<button type="submit" id="pay" name="pay">"#,
        &format!(r#"formaction="/pay/{id}/pay-async""#),
        &format!(r#"action="/pay/{id}/decline""#),
        &format!(r#"action="/pay/{id}/cancel""#),
    ] {
        assert!(html.contains(needle), "page lacks {needle}:\n{html}");
    }
    assert_labelled(&html);
    assert!(!html.contains("<script"));

    // "Update total" recomputes for another country, keeping what was typed.
    let preview = client
        .get(format!("{url}?country=FR&name=Ada&tax_id="))
        .send()
        .await
        .unwrap();
    assert_eq!(preview.status(), 200);
    let preview = preview.text().await.unwrap();
    assert!(
        preview.contains(r#"<option value="FR" selected>"#),
        "{preview}"
    );
    assert!(preview.contains(r#"data-amount="400">€4.00</td>"#));
    assert!(preview.contains(r#"value="Ada""#));
    let bad_preview = client
        .get(format!("{url}?country=FR&tax_id=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_preview.status(), 400);
    assert!(bad_preview.text().await.unwrap().contains("id=\"error\""));

    // A bad VAT number: the page again, with the message, and the session stays open.
    let form = [
        ("name", "Ada Lovelace"),
        ("line1", "1 Rue de Rivoli"),
        ("postal_code", "75001"),
        ("city", "Paris"),
        ("country", "FR"),
        ("business_name", "Engines SARL"),
        ("tax_id", "FR-12"),
    ];
    let rejected = client
        .post(format!("{url}/pay"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status(), 400);
    let rejected = rejected.text().await.unwrap();
    assert!(rejected.contains("role=\"alert\"") && rejected.contains("eu_vat"));
    assert!(
        rejected.contains(r#"value="Engines SARL""#),
        "keeps the form"
    );
    assert_eq!(em.session(&id).unwrap()["status"], "open");

    let mut good = form;
    good[6] = ("tax_id", "FR12345678901");
    let paid = client
        .post(format!("{url}/pay"))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(paid.status(), 303);
    assert_eq!(
        paid.headers()["location"],
        format!("http://shop.test/ok?session={id}").as_str()
    );
    let now = em.session(&id).unwrap();
    assert_eq!(amounts(&now), (1999, 400, 2399));
    assert_eq!(now["customer_details"]["name"], "Engines SARL");
    assert_eq!(now["customer_details"]["address"]["postal_code"], "75001");
    assert_eq!(
        now["customer_details"]["tax_ids"],
        json!([{"type": "eu_vat", "value": "FR12345678901"}])
    );
    let after = client.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(after.contains("no longer payable"));
    assert!(after.contains(r#"data-amount="2399">€23.99</td>"#));
    assert!(after.contains(&format!(
        "href=\"/invoices/{}\"",
        now["invoice"].as_str().unwrap()
    )));

    // A bare POST (what HTTP clients send) pays from the default country.
    let bare = create_session_with(&em, &taxed_form("inclusive", 1999, false)).await;
    let response = client
        .post(format!("{}/pay", bare["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        amounts(&em.session(&id_of(&bare)).unwrap()),
        (1999, 319, 1999)
    );
    settle(&em).await;
}

#[actix_web::test]
async fn pay_later_taxes_and_invoices_once_settled() {
    let (em, _hooks) = pair();
    let client = http();
    let session = create_session_with(&em, &taxed_form("exclusive", 1999, true)).await;
    let id = id_of(&session);
    let response = client
        .post(format!("{}/pay-async", session["url"].as_str().unwrap()))
        .form(&[("country", "IE"), ("pay-async", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let pending = em.session(&id).unwrap();
    // 1999 × 23 % = 459.77 → 460.
    assert_eq!(amounts(&pending), (1999, 460, 2459));
    assert_eq!(
        pending["invoice"],
        Value::Null,
        "no invoice before the money arrives"
    );
    settle(&em).await;
    let settled = em.session(&id).unwrap();
    assert_eq!(settled["payment_status"], "paid");
    let invoice = em.invoice(settled["invoice"].as_str().unwrap()).unwrap();
    assert_eq!(invoice["total"], 2459);
    let succeeded = em
        .events()
        .into_iter()
        .find(|e| e["type"] == "checkout.session.async_payment_succeeded")
        .unwrap();
    assert_eq!(succeeded["data"]["object"]["invoice"], invoice["id"]);

    // A transfer that fails gets no invoice.
    let failing = create_session_with(&em, &taxed_form("exclusive", 1999, true)).await;
    em.pay_async_with(&id_of(&failing), false, &CustomerDetails::in_country("FR"))
        .unwrap();
    settle(&em).await;
    assert_eq!(
        em.session(&id_of(&failing)).unwrap()["invoice"],
        Value::Null
    );
}

#[actix_web::test]
async fn tax_rates_and_default_country_over_http() {
    let em = emulator(None);
    let client = http();
    let base = em.base_url();
    let rates: Value = client
        .get(format!("{base}/_emulator/tax_rates"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(rates["DE"], 1900);
    assert_eq!(rates["US"], 0);
    assert_eq!(rates["NL"], 2100);

    let replaced = client
        .post(format!("{base}/_emulator/tax_rates"))
        .json(&json!({"de": 700, "AT": 1000}))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), 200);
    assert_eq!(
        replaced.json::<Value>().await.unwrap(),
        json!({"AT": 1000, "DE": 700})
    );
    assert_eq!(
        em.tax_rates(),
        HashMap::from([("AT".to_string(), 1000), ("DE".to_string(), 700)])
    );
    for bad in [
        json!({"DE": -1}),
        json!({"DE": "19"}),
        json!({"Germany": 1900}),
        json!({"DE": 20000}),
        json!([1]),
    ] {
        let response = client
            .post(format!("{base}/_emulator/tax_rates"))
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["type"], "invalid_request_error");
    }
    assert_eq!(em.tax_rates()["DE"], 700, "refused tables change nothing");

    let country: Value = client
        .get(format!("{base}/_emulator/default_country"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(country, json!({"country": "DE"}));
    let set = client
        .post(format!("{base}/_emulator/default_country"))
        .form(&[("country", "at")])
        .send()
        .await
        .unwrap();
    assert_eq!(set.json::<Value>().await.unwrap(), json!({"country": "AT"}));
    let bad = client
        .post(format!("{base}/_emulator/default_country"))
        .json(&json!({"country": "Austria"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert_eq!(
        bad.json::<Value>().await.unwrap()["error"]["param"],
        "country"
    );

    let paid = paid_in(&em, &taxed_form("exclusive", 1000, false), "AT").await;
    assert_eq!(amounts(&paid), (1000, 100, 1100));
}

//! The emulator through the eyes of async-stripe 1.0.0-rc.10, the client Folio uses: its
//! requests are understood, its responses and webhooks parse into its types.

use std::collections::HashMap;

use serde_json::Value;
use stripe::{ClientBuilder, IdempotencyKey, RequestStrategy, StripeError, StripeRequest};
use stripe_checkout::checkout_session::{
    CreateCheckoutSession, CreateCheckoutSessionAutomaticTax, CreateCheckoutSessionInvoiceCreation,
    CreateCheckoutSessionInvoiceCreationInvoiceData, CreateCheckoutSessionLineItems,
    CreateCheckoutSessionLineItemsPriceData, CreateCheckoutSessionLineItemsPriceDataTaxBehavior,
    CreateCheckoutSessionPaymentIntentData, CreateCheckoutSessionTaxIdCollection,
    ExpireCheckoutSession, ListLineItemsCheckoutSession, ProductData, RetrieveCheckoutSession,
};
use stripe_checkout::{
    CheckoutSession, CheckoutSessionMode, CheckoutSessionPaymentStatus, CheckoutSessionStatus,
};
use stripe_emulator::{CustomerDetails, Emulator, Knobs};
use stripe_shared::{
    ApiErrorsCode, ApiErrorsType, CheckoutSessionBillingAddressCollection, DisputeStatus,
    InvoiceStatus,
};
use stripe_webhook::{EventObject, Webhook};

use crate::support::{
    create_session, get_json, http, paid_session, pair, post_form, settle, KEY, SECRET,
};

fn client(em: &Emulator) -> stripe::Client {
    ClientBuilder::new(KEY)
        .url(format!("{}/", em.base_url()))
        .build()
        .expect("client")
}

fn create_request(unit_amount: i64, quantity: u64) -> CreateCheckoutSession {
    let price_data = CreateCheckoutSessionLineItemsPriceData {
        currency: "usd".parse().expect("currency"),
        product: None,
        product_data: Some(ProductData {
            description: Some("A short guide".into()),
            images: Some(vec!["https://shop.test/cover.png".into()]),
            metadata: Some(HashMap::from([("product_id".into(), "7".into())])),
            ..ProductData::new("Rust for Shopkeepers")
        }),
        recurring: None,
        tax_behavior: None,
        unit_amount: Some(unit_amount),
        unit_amount_decimal: None,
    };
    let item = CreateCheckoutSessionLineItems {
        price_data: Some(price_data),
        quantity: Some(quantity),
        ..CreateCheckoutSessionLineItems::new()
    };
    let intent = CreateCheckoutSessionPaymentIntentData {
        metadata: Some(HashMap::from([("order_id".into(), "42".into())])),
        ..CreateCheckoutSessionPaymentIntentData::new()
    };
    CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![item])
        .success_url("http://shop.test/ok?session={CHECKOUT_SESSION_ID}")
        .cancel_url("http://shop.test/cancel")
        .client_reference_id("order-42")
        .customer_email("ada@example.com")
        .metadata(HashMap::from([("order_id".to_string(), "42".to_string())]))
        .payment_intent_data(intent)
}

#[actix_web::test]
async fn async_stripe_drives_a_checkout() {
    let (em, hooks) = pair();
    let stripe = client(&em);

    let session = create_request(1999, 2)
        .expand(vec!["line_items".to_string()])
        .send(&stripe)
        .await
        .expect("create");
    assert!(session.id.as_str().starts_with("cs_test_"));
    assert_eq!(session.status, Some(CheckoutSessionStatus::Open));
    assert_eq!(session.payment_status, CheckoutSessionPaymentStatus::Unpaid);
    assert_eq!(session.mode, CheckoutSessionMode::Payment);
    assert_eq!(session.amount_total, Some(3998));
    assert_eq!(
        session
            .currency
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("usd")
    );
    assert_eq!(session.client_reference_id.as_deref(), Some("order-42"));
    assert_eq!(
        session
            .metadata
            .as_ref()
            .and_then(|m| m.get("order_id"))
            .map(String::as_str),
        Some("42")
    );
    let url = session.url.clone().expect("url");
    assert_eq!(
        url,
        format!("{}/pay/{}", em.base_url(), session.id.as_str())
    );
    let items = session.line_items.as_ref().expect("expanded line_items");
    assert_eq!(items.data.len(), 1);
    assert_eq!(items.data[0].amount_total, 3998);
    assert_eq!(items.data[0].quantity, Some(2));

    let retrieved = RetrieveCheckoutSession::new(session.id.clone())
        .expand(vec!["line_items".to_string()])
        .send(&stripe)
        .await
        .expect("retrieve");
    assert_eq!(retrieved.id, session.id);
    assert!(retrieved.line_items.is_some());
    let plain = RetrieveCheckoutSession::new(session.id.clone())
        .send(&stripe)
        .await
        .expect("retrieve");
    assert!(plain.line_items.is_none());
    let listed = ListLineItemsCheckoutSession::new(session.id.clone())
        .send(&stripe)
        .await
        .expect("line items");
    assert_eq!(listed.data.len(), 1);
    assert_eq!(
        listed.data[0].description.as_deref(),
        Some("Rust for Shopkeepers")
    );

    // The customer clicks Pay on the hosted page.
    let response = http().post(format!("{url}/pay")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        format!("http://shop.test/ok?session={}", session.id.as_str()).as_str()
    );
    let paid = RetrieveCheckoutSession::new(session.id.clone())
        .send(&stripe)
        .await
        .expect("retrieve");
    assert_eq!(paid.status, Some(CheckoutSessionStatus::Complete));
    assert_eq!(paid.payment_status, CheckoutSessionPaymentStatus::Paid);
    let intent = paid.payment_intent.as_ref().expect("payment_intent");
    assert!(intent.id().as_str().starts_with("pi_"));
    assert!(paid.url.is_none());

    let other = create_request(500, 1).send(&stripe).await.expect("create");
    let expired = ExpireCheckoutSession::new(other.id.clone())
        .send(&stripe)
        .await
        .expect("expire");
    assert_eq!(expired.status, Some(CheckoutSessionStatus::Expired));

    settle(&em).await;
    let received = hooks.received();
    assert_eq!(received.len(), 2);
    for hook in &received {
        let event = Webhook::construct_event(&hook.body, &hook.signature, SECRET)
            .expect("webhook verifies");
        match event.data.object {
            EventObject::CheckoutSessionCompleted(s) => {
                assert_eq!(s.id, session.id);
                assert_eq!(s.payment_status, CheckoutSessionPaymentStatus::Paid);
            }
            EventObject::CheckoutSessionExpired(s) => assert_eq!(s.id, other.id),
            other => panic!("unexpected event object {other:?}"),
        }
    }
}

#[actix_web::test]
async fn async_stripe_reads_stripe_errors() {
    let em = crate::support::emulator(None);
    let stripe = client(&em);

    match create_request(10, 1).send(&stripe).await {
        Err(StripeError::Stripe(error, 400)) => {
            assert_eq!(error.type_, ApiErrorsType::InvalidRequestError);
            assert_eq!(error.code, Some(ApiErrorsCode::AmountTooSmall));
            assert_eq!(
                error.param.as_deref(),
                Some("line_items[0][price_data][unit_amount]")
            );
        }
        other => panic!("expected amount_too_small, got {other:?}"),
    }

    match RetrieveCheckoutSession::new("cs_test_missing")
        .send(&stripe)
        .await
    {
        Err(StripeError::Stripe(error, 404)) => {
            assert_eq!(error.code, Some(ApiErrorsCode::ResourceMissing));
        }
        other => panic!("expected resource_missing, got {other:?}"),
    }

    let live = ClientBuilder::new("sk_live_nope")
        .url(format!("{}/", em.base_url()))
        .build()
        .unwrap();
    match RetrieveCheckoutSession::new("cs_test_x").send(&live).await {
        Err(StripeError::Stripe(error, 401)) => {
            assert!(error
                .message
                .unwrap_or_default()
                .starts_with("Invalid API Key provided"));
        }
        other => panic!("expected 401, got {other:?}"),
    }

    em.set_knobs(Knobs {
        api_outage: true,
        ..Knobs::default()
    });
    match create_request(1999, 1).send(&stripe).await {
        Err(StripeError::Stripe(error, 500)) => assert_eq!(error.type_, ApiErrorsType::ApiError),
        other => panic!("expected api_error, got {other:?}"),
    }
}

#[actix_web::test]
async fn async_stripe_idempotency_keys_replay() {
    let em = crate::support::emulator(None);
    let stripe = client(&em);
    let key = || RequestStrategy::Idempotent(IdempotencyKey::new("order-42-attempt-1").unwrap());

    let first = create_request(1999, 1)
        .customize()
        .request_strategy(key())
        .send(&stripe)
        .await
        .expect("first");
    let second = create_request(1999, 1)
        .customize()
        .request_strategy(key())
        .send(&stripe)
        .await
        .expect("replay");
    assert_eq!(first.id, second.id);

    match create_request(2999, 1)
        .customize()
        .request_strategy(key())
        .send(&stripe)
        .await
    {
        Err(StripeError::Stripe(error, 400)) => {
            assert_eq!(error.type_, ApiErrorsType::IdempotencyError)
        }
        other => panic!("expected idempotency_error, got {other:?}"),
    }

    // Retrying strategies send one random key for all attempts; a success is a success.
    let retried = create_request(1999, 1)
        .customize()
        .request_strategy(RequestStrategy::Retry(3))
        .send(&stripe)
        .await
        .expect("retry strategy");
    assert_ne!(retried.id, first.id);
}

#[actix_web::test]
async fn every_event_verifies_and_parses_with_stripe_webhook() {
    let (em, hooks) = pair();
    let client = http();
    let base = em.base_url();

    let (session_id, pi) = paid_session(&em).await;
    let (status, refund, _) = post_form(
        &client,
        &format!("{base}/v1/refunds"),
        &format!("payment_intent={pi}&amount=999"),
    )
    .await;
    assert_eq!(status, 200, "{refund}");
    let (status, _, _) = post_form(
        &client,
        &format!("{base}/v1/refunds"),
        &format!("payment_intent={pi}"),
    )
    .await;
    assert_eq!(status, 200);
    let dispute = em.create_dispute(&pi).unwrap();
    em.close_dispute(&dispute, true).unwrap();
    let ok = create_session(&em).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    em.pay_async(&ok, true).unwrap();
    let failing = create_session(&em).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    em.pay_async(&failing, false).unwrap();
    let expiring = create_session(&em).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    em.expire(&expiring).unwrap();
    settle(&em).await;

    let mut refunded = Vec::new();
    let mut seen = Vec::new();
    for hook in hooks.received() {
        let event = Webhook::construct_event(&hook.body, &hook.signature, SECRET)
            .unwrap_or_else(|e| panic!("{e}: {}", hook.body));
        assert_eq!(
            event
                .api_version
                .as_ref()
                .map(|v| v.as_str().to_string())
                .as_deref(),
            Some(stripe_emulator::API_VERSION)
        );
        seen.push(event.type_.as_str().to_string());
        match event.data.object {
            EventObject::CheckoutSessionCompleted(s) => {
                assert!([&session_id, &ok, &failing].contains(&&s.id.as_str().to_string()));
                assert_eq!(s.status, Some(CheckoutSessionStatus::Complete));
            }
            EventObject::CheckoutSessionAsyncPaymentSucceeded(s) => {
                assert_eq!(s.id.as_str(), ok);
                assert_eq!(s.payment_status, CheckoutSessionPaymentStatus::Paid);
            }
            EventObject::CheckoutSessionAsyncPaymentFailed(s) => {
                assert_eq!(s.id.as_str(), failing);
                assert_eq!(s.payment_status, CheckoutSessionPaymentStatus::Unpaid);
            }
            EventObject::CheckoutSessionExpired(s) => assert_eq!(s.id.as_str(), expiring),
            EventObject::ChargeRefunded(charge) => {
                refunded.push((charge.amount_refunded, charge.refunded));
            }
            EventObject::ChargeDisputeCreated(d) => {
                assert_eq!(d.status, DisputeStatus::NeedsResponse)
            }
            EventObject::ChargeDisputeClosed(d) => {
                assert_eq!(d.status, DisputeStatus::Won);
                assert_eq!(d.id.as_str(), dispute);
            }
            other => panic!("unexpected event object {other:?}"),
        }
    }
    refunded.sort_unstable();
    assert_eq!(refunded, [(999, false), (1999, true)]);
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            "charge.dispute.closed",
            "charge.dispute.created",
            "charge.refunded",
            "charge.refunded",
            "checkout.session.async_payment_failed",
            "checkout.session.async_payment_succeeded",
            "checkout.session.completed",
            "checkout.session.completed",
            "checkout.session.completed",
            "checkout.session.expired",
        ]
    );

    // The serde side of the same types (what `deserialize` gives Folio) accepts the JSON too.
    let session: Value = em.session(&session_id).unwrap();
    let typed: CheckoutSession = serde_json::from_value(session).expect("serde CheckoutSession");
    assert_eq!(typed.payment_status, CheckoutSessionPaymentStatus::Paid);
    let typed_refund: stripe_shared::Refund = serde_json::from_value(refund).expect("serde Refund");
    assert_eq!(typed_refund.amount, 999);
}

/// What Folio sends with Stripe Tax and invoices on, built with async-stripe's own types.
fn taxed_request() -> CreateCheckoutSession {
    let price_data = CreateCheckoutSessionLineItemsPriceData {
        currency: "eur".parse().expect("currency"),
        product: None,
        product_data: Some(ProductData::new("Rust for Shopkeepers")),
        recurring: None,
        tax_behavior: Some(CreateCheckoutSessionLineItemsPriceDataTaxBehavior::Exclusive),
        unit_amount: Some(1999),
        unit_amount_decimal: None,
    };
    let item = CreateCheckoutSessionLineItems {
        price_data: Some(price_data),
        quantity: Some(1),
        ..CreateCheckoutSessionLineItems::new()
    };
    let invoice = CreateCheckoutSessionInvoiceCreation {
        invoice_data: Some(CreateCheckoutSessionInvoiceCreationInvoiceData {
            description: Some("Order 42".into()),
            metadata: Some(HashMap::from([("order_id".into(), "42".into())])),
            ..CreateCheckoutSessionInvoiceCreationInvoiceData::new()
        }),
        ..CreateCheckoutSessionInvoiceCreation::new(true)
    };
    CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Payment)
        .line_items(vec![item])
        .success_url("http://shop.test/ok?session={CHECKOUT_SESSION_ID}")
        .customer_email("ada@example.com")
        .automatic_tax(CreateCheckoutSessionAutomaticTax::new(true))
        .tax_id_collection(CreateCheckoutSessionTaxIdCollection::new(true))
        .billing_address_collection(CheckoutSessionBillingAddressCollection::Required)
        .invoice_creation(invoice)
}

#[actix_web::test]
async fn async_stripe_sends_tax_parameters_and_reads_taxed_objects() {
    let (em, hooks) = pair();
    let stripe = client(&em);
    let session = taxed_request().send(&stripe).await.expect("create");
    assert!(session.automatic_tax.enabled);
    assert_eq!(
        session.billing_address_collection,
        Some(CheckoutSessionBillingAddressCollection::Required)
    );
    assert!(session
        .tax_id_collection
        .as_ref()
        .is_some_and(|c| c.enabled));
    assert!(session.invoice_creation.as_ref().is_some_and(|c| c.enabled));

    em.pay_with(
        session.id.as_str(),
        &CustomerDetails {
            name: Some("Ada Lovelace".into()),
            city: Some("Berlin".into()),
            tax_id: Some("DE123456789".into()),
            business_name: Some("Analytical Engines GmbH".into()),
            ..CustomerDetails::in_country("DE")
        },
    )
    .unwrap();
    let paid = RetrieveCheckoutSession::new(session.id.clone())
        .send(&stripe)
        .await
        .expect("retrieve");
    assert_eq!(
        (paid.amount_subtotal, paid.amount_total),
        (Some(1999), Some(2379))
    );
    assert_eq!(paid.total_details.as_ref().map(|t| t.amount_tax), Some(380));
    assert_eq!(
        paid.automatic_tax.status.as_ref().map(|s| s.as_str()),
        Some("complete")
    );
    let details = paid.customer_details.as_ref().expect("customer_details");
    assert_eq!(details.name.as_deref(), Some("Analytical Engines GmbH"));
    assert_eq!(
        details.business_name.as_deref(),
        Some("Analytical Engines GmbH")
    );
    let address = details.address.as_ref().expect("address");
    assert_eq!(address.country.as_deref(), Some("DE"));
    assert_eq!(address.city.as_deref(), Some("Berlin"));
    let tax_ids = details.tax_ids.as_ref().expect("tax_ids");
    assert_eq!(tax_ids[0].type_.as_str(), "eu_vat");
    assert_eq!(tax_ids[0].value.as_deref(), Some("DE123456789"));
    let invoice_id = paid
        .invoice
        .as_ref()
        .and_then(|i| i.id().as_ref())
        .expect("invoice")
        .as_str()
        .to_string();

    // The serde side (what Folio's `deserialize` gives) reads the invoice.
    let (status, json) = get_json(
        &http(),
        &format!("{}/v1/invoices/{invoice_id}", em.base_url()),
    )
    .await;
    assert_eq!(status, 200);
    let invoice: stripe_shared::Invoice = serde_json::from_value(json).expect("serde Invoice");
    assert_eq!(invoice.status, Some(InvoiceStatus::Paid));
    assert_eq!(
        (invoice.subtotal, invoice.total, invoice.amount_paid),
        (1999, 2379, 2379)
    );
    assert_eq!(invoice.number.as_deref(), Some("FOLIO-0001"));
    assert!(invoice
        .hosted_invoice_url
        .as_deref()
        .is_some_and(|url| url.ends_with(&format!("/invoices/{invoice_id}"))));
    assert_eq!(
        invoice
            .metadata
            .as_ref()
            .and_then(|m| m.get("order_id"))
            .map(String::as_str),
        Some("42")
    );
    let taxes = invoice.total_taxes.as_ref().expect("total_taxes");
    assert_eq!(
        (taxes[0].amount, taxes[0].taxable_amount),
        (380, Some(1999))
    );
    assert_eq!(invoice.lines.data[0].amount, 1999);
    assert_eq!(
        invoice
            .customer_tax_ids
            .as_ref()
            .map(|ids| ids[0].value.clone()),
        Some(Some("DE123456789".to_string()))
    );
    let typed: CheckoutSession =
        serde_json::from_value(em.session(session.id.as_str()).unwrap()).expect("serde session");
    assert_eq!(typed.amount_total, Some(2379));

    settle(&em).await;
    let mut seen = Vec::new();
    for hook in hooks.received() {
        let event = Webhook::construct_event(&hook.body, &hook.signature, SECRET)
            .unwrap_or_else(|e| panic!("{e}: {}", hook.body));
        seen.push(event.type_.as_str().to_string());
        match event.data.object {
            EventObject::CheckoutSessionCompleted(s) => {
                assert_eq!(s.amount_total, Some(2379));
                assert_eq!(
                    s.invoice
                        .as_ref()
                        .and_then(|i| i.id().as_ref())
                        .map(|id| id.as_str().to_string()),
                    Some(invoice_id.clone())
                );
            }
            EventObject::InvoiceCreated(i) => assert_eq!(i.status, Some(InvoiceStatus::Draft)),
            EventObject::InvoiceFinalized(i) => {
                assert_eq!(i.status, Some(InvoiceStatus::Open));
                assert!(i.hosted_invoice_url.is_some());
            }
            EventObject::InvoicePaid(i) => {
                assert_eq!(i.status, Some(InvoiceStatus::Paid));
                assert_eq!(i.amount_paid, 2379);
            }
            other => panic!("unexpected event object {other:?}"),
        }
    }
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            "checkout.session.completed",
            "invoice.created",
            "invoice.finalized",
            "invoice.paid"
        ]
    );
}

#[test]
fn the_api_version_is_the_one_async_stripe_pins() {
    assert_eq!(
        stripe_emulator::API_VERSION,
        stripe_shared::version::VERSION.as_str()
    );
}

/// What Folio's membership feature does, with async-stripe's own requests: a customer, a
/// subscription-mode session with an inline recurring price, the subscription and its invoices,
/// cancellation at period end, the portal, and every webhook parsed into its typed object.
#[actix_web::test]
async fn async_stripe_drives_a_subscription() {
    use stripe_billing::billing_portal_session::CreateBillingPortalSession;
    use stripe_billing::invoice::{ListInvoice, RetrieveInvoice};
    use stripe_billing::subscription::{
        CancelSubscription, ListSubscription, ListSubscriptionStatus, RetrieveSubscription,
        UpdateSubscription,
    };
    use stripe_checkout::checkout_session::{
        CreateCheckoutSessionLineItemsPriceDataRecurring as Recurring,
        CreateCheckoutSessionLineItemsPriceDataRecurringInterval as Interval,
        CreateCheckoutSessionSubscriptionData,
    };
    use stripe_shared::{InvoiceBillingReason, SubscriptionStatus};
    use stripe_types::Expandable;

    let (em, hooks) = pair();
    let stripe = client(&em);
    let key = || RequestStrategy::Idempotent(IdempotencyKey::new("folio-customer-7").unwrap());
    let customer = stripe_core::customer::CreateCustomer::new()
        .email("ada@example.com")
        .metadata(HashMap::from([("user_id".to_string(), "7".to_string())]))
        .customize()
        .request_strategy(key())
        .send(&stripe)
        .await
        .expect("customer");
    let again = stripe_core::customer::CreateCustomer::new()
        .email("ada@example.com")
        .metadata(HashMap::from([("user_id".to_string(), "7".to_string())]))
        .customize()
        .request_strategy(key())
        .send(&stripe)
        .await
        .expect("replayed customer");
    assert_eq!(customer.id, again.id);
    assert_eq!(customer.email.as_deref(), Some("ada@example.com"));

    let mut price = CreateCheckoutSessionLineItemsPriceData::new(
        "eur".parse::<stripe_types::Currency>().unwrap(),
    );
    price.unit_amount = Some(900);
    price.product_data = Some(ProductData::new("Folio Membership"));
    price.recurring = Some(Recurring::new(Interval::Month));
    let item = CreateCheckoutSessionLineItems {
        price_data: Some(price),
        quantity: Some(1),
        ..CreateCheckoutSessionLineItems::new()
    };
    let metadata: HashMap<String, String> = HashMap::from([
        ("user_id".to_string(), "7".to_string()),
        ("plan_id".to_string(), "gold".to_string()),
    ]);
    let mut data = CreateCheckoutSessionSubscriptionData::new();
    data.metadata = Some(metadata.clone());
    let session = CreateCheckoutSession::new()
        .mode(CheckoutSessionMode::Subscription)
        .customer(customer.id.as_str())
        .line_items(vec![item])
        .client_reference_id("user-7")
        .metadata(metadata)
        .subscription_data(data)
        .success_url("http://shop.test/member?session={CHECKOUT_SESSION_ID}")
        .cancel_url("http://shop.test/join")
        .send(&stripe)
        .await
        .expect("subscription session");
    assert_eq!(session.mode, CheckoutSessionMode::Subscription);
    assert!(session.subscription.is_none());

    em.pay(session.id.as_str()).unwrap();
    let paid = RetrieveCheckoutSession::new(session.id.clone())
        .send(&stripe)
        .await
        .expect("retrieve");
    assert_eq!(paid.status, Some(CheckoutSessionStatus::Complete));
    assert_eq!(paid.payment_status, CheckoutSessionPaymentStatus::Paid);
    assert_eq!(
        paid.customer.as_ref().map(|c| c.id().as_str().to_string()),
        Some(customer.id.as_str().to_string())
    );
    let sub_id = paid
        .subscription
        .as_ref()
        .expect("subscription")
        .id()
        .clone();

    let sub = RetrieveSubscription::new(sub_id.clone())
        .expand(vec!["latest_invoice".to_string()])
        .send(&stripe)
        .await
        .expect("subscription");
    assert_eq!(sub.status, SubscriptionStatus::Active);
    assert_eq!(
        sub.metadata.get("plan_id").map(String::as_str),
        Some("gold")
    );
    assert_eq!(sub.customer.id().as_str(), customer.id.as_str());
    let item = &sub.items.data[0];
    assert!(item.current_period_end > item.current_period_start);
    assert!(!sub.cancel_at_period_end);
    let Some(Expandable::Object(invoice)) = &sub.latest_invoice else {
        panic!("latest_invoice is not expanded: {:?}", sub.latest_invoice);
    };
    assert_eq!(
        invoice.billing_reason,
        Some(InvoiceBillingReason::SubscriptionCreate)
    );
    assert_eq!(invoice.amount_paid, 900);
    assert_eq!(
        invoice
            .parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .map(|d| d.subscription.id().as_str().to_string()),
        Some(sub_id.as_str().to_string())
    );

    // A failed renewal four days ago: what the Folio API reads for its grace period.
    let failed_at = chrono::Utc::now().timestamp() - 4 * 24 * 3600;
    em.advance_subscription(
        sub_id.as_str(),
        stripe_emulator::Advance::Fail,
        Some(failed_at),
    )
    .unwrap();
    let past_due = RetrieveSubscription::new(sub_id.clone())
        .expand(vec!["latest_invoice".to_string()])
        .send(&stripe)
        .await
        .expect("subscription");
    assert_eq!(past_due.status, SubscriptionStatus::PastDue);
    assert_eq!(past_due.items.data[0].current_period_start, failed_at);
    let Some(Expandable::Object(open)) = &past_due.latest_invoice else {
        panic!("latest_invoice is not expanded");
    };
    assert_eq!(open.status, Some(InvoiceStatus::Open));
    assert_eq!(open.status_transitions.finalized_at, Some(failed_at));
    assert_eq!(open.attempt_count, 1);
    em.advance_subscription(sub_id.as_str(), stripe_emulator::Advance::Recover, None)
        .unwrap();

    let invoices = ListInvoice::new()
        .subscription(sub_id.as_str())
        .send(&stripe)
        .await
        .expect("invoices");
    assert_eq!(invoices.data.len(), 2);
    let renewal_id = invoices.data[0].id.clone().expect("id");
    let renewal = RetrieveInvoice::new(renewal_id)
        .expand(vec!["payments".to_string()])
        .send(&stripe)
        .await
        .expect("invoice");
    assert_eq!(
        renewal.billing_reason,
        Some(InvoiceBillingReason::SubscriptionCycle)
    );
    let payments = renewal.payments.as_ref().expect("payments");
    let intent = payments.data[0]
        .payment
        .payment_intent
        .as_ref()
        .expect("payment_intent")
        .id()
        .as_str()
        .to_string();
    let (status, _, _) = post_form(
        &http(),
        &format!("{}/v1/refunds", em.base_url()),
        &format!("payment_intent={intent}"),
    )
    .await;
    assert_eq!(status, 200);

    let listed = ListSubscription::new()
        .customer(customer.id.as_str())
        .status(ListSubscriptionStatus::All)
        .send(&stripe)
        .await
        .expect("list");
    assert_eq!(listed.data.len(), 1);
    let pending = UpdateSubscription::new(sub_id.clone())
        .cancel_at_period_end(true)
        .send(&stripe)
        .await
        .expect("update");
    assert!(pending.cancel_at_period_end);
    assert_eq!(
        pending.cancel_at,
        Some(pending.items.data[0].current_period_end)
    );

    let portal = CreateBillingPortalSession::new()
        .customer(customer.id.as_str())
        .return_url("http://shop.test/account")
        .send(&stripe)
        .await
        .expect("portal");
    assert_eq!(
        portal.url,
        format!("{}/portal/{}", em.base_url(), portal.id.as_str())
    );
    assert_eq!(
        portal.return_url.as_deref(),
        Some("http://shop.test/account")
    );

    let canceled = CancelSubscription::new(sub_id.clone())
        .send(&stripe)
        .await
        .expect("cancel");
    assert_eq!(canceled.status, SubscriptionStatus::Canceled);
    assert!(canceled.ended_at.is_some());
    match CancelSubscription::new(sub_id.clone()).send(&stripe).await {
        Err(StripeError::Stripe(error, 404)) => {
            assert_eq!(error.code, Some(ApiErrorsCode::ResourceMissing))
        }
        other => panic!("expected resource_missing, got {other:?}"),
    }

    // The serde side (Folio's `deserialize`) of every emitted object, and the webhooks.
    settle(&em).await;
    for event in em.events() {
        let object = event["data"]["object"].clone();
        match event["type"].as_str().unwrap() {
            "customer.created" => {
                serde_json::from_value::<stripe_shared::Customer>(object).expect("Customer");
            }
            t if t.starts_with("customer.subscription.") => {
                serde_json::from_value::<stripe_shared::Subscription>(object)
                    .expect("Subscription");
            }
            t if t.starts_with("invoice.") => {
                serde_json::from_value::<stripe_shared::Invoice>(object).expect("Invoice");
            }
            "billing_portal.session.created" => {
                serde_json::from_value::<stripe_billing::BillingPortalSession>(object)
                    .expect("BillingPortalSession");
            }
            "checkout.session.completed" => {
                serde_json::from_value::<CheckoutSession>(object).expect("CheckoutSession");
            }
            "charge.refunded" => {
                serde_json::from_value::<stripe_shared::Charge>(object).expect("Charge");
            }
            other => panic!("unexpected event {other}"),
        }
    }
    let mut seen = Vec::new();
    for hook in hooks.received() {
        let event = Webhook::construct_event(&hook.body, &hook.signature, SECRET)
            .unwrap_or_else(|e| panic!("{e}: {}", hook.body));
        seen.push(event.type_.as_str().to_string());
        match event.data.object {
            EventObject::CustomerCreated(c) => assert_eq!(c.id, customer.id),
            EventObject::CustomerSubscriptionCreated(s) => {
                assert_eq!(s.status, SubscriptionStatus::Active)
            }
            EventObject::CustomerSubscriptionUpdated(s) => {
                assert_eq!(s.id, sub_id);
                assert!(event.data.previous_attributes.is_some());
            }
            EventObject::CustomerSubscriptionDeleted(s) => {
                assert_eq!(s.status, SubscriptionStatus::Canceled)
            }
            EventObject::InvoiceCreated(i) => assert_eq!(i.status, Some(InvoiceStatus::Draft)),
            EventObject::InvoiceFinalized(i) => assert_eq!(i.status, Some(InvoiceStatus::Open)),
            EventObject::InvoicePaid(i) | EventObject::InvoicePaymentSucceeded(i) => {
                assert_eq!(i.status, Some(InvoiceStatus::Paid))
            }
            EventObject::InvoicePaymentFailed(i) => {
                assert_eq!((i.status, i.attempt_count), (Some(InvoiceStatus::Open), 1))
            }
            EventObject::CheckoutSessionCompleted(s) => {
                assert_eq!(s.mode, CheckoutSessionMode::Subscription)
            }
            EventObject::ChargeRefunded(c) => assert!(c.refunded),
            // async-stripe-webhook is built without its billing feature here.
            EventObject::Unknown(_) => {
                assert_eq!(event.type_.as_str(), "billing_portal.session.created")
            }
            other => panic!("unexpected event object {other:?}"),
        }
    }
    seen.sort_unstable();
    seen.dedup();
    assert_eq!(
        seen,
        [
            "billing_portal.session.created",
            "charge.refunded",
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
}

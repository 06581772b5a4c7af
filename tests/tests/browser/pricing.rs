//! Pricing in the browser: an admin makes a code on the Discounts page, a shopper applies it on
//! the product page, sees the new price and pays it on the emulator; a second shopper is told
//! it is used up. With Stripe Tax on, the orders page shows the tax and links the invoice.

use super::*;

/// Signs in on a fresh browser as `email` (who must exist with the tests' password).
async fn signed_in(app: &TestApp, name: &'static str, email: &str) -> Option<Browser> {
    let b = browser(name).await?;
    b.goto(&app.url("/signin")).await;
    b.sign_in(email).await;
    b.wait("#signout").await;
    Some(b)
}

#[actix_web::test]
async fn an_admin_makes_a_code_a_shopper_pays_the_discounted_price_and_the_next_is_told_it_is_used_up(
) {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    app.product(&admin, "Coded Course", "20", pdf("coded"))
        .await;
    app.customer("ada@example.com").await;
    app.customer("bob@example.com").await;

    // The admin makes a 25 %-off code with one redemption.
    let Some(b) = signed_in(&app, "discount-admin", ADMIN_EMAIL).await else {
        return;
    };
    b.click("#nav-admin").await;
    b.click("#admin-discounts").await;
    b.wait_heading("Discount codes").await;
    b.wait_here(&app, "/admin/discounts").await;
    b.click("#new-discount").await;
    b.wait_here(&app, "/admin/discounts/new").await;
    b.fill("#code", "spring25").await;
    b.click("#kind-percent").await;
    b.fill("#percent_off", "25").await;
    b.fill("#max_redemptions", "1").await;
    b.shots_at_both_widths("flow-discount-form").await;
    b.click("#submit").await;
    b.wait("#discount-notice").await;
    b.wait_here(&app, "/admin/discounts").await;
    let row = b.text("tr.admin-discount[data-code=\"SPRING25\"]").await;
    assert!(row.contains("25%") && row.contains("0 / 1"), "{row}");
    b.shots_at_both_widths("flow-discount-list").await;
    // The list is an address: a reload shows it again.
    b.reload().await;
    b.wait("tr.admin-discount[data-code=\"SPRING25\"]").await;
    let console = b.console().await;
    assert!(console.is_empty(), "{console:?}");
    let _ = b.client.clone().close().await;

    // Ada sees the new price before paying, and pays it.
    let Some(b) = signed_in(&app, "discount-ada", "ada@example.com").await else {
        return;
    };
    b.goto(&app.url("/products/coded-course")).await;
    assert_eq!(b.text("#buy").await, "Buy for $20.00");
    b.fill("#discount-code", "Spring25").await;
    b.click("#apply-code").await;
    b.wait("#code-preview[data-applied=\"SPRING25\"]").await;
    let preview = b.text("#code-preview").await;
    assert!(
        preview.contains("$15.00") && preview.contains("$20.00") && preview.contains("25% off"),
        "{preview}"
    );
    assert_eq!(b.text("#buy").await, "Buy for $15.00");
    b.shots_at_both_widths("flow-discount-applied").await;
    b.click("#buy").await;
    b.click("#pay").await;
    b.wait("#order-status[data-status=\"paid\"]").await;
    let orders = app
        .get("/api/v1/admin/orders?status=paid", Some(&admin))
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap();
    let order = &orders["items"][0];
    assert_eq!(order["amount"]["amount_cents"], 1500);
    assert_eq!(order["discount"]["code"], "SPRING25");
    // What Stripe charged is what the order says.
    assert_eq!(order["total"]["amount_cents"], 1500);
    b.goto(&app.url("/orders")).await;
    let discount = b.text(".order-discount").await;
    assert!(discount.contains("SPRING25"), "{discount}");
    b.shots_at_both_widths("flow-discount-orders").await;
    let console = b.console().await;
    assert!(console.is_empty(), "{console:?}");
    let _ = b.client.clone().close().await;

    // Bob is told the code is used up, and nothing is charged at full price behind his back.
    let Some(b) = signed_in(&app, "discount-bob", "bob@example.com").await else {
        return;
    };
    b.goto(&app.url("/products/coded-course")).await;
    b.fill("#discount-code", "SPRING25").await;
    b.click("#apply-code").await;
    let error = b.text("#discount_code-error").await;
    assert!(error.contains("used up"), "{error}");
    assert_eq!(b.text("#buy").await, "Buy for $20.00");
    b.shots_at_both_widths("flow-discount-used-up").await;
    let console = b.console_but(&["422"]).await;
    assert!(console.is_empty(), "{console:?}");
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn with_stripe_tax_the_orders_page_shows_the_tax_and_opens_the_invoice() {
    let Some(app) = app_with_ui_and(&[("FOLIO_STRIPE_TAX", "on")]).await else {
        return;
    };
    let admin = app.admin().await;
    app.product(&admin, "Taxed Course", "10", pdf("taxed"))
        .await;
    app.customer("ada@example.com").await;
    let Some(b) = signed_in(&app, "tax-ada", "ada@example.com").await else {
        return;
    };
    b.goto(&app.url("/products/taxed-course")).await;
    b.click("#buy").await;
    // The emulator's page asks for the address; Germany is 19 %.
    b.wait("#country").await;
    b.choose("#country", "DE").await;
    b.fill("#name", "Ada Lovelace").await;
    b.click("#pay").await;
    b.wait("#order-status[data-status=\"paid\"]").await;
    // The invoice's page comes from a job just after the payment.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        b.goto(&app.url("/orders")).await;
        b.wait(".order-total").await;
        if !b.absent(".invoice-link").await {
            break;
        }
        assert!(Instant::now() < deadline, "no invoice link");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert!(b.text(".order-tax").await.contains("$1.90"));
    assert!(b.text(".order-total").await.contains("$11.90"));
    b.shots_at_both_widths("flow-tax-orders").await;
    let href = b
        .step("invoice href", b.wait(".invoice-link").await.attr("href"))
        .await
        .expect("the link has an href");
    let page = app.bare_client().get(&href).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("11.90"));
    let console = b.console().await;
    assert!(console.is_empty(), "{console:?}");
    let _ = b.client.clone().close().await;
}

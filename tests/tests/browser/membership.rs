//! Memberships in the browser: an admin makes an all-access plan on the Plans page; a shopper
//! opens /membership, subscribes (signing in on the way), pays on the emulator's page and comes
//! back to /membership (the session id gone from the address; reload and Back keep the page),
//! sees the membership active, and downloads a paid product they never bought, marked
//! "Included". The admin then finds the member on the Members page and is told the plan cannot
//! be deleted, and deactivates it instead.

use super::*;

/// Waits until the page's script says `expected` for `script` (a function body).
async fn wait_js(b: &Browser, script: &str, expected: serde_json::Value) {
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let now = b.js(script).await;
        if now == expected {
            return;
        }
        if Instant::now() > deadline {
            b.step::<()>(&format!("{script} is {expected} (is {now})"), async {
                Err(CmdError::WaitTimeout)
            })
            .await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[actix_web::test]
async fn a_shopper_subscribes_pays_on_the_checkout_page_and_downloads_what_the_plan_includes() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    let file = pdf("included in a membership");
    let product = app
        .product(&admin, "Member Manual", "12.00", file.clone())
        .await;
    let slug = product["slug"].as_str().unwrap().to_owned();
    app.customer("mia@example.com").await;

    // The admin makes a monthly plan that unlocks everything, through the Plans page.
    let Some(b) = browser("membership-admin").await else {
        return;
    };
    b.goto(&app.url("/signin")).await;
    b.sign_in(ADMIN_EMAIL).await;
    b.wait("#signout").await;
    b.click("#nav-admin").await;
    b.click("#admin-plans").await;
    b.wait_heading("Membership plans").await;
    b.wait_here(&app, "/admin/plans").await;
    b.click("#new-plan").await;
    b.wait_heading("New plan").await;
    b.wait_here(&app, "/admin/plans/new").await;
    // Nothing typed: the shared rules' messages, before anything is sent.
    b.click("#submit").await;
    let expected = shared_types::PlanRequest {
        interval: Some(shared_types::BillingInterval::Month),
        all_products: true,
        ..Default::default()
    }
    .check()
    .unwrap_err();
    for problem in &expected {
        assert_eq!(
            b.text(&format!("#{}-error", problem.field)).await,
            problem.message,
            "{}",
            problem.field
        );
    }
    b.fill("#name", "All Access").await;
    b.fill(
        "#description",
        "Every book in the shop, for as long as you stay.",
    )
    .await;
    b.click("#interval-month").await;
    b.fill("#price", "9.99").await;
    b.click("#unlocks-all").await;
    b.shots_at_both_widths("flow-membership-plan-form").await;
    b.click("#submit").await;
    b.wait("#plan-notice").await;
    b.wait_here(&app, "/admin/plans").await;
    let row = b.text("tr.admin-plan[data-name=\"All Access\"]").await;
    assert!(row.contains("$9.99 a month"), "{row}");
    assert!(row.contains("Every product"), "{row}");
    b.shots_at_both_widths("flow-membership-admin-plans").await;
    // The list is an address: a reload shows it again.
    b.reload().await;
    b.wait("tr.admin-plan[data-name=\"All Access\"]").await;
    let console = b.console().await;
    assert!(console.is_empty(), "admin console: {console:?}");
    let plans: serde_json::Value = app
        .get("/api/v1/admin/plans", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let plan_id = plans["items"][0]["id"].as_str().unwrap().to_owned();

    // The shopper, signed out, sees the plan on offer; Subscribe goes through signing in.
    let Some(s) = browser("membership-shopper").await else {
        return;
    };
    s.goto(&app.url("/")).await;
    s.wait(".product-card").await;
    s.click("#nav-membership").await;
    s.wait_heading("Membership").await;
    s.wait_here(&app, "/membership").await;
    let card = s.text(&format!(".plan[data-plan=\"{plan_id}\"]")).await;
    assert!(
        card.contains("All Access")
            && card.contains("$9.99 a month")
            && card.contains("Everything in the shop, and everything added later")
            && card.contains("Every book in the shop"),
        "{card}"
    );
    s.shots_at_both_widths("flow-membership-plans").await;
    s.click(".plan .subscribe").await;
    s.wait_here(&app, "/signin?next=%2Fmembership").await;
    s.sign_in("mia@example.com").await;
    s.wait_here(&app, "/membership").await;
    s.wait_heading("Membership").await;
    // Stripe's (the emulator's) page, in subscription mode: paid there, back here.
    s.wait("button.subscribe").await;
    s.click(".plan .subscribe").await;
    s.click("#pay").await;
    // Back with `?session_id=cs_…`, which the page syncs and then takes out of the address.
    s.wait("tr.membership-row[data-status=\"active\"]").await;
    s.wait_here(&app, "/membership").await;
    let notice = s.text("#membership-notice").await;
    assert!(notice.contains("All Access"), "{notice}");
    let status = s.text("tr.membership-row .membership-status").await;
    assert!(status.starts_with("Active — renews on "), "{status}");
    assert_eq!(
        s.text(&format!(".plan[data-plan=\"{plan_id}\"] .your-plan"))
            .await,
        "Your plan"
    );
    assert!(!s.absent("#manage-billing").await);
    s.shots_at_both_widths("flow-membership-member").await;
    // A reload shows the same page, without syncing anything again.
    s.reload().await;
    s.wait("tr.membership-row[data-status=\"active\"]").await;
    s.wait_here(&app, "/membership").await;
    assert!(s.absent("#membership-notice").await);

    // The catalog marks the product as included, and its page offers the download (and still
    // the purchase).
    s.click("#nav-catalog").await;
    s.wait_here(&app, "/").await;
    let badge = s
        .text(&format!("a[href=\"/products/{slug}\"] .price"))
        .await;
    assert_eq!(badge, "Included");
    // Back to the membership page: its own address, not Stripe's return.
    s.back().await;
    s.wait_here(&app, "/membership").await;
    s.wait("tr.membership-row[data-status=\"active\"]").await;
    s.forward().await;
    s.wait_here(&app, "/").await;
    s.click(&format!("a[href=\"/products/{slug}\"]")).await;
    s.wait_heading("Member Manual").await;
    assert_eq!(s.text(".product-info .price").await, "Included");
    assert_eq!(s.text("#buy").await, "Buy for $12.00");
    s.shots_at_both_widths("flow-membership-included").await;
    s.click("#download").await;
    let bytes = match s.downloaded().await {
        Some(bytes) => bytes,
        None => {
            eprintln!("browser download not found on disk; checking the page's download link");
            let link = s.wait("#download-link").await;
            let href = s
                .step("read link", link.attr("href"))
                .await
                .expect("the link has an href");
            app.bare_client()
                .get(href)
                .send()
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec()
        }
    };
    assert_eq!(sha256_hex(&bytes), sha256_hex(&file));
    let console = s.console().await;
    assert!(console.is_empty(), "shopper console: {console:?}");

    // The failed-payment notice's link opens the billing portal at once; the membership page
    // left behind has its plain address, so Back does not open the portal again.
    s.goto(&app.url("/membership?portal=1")).await;
    assert_eq!(s.text("#customer-email").await, "mia@example.com");
    s.back().await;
    s.wait_here(&app, "/membership").await;
    s.wait("tr.membership-row[data-status=\"active\"]").await;
    // Manage billing goes there too; cancelling there comes back as "Cancelled".
    s.click("#manage-billing").await;
    s.click("button.cancel-at-period-end").await;
    s.wait("#notice").await;
    s.click("#return").await;
    s.wait_here(&app, "/membership").await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        let status = s.text("tr.membership-row .membership-status").await;
        if status.starts_with("Cancelled — access until ") {
            break;
        }
        assert!(Instant::now() < deadline, "still {status}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.reload().await;
    }
    let console = s.console().await;
    assert!(console.is_empty(), "shopper console: {console:?}");

    // The admin finds the member, by plan too (an address: reload keeps it).
    b.click("#admin-members").await;
    b.wait_heading("Members").await;
    b.wait_here(&app, "/admin/members").await;
    let row = b.text("tr.admin-member").await;
    assert!(
        row.contains("mia@example.com") && row.contains("All Access") && row.contains("active"),
        "{row}"
    );
    // Its subscription in Stripe's dashboard (here the emulator's pages).
    let members: serde_json::Value = app
        .get("/api/v1/admin/members", Some(&admin))
        .await
        .json()
        .await
        .unwrap();
    let stripe_id = members["items"][0]["stripe_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let link = b.wait("tr.admin-member .stripe-link").await;
    let href = b
        .step("read the Stripe link", link.attr("href"))
        .await
        .unwrap_or_default();
    assert!(
        href.ends_with(&format!("/subscriptions/{stripe_id}")),
        "{href}"
    );
    b.choose("#member-plan", &plan_id).await;
    b.wait_here(&app, &format!("/admin/members?plan_id={plan_id}"))
        .await;
    b.wait_count("tr.admin-member", 1).await;
    b.reload().await;
    b.wait_count("tr.admin-member", 1).await;
    wait_js(
        &b,
        "return document.querySelector('#member-plan').value",
        serde_json::Value::from(plan_id.as_str()),
    )
    .await;
    b.shots_at_both_widths("flow-membership-admin-members")
        .await;
    // The plan has a member: deleting it is refused in the server's words, and it is
    // deactivated instead.
    b.click("#admin-plans").await;
    b.wait_heading("Membership plans").await;
    let members = b
        .text("tr.admin-plan[data-name=\"All Access\"] .plan-members")
        .await;
    assert_eq!(members, "1");
    b.js("window.confirm = () => true").await;
    b.click("tr.admin-plan[data-name=\"All Access\"] .delete-plan")
        .await;
    let refusal = b.text("#plan-in-use").await;
    assert!(!refusal.trim().is_empty());
    b.click("#deactivate-instead").await;
    b.wait("tr.admin-plan[data-name=\"All Access\"][data-active=\"false\"]")
        .await;
    assert!(b.text("#plan-notice").await.contains("deactivated"));
    let console = b.console_but(&["409"]).await;
    assert!(console.is_empty(), "admin console: {console:?}");

    // The member keeps it; the plan is no longer on offer.
    s.goto(&app.url("/membership")).await;
    s.wait("tr.membership-row[data-status=\"active\"]").await;
    s.wait(".plan-section .empty").await;
    let console = s.console().await;
    assert!(console.is_empty(), "shopper console: {console:?}");
    let _ = b.client.clone().close().await;
    let _ = s.client.clone().close().await;
}

#[actix_web::test]
async fn a_cancelled_subscription_checkout_comes_back_to_the_plans_and_says_so() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    let plan = app
        .post_json(
            "/api/v1/admin/plans",
            Some(&admin),
            &serde_json::json!({
                "name": "Yearly", "interval": "year", "price": "90", "all_products": true
            }),
        )
        .await;
    assert_eq!(plan.status(), StatusCode::CREATED);
    app.customer("mia@example.com").await;
    app.customer("bob@example.com").await;
    let Some(s) = browser("membership-cancel").await else {
        return;
    };
    s.goto(&app.url("/signin?next=%2Fmembership")).await;
    s.sign_in("mia@example.com").await;
    s.wait_here(&app, "/membership").await;
    let card = s.text(".plan").await;
    assert!(card.contains("$90.00 a year"), "{card}");
    // Nothing to manage yet: no memberships, no button.
    s.wait("button.subscribe").await;
    assert!(s.absent("#manage-billing").await);
    s.click(".plan .subscribe").await;
    s.click("#cancel").await;
    s.wait_here(&app, "/membership?checkout=cancelled").await;
    assert!(s.text("#checkout-cancelled").await.contains("cancelled"));
    s.wait("button.subscribe").await;
    let console = s.console().await;
    assert!(console.is_empty(), "{console:?}");

    // The failed-payment notice's link, signed out: through the sign-in page and back. Bob never
    // went to a checkout, so he has no billing account to manage, which the page says.
    s.click("#signout").await;
    s.wait("#nav-signin").await;
    s.goto(&app.url("/membership?portal=1")).await;
    s.wait_here(&app, "/signin?next=%2Fmembership%3Fportal%3D1")
        .await;
    s.sign_in("bob@example.com").await;
    let refusal = s.text(".membership-page > .error-box").await;
    assert!(!refusal.trim().is_empty());
    s.wait_here(&app, "/membership").await;
    let console = s.console_but(&["409"]).await;
    assert!(console.is_empty(), "{console:?}");
    let _ = s.client.clone().close().await;
}

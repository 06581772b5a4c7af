//! What goes through mail, in the browser: a guest's checkout (pay on the emulator's page,
//! download on the success page, then the receipt's sign-in link into the library), the
//! sign-in link's page (its button spends the token, opening the page does not), a forgotten
//! password reset from the mailed link, and receipts mailed again from the orders pages. Mail is
//! read from each test server's SMTP sink.

use std::time::Duration;

use super::*;

const MAIL_WAIT: Duration = Duration::from_secs(20);

/// The one message to `to` (waited for), checked for its subject.
async fn one_mail(app: &TestApp, to: &str, subject: &str) -> Received {
    let got = app.smtp.wait_for(to, 1, MAIL_WAIT).await;
    assert_eq!(
        got.iter().map(Received::subject).collect::<Vec<_>>(),
        [subject],
        "mail to {to}"
    );
    got.into_iter().next().unwrap()
}

/// The link in a message starting with `prefix`, its token kept out of the server's logs.
fn mailed_link(mail: &Received, prefix: &str) -> String {
    let link = mail
        .link(prefix)
        .unwrap_or_else(|| panic!("no {prefix} link in {}", mail.text()));
    let token = link
        .split("#token=")
        .nth(1)
        .expect("a token in the fragment");
    remember_secret(token);
    link
}

/// The address bar holds no token after the page read it, and no history entry was added.
async fn token_left_the_address(b: &Browser, app: &TestApp, path: &str, entries: i64) {
    b.wait_here(app, path).await;
    assert_eq!(
        b.js("return location.href.includes('token')").await,
        false,
        "the token is still in the address"
    );
    assert_eq!(b.history_length().await, entries, "the page added an entry");
}

#[actix_web::test]
async fn a_guest_buys_with_an_address_downloads_and_signs_in_with_the_receipts_link() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    // With a cover the browser can draw, for the pictures.
    let product = stock(&app, &admin, &[("Guest Guide", "6.00")])
        .await
        .remove(0);
    let file = pdf("Guest Guide");
    let slug = product["slug"].as_str().unwrap().to_owned();
    let Some(b) = browser("guest").await else {
        return;
    };
    b.goto(&app.url("/")).await;
    b.click(&format!("a[href=\"/products/{slug}\"]")).await;
    b.wait_heading("Guest Guide").await;
    // Signed out, a paid item asks only for an address (and offers to sign in instead).
    assert_eq!(b.text("#guest-buy").await, "Buy for $6.00");
    b.wait("#signin-to-buy").await;
    b.shots_at_both_widths("flow-guest-product").await;
    // The server's parser judges the address, and its message shows under the field.
    b.fill("#guest-email", "not an address").await;
    b.click("#guest-buy").await;
    assert!(!b.text("#email-error").await.is_empty());
    b.wait_here(&app, &format!("/products/{slug}")).await;
    b.fill("#guest-email", "Guest.Buyer@Example.com").await;
    b.click("#guest-buy").await;
    // The emulator's hosted page, on its own origin.
    b.click("#pay").await;
    let status = b.wait("#order-status[data-status=\"paid\"]").await;
    assert_eq!(
        b.step("read status", status.text()).await,
        "Guest Guide is yours."
    );
    assert_eq!(b.text("#receipt-to").await, "Guest.Buyer@Example.com");
    let success = b.here().await;
    assert!(
        success.starts_with("/checkout/success?session_id="),
        "{success}"
    );
    // The guest's cookie, not a session, follows the checkout: a reload shows it again.
    assert!(b.absent("#signout").await, "a guest is not signed in");
    b.reload().await;
    b.wait("#order-status[data-status=\"paid\"]").await;
    b.wait_here(&app, &success).await;
    b.shots_at_both_widths("flow-guest-success").await;
    b.click("#download").await;
    let bytes = match b.downloaded().await {
        Some(bytes) => bytes,
        None => {
            eprintln!("browser download not found on disk; checking the page's download link");
            let link = b.wait("#download-link").await;
            let href = b.step("read link", link.attr("href")).await.unwrap();
            let res = app.bare_client().get(href).send().await.unwrap();
            res.bytes().await.unwrap().to_vec()
        }
    };
    assert_eq!(sha256_hex(&bytes), sha256_hex(&file));
    // The address refused above, and the emulator's page (another origin) has no icon.
    let console = b.console_but(&["422", "/favicon.ico"]).await;
    assert!(
        console.is_empty(),
        "console of a guest's checkout: {console:?}"
    );

    // The receipt, to the address as the server keeps it, with a link into the library.
    let mail = one_mail(&app, "guest.buyer@example.com", "Your receipt: Guest Guide").await;
    let link = mailed_link(&mail, &app.url("/signin/link"));
    let entries = b.history_length().await;
    b.goto(&link).await;
    b.wait_heading("Sign in with a link").await;
    token_left_the_address(&b, &app, "/signin/link", entries + 1).await;
    b.click("#redeem").await;
    b.wait_heading("Your library").await;
    b.wait_here(&app, "/library").await;
    assert!(b.text(".library-item").await.contains("Guest Guide"));
    b.wait("#signout").await;
    let console = b.console().await;
    assert!(
        console.is_empty(),
        "console of the receipt's link: {console:?}"
    );
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn a_sign_in_link_is_spent_by_its_button_not_by_opening_the_page() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    app.customer("ada@example.com").await;
    let Some(b) = browser("sign-in-link").await else {
        return;
    };
    // From the sign-in page: the address typed there comes along.
    b.goto(&app.url("/signin")).await;
    b.fill("#email", "ada@example.com").await;
    b.click("#email-link").await;
    b.wait_here(&app, "/signin/link").await;
    b.wait_heading("Sign in with a link").await;
    assert_eq!(b.value("#email").await, "ada@example.com");
    b.click("#send-link").await;
    let sent = b.text("#link-sent").await;
    assert!(sent.starts_with("If an account exists"), "{sent}");
    let mail = one_mail(&app, "ada@example.com", "Your sign-in link").await;
    let link = mailed_link(&mail, &app.url("/signin/link"));

    // A mail scanner fetching the link spends nothing, nor does the page opening.
    let scanned = app.bare_client().get(&link).send().await.unwrap();
    assert_eq!(scanned.status(), StatusCode::OK);
    let entries = b.history_length().await;
    b.goto(&link).await;
    b.wait("#redeem").await;
    token_left_the_address(&b, &app, "/signin/link", entries + 1).await;
    // A reload has no token in the address, and still the button: this tab kept it.
    b.reload().await;
    b.wait("#redeem").await;
    b.wait_here(&app, "/signin/link").await;
    b.shots_at_both_widths("flow-sign-in-link-reloaded").await;
    assert!(b.absent("#signout").await);
    b.click("#redeem").await;
    b.wait_heading("Your library").await;
    b.wait_here(&app, "/library").await;
    b.wait("#signout").await;
    let console = b.console().await;
    assert!(console.is_empty(), "console of a sign-in link: {console:?}");

    // The same link again: used, said so, with the form for a new one.
    b.goto(&link).await;
    b.click("#redeem").await;
    let problem = b.wait("#link-problem[data-code=\"link_used\"]").await;
    let said = b.step("read the problem", problem.text()).await;
    assert!(said.contains("used already"), "{said}");
    b.wait("#send-link").await;
    b.shots_at_both_widths("flow-sign-in-link-used").await;
    // Gone from the tab too: a reload asks for a link.
    b.reload().await;
    b.wait("#send-link").await;
    assert!(b.absent("#redeem").await);
    let console = b.console_but(&["410"]).await;
    assert!(console.is_empty(), "console of a used link: {console:?}");

    // A link that is not one (cut short): invalid, said so.
    b.goto(&app.url("/signin/link#token=made-up")).await;
    b.click("#redeem").await;
    b.wait("#link-problem[data-code=\"link_invalid\"]").await;
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn a_forgotten_password_is_reset_from_the_mailed_link_and_every_old_session_ends() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    // A session from before, elsewhere (another device).
    let old = app.customer("ada@example.com").await;
    let Some(b) = browser("reset").await else {
        return;
    };
    b.goto(&app.url("/signin")).await;
    b.fill("#email", "ada@example.com").await;
    b.click("#forgot-password").await;
    b.wait_here(&app, "/reset-password").await;
    b.wait_heading("Forgot your password?").await;
    assert_eq!(b.value("#email").await, "ada@example.com");
    b.shots_at_both_widths("flow-forgot-password-typed").await;
    b.click("#send-link").await;
    b.wait("#link-sent").await;
    let mail = one_mail(&app, "ada@example.com", "Reset your password").await;
    let link = mailed_link(&mail, &app.url("/reset-password"));

    let entries = b.history_length().await;
    b.goto(&link).await;
    b.wait_heading("Choose a new password").await;
    token_left_the_address(&b, &app, "/reset-password", entries + 1).await;
    // The server's own password rule, before anything is sent.
    b.fill("#password", "short").await;
    b.click("#submit").await;
    assert_eq!(
        b.text("#password-error").await,
        shared_types::Password::parse("short").unwrap_err().message
    );
    b.shots_at_both_widths("flow-reset-password-too-short")
        .await;
    let new_password = "a brand new passphrase";
    remember_secret(new_password);
    b.fill("#password", new_password).await;
    b.click("#submit").await;
    b.wait_here(&app, "/signin?password=reset").await;
    b.wait("#password-was-reset").await;

    // Every session from before has ended; the old password is refused, the new one works.
    let res = app
        .post_json(
            "/api/v1/auth/refresh",
            None,
            &serde_json::json!({ "refresh_token": old.refresh_token }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    b.sign_in("ada@example.com").await;
    assert!(b.text("#form-error").await.contains("password"));
    b.sign_in_with("ada@example.com", new_password).await;
    b.wait("#signout").await;
    b.wait_here(&app, "/").await;
    let console = b.console_but(&["401"]).await;
    assert!(console.is_empty(), "console of a reset: {console:?}");

    // The link was spent: opened again, it says so.
    b.goto(&link).await;
    b.fill("#password", "yet another passphrase").await;
    b.click("#submit").await;
    b.wait("#link-problem[data-code=\"link_used\"]").await;
    b.wait("#send-link").await;
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn receipts_are_mailed_again_from_my_orders_and_from_the_admins_orders() {
    let Some(app) = app_with_ui().await else {
        return;
    };
    let admin = app.admin().await;
    let product = app
        .product(&admin, "Receipted", "5.00", pdf("receipted"))
        .await;
    let buyer = app.customer("buyer@example.com").await.access_token;
    let started: serde_json::Value = app
        .checkout(&buyer, product["slug"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    app.emulator
        .pay(started["session_id"].as_str().unwrap())
        .unwrap();
    app.smtp.wait_for("buyer@example.com", 1, MAIL_WAIT).await;
    let order = started["order_id"].as_str().unwrap().to_owned();
    let Some(b) = browser("receipts").await else {
        return;
    };
    b.goto(&app.url("/signin?next=%2Forders")).await;
    b.sign_in("buyer@example.com").await;
    b.wait_heading("Your orders").await;
    let row = format!(".order-row[data-order=\"{order}\"]");
    b.click(&format!("{row} .resend-receipt")).await;
    let said = b.text(&format!("{row} .receipt-sent")).await;
    assert!(said.contains("on its way"), "{said}");
    assert_eq!(
        app.smtp
            .wait_for("buyer@example.com", 2, MAIL_WAIT)
            .await
            .len(),
        2
    );
    b.shots_at_both_widths("flow-orders-resent").await;

    // The admin's orders page resends too; both count towards the order's few an hour.
    b.click("#signout").await;
    b.wait("#nav-signin").await;
    b.goto(&app.url("/signin?next=%2Fadmin%2Forders")).await;
    b.sign_in(ADMIN_EMAIL).await;
    b.wait_heading("Orders").await;
    let admin_row = format!(".admin-order[data-order=\"{order}\"]");
    for sent in [3, 4] {
        b.click(&format!("{admin_row} .resend-receipt")).await;
        b.wait(&format!("{admin_row} .receipt-sent")).await;
        let mails = app
            .smtp
            .wait_for("buyer@example.com", sent, MAIL_WAIT)
            .await;
        assert_eq!(mails.len(), sent);
        // The next click's answer replaces this one.
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    b.click(&format!("{admin_row} .resend-receipt")).await;
    let refused = b.text(&format!("{admin_row} .receipt-refused")).await;
    assert!(!refused.is_empty());
    b.shots_at_both_widths("flow-admin-orders-resend-refused")
        .await;
    let console = b.console_but(&["429"]).await;
    assert!(console.is_empty(), "console of resends: {console:?}");
    let _ = b.client.clone().close().await;
}

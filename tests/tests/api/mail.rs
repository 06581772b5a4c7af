//! Mail through the job queue to a real SMTP server on loopback (each test's own sink), on
//! SQLite and PostgreSQL: receipts (after the webhook, after the success page, once under a
//! storm of deliveries), guest checkout, sign-in links, password resets, refunds, SMTP outages,
//! the admin's job list and the dev mailbox.

use std::time::Duration;

use folio_tests::*;
use serde_json::{json, Value};
use stripe_emulator::Knobs;

backend_tests!(
    a_paid_order_mails_one_receipt_after_the_webhook,
    the_success_page_alone_sends_the_receipt,
    a_storm_of_deliveries_sends_one_receipt,
    a_guest_buys_without_an_account_and_gets_in_with_the_receipts_link,
    a_guest_typing_someone_elses_address_gets_nothing_of_theirs,
    sign_in_links_work_once_and_only_in_time,
    a_password_reset_sets_the_password_once_and_ends_every_session,
    link_requests_answer_alike_for_known_and_unknown_addresses,
    link_requests_are_rate_limited_per_address,
    mail_waits_out_an_smtp_outage_and_arrives_once,
    a_job_that_fails_every_attempt_is_left_failed_and_an_admin_retries_it,
    a_refund_mails_a_notice_and_receipts_can_be_asked_for_again,
);

const WAIT: Duration = Duration::from_secs(20);

async fn product(app: &TestApp, title: &str, price: &str) -> Value {
    let admin = app.admin().await;
    app.product(&admin, title, price, pdf(title)).await
}

async fn checkout_as(app: &TestApp, token: &str, slug: &str) -> Value {
    let res = app.checkout(token, slug).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    res.json().await.unwrap()
}

/// One mail to `to`, waited for; fails if there are more.
async fn the_one_mail(app: &TestApp, to: &str) -> Received {
    let got = app.smtp.wait_for(to, 1, WAIT).await;
    assert_eq!(
        got.len(),
        1,
        "mail to {to}: {:?}",
        got.iter().map(Received::subject).collect::<Vec<_>>()
    );
    // Nothing else arrives a little later either.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got = app.smtp.to(to);
    assert_eq!(got.len(), 1, "a second mail to {to}");
    got.into_iter().next().unwrap()
}

fn token_of(link: &str) -> String {
    let token = link
        .split("#token=")
        .nth(1)
        .expect("a link with a token")
        .to_owned();
    remember_secret(&token);
    token
}

async fn jobs(app: &TestApp, admin: &str, status: &str) -> Vec<Value> {
    let page: Value = app
        .get(
            &format!("/api/v1/admin/jobs?status={status}&limit=100"),
            Some(admin),
        )
        .await
        .json()
        .await
        .unwrap();
    page["items"].as_array().unwrap().clone()
}

async fn a_paid_order_mails_one_receipt_after_the_webhook(app: TestApp) {
    product(&app, "Receipted Guide", "12.50").await;
    let buyer = app.customer("buyer@example.com").await.access_token;
    let started = checkout_as(&app, &buyer, "receipted-guide").await;
    app.emulator
        .pay(started["session_id"].as_str().unwrap())
        .unwrap();
    let mail = the_one_mail(&app, "buyer@example.com").await;
    assert_eq!(mail.subject(), "Your receipt: Receipted Guide");
    assert!(mail.from.contains("shop@folio.test"), "{}", mail.from);
    let text = mail.text();
    let order_id = started["order_id"].as_str().unwrap();
    for needle in [
        "Receipted Guide",
        "$12.50",
        "USD",
        order_id,
        &app.url("/library"),
    ] {
        assert!(text.contains(needle), "the receipt shows {needle}: {text}");
    }
    let html = mail.html();
    assert!(
        html.contains("Receipted Guide") && html.contains(order_id),
        "{html}"
    );
    assert!(
        html.contains(&format!("href=\"{}\"", app.url("/library"))),
        "{html}"
    );
    // A stable Message-ID from the job, and no unsubscribe header on a transactional message.
    let job = &jobs(&app, &app.admin().await, "done").await[0];
    assert_eq!(job["kind"], "mail.receipt");
    assert!(
        mail.message_id().starts_with(job["id"].as_str().unwrap()),
        "{}",
        mail.message_id()
    );
    assert!(mail.header("List-Unsubscribe").is_none());
    // Someone with a password signs in as usual: no sign-in link in their receipt.
    assert!(mail.link(&app.url("/signin/link")).is_none(), "{text}");
}

async fn the_success_page_alone_sends_the_receipt(app: TestApp) {
    product(&app, "Quiet Webhook", "5").await;
    let buyer = app.customer("buyer@example.com").await.access_token;
    let started = checkout_as(&app, &buyer, "quiet-webhook").await;
    let session = started["session_id"].as_str().unwrap();
    // Stripe's events never arrive: the success page confirms with Stripe and fulfils.
    app.emulator.set_knobs(Knobs {
        hold: true,
        ..Default::default()
    });
    app.emulator.pay(session).unwrap();
    let status: Value = app
        .get(
            &format!("/api/v1/checkout/sessions/{session}"),
            Some(&buyer),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "paid");
    let mail = the_one_mail(&app, "buyer@example.com").await;
    assert_eq!(mail.subject(), "Your receipt: Quiet Webhook");
    // The held events, delivered late, change nothing and send nothing more.
    app.emulator.set_knobs(Knobs::default());
    app.emulator.release(false);
    assert!(app.emulator.wait_idle(WAIT).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.smtp.to("buyer@example.com").len(), 1);
}

async fn a_storm_of_deliveries_sends_one_receipt(app: TestApp) {
    product(&app, "Stormy", "5").await;
    let buyer = app.customer("buyer@example.com").await.access_token;
    let started = checkout_as(&app, &buyer, "stormy").await;
    let session = started["session_id"].as_str().unwrap().to_owned();
    app.emulator.set_knobs(Knobs {
        duplicates: 19,
        concurrent: true,
        retry_base_ms: 50,
        ..Default::default()
    });
    app.emulator.pay(&session).unwrap();
    // The success page races the twenty deliveries, six times.
    let path = format!("/api/v1/checkout/sessions/{session}");
    let pages = (0..6).map(|_| app.get(&path, Some(&buyer)));
    for res in futures_util::future::join_all(pages).await {
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert!(app.emulator.wait_idle(WAIT).await);
    let mail = the_one_mail(&app, "buyer@example.com").await;
    assert_eq!(mail.subject(), "Your receipt: Stormy");
    assert_eq!(
        app.count("jobs").await,
        1,
        "one receipt job was ever queued"
    );
}

/// A browser of its own (its own cookies), as a guest has.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn guest_checkout(app: &TestApp, guest: &reqwest::Client, slug: &str, email: &str) -> Value {
    let res = guest
        .post(app.url("/api/v1/checkout"))
        .json(&json!({"slug": slug, "email": email}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::CREATED,
        "{}",
        res.text().await.unwrap()
    );
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("folio_guest="))
        .expect("a guest gets its claim as a cookie");
    for part in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/checkout"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    remember_secret(
        cookie
            .trim_start_matches("folio_guest=")
            .split(';')
            .next()
            .unwrap(),
    );
    res.json().await.unwrap()
}

async fn a_guest_buys_without_an_account_and_gets_in_with_the_receipts_link(app: TestApp) {
    let bytes = pdf("Guest Edition");
    let admin = app.admin().await;
    app.product(&admin, "Guest Edition", "7", bytes.clone())
        .await;
    let guest = browser();
    let started = guest_checkout(&app, &guest, "guest-edition", "New.Buyer@Example.com").await;
    let session = started["session_id"].as_str().unwrap();
    app.emulator.pay(session).unwrap();
    // The success page, in the browser that started the checkout: the order, then the file.
    let status: Value = guest
        .get(app.url(&format!("/api/v1/checkout/sessions/{session}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["status"], "paid", "{status}");
    let res = guest
        .post(app.url(&format!(
            "/api/v1/checkout/sessions/{session}/download-token"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let link: Value = res.json().await.unwrap();
    remember_secret(link["token"].as_str().unwrap());
    let file = app
        .bare_client()
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(file.bytes().await.unwrap().as_ref(), bytes.as_slice());
    // Another browser has no claim on that session.
    let res = browser()
        .get(app.url(&format!("/api/v1/checkout/sessions/{session}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // The receipt went to the address, lowercased, with a sign-in link into the library.
    let mail = the_one_mail(&app, "new.buyer@example.com").await;
    let url = mail
        .link(&app.url("/signin/link"))
        .expect("a guest's receipt has a sign-in link");
    assert!(mail.html().contains(&url), "the HTML part has the link too");
    // Opening the link (a mail scanner would) spends nothing: the page has a button.
    let page = app.bare_client().get(&url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let token = token_of(&url);
    let res = app
        .post_json(
            "/api/v1/auth/email-link/redeem",
            None,
            &json!({"token": token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let tokens: Value = res.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    remember_secret(tokens["refresh_token"].as_str().unwrap());
    let library: Value = app
        .get("/api/v1/library", Some(access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(library[0]["slug"], "guest-edition", "{library}");
    let me: Value = app
        .get("/api/v1/me", Some(access))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "new.buyer@example.com");
    // An account without a password cannot be signed in to with one.
    let res = app.login("new.buyer@example.com", "").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    // Nor registered over.
    let res = app.register("new.buyer@example.com", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
}

async fn a_guest_typing_someone_elses_address_gets_nothing_of_theirs(app: TestApp) {
    product(&app, "Alices Secret", "9").await;
    product(&app, "Cheap Trick", "1").await;
    let alice = app.customer("alice@example.com").await.access_token;
    let bought = checkout_as(&app, &alice, "alices-secret").await;
    app.emulator
        .pay(bought["session_id"].as_str().unwrap())
        .unwrap();
    app.smtp.wait_for("alice@example.com", 1, WAIT).await;
    // Mallory, not signed in, buys something with Alice's address.
    let mallory = browser();
    let started = guest_checkout(&app, &mallory, "cheap-trick", "alice@example.com").await;
    let session = started["session_id"].as_str().unwrap();
    // The order is Alice's (she paid for it, she may keep it), and Mallory gets its file only
    // through that one session; nothing else of Alice's answers to Mallory's browser.
    app.emulator.pay(session).unwrap();
    for path in ["/api/v1/library", "/api/v1/orders", "/api/v1/me"] {
        let res = mallory.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{path}");
    }
    let res = mallory
        .post(app.url(&format!(
            "/api/v1/checkout/sessions/{}/download-token",
            bought["session_id"].as_str().unwrap()
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND, "Alice's own session");
    let res = mallory
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "no session came with the checkout"
    );
    // Both receipts went to Alice, and none to anyone else.
    let mails = app.smtp.wait_for("alice@example.com", 2, WAIT).await;
    assert_eq!(mails.len(), 2);
    assert_eq!(app.smtp.messages().len(), 2);
    // Alice has a password: her receipts carry no sign-in link Mallory could have asked for.
    assert!(mails
        .iter()
        .all(|m| m.link(&app.url("/signin/link")).is_none()));
}

async fn request_link(app: &TestApp, path: &str, email: &str) -> reqwest::Response {
    app.post_json(path, None, &json!({"email": email})).await
}

async fn sign_in_links_work_once_and_only_in_time(app: TestApp) {
    app.customer("ada@example.com").await;
    let res = request_link(&app, "/api/v1/auth/email-link", "Ada@Example.com").await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = the_one_mail(&app, "ada@example.com").await;
    assert_eq!(mail.subject(), "Your sign-in link");
    let token = token_of(&mail.link(&app.url("/signin/link")).unwrap());
    let redeem = |token: String| {
        let app = &app;
        async move {
            app.post_json(
                "/api/v1/auth/email-link/redeem",
                None,
                &json!({"token": token}),
            )
            .await
        }
    };
    // Twice at once: one wins.
    let (a, b) = futures_util::join!(redeem(token.clone()), redeem(token.clone()));
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::GONE]);
    for res in [a, b] {
        if res.status() == StatusCode::OK {
            let t: Value = res.json().await.unwrap();
            remember_secret(t["refresh_token"].as_str().unwrap());
        } else {
            assert_eq!(problem(res).await["code"], "link_used");
        }
    }
    // Replayed later: still used.
    assert_eq!(problem(redeem(token).await).await["code"], "link_used");
    // The address counts as verified now.
    let verified: Option<chrono::NaiveDateTime> = {
        use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
        use folio_api::schema::users;
        app.state
            .db
            .run(|conn| {
                Ok(users::table
                    .filter(users::email.eq("ada@example.com"))
                    .select(users::email_verified_at)
                    .first(conn)?)
            })
            .await
            .unwrap()
    };
    assert!(verified.is_some());
    // A link past its time.
    request_link(&app, "/api/v1/auth/email-link", "ada@example.com").await;
    let second = app.smtp.wait_for("ada@example.com", 2, WAIT).await;
    let token = token_of(&second[1].link(&app.url("/signin/link")).unwrap());
    {
        use diesel::RunQueryDsl;
        app.state
            .db
            .run(|conn| {
                diesel::sql_query(
                    "UPDATE one_time_tokens SET expires_at = created_at WHERE used_at IS NULL",
                )
                .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
    }
    assert_eq!(problem(redeem(token).await).await["code"], "link_expired");
    // Made up, or a reset token used to sign in: not a sign-in link.
    let made_up = redeem("made-up".into()).await;
    assert_eq!(made_up.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(made_up).await["code"], "link_invalid");
    request_link(&app, "/api/v1/auth/password-reset", "ada@example.com").await;
    let reset = app.smtp.wait_for("ada@example.com", 3, WAIT).await;
    let reset_token = token_of(&reset[2].link(&app.url("/reset-password")).unwrap());
    assert_eq!(
        problem(redeem(reset_token).await).await["code"],
        "link_invalid"
    );
}

async fn a_password_reset_sets_the_password_once_and_ends_every_session(app: TestApp) {
    let old = app.customer("ada@example.com").await;
    let res = request_link(&app, "/api/v1/auth/password-reset", "ada@example.com").await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    let mail = the_one_mail(&app, "ada@example.com").await;
    assert_eq!(mail.subject(), "Reset your password");
    let url = mail.link(&app.url("/reset-password")).unwrap();
    assert!(app
        .bare_client()
        .get(&url)
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    let token = token_of(&url);
    let confirm = |token: &str, password: &str| {
        let body = json!({"token": token, "password": password});
        let app = &app;
        async move {
            app.post_json("/api/v1/auth/password-reset/confirm", None, &body)
                .await
        }
    };
    // A password that is too short is refused and spends nothing.
    let res = confirm(&token, "short").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let new_password = "a brand new passphrase";
    remember_secret(new_password);
    assert_eq!(
        confirm(&token, new_password).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        problem(confirm(&token, "another one entirely").await).await["code"],
        "link_used"
    );
    // The old session is over; the old password no longer works; the new one does.
    let res = app
        .post_json(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": old.refresh_token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.login("ada@example.com", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let res = app.login("ada@example.com", new_password).await;
    assert_eq!(res.status(), StatusCode::OK);
    let t: Value = res.json().await.unwrap();
    remember_secret(t["refresh_token"].as_str().unwrap());
}

async fn link_requests_answer_alike_for_known_and_unknown_addresses(app: TestApp) {
    app.customer("known@example.com").await;
    for path in ["/api/v1/auth/email-link", "/api/v1/auth/password-reset"] {
        let known = request_link(&app, path, "known@example.com").await;
        let unknown = request_link(&app, path, "nobody@example.com").await;
        assert_eq!(known.status(), StatusCode::ACCEPTED);
        assert_eq!(unknown.status(), StatusCode::ACCEPTED);
        let (kh, uh) = (known.headers().clone(), unknown.headers().clone());
        assert_eq!(kh.get("content-type"), uh.get("content-type"));
        assert_eq!(
            known.text().await.unwrap(),
            unknown.text().await.unwrap(),
            "{path}"
        );
    }
    app.smtp.wait_for("known@example.com", 2, WAIT).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(app.smtp.to("known@example.com").len(), 2);
    assert!(app.smtp.to("nobody@example.com").is_empty());
    assert_eq!(app.smtp.messages().len(), 2);
    // Not an address at all is a plain validation error.
    let res = request_link(&app, "/api/v1/auth/email-link", "not an address").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn link_requests_are_rate_limited_per_address(app: TestApp) {
    app.customer("ada@example.com").await;
    // FOLIO_MAIL_LINK_RATE_LIMIT is 5 an hour by default.
    for _ in 0..5 {
        let res = request_link(&app, "/api/v1/auth/email-link", "ada@example.com").await;
        assert_eq!(res.status(), StatusCode::ACCEPTED);
    }
    let res = request_link(&app, "/api/v1/auth/password-reset", "ADA@example.com").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.headers().contains_key("retry-after"));
    assert_eq!(problem(res).await["code"], "rate_limited");
    // Other addresses are not affected.
    let res = request_link(&app, "/api/v1/auth/email-link", "other@example.com").await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
    app.smtp.wait_for("ada@example.com", 5, WAIT).await;
}

async fn mail_waits_out_an_smtp_outage_and_arrives_once(app: TestApp) {
    product(&app, "Patient", "5").await;
    let buyers = ["one@example.com", "two@example.com", "three@example.com"];
    app.smtp.set_down(true);
    for buyer in buyers {
        let token = app.customer(buyer).await.access_token;
        let started = checkout_as(&app, &token, "patient").await;
        app.emulator
            .pay(started["session_id"].as_str().unwrap())
            .unwrap();
    }
    assert!(app.emulator.wait_idle(WAIT).await);
    // Every receipt tried and failed at least once while the server was down.
    let admin = app.admin().await;
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let pending = jobs(&app, &admin, "pending").await;
        if pending.len() == 3
            && pending
                .iter()
                .all(|j| j["attempts"].as_i64() >= Some(1) && j["last_error"].is_string())
        {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{pending:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(app.smtp.messages().is_empty());
    app.smtp.set_down(false);
    for buyer in buyers {
        let mail = the_one_mail(&app, buyer).await;
        assert_eq!(mail.subject(), "Your receipt: Patient");
    }
    assert_eq!(app.smtp.messages().len(), 3);
    assert_eq!(jobs(&app, &admin, "done").await.len(), 3);
}

async fn a_job_that_fails_every_attempt_is_left_failed_and_an_admin_retries_it(app: TestApp) {
    app.customer("ada@example.com").await;
    app.smtp.set_down(true);
    request_link(&app, "/api/v1/auth/email-link", "ada@example.com").await;
    let admin = app.admin().await;
    // 8 attempts with backoff from 100 ms: about half a minute in all. Wait for the failure.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let failed = loop {
        let failed = jobs(&app, &admin, "failed").await;
        if let Some(job) = failed.first() {
            break job.clone();
        }
        assert!(std::time::Instant::now() < deadline, "the job never failed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(failed["kind"], "mail.sign_in_link");
    assert_eq!(failed["attempts"], failed["max_attempts"]);
    assert!(
        failed["last_error"].as_str().unwrap().contains("421"),
        "{failed}"
    );
    // Retrying what is not failed is refused; retrying the failed job delivers it.
    let id = failed["id"].as_str().unwrap();
    app.smtp.set_down(false);
    let res = app
        .post_json(
            &format!("/api/v1/admin/jobs/{id}/retry"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mail = the_one_mail(&app, "ada@example.com").await;
    assert_eq!(mail.subject(), "Your sign-in link");
    let res = app
        .post_json(
            &format!("/api/v1/admin/jobs/{id}/retry"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "job_not_failed");
    let customer = app.customer("eve@example.com").await.access_token;
    let res = app.get("/api/v1/admin/jobs", Some(&customer)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn a_refund_mails_a_notice_and_receipts_can_be_asked_for_again(app: TestApp) {
    product(&app, "Returned", "8").await;
    let buyer = app.customer("buyer@example.com").await.access_token;
    let started = checkout_as(&app, &buyer, "returned").await;
    let order = started["order_id"].as_str().unwrap().to_owned();
    app.emulator
        .pay(started["session_id"].as_str().unwrap())
        .unwrap();
    app.smtp.wait_for("buyer@example.com", 1, WAIT).await;
    // The buyer asks again, the admin does, the buyer once more: three more receipts, each a
    // message of its own. Three an hour per order is the limit.
    let ask = |who: &'static str| {
        let (app, order, buyer) = (&app, order.clone(), buyer.clone());
        async move {
            let admin = app.admin().await;
            let (path, token) = match who {
                "admin" => (format!("/api/v1/admin/orders/{order}/receipt"), admin),
                _ => (format!("/api/v1/orders/{order}/receipt"), buyer),
            };
            app.post_json(&path, Some(&token), &json!({}))
                .await
                .status()
        }
    };
    assert_eq!(ask("buyer").await, StatusCode::ACCEPTED);
    assert_eq!(ask("admin").await, StatusCode::ACCEPTED);
    assert_eq!(ask("buyer").await, StatusCode::ACCEPTED);
    let mails = app.smtp.wait_for("buyer@example.com", 4, WAIT).await;
    assert_eq!(mails.len(), 4);
    let mut ids: Vec<String> = mails.iter().map(Received::message_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "each resend is a message of its own");
    assert_eq!(ask("buyer").await, StatusCode::TOO_MANY_REQUESTS);
    // The refund, and its notice.
    let admin = app.admin().await;
    let res = app
        .post_json(
            &format!("/api/v1/admin/orders/{order}/refund"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let mails = app.smtp.wait_for("buyer@example.com", 5, WAIT).await;
    let notice = mails
        .iter()
        .find(|m| m.subject().starts_with("Refunded"))
        .expect("a refund notice");
    assert_eq!(notice.subject(), "Refunded: Returned");
    assert!(notice.text().contains("$8.00"), "{}", notice.text());
    // Stripe's charge.refunded that follows sends no second notice.
    assert!(app.emulator.wait_idle(WAIT).await);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        app.smtp
            .to("buyer@example.com")
            .iter()
            .filter(|m| m.subject().starts_with("Refunded"))
            .count(),
        1
    );
    // A refunded order has no receipt to resend.
    let other = app.customer("other@example.com").await.access_token;
    let started = checkout_as(&app, &other, "returned").await;
    let pending = started["order_id"].as_str().unwrap();
    let res = app
        .post_json(
            &format!("/api/v1/orders/{pending}/receipt"),
            Some(&other),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    assert_eq!(problem(res).await["code"], "order_not_paid");
}

/// Without an SMTP server (development), mail is kept in the dev mailbox admins read.
#[actix_web::test]
async fn without_smtp_mail_is_kept_in_the_dev_mailbox() {
    let app = TestApp::builder(Backend::Sqlite)
        .setting("FOLIO_SMTP_URL", "")
        .spawn()
        .await
        .unwrap();
    // The web UI shows its Mailbox page when the server says mail is kept there.
    let config: Value = app.get("/api/v1/config", None).await.json().await.unwrap();
    assert_eq!(config["dev_mailbox"], true, "{config}");
    app.customer("ada@example.com").await;
    request_link(&app, "/api/v1/auth/email-link", "ada@example.com").await;
    let admin = app.admin().await;
    let deadline = std::time::Instant::now() + WAIT;
    let messages = loop {
        let res = app.get("/api/v1/admin/mailbox", Some(&admin)).await;
        assert_eq!(res.status(), StatusCode::OK);
        let messages: Vec<Value> = res.json().await.unwrap();
        if !messages.is_empty() {
            break messages;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing reached the mailbox"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(messages.len(), 1);
    let m = &messages[0];
    assert_eq!(m["to"], "ada@example.com");
    assert_eq!(m["subject"], "Your sign-in link");
    let text = m["text"].as_str().unwrap();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/signin/link#token="))
        .unwrap();
    token_of(link);
    assert!(m["html"].as_str().unwrap().contains("<a href="));
    assert!(app.smtp.messages().is_empty(), "nothing went to SMTP");
    let customer = app.customer("eve@example.com").await.access_token;
    assert_eq!(
        app.get("/api/v1/admin/mailbox", Some(&customer))
            .await
            .status(),
        StatusCode::FORBIDDEN
    );
    // With SMTP there is no mailbox to read, and the config says so.
    let smtp = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let config: Value = smtp.get("/api/v1/config", None).await.json().await.unwrap();
    assert_eq!(config["dev_mailbox"], false, "{config}");
    let admin = smtp.admin().await;
    assert_eq!(
        smtp.get("/api/v1/admin/mailbox", Some(&admin))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

//! Accounts and sessions, on SQLite and PostgreSQL.

use folio_tests::*;
use serde_json::{json, Value};

backend_tests!(
    registering_returns_tokens_that_identify_the_user,
    emails_are_unique_case_insensitively,
    bad_registration_input_reports_every_field,
    login_refuses_unknown_email_and_wrong_password_alike,
    refresh_tokens_rotate_and_a_reused_one_revokes_the_session,
    the_refresh_cookie_is_httponly_strict_and_scoped,
    a_readable_marker_says_when_a_session_may_exist,
    logout_revokes_the_session,
    forged_expired_and_misdirected_access_tokens_are_refused,
    admin_emails_from_settings_get_the_admin_role,
    concurrent_refreshes_of_one_token_each_get_a_pair_of_one_session,
);

backend_tests_with!(&[("FOLIO_AUTH_RATE_LIMIT", "3")] => login_attempts_are_rate_limited_per_client);
backend_tests_with!(
    &[("FOLIO_AUTH_RATE_LIMIT", "3"), ("FOLIO_TRUSTED_PROXIES", "127.0.0.0/8")] =>
    behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget,
);

async fn registering_returns_tokens_that_identify_the_user(app: TestApp) {
    let res = app.register("  Ada@Example.COM ", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::CREATED);
    let tokens: Value = res.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 900);
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 40);
    let me: Value = app
        .get("/api/v1/me", tokens["access_token"].as_str())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], "ada@example.com");
    assert_eq!(me["role"], "customer");
    let stored: String = {
        let db = app.state.db.clone();
        db.run(|conn| {
            use diesel::{QueryDsl, RunQueryDsl};
            Ok(folio_api::schema::users::table
                .select(folio_api::schema::users::password_hash)
                .first::<Option<String>>(conn)?)
        })
        .await
        .unwrap()
        .expect("a registered account has a password")
    };
    assert!(
        stored.starts_with("$argon2id$"),
        "passwords are stored as argon2id hashes"
    );
    assert!(!stored.contains(PASSWORD));
    let anonymous = app.get("/api/v1/me", None).await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(anonymous).await["code"], "unauthenticated");
}

async fn emails_are_unique_case_insensitively(app: TestApp) {
    app.customer("ada@example.com").await;
    let res = app.register("ADA@example.com", "another password").await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let body = problem(res).await;
    assert_eq!(body["code"], "email_taken");
    assert_eq!(body["errors"][0]["field"], "email");
    assert_eq!(app.count("users").await, 1);
}

async fn bad_registration_input_reports_every_field(app: TestApp) {
    let res = app.register("not-an-email", "short").await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body = problem(res).await;
    assert_eq!(body["code"], "validation_failed");
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "password"]);
    // Messages are the shared parsers' own, so the web UI shows the same text.
    assert_eq!(
        body["errors"][1]["message"],
        shared_types::Password::parse("short").unwrap_err().message
    );
    let long = "x".repeat(129);
    let res = app.register("ok@example.com", &long).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = app
        .bare_client()
        .post(app.url("/api/v1/auth/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(problem(res).await["code"], "invalid_json");
    assert_eq!(app.count("users").await, 0);
}

async fn login_refuses_unknown_email_and_wrong_password_alike(app: TestApp) {
    app.customer("ada@example.com").await;
    let wrong = app.login("ada@example.com", "wrong password!").await;
    let unknown = app.login("nobody@example.com", PASSWORD).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    let (wrong, unknown) = (problem(wrong).await, problem(unknown).await);
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["code"], "invalid_credentials");
    let ok = app.login("ADA@example.com ", PASSWORD).await;
    assert_eq!(ok.status(), StatusCode::OK);
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.post_json(
        "/api/v1/auth/refresh",
        None,
        &json!({ "refresh_token": token }),
    )
    .await
}

async fn refresh_tokens_rotate_and_a_reused_one_revokes_the_session(app: TestApp) {
    let first = app.customer("ada@example.com").await;
    let res = refresh(&app, &first.refresh_token).await;
    assert_eq!(res.status(), StatusCode::OK);
    let second: Value = res.json().await.unwrap();
    let second_refresh = second["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_refresh, first.refresh_token);
    assert_eq!(
        app.get("/api/v1/me", second["access_token"].as_str())
            .await
            .status(),
        StatusCode::OK
    );

    // Moments later the spent token still buys a pair (the answer to its refresh was lost: the
    // page was left, or another tab asked at once), in the same session.
    let again = refresh(&app, &first.refresh_token).await;
    assert_eq!(again.status(), StatusCode::OK);
    let again: Value = again.json().await.unwrap();
    assert_ne!(again["refresh_token"], second["refresh_token"]);

    // Later, the spent token comes back: someone copied it. The whole family dies.
    app.state.clock.advance(chrono::TimeDelta::seconds(
        folio_api::auth::REUSE_GRACE_SECS + 1,
    ));
    let reuse = refresh(&app, &first.refresh_token).await;
    assert_eq!(reuse.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(problem(reuse).await["code"], "refresh_token_reused");
    for token in [
        second_refresh.as_str(),
        again["refresh_token"].as_str().unwrap(),
    ] {
        let after = refresh(&app, token).await;
        assert_eq!(after.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(problem(after).await["code"], "refresh_token_invalid");
    }

    // Another session of the same user is unaffected.
    let other: Value = app
        .login("ada@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        refresh(&app, other["refresh_token"].as_str().unwrap())
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        refresh(&app, "garbage").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn the_refresh_cookie_is_httponly_strict_and_scoped(app: TestApp) {
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let cookies = set_cookies(&res);
    let cookie = cookies
        .iter()
        .find(|c| c.starts_with("folio_refresh="))
        .unwrap_or_else(|| panic!("{cookies:?}"))
        .clone();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(cookie.contains(part), "{cookie} lacks {part}");
    }
    assert!(
        !cookie.contains("Secure"),
        "http public URL: no Secure flag"
    );
    // A browser refreshes with the cookie alone (the client keeps cookies).
    let res = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let again = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "the rotated cookie replaced the spent one"
    );
}

fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn marker(res: &reqwest::Response) -> Option<String> {
    set_cookies(res)
        .into_iter()
        .find(|c| c.starts_with("folio_session="))
}

async fn a_readable_marker_says_when_a_session_may_exist(app: TestApp) {
    // The web UI reads it to decide whether a refresh is worth trying: it must be readable by
    // scripts, site-wide, and carry nothing secret.
    let res = app
        .client
        .post(app.url("/api/v1/auth/register"))
        .json(&json!({"email": "ada@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    let set = marker(&res).expect("registering sets the marker");
    assert!(set.starts_with("folio_session=1;"), "{set}");
    assert!(
        !set.contains("HttpOnly") && set.contains("Path=/") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let res = app
        .client
        .post(app.url("/api/v1/auth/refresh"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(marker(&res).unwrap().starts_with("folio_session=1;"));
    let res = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    let cleared = marker(&res).expect("signing out clears the marker");
    assert!(
        cleared.starts_with("folio_session=;") && cleared.contains("Max-Age=0"),
        "{cleared}"
    );
    // A refresh that cannot succeed clears it too, so the next page load does not try again.
    let res = app
        .bare_client()
        .post(app.url("/api/v1/auth/refresh"))
        .header("cookie", "folio_session=1; folio_refresh=not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(marker(&res).unwrap().contains("Max-Age=0"));
    assert_eq!(problem(res).await["code"], "refresh_token_invalid");
}

async fn logout_revokes_the_session(app: TestApp) {
    let tokens = app.customer("ada@example.com").await;
    let res = app
        .post_json(
            "/api/v1/auth/logout",
            None,
            &json!({"refresh_token": tokens.refresh_token}),
        )
        .await;
    assert_eq!(res.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        refresh(&app, &tokens.refresh_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
}

fn sign(claims: &Value, secret: &str, alg: jsonwebtoken::Algorithm) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(alg),
        claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

async fn forged_expired_and_misdirected_access_tokens_are_refused(app: TestApp) {
    let tokens = app.customer("ada@example.com").await;
    let id = app.user_id(&tokens.access_token).await;
    let now = chrono::Utc::now().timestamp();
    let claims = |aud: &str, exp: i64| json!({"sub": id, "role": "admin", "iss": "folio", "aud": aud, "iat": now, "exp": exp});
    let cases = [
        (
            "expired",
            sign(
                &claims("folio-api", now - 60),
                JWT_SECRET,
                jsonwebtoken::Algorithm::HS256,
            ),
            "token_expired",
        ),
        (
            "wrong key",
            sign(
                &claims("folio-api", now + 600),
                "another-secret-another-secret-0000",
                jsonwebtoken::Algorithm::HS256,
            ),
            "token_invalid",
        ),
        (
            "HS512",
            sign(
                &claims("folio-api", now + 600),
                JWT_SECRET,
                jsonwebtoken::Algorithm::HS512,
            ),
            "token_invalid",
        ),
        (
            "download audience",
            sign(
                &claims("folio-download", now + 600),
                JWT_SECRET,
                jsonwebtoken::Algorithm::HS256,
            ),
            "token_invalid",
        ),
        ("garbage", "abc.def.ghi".to_owned(), "token_invalid"),
    ];
    for (what, token, code) in cases {
        let res = app.get("/api/v1/me", Some(&token)).await;
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(problem(res).await["code"], code, "{what}");
    }
    // A self-made admin claim signed with the right key still cannot pass the admin check,
    // because the role is read from the database.
    let forged_role = sign(
        &claims("folio-api", now + 600),
        JWT_SECRET,
        jsonwebtoken::Algorithm::HS256,
    );
    let res = app.get("/api/v1/admin/products", Some(&forged_role)).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

async fn admin_emails_from_settings_get_the_admin_role(app: TestApp) {
    let token = app.admin().await;
    let me: Value = app
        .get("/api/v1/me", Some(&token))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["role"], "admin");
    assert_eq!(
        app.get("/api/v1/admin/products", Some(&token))
            .await
            .status(),
        StatusCode::OK
    );
}

async fn login_attempts_are_rate_limited_per_client(app: TestApp) {
    for _ in 0..3 {
        assert_eq!(
            app.login("x@example.com", "whatever1").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let res = app.login("x@example.com", "whatever1").await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(problem(res).await["code"], "rate_limited");
    // No proxy is trusted: a client naming another address in X-Forwarded-For gains nothing.
    let spoofed = login_from(&app, "203.0.113.50").await;
    assert_eq!(spoofed, StatusCode::TOO_MANY_REQUESTS);
}

/// A wrong-password login sent as if through a proxy that saw `forwarded_for`.
async fn login_from(app: &TestApp, forwarded_for: &str) -> StatusCode {
    app.bare_client()
        .post(app.url("/api/v1/auth/login"))
        .header("x-forwarded-for", forwarded_for)
        .json(&serde_json::json!({"email": "x@example.com", "password": "whatever1"}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(app: TestApp) {
    // The test client connects from 127.0.0.1, which is trusted here: it plays the balancer.
    for _ in 0..3 {
        assert_eq!(
            login_from(&app, "198.51.100.1").await,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login_from(&app, "198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A second visitor behind the same balancer keeps its own budget.
    assert_eq!(
        login_from(&app, "198.51.100.2").await,
        StatusCode::UNAUTHORIZED
    );
    // The first one writing its own header first gains nothing: the balancer's hop is the
    // rightmost, and that is the one counted.
    assert_eq!(
        login_from(&app, "10.9.9.9, 192.0.2.77, 198.51.100.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // A request with no forwarded address is the balancer's own, with its own budget.
    assert_eq!(
        app.login("x@example.com", "whatever1").await.status(),
        StatusCode::UNAUTHORIZED
    );
}

async fn concurrent_refreshes_of_one_token_each_get_a_pair_of_one_session(app: TestApp) {
    let tokens = app.customer("ada@example.com").await;
    // Ten tabs restored at once, one cookie: none is signed out, none gets a 500.
    let attempts = (0..10).map(|_| refresh(&app, &tokens.refresh_token));
    let mut pairs = Vec::new();
    for res in futures_util::future::join_all(attempts).await {
        assert_eq!(res.status(), StatusCode::OK);
        let v: Value = res.json().await.unwrap();
        pairs.push(v["refresh_token"].as_str().unwrap().to_owned());
    }
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 10, "each its own new token");
    // One session: signing out with any of them ends all of them.
    let out = app
        .post_json(
            "/api/v1/auth/logout",
            None,
            &json!({ "refresh_token": pairs[0] }),
        )
        .await;
    assert!(out.status().is_success(), "{}", out.status());
    for token in &pairs {
        assert_eq!(
            refresh(&app, token).await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

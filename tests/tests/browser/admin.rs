//! The admin's job queue and dev mailbox in the browser: the jobs page's filter and pages are
//! addresses (reload, Back and Forward keep them) and a failed job is retried from it; the
//! mailbox, shown when the server keeps its mail, lists messages and opens one whose sign-in
//! link a developer follows.

use std::time::Duration;

use super::*;

/// The admin's jobs of `status`, through the API.
async fn jobs(app: &TestApp, admin: &str, status: &str) -> Vec<serde_json::Value> {
    let page: serde_json::Value = app
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

async fn ask_for_sign_in_link(app: &TestApp, email: &str) {
    let res = app
        .post_json(
            "/api/v1/auth/email-link",
            None,
            &serde_json::json!({ "email": email }),
        )
        .await;
    assert_eq!(res.status(), StatusCode::ACCEPTED);
}

#[actix_web::test]
async fn the_jobs_filter_is_an_address_and_a_failed_job_is_retried_from_the_page() {
    // Two attempts, quickly: a job fails within a second while the SMTP server is down.
    let Some(app) = app_with_ui_and(&[("FOLIO_JOB_MAX_ATTEMPTS", "2")]).await else {
        return;
    };
    let admin = app.admin().await;
    app.customer("ada@example.com").await;
    app.customer("grace@example.com").await;
    app.smtp.set_down(true);
    ask_for_sign_in_link(&app, "ada@example.com").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        if let Some(job) = jobs(&app, &admin, "failed").await.pop() {
            break job;
        }
        assert!(Instant::now() < deadline, "the job never failed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let failed_id = failed["id"].as_str().unwrap().to_owned();
    // And one that went out.
    app.smtp.set_down(false);
    ask_for_sign_in_link(&app, "grace@example.com").await;
    app.smtp
        .wait_for("grace@example.com", 1, Duration::from_secs(20))
        .await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while jobs(&app, &admin, "done").await.is_empty() {
        assert!(Instant::now() < deadline, "the second job was not done");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let Some(b) = browser("jobs").await else {
        return;
    };
    b.goto(&app.url("/signin")).await;
    b.sign_in(ADMIN_EMAIL).await;
    b.click("#nav-admin").await;
    b.click("#admin-jobs").await;
    b.wait_heading("Jobs").await;
    b.wait_here(&app, "/admin/jobs").await;
    b.wait_count(".admin-job", 2).await;
    b.shots_at_both_widths("flow-admin-jobs-two").await;

    // The filter is the address: reload, Back and Forward keep it, the select says it.
    b.choose("#job-filter", "failed").await;
    b.wait_here(&app, "/admin/jobs?status=failed").await;
    b.wait_count(".admin-job", 1).await;
    let row = format!(".admin-job[data-job=\"{failed_id}\"]");
    assert!(b.text(&row).await.contains("mail.sign_in_link"));
    assert!(b.text(&format!("{row} .cell-error")).await.contains("421"));
    assert!(b.text(&format!("{row} [data-label=Attempts]")).await == "2 of 2");
    b.shots_at_both_widths("flow-admin-jobs-failed").await;
    b.reload().await;
    b.wait_count(".admin-job", 1).await;
    b.wait_here(&app, "/admin/jobs?status=failed").await;
    assert_eq!(b.value("#job-filter").await, "failed");
    b.back().await;
    b.wait_here(&app, "/admin/jobs").await;
    b.wait_count(".admin-job", 2).await;
    assert_eq!(b.value("#job-filter").await, "");
    b.forward().await;
    b.wait_here(&app, "/admin/jobs?status=failed").await;
    b.wait_count(".admin-job", 1).await;
    assert_eq!(b.value("#job-filter").await, "failed");

    // Retried: queued again, and the mail goes out.
    b.click(&format!("{row} .retry")).await;
    assert!(b
        .text("#job-notice")
        .await
        .contains("mail.sign_in_link is queued again"));
    app.smtp
        .wait_for("ada@example.com", 1, Duration::from_secs(20))
        .await;
    let deadline = Instant::now() + STEP_TIMEOUT;
    loop {
        b.click("#refresh-jobs").await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if b.js("return document.querySelectorAll('.admin-job').length")
            .await
            == 0
        {
            break;
        }
        assert!(Instant::now() < deadline, "the retried job is still failed");
    }
    assert_eq!(b.text(".empty").await, "No failed jobs.");
    b.choose("#job-filter", "done").await;
    b.wait_here(&app, "/admin/jobs?status=done").await;
    b.wait_count(".admin-job", 2).await;
    b.wait(&format!("{row}[data-status=\"done\"]")).await;

    // A page at a time, each page an address: one job a page here.
    b.goto(&app.url("/admin/jobs?limit=1")).await;
    b.wait_count(".admin-job", 1).await;
    assert!(b.absent("#newest-jobs").await);
    let first = b.text(".admin-job").await;
    b.click("#older-jobs").await;
    b.wait("#newest-jobs").await;
    let older = b.here().await;
    assert!(older.starts_with("/admin/jobs?limit=1&cursor="), "{older}");
    b.wait_count(".admin-job", 1).await;
    assert_ne!(b.text(".admin-job").await, first);
    b.reload().await;
    b.wait_here(&app, &older).await;
    b.wait("#newest-jobs").await;
    b.back().await;
    b.wait_here(&app, "/admin/jobs?limit=1").await;
    b.wait_count(".admin-job", 1).await;
    assert_eq!(b.text(".admin-job").await, first);
    let console = b.console().await;
    assert!(console.is_empty(), "console of the jobs page: {console:?}");
    let _ = b.client.clone().close().await;
}

#[actix_web::test]
async fn without_smtp_the_admin_reads_the_dev_mailbox_and_follows_a_sign_in_link() {
    let Some(app) = app_with_ui_and(&[("FOLIO_SMTP_URL", "")]).await else {
        return;
    };
    let admin = app.admin().await;
    app.customer("ada@example.com").await;
    ask_for_sign_in_link(&app, "ada@example.com").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let message = loop {
        let list: Vec<serde_json::Value> = app
            .get("/api/v1/admin/mailbox", Some(&admin))
            .await
            .json()
            .await
            .unwrap();
        if let Some(m) = list.into_iter().next() {
            break m;
        }
        assert!(Instant::now() < deadline, "nothing reached the mailbox");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let text = message["text"].as_str().unwrap();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/signin/link#token="))
        .unwrap();
    remember_secret(link.split("#token=").nth(1).unwrap());

    let Some(b) = browser("mailbox").await else {
        return;
    };
    b.goto(&app.url("/signin?next=%2Fadmin%2Fjobs")).await;
    b.sign_in(ADMIN_EMAIL).await;
    b.wait_heading("Jobs").await;
    b.click("#admin-mailbox").await;
    b.wait_heading("Mailbox").await;
    b.wait_here(&app, "/admin/mailbox").await;
    let row = b.text(".mail-row").await;
    assert!(
        row.contains("Your sign-in link") && row.contains("ada@example.com"),
        "{row}"
    );
    b.shots_at_both_widths("flow-admin-mailbox-sign-in-link")
        .await;
    b.click(".mail-row a").await;
    b.wait_heading("Your sign-in link").await;
    let id = message["id"].as_str().unwrap();
    b.wait_here(&app, &format!("/admin/mailbox/{id}")).await;
    assert_eq!(b.text("#mail-to").await, "ada@example.com");
    b.reload().await;
    b.wait_heading("Your sign-in link").await;
    b.shots_at_both_widths("flow-admin-mailbox-sign-in-link-message")
        .await;
    // The link in the text is a link, and it leads where the mail's reader would go.
    let href = b
        .step(
            "read the link",
            b.wait("#mail-text a.mail-link").await.attr("href"),
        )
        .await;
    assert_eq!(href.as_deref(), Some(link));
    b.click("#mail-text a.mail-link").await;
    b.wait_heading("Sign in with a link").await;
    b.wait_here(&app, "/signin/link").await;
    b.click("#redeem").await;
    b.wait_heading("Your library").await;
    b.wait_here(&app, "/library").await;
    assert_eq!(b.text(".who").await, "ada@example.com");
    let console = b.console().await;
    assert!(console.is_empty(), "console of the mailbox: {console:?}");
    let _ = b.client.clone().close().await;

    // With SMTP the admin has no Mailbox link, and the page says why.
    let Some(smtp) = app_with_ui().await else {
        return;
    };
    smtp.admin().await;
    let Some(b) = browser("no-mailbox").await else {
        return;
    };
    b.goto(&smtp.url("/signin?next=%2Fadmin%2Fjobs")).await;
    b.sign_in(ADMIN_EMAIL).await;
    b.wait_heading("Jobs").await;
    b.wait("#admin-jobs").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(b.absent("#admin-mailbox").await);
    b.goto(&smtp.url("/admin/mailbox")).await;
    b.wait("#no-mailbox").await;
    let _ = b.client.clone().close().await;
}

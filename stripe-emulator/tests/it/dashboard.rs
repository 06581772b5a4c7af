//! The dashboard pages: the list of subscriptions and events, a subscription's page and its test
//! clock, driven through the page's own forms over HTTP.

use stripe_emulator::{Advance, Emulator};

use crate::support::{
    delete, emulator, event_types_since, get_json, http, now, paid_session, pair, settle,
    subscribe, subscribe_with, subscription_form, Receiver,
};

const DAY: i64 = 24 * 3600;

/// One form of a page: where it posts, its hidden fields, and its button.
#[derive(Debug, Clone)]
struct Form {
    action: String,
    fields: Vec<(String, String)>,
    button: String,
    label: String,
    /// Has the "days ago" input.
    dated: bool,
}

/// The value of `name="..."` in a tag.
fn attr(tag: &str, name: &str) -> Option<String> {
    let tag = format!(" {tag}");
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let rest = &tag[start..];
    Some(rest[..rest.find('"')?].to_string())
}

/// Every form of a page, in order.
fn forms(html: &str) -> Vec<Form> {
    html.split("<form ")
        .skip(1)
        .map(|rest| {
            let form = &rest[..rest.find("</form>").expect("</form>")];
            let open = &form[..form.find('>').unwrap()];
            let fields = form
                .split("<input ")
                .skip(1)
                .map(|i| &i[..i.find('>').unwrap()])
                .filter(|i| attr(i, "type").as_deref() == Some("hidden"))
                .map(|i| (attr(i, "name").unwrap(), attr(i, "value").unwrap()))
                .collect();
            let button = &form[form.find("<button ").expect("a button")..];
            let button_tag = &button[..button.find('>').unwrap()];
            let label = &button[button.find('>').unwrap() + 1..button.find("</button>").unwrap()];
            Form {
                action: attr(open, "action").unwrap(),
                fields,
                button: attr(button_tag, "id").unwrap(),
                label: label.to_string(),
                dated: form.contains("name=\"days_ago\""),
            }
        })
        .collect()
}

fn buttons(html: &str) -> Vec<String> {
    forms(html).into_iter().map(|f| f.button).collect()
}

/// Every `href="..."` of a page.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_string)
        .collect()
}

/// The text of `#notice` or `#error`.
fn message(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("<p id=\"{id}\""))?;
    let rest = &html[start..];
    let text = &rest[rest.find('>')? + 1..rest.find("</p>")?];
    Some(text.to_string())
}

/// GETs a page: (status, content type, body).
async fn get(em: &Emulator, path: &str) -> (u16, String, String) {
    let response = http()
        .get(format!("{}{path}", em.base_url()))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

/// What posting a form answered: its status, its `Location`, and the page it shows (the one it
/// redirects to, fetched, or its own body).
struct Posted {
    status: u16,
    location: Option<String>,
    html: String,
}

/// Posts the page's form of `button`, with `days_ago` if given.
async fn press(em: &Emulator, html: &str, button: &str, days_ago: Option<&str>) -> Posted {
    let form = forms(html)
        .into_iter()
        .find(|f| f.button == button)
        .unwrap_or_else(|| panic!("no {button} button:\n{html}"));
    let mut fields = form.fields.clone();
    if let Some(days) = days_ago {
        assert!(form.dated, "{button} takes no days");
        fields.push(("days_ago".to_string(), days.to_string()));
    } else if form.dated {
        // What a browser sends for an empty number input.
        fields.push(("days_ago".to_string(), String::new()));
    }
    post_fields(em, &form.action, &fields).await
}

async fn post_fields(em: &Emulator, action: &str, fields: &[(String, String)]) -> Posted {
    let response = http()
        .post(format!("{}{action}", em.base_url()))
        .form(fields)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let html = match &location {
        Some(location) => {
            let (status, _, html) = get(em, location).await;
            assert_eq!(status, 200, "{location}");
            html
        }
        None => response.text().await.unwrap(),
    };
    Posted {
        status,
        location,
        html,
    }
}

fn sub_page(sub_id: &str) -> String {
    format!("/dashboard/subscriptions/{sub_id}")
}

fn latest_invoice(em: &Emulator, sub_id: &str) -> String {
    em.subscription(sub_id).unwrap()["latest_invoice"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Checks a redirect after an action: back to the page, with a notice that starts with `what`
/// and names the events raised since `mark` (which are also the ones the webhook gets).
fn assert_done(em: &Emulator, posted: &Posted, sub_id: &str, mark: usize, what: &str) {
    assert_eq!(posted.status, 303, "{}", posted.html);
    let location = posted.location.as_deref().unwrap();
    let action_query = location
        .strip_prefix(&format!("{}?done=", sub_page(sub_id)))
        .unwrap_or_else(|| panic!("{location}"));
    assert!(
        action_query.ends_with(&format!("&events={mark}-{}", em.events().len())),
        "{location}"
    );
    let types = event_types_since(em, mark).join(", ");
    let notice = message(&posted.html, "notice").expect("a notice");
    assert_eq!(notice, escape(&format!("{what}; events sent: {types}")));
    assert!(posted.html.contains("role=\"status\""));
}

#[actix_web::test]
async fn the_dashboard_lists_subscriptions_and_events() {
    let (em, _hooks) = pair();
    let (status, content_type, html) = get(&em, "/dashboard").await;
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert!(html.contains("<h1>Stripe emulator</h1>"), "{html}");
    assert!(html.contains("<title>Dashboard · Stripe emulator</title>"));
    assert!(html.contains("id=\"no-subscriptions\""));
    assert!(html.contains("id=\"no-events\""));

    // Three subscriptions (seven events each), one of them canceled at period end and one
    // canceled; the product name needs escaping.
    let (_, a) = subscribe(&em).await;
    let (_, b) = subscribe_with(
        &em,
        &subscription_form().replace("Folio+Membership", "%3Cb%3EGold%3C%2Fb%3E+%26+more"),
    )
    .await;
    let (_, c) = subscribe(&em).await;
    em.advance_subscription(&a, Advance::CancelAtPeriodEnd, None)
        .unwrap();
    let (status, _) = delete(
        &http(),
        &format!("{}/v1/subscriptions/{c}", em.base_url()),
        "",
    )
    .await;
    assert_eq!(status, 200);
    let events = em.events();
    assert_eq!(events.len(), 23);

    for path in ["/dashboard", "/dashboard/subscriptions"] {
        let (status, _, html) = get(&em, path).await;
        assert_eq!(status, 200, "{path}");
        // Newest first, each linking to its page.
        let rows: Vec<usize> = [&c, &b, &a]
            .iter()
            .map(|s| {
                html.find(&format!("<a href=\"/dashboard/subscriptions/{s}\">{s}</a>"))
                    .unwrap_or_else(|| panic!("{s} not listed:\n{html}"))
            })
            .collect();
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "order: {html}");
        for needle in [
            "<h2 id=\"subscriptions-title\">Subscriptions</h2>",
            "<th scope=\"col\">Current period end</th>",
            "<td>ada@example.com</td>",
            "<td>€9.00 per month</td>",
            &format!("id=\"subscription-{c}\" data-status=\"canceled\""),
            &format!("id=\"subscription-{a}\" data-status=\"active\""),
            "<h2 id=\"events-title\">Recent events</h2>",
            "Events are sent to http://127.0.0.1:",
        ] {
            assert!(html.contains(needle), "{path} lacks {needle}:\n{html}");
        }
        let row_a = &html[html.find(&format!("id=\"subscription-{a}\"")).unwrap()..];
        let row_a = &row_a[..row_a.find("</tr>").unwrap()];
        assert!(row_a.ends_with("<td>Yes</td>"), "{row_a}");
        let period_end = em.subscription(&a).unwrap()["current_period_end"]
            .as_i64()
            .unwrap();
        assert!(
            row_a.contains(&format!("data-unix=\"{period_end}\"")),
            "{row_a}"
        );

        // The last 20 events, newest first, each linking to its subscription.
        assert_eq!(html.matches("<tr class=\"event\"").count(), 20);
        let newest = &events[events.len() - 1];
        let oldest_shown = &events[events.len() - 20];
        let first_row = html.find("<tr class=\"event\"").unwrap();
        assert!(html[first_row..].starts_with(&format!(
            "<tr class=\"event\" data-type=\"customer.subscription.deleted\"><td>customer.subscription.deleted</td><td><code>{}</code></td>",
            newest["id"].as_str().unwrap()
        )));
        assert!(html.contains(oldest_shown["id"].as_str().unwrap()));
        assert!(!html.contains(events[events.len() - 21]["id"].as_str().unwrap()));
        let event_row = &html[first_row..];
        let event_row = &event_row[..event_row.find("</tr>").unwrap()];
        assert!(
            event_row.contains(&format!("href=\"/dashboard/subscriptions/{c}\"")),
            "{event_row}"
        );

        // Nothing on the page leads to a 404, and there is nothing to load but the page.
        assert!(!html.contains("<script") && !html.contains("src="));
        for link in links(&html) {
            let (status, _, _) = get(&em, &link).await;
            assert_eq!(status, 200, "{link}");
        }
    }
    let (status, _, _) = get(&em, "/favicon.ico").await;
    assert_eq!(status, 200);

    // Escaped on the subscription's page too.
    let (_, _, html) = get(&em, &sub_page(&b)).await;
    assert!(
        html.contains("<dd id=\"product\">&lt;b&gt;Gold&lt;/b&gt; &amp; more</dd>"),
        "{html}"
    );
    assert!(!html.contains("<b>Gold"));
    settle(&em).await;
}

#[actix_web::test]
async fn the_subscription_page_shows_it_and_only_the_actions_that_apply() {
    let (em, _hooks) = pair();
    let (_, sub_id) = subscribe(&em).await;
    let sub = em.subscription(&sub_id).unwrap();
    let invoice = latest_invoice(&em, &sub_id);
    let (status, _, html) = get(&em, &sub_page(&sub_id)).await;
    assert_eq!(status, 200);
    for needle in [
        format!("<title>Subscription {sub_id} · Stripe emulator</title>"),
        format!("<h1>Subscription <code id=\"subscription-id\">{sub_id}</code></h1>"),
        "<dd id=\"status\" data-status=\"active\">Active</dd>".to_string(),
        format!(
            "<dd id=\"customer\">ada@example.com (<code>{}</code>)</dd>",
            sub["customer"].as_str().unwrap()
        ),
        "<dd id=\"price\">€9.00 per month</dd>".to_string(),
        format!(
            "data-unix=\"{}\"",
            sub["items"]["data"][0]["current_period_start"]
        ),
        format!("data-unix=\"{}\"", sub["current_period_end"]),
        "<dd id=\"cancel-at-period-end\" data-value=\"false\">No</dd>".to_string(),
        format!("<a href=\"/invoices/{invoice}\">FOLIO-0001</a> (<code>{invoice}</code>) · <span class=\"invoice-status\" data-status=\"paid\">Paid</span> · €9.00"),
        "<h2 id=\"clock-title\">Test clock</h2>".to_string(),
        "<h2 id=\"invoices-title\">Invoices</h2>".to_string(),
        format!("<tr class=\"invoice\" id=\"invoice-{invoice}\" data-status=\"paid\">"),
        "<td>subscription_create</td>".to_string(),
        "<tr class=\"event\" data-type=\"customer.subscription.created\">".to_string(),
        "<a href=\"/dashboard\">All subscriptions</a>".to_string(),
    ] {
        assert!(html.contains(&needle), "page lacks {needle}:\n{html}");
    }
    // Its own events only: not customer.created.
    assert_eq!(html.matches("<tr class=\"event\"").count(), 6);
    assert_eq!(
        buttons(&html),
        ["renew", "fail", "cancel-at-period-end", "cancel"]
    );
    let labels: Vec<String> = forms(&html).into_iter().map(|f| f.label).collect();
    assert_eq!(
        labels,
        [
            "Renew now (payment succeeds)",
            "Fail the renewal",
            "Cancel at period end",
            "Cancel now"
        ]
    );
    // Each form posts to the advance route; renew and fail ask "as of how many days ago",
    // labelled.
    for form in forms(&html) {
        assert_eq!(form.action, format!("{}/advance", sub_page(&sub_id)));
        assert_eq!(
            form.dated,
            ["renew", "fail"].contains(&form.button.as_str())
        );
    }
    assert!(html.contains("<label for=\"renew-days\">"));
    assert!(html.contains("<input type=\"number\" id=\"renew-days\" name=\"days_ago\""));
    assert!(!html.contains("<script") && !html.contains("src="));
    for link in links(&html) {
        let (status, _, _) = get(&em, &link).await;
        assert_eq!(status, 200, "{link}");
    }

    // Past due: retry, recover or give up.
    em.advance_subscription(&sub_id, Advance::Fail, None)
        .unwrap();
    let (_, _, html) = get(&em, &sub_page(&sub_id)).await;
    assert_eq!(
        buttons(&html),
        [
            "fail",
            "recover",
            "give-up-cancel",
            "give-up-unpaid",
            "cancel-at-period-end",
            "cancel"
        ]
    );
    let give_up: Vec<Vec<(String, String)>> = forms(&html)
        .into_iter()
        .filter(|f| f.button.starts_with("give-up"))
        .map(|f| f.fields)
        .collect();
    let field = |k: &str, v: &str| (k.to_string(), v.to_string());
    assert_eq!(
        give_up,
        [
            vec![field("action", "give_up"), field("then", "canceled")],
            vec![field("action", "give_up"), field("then", "unpaid")],
        ]
    );
    assert!(html.contains("Fail another payment attempt"));
    assert!(html.contains("data-status=\"open\">Open</span> · €9.00 · 1 failed attempt, next on"));

    // Unpaid: no retries to give up on.
    em.advance_subscription(
        &sub_id,
        Advance::GiveUp(stripe_emulator::AfterRetries::MarkUnpaid),
        None,
    )
    .unwrap();
    let (_, _, html) = get(&em, &sub_page(&sub_id)).await;
    assert_eq!(
        buttons(&html),
        ["fail", "recover", "cancel-at-period-end", "cancel"]
    );
    assert!(html.contains(", no further attempt"));

    // Set to cancel at period end: the period can only end.
    em.advance_subscription(&sub_id, Advance::Recover, None)
        .unwrap();
    em.advance_subscription(&sub_id, Advance::CancelAtPeriodEnd, None)
        .unwrap();
    let (_, _, html) = get(&em, &sub_page(&sub_id)).await;
    assert_eq!(buttons(&html), ["renew", "resume", "cancel"]);
    assert!(html.contains("End the period now (the subscription cancels, as set)"));
    assert!(html.contains("<dd id=\"cancel-at-period-end\" data-value=\"true\">Yes, on <time"));

    // Canceled: nothing.
    em.advance_subscription(&sub_id, Advance::Cancel, None)
        .unwrap();
    let (_, _, html) = get(&em, &sub_page(&sub_id)).await;
    assert!(forms(&html).is_empty(), "{html}");
    assert!(html.contains("id=\"no-actions\""));
    assert!(html.contains("<dd id=\"status\" data-status=\"canceled\">Canceled</dd>"));
    assert!(html.contains("<dt>Ended at</dt>"));
    settle(&em).await;
}

#[actix_web::test]
async fn the_test_clock_forms_advance_the_subscription() {
    let (em, hooks) = pair();
    let (_, sub_id) = subscribe(&em).await;
    let (_, _, html) = get(&em, &sub_page(&sub_id)).await;

    // The renewal failed four days ago.
    let before = now();
    let mark = em.events().len();
    let posted = press(&em, &html, "fail", Some("4")).await;
    let open = latest_invoice(&em, &sub_id);
    assert_done(
        &em,
        &posted,
        &sub_id,
        mark,
        &format!("Renewal failed: invoice {open} is open"),
    );
    assert_eq!(
        message(&posted.html, "notice").unwrap(),
        format!("Renewal failed: invoice {open} is open; events sent: invoice.created, invoice.finalized, invoice.payment_failed, customer.subscription.updated")
    );
    let sub = em.subscription(&sub_id).unwrap();
    assert_eq!(sub["status"], "past_due");
    let start = sub["items"]["data"][0]["current_period_start"]
        .as_i64()
        .unwrap();
    assert!(
        (before - 4 * DAY..=now() - 4 * DAY).contains(&start),
        "{start}"
    );
    assert!(posted
        .html
        .contains("data-status=\"past_due\">Past due</dd>"));

    // Another attempt fails too.
    let mark = em.events().len();
    let posted = press(&em, &posted.html, "fail", None).await;
    assert_done(
        &em,
        &posted,
        &sub_id,
        mark,
        &format!("The payment failed again: invoice {open} is still open (2 attempts)"),
    );
    assert_eq!(event_types_since(&em, mark), ["invoice.payment_failed"]);

    // Recover.
    let mark = em.events().len();
    let posted = press(&em, &posted.html, "recover", None).await;
    assert_done(
        &em,
        &posted,
        &sub_id,
        mark,
        &format!("Recovered: invoice {open} is paid and the subscription is active"),
    );
    assert_eq!(
        event_types_since(&em, mark),
        [
            "invoice.paid",
            "invoice.payment_succeeded",
            "customer.subscription.updated"
        ]
    );
    assert_eq!(em.subscription(&sub_id).unwrap()["status"], "active");

    // Renew now.
    let mark = em.events().len();
    let posted = press(&em, &posted.html, "renew", None).await;
    let renewal = latest_invoice(&em, &sub_id);
    assert_ne!(renewal, open);
    let period_end = em.subscription(&sub_id).unwrap()["current_period_end"]
        .as_i64()
        .unwrap();
    let ends = chrono::DateTime::from_timestamp(period_end, 0)
        .unwrap()
        .format("%-d %B %Y, %H:%M:%S UTC");
    assert_done(
        &em,
        &posted,
        &sub_id,
        mark,
        &format!("Renewed: invoice {renewal} is paid; the new period ends on {ends}"),
    );
    assert_eq!(
        event_types_since(&em, mark),
        [
            "invoice.created",
            "invoice.finalized",
            "invoice.paid",
            "invoice.payment_succeeded",
            "customer.subscription.updated"
        ]
    );
    assert!(posted
        .html
        .contains(&format!("href=\"/invoices/{renewal}\">FOLIO-0003")));
    assert_eq!(posted.html.matches("<tr class=\"invoice\"").count(), 3);

    // Cancel at period end, resume, cancel at period end again.
    let mark = em.events().len();
    let posted = press(&em, &posted.html, "cancel-at-period-end", None).await;
    assert_done(
        &em,
        &posted,
        &sub_id,
        mark,
        &format!("The subscription will cancel at the end of its period, on {ends}"),
    );
    assert_eq!(
        em.subscription(&sub_id).unwrap()["cancel_at_period_end"],
        true
    );
    let mark = em.events().len();
    let posted = press(&em, &posted.html, "resume", None).await;
    assert_done(
        &em,
        &posted,
        &sub_id,
        mark,
        &format!("Resumed: the subscription renews at the end of its period, on {ends}"),
    );
    assert_eq!(
        em.subscription(&sub_id).unwrap()["cancel_at_period_end"],
        false
    );
    let posted = press(&em, &posted.html, "cancel-at-period-end", None).await;
    assert_eq!(posted.status, 303);

    // The period ends ("0 days ago" is now): the subscription ends with it.
    let mark = em.events().len();
    let posted = press(&em, &posted.html, "renew", Some("0")).await;
    assert_done(
        &em,
        &posted,
        &sub_id,
        mark,
        "The period ended: the subscription was set to cancel at period end, so it is canceled now, with no renewal invoice",
    );
    assert_eq!(
        event_types_since(&em, mark),
        ["customer.subscription.deleted"]
    );
    assert_eq!(em.subscription(&sub_id).unwrap()["status"], "canceled");
    assert!(forms(&posted.html).is_empty());

    // Give up: cancel, or mark unpaid; and cancel now.
    let (_, gone) = subscribe(&em).await;
    em.advance_subscription(&gone, Advance::Fail, None).unwrap();
    let (_, _, html) = get(&em, &sub_page(&gone)).await;
    let open = latest_invoice(&em, &gone);
    let mark = em.events().len();
    let posted = press(&em, &html, "give-up-cancel", None).await;
    assert_done(
        &em,
        &posted,
        &gone,
        mark,
        &format!("Gave up after retries: the subscription is canceled; invoice {open} stays open"),
    );
    let sub = em.subscription(&gone).unwrap();
    assert_eq!(sub["status"], "canceled");
    assert_eq!(sub["cancellation_details"]["reason"], "payment_failed");

    let (_, unpaid) = subscribe(&em).await;
    em.advance_subscription(&unpaid, Advance::Fail, None)
        .unwrap();
    let (_, _, html) = get(&em, &sub_page(&unpaid)).await;
    let open = latest_invoice(&em, &unpaid);
    let mark = em.events().len();
    let posted = press(&em, &html, "give-up-unpaid", None).await;
    assert_done(
        &em,
        &posted,
        &unpaid,
        mark,
        &format!("Gave up after retries: the subscription is unpaid; invoice {open} stays open"),
    );
    assert_eq!(em.subscription(&unpaid).unwrap()["status"], "unpaid");
    let mark = em.events().len();
    let posted = press(&em, &posted.html, "cancel", None).await;
    assert_done(&em, &posted, &unpaid, mark, "Canceled now");
    assert_eq!(
        event_types_since(&em, mark),
        ["customer.subscription.deleted"]
    );
    assert_eq!(em.subscription(&unpaid).unwrap()["status"], "canceled");

    // The webhook got every event (each is sent on its own, so not necessarily in order).
    settle(&em).await;
    let mut received: Vec<String> = hooks
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let mut raised: Vec<String> = em
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    received.sort();
    raised.sort();
    assert_eq!(received, raised);
}

#[actix_web::test]
async fn refused_actions_show_their_message_and_unknown_ones_are_not_found() {
    let (em, _hooks) = pair();
    let (_, sub_id) = subscribe(&em).await;
    let action = format!("{}/advance", sub_page(&sub_id));
    let field = |k: &str, v: &str| (k.to_string(), v.to_string());

    // A stale page: it offered Resume, but the subscription was resumed meanwhile.
    em.advance_subscription(&sub_id, Advance::CancelAtPeriodEnd, None)
        .unwrap();
    let (_, _, stale) = get(&em, &sub_page(&sub_id)).await;
    em.advance_subscription(&sub_id, Advance::Resume, None)
        .unwrap();
    let mark = em.events().len();
    let posted = press(&em, &stale, "resume", None).await;
    assert_eq!(posted.status, 400);
    assert_eq!(posted.location, None);
    assert_eq!(
        message(&posted.html, "error").as_deref(),
        Some("This subscription is not set to cancel at the end of its period; there is nothing to resume.")
    );
    assert!(posted.html.contains("role=\"alert\""));
    assert!(posted
        .html
        .contains("<h2 id=\"clock-title\">Test clock</h2>"));
    assert_eq!(
        buttons(&posted.html),
        ["renew", "fail", "cancel-at-period-end", "cancel"],
        "the page as it is now"
    );
    assert_eq!(em.events().len(), mark);

    for (fields, error) in [
        (vec![], "Choose an action: the form had no `action`."),
        (
            vec![field("action", "pause")],
            "Invalid action \"pause\": must be one of renew, fail, recover, give_up, cancel_at_period_end, resume, cancel",
        ),
        (
            vec![field("action", "renew"), field("days_ago", "two")],
            "\"Days ago\" must be a whole number of days, 0 or more (not \"two\").",
        ),
        (
            vec![field("action", "renew"), field("days_ago", "-1")],
            "\"Days ago\" must be a whole number of days, 0 or more (not \"-1\").",
        ),
        (
            vec![field("action", "renew"), field("then", "unpaid")],
            "`then` is only used with `action=give_up`.",
        ),
        (
            vec![field("action", "recover")],
            "This subscription has no unpaid invoice to pay (status: active).",
        ),
        (
            vec![field("action", "give_up"), field("then", "canceled")],
            "Only a past_due subscription has retries to give up on (status: active).",
        ),
    ] {
        let posted = post_fields(&em, &action, &fields).await;
        assert_eq!(posted.status, 400, "{fields:?}: {}", posted.html);
        assert_eq!(
            message(&posted.html, "error").as_deref(),
            Some(escape(error).as_str()),
            "{fields:?}"
        );
        assert!(posted.html.starts_with("<!DOCTYPE html>"));
    }
    assert_eq!(em.events().len(), mark);
    assert_eq!(em.subscription(&sub_id).unwrap()["status"], "active");

    // A canceled subscription refuses everything, on its page.
    em.advance_subscription(&sub_id, Advance::Cancel, None)
        .unwrap();
    let posted = post_fields(&em, &action, &[field("action", "renew")]).await;
    assert_eq!(posted.status, 400);
    assert!(message(&posted.html, "error")
        .unwrap()
        .starts_with("This subscription was canceled"));

    // Unknown subscriptions are a 404 page.
    for (status, content_type, html) in [
        get(&em, "/dashboard/subscriptions/sub_nope").await,
        get(&em, "/dashboard/subscriptions/%3Cscript%3E").await,
    ] {
        assert_eq!(status, 404);
        assert_eq!(content_type, "text/html; charset=utf-8");
        assert!(html.contains("<h1>Subscription not found</h1>"));
        assert!(!html.contains("<script>"));
    }
    let response = http()
        .post(format!(
            "{}/dashboard/subscriptions/sub_nope/advance",
            em.base_url()
        ))
        .form(&[("action", "renew")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("<h1>Subscription not found</h1>"));
    settle(&em).await;
}

/// Without a webhook URL, or with `hold` on, the notice says the events wait.
#[actix_web::test]
async fn the_notice_says_when_events_wait() {
    let em = emulator(None);
    let (_, sub_id) = subscribe(&em).await;
    let (_, _, html) = get(&em, "/dashboard").await;
    assert!(html.contains("No webhook URL is set: events wait until one is."));
    let (_, _, html) = get(&em, &sub_page(&sub_id)).await;
    let posted = press(&em, &html, "cancel-at-period-end", None).await;
    assert_eq!(posted.status, 303);
    assert!(message(&posted.html, "notice")
        .unwrap()
        .ends_with("; events raised (waiting for a webhook URL): customer.subscription.updated"));

    let hooks = Receiver::start();
    em.set_knobs(stripe_emulator::Knobs {
        hold: true,
        ..stripe_emulator::Knobs::default()
    });
    em.set_webhook_url(&hooks.url);
    let posted = press(&em, &posted.html, "resume", None).await;
    assert!(message(&posted.html, "notice")
        .unwrap()
        .ends_with("; events raised (held until released): customer.subscription.updated"));
    // A query that is not an action's leaves the page without a notice.
    for query in [
        "?done=resume",
        "?done=resume&events=9-2",
        "?done=pause&events=0-1",
    ] {
        let (status, _, html) = get(&em, &format!("{}{query}", sub_page(&sub_id))).await;
        assert_eq!(status, 200);
        assert_eq!(message(&html, "notice"), None, "{query}");
    }
    em.release(false);
    settle(&em).await;
    assert_eq!(hooks.events().len(), em.events().len());
}

/// The row of a payment on the dashboard.
fn payment_row<'a>(html: &'a str, charge: &str) -> &'a str {
    let start = html
        .find(&format!("<tr class=\"payment\" id=\"payment-{charge}\""))
        .unwrap_or_else(|| panic!("no row for {charge}:\n{html}"));
    let row = &html[start..];
    &row[..row.find("</tr>").unwrap()]
}

/// The charge of a payment intent, through the API.
async fn charge_of(em: &Emulator, payment_intent: &str) -> String {
    let (status, charges) = get_json(
        &http(),
        &format!(
            "{}/v1/charges?payment_intent={payment_intent}",
            em.base_url()
        ),
    )
    .await;
    assert_eq!(status, 200, "{charges}");
    charges["data"][0]["id"].as_str().unwrap().to_string()
}

/// The refunds of a charge, through the API, newest first.
async fn refunds_of(em: &Emulator, charge: &str) -> Vec<serde_json::Value> {
    let (status, refunds) = get_json(
        &http(),
        &format!("{}/v1/refunds?charge={charge}", em.base_url()),
    )
    .await;
    assert_eq!(status, 200, "{refunds}");
    refunds["data"].as_array().unwrap().clone()
}

fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[actix_web::test]
async fn the_dashboard_refunds_payments_on_stripes_side() {
    let (em, hooks) = pair();
    let (_, _, html) = get(&em, "/dashboard").await;
    assert!(html.contains("id=\"no-payments\""), "{html}");
    let (session, pi) = paid_session(&em).await;
    let (_, sub) = subscribe(&em).await;
    let charge = charge_of(&em, &pi).await;
    let sub_charge = em.invoice(&latest_invoice(&em, &sub)).unwrap()["charge"]
        .as_str()
        .unwrap()
        .to_string();

    // Newest first, with what a shop's support needs to find a payment.
    let (status, _, html) = get(&em, "/dashboard").await;
    assert_eq!(status, 200);
    assert!(html.contains("<h2 id=\"payments-title\">Payments</h2>"));
    let at = |c: &str| html.find(&format!("id=\"payment-{c}\"")).unwrap();
    assert!(at(&sub_charge) < at(&charge), "newest first");
    let row = payment_row(&html, &charge);
    for needle in [
        "data-status=\"paid\"".to_string(),
        format!("data-payment-intent=\"{pi}\""),
        "data-amount=\"1999\" data-amount-refunded=\"0\"".to_string(),
        "<td class=\"amount\">$19.99</td><td class=\"amount\">$0.00</td><td>Paid</td>".to_string(),
        format!("<td><code>{pi}</code></td><td><code>{session}</code></td>"),
        "placeholder=\"19.99\"".to_string(),
    ] {
        assert!(row.contains(&needle), "{needle} not in {row}");
    }
    let sub_row = payment_row(&html, &sub_charge);
    assert!(
        sub_row.contains("<td class=\"amount\">€9.00</td>"),
        "{sub_row}"
    );
    assert!(
        sub_row.contains(&format!("href=\"/dashboard/subscriptions/{sub}\"")),
        "{sub_row}"
    );
    for link in links(&html) {
        let (status, _, _) = get(&em, &link).await;
        assert_eq!(status, 200, "{link}");
    }
    let form = forms(&html)
        .into_iter()
        .find(|f| f.button == format!("refund-{charge}"))
        .expect("a refund form");
    assert_eq!(form.action, format!("/dashboard/charges/{charge}/refund"));
    assert!(form.fields.is_empty());

    // A partial refund, with a reason: what `POST /v1/refunds` makes, and its event.
    settle(&em).await;
    let mark = em.events().len();
    let received = hooks.received().len();
    let posted = post_fields(
        &em,
        &form.action,
        &fields(&[("amount", "5.00"), ("reason", "requested_by_customer")]),
    )
    .await;
    assert_eq!(posted.status, 303, "{}", posted.html);
    let location = posted.location.clone().unwrap();
    let refund_id = location
        .strip_prefix("/dashboard?refunded=")
        .and_then(|rest| rest.split('&').next())
        .unwrap_or_else(|| panic!("{location}"))
        .to_string();
    assert!(
        location.ends_with(&format!("&events={mark}-{}", em.events().len())),
        "{location}"
    );
    assert_eq!(event_types_since(&em, mark), ["charge.refunded"]);
    assert_eq!(
        message(&posted.html, "notice").unwrap(),
        escape(&format!(
            "Refunded $5.00 of charge {charge} ({refund_id}); events sent: charge.refunded"
        ))
    );
    let refunds = refunds_of(&em, &charge).await;
    assert_eq!(refunds.len(), 1);
    assert_eq!(refunds[0]["id"], refund_id.as_str());
    assert_eq!(refunds[0]["amount"], 500);
    assert_eq!(refunds[0]["reason"], "requested_by_customer");
    assert_eq!(refunds[0]["payment_intent"], pi.as_str());
    let event = &em.events()[mark];
    assert_eq!(event["data"]["object"]["id"], charge.as_str());
    assert_eq!(event["data"]["object"]["amount_refunded"], 500);
    assert!(event["request"]["id"].is_null(), "not the shop's request");
    settle(&em).await;
    let hooks_got = hooks.events();
    assert_eq!(hooks_got.len(), received + 1);
    assert_eq!(hooks_got.last().unwrap()["id"], event["id"]);
    let row = payment_row(&posted.html, &charge);
    assert!(row.contains("data-status=\"partially_refunded\""), "{row}");
    assert!(
        row.contains("<td class=\"amount\">$5.00</td><td>Partially refunded</td>"),
        "{row}"
    );
    assert!(row.contains("placeholder=\"14.99\""), "{row}");

    // The rest, with the amount left empty; then there is nothing left to refund.
    let posted = post_fields(
        &em,
        &form.action,
        &fields(&[("amount", ""), ("reason", "")]),
    )
    .await;
    assert_eq!(posted.status, 303, "{}", posted.html);
    let row = payment_row(&posted.html, &charge);
    assert!(row.contains("data-status=\"refunded\""), "{row}");
    assert!(!row.contains("<form"), "{row}");
    let refunds = refunds_of(&em, &charge).await;
    assert_eq!(refunds.len(), 2);
    assert_eq!(refunds[0]["amount"], 1499);
    assert!(refunds[0]["reason"].is_null());

    // Refused: the page again, with the reason, and no refund.
    let sub_action = format!("/dashboard/charges/{sub_charge}/refund");
    for (form, error) in [
        (vec![("amount", "abc")], "is not an amount: write it in EUR"),
        (vec![("amount", "9.001")], "is not an amount"),
        (vec![("amount", "-1")], "is not an amount"),
        (vec![("amount", "0")], "must be more than 0"),
        (
            vec![("amount", "9.01")],
            "Refund amount (901) is greater than unrefunded amount on charge (900).",
        ),
        (vec![("reason", "bored")], "Invalid reason"),
    ] {
        let posted = post_fields(&em, &sub_action, &fields(&form)).await;
        assert_eq!(posted.status, 400, "{form:?}");
        let shown = message(&posted.html, "error").unwrap_or_else(|| panic!("{}", posted.html));
        assert!(shown.contains(&escape(error)), "{form:?}: {shown}");
        assert!(posted.html.contains("id=\"payments\""));
    }
    assert!(refunds_of(&em, &sub_charge).await.is_empty());
    // Commas and short decimals are amounts too.
    for amount in ["4,50", "4.5"] {
        let posted = post_fields(&em, &sub_action, &fields(&[("amount", amount)])).await;
        assert_eq!(posted.status, 303, "{amount}: {}", posted.html);
    }
    let amounts: Vec<i64> = refunds_of(&em, &sub_charge)
        .await
        .iter()
        .map(|r| r["amount"].as_i64().unwrap())
        .collect();
    assert_eq!(amounts, [450, 450]);

    let posted = post_fields(&em, "/dashboard/charges/ch_nope/refund", &[]).await;
    assert_eq!(posted.status, 404);
    assert!(posted.html.contains("<h1>Payment not found</h1>"));
    settle(&em).await;
}

#[actix_web::test]
async fn the_dashboard_switches_drop_webhooks() {
    let (em, hooks) = pair();
    let (_, pi) = paid_session(&em).await;
    let charge = charge_of(&em, &pi).await;
    settle(&em).await;
    let (_, _, html) = get(&em, "/dashboard").await;
    assert!(
        html.contains(
            "<input type=\"checkbox\" id=\"drop-webhooks\" name=\"drop_webhooks\" value=\"on\">"
        ),
        "{html}"
    );
    let form = forms(&html)
        .into_iter()
        .find(|f| f.button == "save-knobs")
        .expect("the knobs form");
    assert_eq!(form.action, "/dashboard/knobs");

    let posted = post_fields(&em, &form.action, &fields(&[("drop_webhooks", "on")])).await;
    assert_eq!(posted.status, 303);
    assert_eq!(
        posted.location.as_deref(),
        Some("/dashboard?drop_webhooks=on")
    );
    assert!(em.knobs().drop_webhooks);
    assert_eq!(em.knobs().retry_base_ms, 10, "the other knobs are kept");
    assert!(message(&posted.html, "notice")
        .unwrap()
        .contains("dropped from now on"));
    assert!(posted.html.contains("value=\"on\" checked>"));
    assert!(posted
        .html
        .contains("Webhooks are dropped (knob `drop_webhooks`)"));

    // A refund now is recorded, and shown, but not sent.
    let before = hooks.received().len();
    let posted = post_fields(
        &em,
        &format!("/dashboard/charges/{charge}/refund"),
        &fields(&[("amount", "1")]),
    )
    .await;
    assert_eq!(posted.status, 303, "{}", posted.html);
    assert!(
        message(&posted.html, "notice")
            .unwrap()
            .ends_with("; events raised but not sent (knob drop_webhooks): charge.refunded"),
        "{}",
        posted.html
    );
    let event = em.events().last().unwrap().clone();
    assert!(posted.html.contains(&format!(
        "<tr class=\"event\" data-type=\"charge.refunded\" data-dropped=\"true\"><td>charge.refunded <small class=\"dropped\">not sent (drop_webhooks)</small></td><td><code>{}</code></td>",
        event["id"].as_str().unwrap()
    )), "{}", posted.html);
    settle(&em).await;
    assert_eq!(hooks.received().len(), before);

    // Unchecked, the box sends nothing: the knob goes off, and nothing is resent.
    let posted = post_fields(&em, "/dashboard/knobs", &[]).await;
    assert_eq!(
        posted.location.as_deref(),
        Some("/dashboard?drop_webhooks=off")
    );
    assert!(!em.knobs().drop_webhooks);
    assert!(message(&posted.html, "notice")
        .unwrap()
        .contains("not resent"));
    assert!(posted.html.contains("Events are sent to http://127.0.0.1:"));
    settle(&em).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert_eq!(hooks.received().len(), before);
}

/// What the page does to a message (the test's expectations are plain text).
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

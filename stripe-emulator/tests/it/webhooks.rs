//! Webhook delivery: signatures, and each knob that makes delivery misbehave.

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use stripe_emulator::{Knobs, MAX_ATTEMPTS};

use crate::support::{
    create_session, emulator, http, paid_session, pair, settle, Receiver, SECRET,
};

fn knobs(edit: impl FnOnce(&mut Knobs)) -> Knobs {
    let mut k = Knobs {
        retry_base_ms: 10,
        async_delay_ms: 50,
        ..Knobs::default()
    };
    edit(&mut k);
    k
}

/// Verifies `t=...,v1=...` with an HMAC computed here, independently of the emulator's code.
fn verify(signature: &str, body: &str) -> i64 {
    let mut t = None;
    let mut v1 = None;
    for part in signature.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = Some(value.to_string()),
            _ => panic!("unexpected signature part {part}"),
        }
    }
    let t = t.expect("t=");
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    assert_eq!(
        v1.expect("v1="),
        hex::encode(mac.finalize().into_bytes()),
        "signature of {body}"
    );
    t
}

#[actix_web::test]
async fn deliveries_are_signed() {
    let (em, hooks) = pair();
    let before = chrono::Utc::now().timestamp();
    paid_session(&em).await;
    settle(&em).await;
    let received = hooks.received();
    assert_eq!(received.len(), 1);
    let hook = &received[0];
    assert_eq!(hook.content_type, "application/json");
    let t = verify(&hook.signature, &hook.body);
    assert!((before - 1..=chrono::Utc::now().timestamp() + 1).contains(&t));
    // Exactly the event that `events()` reports, byte for byte.
    assert_eq!(hook.json(), em.events()[0]);
    let event = hook.json();
    assert_eq!(event["object"], "event");
    assert_eq!(event["livemode"], false);
    assert_eq!(event["pending_webhooks"], 1);
    assert!(event["id"].as_str().unwrap().starts_with("evt_"));

    let log = em.deliveries();
    assert_eq!(log.len(), 1);
    assert_eq!(
        (log[0].attempt, log[0].copy, log[0].status),
        (1, 0, Some(200))
    );
    assert_eq!(log[0].event_type, "checkout.session.completed");
    assert!(log[0].succeeded());
}

#[actix_web::test]
async fn events_wait_for_a_webhook_url() {
    let em = emulator(None);
    paid_session(&em).await;
    assert!(em.wait_idle(Duration::from_secs(1)).await);
    assert!(em.deliveries().is_empty());

    let hooks = Receiver::start();
    em.set_webhook_url(&hooks.url);
    settle(&em).await;
    assert_eq!(hooks.received().len(), 1);
    assert_eq!(hooks.events()[0]["type"], "checkout.session.completed");
}

#[actix_web::test]
async fn duplicates_send_every_event_again() {
    let (em, hooks) = pair();
    em.set_knobs(knobs(|k| k.duplicates = 2));
    paid_session(&em).await;
    settle(&em).await;
    let received = hooks.received();
    assert_eq!(received.len(), 3);
    assert!(
        received.iter().all(|r| r.body == received[0].body),
        "the same event each time"
    );
    let copies: Vec<u32> = em.deliveries().iter().map(|d| d.copy).collect();
    assert_eq!(copies, [0, 1, 2]);
    assert_eq!(hooks.max_in_flight(), 1, "one after the other by default");
}

#[actix_web::test]
async fn concurrent_copies_overlap() {
    let (em, hooks) = pair();
    hooks.set_delay(300);
    em.set_knobs(knobs(|k| {
        k.duplicates = 2;
        k.concurrent = true;
    }));
    paid_session(&em).await;
    settle(&em).await;
    assert_eq!(hooks.received().len(), 3);
    // Sequential copies would never overlap at the endpoint.
    assert!(
        hooks.max_in_flight() >= 2,
        "copies overlapped: {}",
        hooks.max_in_flight()
    );
}

#[actix_web::test]
async fn fail_first_drops_attempts_then_retries() {
    let (em, hooks) = pair();
    em.set_knobs(knobs(|k| {
        k.fail_first = 2;
        k.retry_base_ms = 20;
    }));
    let started = Instant::now();
    paid_session(&em).await;
    settle(&em).await;
    assert_eq!(
        hooks.received().len(),
        1,
        "dropped attempts never reach the endpoint"
    );
    let log = em.deliveries();
    let summary: Vec<(u32, Option<u16>, bool)> = log
        .iter()
        .map(|d| (d.attempt, d.status, d.error.is_some()))
        .collect();
    assert_eq!(
        summary,
        [(1, None, true), (2, None, true), (3, Some(200), false)]
    );
    // Backoff 20 ms then 40 ms.
    assert!(started.elapsed() >= Duration::from_millis(60));
}

#[actix_web::test]
async fn endpoint_errors_are_retried_with_backoff() {
    let (em, hooks) = pair();
    hooks.answer_next(&[500, 503]);
    paid_session(&em).await;
    settle(&em).await;
    let statuses: Vec<Option<u16>> = em.deliveries().iter().map(|d| d.status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    let received = hooks.received();
    assert_eq!(received.len(), 3);
    // Signed afresh each time, always valid.
    for hook in &received {
        verify(&hook.signature, &hook.body);
    }
}

#[actix_web::test]
async fn delivery_gives_up_after_max_attempts() {
    let (em, hooks) = pair();
    hooks.always_answer(500);
    em.set_knobs(knobs(|k| k.retry_base_ms = 1));
    paid_session(&em).await;
    settle(&em).await;
    let log = em.deliveries();
    assert_eq!(log.len() as u32, MAX_ATTEMPTS);
    assert!(log.iter().all(|d| d.status == Some(500)));
    assert_eq!(log.last().unwrap().attempt, MAX_ATTEMPTS);
}

#[actix_web::test]
async fn connection_errors_are_logged_and_retried() {
    // A port that was just free: nothing listens there.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks", dead.local_addr().unwrap());
    drop(dead);
    let em = emulator(Some(&url));
    em.set_knobs(knobs(|k| k.retry_base_ms = 5));
    paid_session(&em).await;
    // Let an attempt fail, then bring up a receiver at a new URL.
    let deadline = Instant::now() + Duration::from_secs(5);
    while em.deliveries().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let hooks = Receiver::start();
    em.set_webhook_url(&hooks.url);
    settle(&em).await;
    let log = em.deliveries();
    assert!(log[0].error.is_some() && log[0].status.is_none(), "{log:?}");
    assert!(log.last().unwrap().succeeded());
    assert_eq!(hooks.received().len(), 1);
}

#[actix_web::test]
async fn hold_then_release_in_reverse() {
    let (em, hooks) = pair();
    em.set_knobs(knobs(|k| k.hold = true));
    for _ in 0..3 {
        paid_session(&em).await;
    }
    settle(&em).await;
    assert!(hooks.received().is_empty(), "held");
    let raised: Vec<String> = em
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(raised.len(), 3);

    em.release(true);
    settle(&em).await;
    let delivered: Vec<String> = hooks
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let mut expected = raised.clone();
    expected.reverse();
    assert_eq!(delivered, expected);

    // Over HTTP, in order; releasing twice sends nothing twice.
    paid_session(&em).await;
    paid_session(&em).await;
    let client = http();
    let response = client
        .post(format!("{}/_emulator/release", em.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    em.release(false);
    settle(&em).await;
    let all: Vec<String> = hooks
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    let raised: Vec<String> = em
        .events()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(all[3..], raised[3..]);
    assert_eq!(all.len(), 5);
}

#[actix_web::test]
async fn delay_postpones_the_first_attempt() {
    let (em, hooks) = pair();
    em.set_knobs(knobs(|k| k.delay_ms = 400));
    paid_session(&em).await;
    assert!(
        !em.wait_idle(Duration::from_millis(150)).await,
        "still waiting"
    );
    assert!(hooks.received().is_empty());
    settle(&em).await;
    assert_eq!(hooks.received().len(), 1);
}

#[actix_web::test]
async fn pay_later_is_idle_only_once_settled() {
    let (em, hooks) = pair();
    em.set_knobs(knobs(|k| k.async_delay_ms = 300));
    let id = create_session(&em).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    em.pay_async(&id, true).unwrap();
    settle(&em).await;
    let types: Vec<String> = hooks
        .events()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "checkout.session.completed",
            "checkout.session.async_payment_succeeded"
        ]
    );
}

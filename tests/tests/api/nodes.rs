//! What several nodes on one PostgreSQL share, seen from one node: a write made by another
//! process (here: SQL on a connection of its own, as another node's would be) is what the next
//! read returns, through the catalog cache; and the cache's listener recovers from a lost
//! connection without serving what it missed. `cargo xtask cluster --check` runs the same with
//! three real nodes behind nginx.

use std::time::{Duration, Instant};

use folio_api::config::DatabaseUrl;
use folio_testkit as testkit;
use folio_tests::*;
use serde_json::Value;

fn database_url(app: &TestApp) -> String {
    match &app.state.settings.database_url {
        DatabaseUrl::Postgres(url) => url.clone(),
        DatabaseUrl::Sqlite(_) => unreachable!("these tests run on PostgreSQL"),
    }
}

/// As another node writes: its own connection, its own transaction.
async fn write_elsewhere(app: &TestApp, sql: String) {
    let url = database_url(app);
    tokio::task::spawn_blocking(move || testkit::execute(&url, &sql))
        .await
        .unwrap()
        .unwrap();
}

async fn title(app: &TestApp, slug: &str) -> String {
    let v: Value = app
        .get(&format!("/api/v1/products/{slug}"), None)
        .await
        .json()
        .await
        .unwrap();
    v["title"].as_str().unwrap().to_owned()
}

async fn listed(app: &TestApp, wanted: &str) -> bool {
    let v: Value = app
        .get("/api/v1/products", None)
        .await
        .json()
        .await
        .unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["title"] == wanted)
}

/// How long until `check` holds (it must within 5 s: the cache would keep a value for a minute).
async fn seen_after(what: &str, mut check: impl AsyncFnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check().await {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{what}: still stale after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

#[actix_web::test]
async fn a_write_by_another_node_is_read_through_the_cache_at_once() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let admin = app.admin().await;
    app.product(&admin, "Shared Guide", "0", pdf("shared"))
        .await;
    // Cached now: the page and the product.
    assert_eq!(title(&app, "shared-guide").await, "Shared Guide");
    assert!(listed(&app, "Shared Guide").await);
    assert!(listed(&app, "Shared Guide").await);

    write_elsewhere(
        &app,
        "UPDATE products SET title = 'Edited Elsewhere' WHERE slug = 'shared-guide'".into(),
    )
    .await;
    let took = seen_after("the product page", async || {
        title(&app, "shared-guide").await == "Edited Elsewhere"
    })
    .await;
    assert!(
        listed(&app, "Edited Elsewhere").await,
        "the catalog page too"
    );
    eprintln!("seen after {took:?}");

    // Archived elsewhere: gone from the next page.
    write_elsewhere(
        &app,
        "UPDATE products SET status = 'archived' WHERE slug = 'shared-guide'".into(),
    )
    .await;
    seen_after("the archived product", async || {
        !listed(&app, "Edited Elsewhere").await
    })
    .await;
}

#[actix_web::test]
async fn the_cache_is_bypassed_while_its_listener_is_cut_off_and_trusted_again_after() {
    let Some(app) = TestApp::spawn(Backend::Postgres).await else {
        return;
    };
    let admin = app.admin().await;
    app.product(&admin, "Cut Off", "0", pdf("cut")).await;
    assert!(listed(&app, "Cut Off").await);
    let url = database_url(&app);
    let database = url.rsplit('/').next().unwrap().to_owned();
    let listeners = format!(
        "SELECT pid FROM pg_stat_activity WHERE datname = '{database}' \
         AND application_name = '{}'",
        folio_api::catalog::notify::APPLICATION_NAME
    );
    let found = {
        let (url, q) = (url.clone(), listeners.clone());
        tokio::task::spawn_blocking(move || testkit::query(&url, &q))
            .await
            .unwrap()
            .unwrap()
    };
    assert_eq!(found.len(), 1, "one listener per node: {found:?}");

    // Cut off, and a write it cannot hear about: the next read must not be the cached page.
    write_elsewhere(
        &app,
        format!(
            "SELECT pg_terminate_backend(pid) FROM ({listeners}) l; \
             UPDATE products SET title = 'Written While Deaf' WHERE slug = 'cut-off'"
        ),
    )
    .await;
    seen_after("a write while the listener was cut off", async || {
        listed(&app, "Written While Deaf").await
    })
    .await;

    // It reconnects on its own (within about a second) and listens again.
    let start = Instant::now();
    loop {
        let (url, q) = (url.clone(), listeners.clone());
        let back = tokio::task::spawn_blocking(move || testkit::query(&url, &q))
            .await
            .unwrap()
            .unwrap();
        if back.len() == 1 && back != found {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "no new listener");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(listed(&app, "Written While Deaf").await);
    write_elsewhere(
        &app,
        "UPDATE products SET title = 'Heard Again' WHERE slug = 'cut-off'".into(),
    )
    .await;
    seen_after("a write after the listener came back", async || {
        listed(&app, "Heard Again").await
    })
    .await;
}

#[actix_web::test]
async fn a_second_node_on_one_sqlite_file_is_refused() {
    let dir = std::env::temp_dir().join(format!("folio-node-lock-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("folio.db").display().to_string();
    let first = folio_api::db::sqlite_node_lock(&db).unwrap();
    let second = folio_api::db::sqlite_node_lock(&db)
        .unwrap_err()
        .to_string();
    assert!(
        second.contains("another folio node") && second.contains("PostgreSQL"),
        "{second}"
    );
    drop(first);
    let again = folio_api::db::sqlite_node_lock(&db);
    assert!(again.is_ok(), "free again once the first node stops");
    drop(again);
    std::fs::remove_dir_all(dir).unwrap();
}

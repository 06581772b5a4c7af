//! `kill -9` of the real `folio` binary in the middle of webhook deliveries: after a restart,
//! Stripe's retries (the emulator's) complete every fulfillment exactly once, on SQLite and on
//! PostgreSQL.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use diesel::{Connection, RunQueryDsl};
use serde_json::{json, Value};
use stripe_emulator::{Config, Emulator, Knobs};

const FOLIO: &str = env!("CARGO_BIN_EXE_folio");
const SECRET: &str = "whsec_crash_test";
const JWT_SECRET: &str = "crash-test-secret-crash-test-secret-0123";
const PASSWORD: &str = "correct horse battery";
const CUSTOMERS: usize = 6;
const PRODUCTS: usize = 5;

struct Folio {
    child: Child,
}

impl Drop for Folio {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Setup {
    dir: std::path::PathBuf,
    database_url: String,
    port: u16,
    stripe_base: String,
    /// Where mail goes (the dev mailbox without it).
    smtp_url: Option<String>,
    /// Dropped with the setup (PostgreSQL).
    _pg: Option<folio_testkit::Database>,
}

impl Setup {
    fn command(&self) -> Command {
        let mut cmd = Command::new(FOLIO);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("DATABASE_URL", &self.database_url)
            .env("FOLIO_DATA_DIR", &self.dir)
            .env("FOLIO_WEB_DIST", self.dir.join("no-ui"))
            .env("FOLIO_BIND", format!("127.0.0.1:{}", self.port))
            .env(
                "FOLIO_PUBLIC_URL",
                format!("http://127.0.0.1:{}", self.port),
            )
            .env("FOLIO_JWT_SECRET", JWT_SECRET)
            .env("FOLIO_ADMIN_EMAILS", "admin@example.com")
            .env("FOLIO_AUTH_RATE_LIMIT", "100000")
            .env("STRIPE_SECRET_KEY", "sk_test_crash")
            .env("STRIPE_WEBHOOK_SECRET", SECRET)
            .env("STRIPE_API_BASE", &self.stripe_base)
            // A killed node's job is taken again soon after its lease runs out.
            .env("FOLIO_JOB_LEASE_SECS", "2")
            .env("FOLIO_JOB_POLL_MS", "50")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        if let Some(url) = &self.smtp_url {
            cmd.env("FOLIO_SMTP_URL", url);
        }
        cmd
    }

    async fn serve(&self) -> Folio {
        let child = self.command().arg("serve").spawn().unwrap();
        let folio = Folio { child };
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = client.get(self.url("/readyz")).send().await {
                if res.status() == 200 {
                    return folio;
                }
            }
            assert!(Instant::now() < deadline, "folio did not become ready");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn count(&self, sql: &str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let n: N = if self.database_url.starts_with("postgres") {
            let mut c = diesel::PgConnection::establish(&self.database_url).unwrap();
            diesel::sql_query(sql).get_result(&mut c).unwrap()
        } else {
            let path = self.database_url.trim_start_matches("sqlite://");
            let mut c = diesel::SqliteConnection::establish(path).unwrap();
            diesel::sql_query(sql).get_result(&mut c).unwrap()
        };
        n.n
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    res.json().await.unwrap()
}

/// A database (a file, or a PostgreSQL database of its own), a port, and an emulator; `None`
/// when PostgreSQL is wanted and missing outside CI.
async fn setup(postgres: bool, smtp_url: Option<String>) -> Option<(Setup, Emulator)> {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let dir = std::env::temp_dir().join(format!("folio-crash-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let (database_url, pg) = if postgres {
        let admin = folio_testkit::admin_url();
        let created = folio_testkit::reachable(&admin).and_then(|()| {
            folio_testkit::Database::create(&admin, &format!("folio_crash_{id}"), None)
        });
        match created {
            Ok(db) => (db.url.clone(), Some(db)),
            Err(e) => {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "PostgreSQL is required in CI: {e}"
                );
                eprintln!("\n!!! SKIPPED: PostgreSQL unreachable ({e}). !!!\n");
                return None;
            }
        }
    } else {
        (format!("sqlite://{}", dir.join("folio.db").display()), None)
    };

    let emulator = Emulator::new(Config {
        webhook_url: None,
        webhook_secret: SECRET.into(),
    });
    actix_web::rt::spawn(
        emulator
            .server(TcpListener::bind("127.0.0.1:0").unwrap())
            .unwrap(),
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let setup = Setup {
        dir: dir.clone(),
        database_url,
        port,
        stripe_base: format!("{}/", emulator.base_url()),
        smtp_url,
        _pg: pg,
    };
    emulator.set_webhook_url(&setup.url("/api/v1/stripe/webhook"));
    Some((setup, emulator))
}

async fn kill_during_deliveries(postgres: bool) {
    let Some((setup, emulator)) = setup(postgres, None).await else {
        return;
    };
    let dir = setup.dir.clone();

    let pdf = dir.join("book.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n% crash test\n%%EOF\n").unwrap();
    let seeded = setup
        .command()
        .args(["seed", "--products", &PRODUCTS.to_string(), "--file"])
        .arg(&pdf)
        .args(["--price-cents", "700"])
        .status()
        .unwrap();
    assert!(seeded.success());

    let folio = setup.serve().await;
    let client = reqwest::Client::new();
    let catalog: Value = client
        .get(setup.url("/api/v1/products?limit=50"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let slugs: Vec<String> = catalog["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(slugs.len(), PRODUCTS);

    // Every customer buys every product: one checkout session per (customer, product).
    let mut sessions = Vec::new();
    for c in 0..CUSTOMERS {
        let tokens = post(
            &client,
            setup.url("/api/v1/auth/register"),
            None,
            json!({"email": format!("c{c}@example.com"), "password": PASSWORD}),
        )
        .await;
        let token = tokens["access_token"].as_str().unwrap().to_owned();
        for slug in &slugs {
            let checkout = post(
                &client,
                setup.url("/api/v1/checkout"),
                Some(&token),
                json!({ "slug": slug }),
            )
            .await;
            sessions.push(checkout["session_id"].as_str().unwrap().to_owned());
        }
    }
    let expected = sessions.len() as i64;

    // Every event is delivered three times at once and retried quickly. The events are held
    // until every session is paid and then released together, so that the kill below lands
    // while most deliveries are still in flight however fast this machine pays (paying one by
    // one with deliveries running behind was sometimes slower than fulfilling all 30).
    emulator.set_knobs(Knobs {
        duplicates: 2,
        concurrent: true,
        hold: true,
        retry_base_ms: 100,
        ..Knobs::default()
    });
    for s in &sessions {
        emulator.pay(s).unwrap();
    }
    emulator.set_knobs(Knobs {
        duplicates: 2,
        concurrent: true,
        retry_base_ms: 100,
        ..Knobs::default()
    });
    emulator.release(false);
    // Kill folio as soon as some deliveries have landed.
    let deadline = Instant::now() + Duration::from_secs(20);
    while emulator
        .deliveries()
        .iter()
        .filter(|d| d.succeeded())
        .count()
        < 3
    {
        assert!(Instant::now() < deadline, "no delivery arrived");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let mut folio = folio;
    folio.child.kill().unwrap(); // SIGKILL: no graceful shutdown, no flushing
    folio.child.wait().unwrap();
    let fulfilled_at_kill = setup.count("SELECT COUNT(*) AS n FROM orders WHERE status = 'paid'");
    assert!(
        fulfilled_at_kill < expected,
        "the kill came after every fulfillment ({fulfilled_at_kill}): nothing was interrupted"
    );
    // Deliveries fail while folio is down.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !emulator.deliveries().iter().any(|d| d.error.is_some()) {
        assert!(
            Instant::now() < deadline,
            "no delivery failed while folio was down"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    drop(folio);

    let _folio = setup.serve().await;
    assert!(
        emulator.wait_idle(Duration::from_secs(60)).await,
        "the emulator's retries did not finish"
    );
    let deliveries = emulator.deliveries();
    let failed = deliveries.iter().filter(|d| !d.succeeded()).count();
    eprintln!(
        "{expected} payments; {fulfilled_at_kill} fulfilled before the kill; {} deliveries, {failed} failed and were retried",
        deliveries.len()
    );

    // Every fulfillment happened exactly once.
    assert_eq!(
        setup.count("SELECT COUNT(*) AS n FROM orders WHERE status = 'paid'"),
        expected
    );
    assert_eq!(setup.count("SELECT COUNT(*) AS n FROM orders"), expected);
    assert_eq!(
        setup.count("SELECT COUNT(*) AS n FROM entitlements WHERE revoked_at IS NULL"),
        expected
    );
    assert_eq!(
        setup.count(
            "SELECT COUNT(*) AS n FROM (SELECT user_id, product_id FROM entitlements \
             GROUP BY user_id, product_id HAVING COUNT(*) > 1) AS d"
        ),
        0
    );
    assert_eq!(
        setup.count(
            "SELECT COUNT(*) AS n FROM entitlements e JOIN orders o ON o.id = e.order_id \
             WHERE o.status = 'paid' AND o.user_id = e.user_id AND o.product_id = e.product_id"
        ),
        expected
    );
    assert_eq!(
        setup.count(
            "SELECT COUNT(*) AS n FROM stripe_events \
             WHERE event_type = 'checkout.session.completed' AND processed_at IS NOT NULL"
        ),
        expected
    );
}

#[actix_web::test]
async fn kill_9_during_webhook_deliveries_loses_and_repeats_nothing_sqlite() {
    kill_during_deliveries(false).await;
}

#[actix_web::test]
async fn kill_9_during_webhook_deliveries_loses_and_repeats_nothing_postgres() {
    kill_during_deliveries(true).await;
}

// The tests' SMTP sink, the same file the API suite uses (this binary cannot depend on it).
#[path = "../../tests/src/smtp.rs"]
#[allow(dead_code)]
mod smtp;

/// `kill -9` while a mail job is being sent (the SMTP server holds its answer to the message's
/// end, so the message is not accepted): after the restart the job runs again once its lease is
/// over, and exactly one message, with the job's Message-ID, arrives.
async fn kill_during_a_mail_job(postgres: bool) {
    let sink = smtp::SmtpSink::start().await;
    sink.set_hold_data(true);
    let Some((setup, _emulator)) = setup(postgres, Some(sink.url())).await else {
        return;
    };
    let folio = setup.serve().await;
    let client = reqwest::Client::new();
    post(
        &client,
        setup.url("/api/v1/auth/register"),
        None,
        json!({"email": "ada@example.com", "password": PASSWORD}),
    )
    .await;
    let res = client
        .post(setup.url("/api/v1/auth/email-link"))
        .json(&json!({"email": "ada@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    // The job is sending: the message's data has reached the server, which has not answered.
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.data_ended() == 0 {
        assert!(Instant::now() < deadline, "the job never sent");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut folio = folio;
    folio.child.kill().unwrap(); // SIGKILL: the job is neither finished nor failed
    folio.child.wait().unwrap();
    drop(folio);
    // Released before the sink has seen the dead sender's connection close, the held message
    // would be accepted on its behalf: wait for the close first.
    let deadline = Instant::now() + Duration::from_secs(10);
    while sink.holding() > 0 {
        assert!(
            Instant::now() < deadline,
            "the sink never saw the sender go"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(sink.messages().is_empty(), "nothing was accepted");
    assert_eq!(
        setup.count("SELECT COUNT(*) AS n FROM jobs WHERE done_at IS NULL AND attempts = 1"),
        1,
        "the job is still open, one attempt made"
    );
    sink.set_hold_data(false);
    let _folio = setup.serve().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sink.messages().is_empty() {
        assert!(Instant::now() < deadline, "the job did not run again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Long enough for a duplicate to show if one were coming.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "one message in all");
    assert_eq!(
        sink.data_ended(),
        2,
        "sent once before the kill, once after"
    );
    let job_id = {
        #[derive(diesel::QueryableByName)]
        struct Id {
            #[diesel(sql_type = diesel::sql_types::Text)]
            id: String,
        }
        let sql = "SELECT id FROM jobs WHERE done_at IS NOT NULL";
        let id: Id = if setup.database_url.starts_with("postgres") {
            let mut c = diesel::PgConnection::establish(&setup.database_url).unwrap();
            diesel::sql_query(sql).get_result(&mut c).unwrap()
        } else {
            let path = setup.database_url.trim_start_matches("sqlite://");
            let mut c = diesel::SqliteConnection::establish(path).unwrap();
            diesel::sql_query(sql).get_result(&mut c).unwrap()
        };
        id.id
    };
    assert!(
        messages[0].message_id().starts_with(&job_id),
        "{} is the job's ({job_id})",
        messages[0].message_id()
    );
    assert_eq!(
        setup.count("SELECT COUNT(*) AS n FROM jobs WHERE done_at IS NOT NULL AND attempts = 2"),
        1
    );
}

#[actix_web::test]
async fn kill_9_during_a_mail_job_sends_it_once_after_the_restart_sqlite() {
    kill_during_a_mail_job(false).await;
}

#[actix_web::test]
async fn kill_9_during_a_mail_job_sends_it_once_after_the_restart_postgres() {
    kill_during_a_mail_job(true).await;
}

//! A test's own Folio: the real server on port 0, a database of its own (a copy of a migrated
//! template: a file copy on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL), its own storage
//! folder and its own Stripe emulator.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use diesel::RunQueryDsl;
use folio_api::config::{DatabaseUrl, Settings};
use folio_api::storage::Storage;
use folio_api::AppState;
use folio_testkit as testkit;
use reqwest::multipart::Form;
use serde_json::Value;
use shared_types::TokenResponse;

use crate::fixtures::*;
use crate::logs::{capture_logs, new_leaks, remember_secret};
use crate::{ADMIN_EMAIL, JWT_SECRET, PASSWORD, WEBHOOK_SECRET};

pub use reqwest::StatusCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub backend: Backend,
    /// The Stripe stand-in this server talks to (its own, on another port).
    pub emulator: stripe_emulator::Emulator,
    /// The SMTP server this server mails through (its own, on loopback).
    pub smtp: crate::SmtpSink,
    dir: PathBuf,
    _database: Option<testkit::Database>,
}

/// A fingerprint of the migrations, naming the templates made from them.
fn migrations_fingerprint() -> &'static str {
    static FINGERPRINT: OnceLock<String> = OnceLock::new();
    FINGERPRINT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../migrations");
        let mut files = Vec::new();
        let mut pending = vec![root.clone()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).expect("the migrations folder") {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files.sort();
        let contents: Vec<Vec<u8>> = files
            .iter()
            .map(|f| {
                let mut bytes = f
                    .strip_prefix(&root)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
                    .into_bytes();
                bytes.extend(std::fs::read(f).unwrap());
                bytes
            })
            .collect();
        let parts: Vec<&[u8]> = contents.iter().map(Vec::as_slice).collect();
        testkit::fingerprint(&parts)
    })
}

fn migrate_url(url: DatabaseUrl) -> Result<(), String> {
    let mut conn = folio_api::db::DbConnection::establish_url(&url).map_err(|e| e.to_string())?;
    conn.run_migrations()
        .map(drop)
        .map_err(|e| format!("{e:#}"))
}

/// The migrated SQLite database this process copies for each test.
fn sqlite_template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "folio-template-{}-{}.db",
            migrations_fingerprint(),
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        migrate_url(DatabaseUrl::Sqlite(path.display().to_string()))
            .expect("the SQLite template migrates");
        path
    })
}

/// Makes the PostgreSQL template on `admin` once per process and server.
fn postgres_template(admin: &str) -> Result<String, String> {
    static MADE: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let name = format!("folio_template_{}", migrations_fingerprint());
    let mut made = MADE.lock().unwrap();
    if !made.iter().any(|a| a == admin) {
        testkit::ensure_template(admin, &name, |url| {
            migrate_url(DatabaseUrl::Postgres(url.to_owned()))
        })?;
        made.push(admin.to_owned());
    }
    Ok(name)
}

/// How to start a [`TestApp`]: `TestApp::builder(backend).setting(…).spawn().await`.
pub struct TestAppBuilder {
    backend: Backend,
    settings: Vec<(String, String)>,
    pg_admin: Option<String>,
    /// None: what the settings name (`FOLIO_STORAGE_URL`).
    storage: Option<MakeStorage>,
}

/// Builds a test's object store from its storage folder.
type MakeStorage = Box<dyn FnOnce(&Path) -> Storage>;

impl TestAppBuilder {
    /// Overrides one setting (an empty value unsets it).
    pub fn setting(mut self, name: &str, value: &str) -> Self {
        self.settings.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn settings(mut self, settings: &[(&str, &str)]) -> Self {
        for (k, v) in settings {
            self = self.setting(k, v);
        }
        self
    }

    /// Another PostgreSQL server to make the database on (the fault tests start their own).
    pub fn postgres_admin(mut self, url: String) -> Self {
        self.pg_admin = Some(url);
        self
    }

    /// Builds the object store from the test's storage folder (a local one, whatever
    /// `FOLIO_TEST_STORAGE_URL` says).
    pub fn storage(mut self, make: impl FnOnce(&Path) -> Storage + 'static) -> Self {
        self.storage = Some(Box::new(make));
        self
    }

    /// The server, or None when the backend is missing outside CI (said loudly).
    pub async fn spawn(self) -> Option<TestApp> {
        capture_logs();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("folio-test-{id}"));
        std::fs::create_dir_all(&dir).unwrap();

        let (database_url, database) = match self.backend {
            Backend::Sqlite => {
                let path = dir.join("folio.db");
                std::fs::copy(sqlite_template(), &path).expect("copying the SQLite template");
                (format!("sqlite://{}", path.display()), None)
            }
            Backend::Postgres => {
                let admin = self.pg_admin.unwrap_or_else(testkit::admin_url);
                let name = format!("folio_test_{id}");
                let created = tokio::task::spawn_blocking({
                    let admin = admin.clone();
                    move || {
                        testkit::reachable(&admin)?;
                        let template = postgres_template(&admin)?;
                        testkit::Database::create(&admin, &name, Some(&template))
                    }
                })
                .await
                .unwrap();
                match created {
                    Ok(db) => (db.url.clone(), Some(db)),
                    Err(e) => {
                        let _ = std::fs::remove_dir_all(&dir);
                        if std::env::var_os("CI").is_some() {
                            panic!("PostgreSQL is required in CI but unreachable at {admin}: {e}");
                        }
                        eprintln!(
                            "\n!!! SKIPPED: PostgreSQL unreachable ({e}); set FOLIO_TEST_POSTGRES_URL or start it. !!!\n"
                        );
                        return None;
                    }
                }
            }
        };

        let emulator = stripe_emulator::Emulator::new(stripe_emulator::Config {
            webhook_url: None,
            webhook_secret: WEBHOOK_SECRET.to_owned(),
        });
        let emulator_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        actix_web::rt::spawn(emulator.server(emulator_listener).unwrap());
        let stripe_base = format!("{}/", emulator.base_url());

        let smtp = crate::SmtpSink::start().await;
        let smtp_url = smtp.url();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = format!("http://{}", listener.local_addr().unwrap());
        let mut vars: HashMap<String, String> = [
            ("DATABASE_URL", database_url.as_str()),
            ("FOLIO_JWT_SECRET", JWT_SECRET),
            ("FOLIO_PUBLIC_URL", address.as_str()),
            ("FOLIO_DATA_DIR", dir.to_str().unwrap()),
            ("FOLIO_WEB_DIST", dir.join("no-web-ui").to_str().unwrap()),
            ("FOLIO_ADMIN_EMAILS", ""),
            ("FOLIO_AUTH_RATE_LIMIT", "100000"),
            ("FOLIO_DB_POOL_SIZE", "4"),
            ("STRIPE_SECRET_KEY", "sk_test_folio"),
            ("STRIPE_WEBHOOK_SECRET", WEBHOOK_SECRET),
            ("STRIPE_API_BASE", stripe_base.as_str()),
            ("FOLIO_SMTP_URL", smtp_url.as_str()),
            ("FOLIO_MAIL_FROM", "Folio Tests <shop@folio.test>"),
            // Jobs are picked up and retried quickly, so tests need not wait long.
            ("FOLIO_JOB_POLL_MS", "50"),
            ("FOLIO_JOB_RETRY_BASE_MS", "100"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        // `cargo xtask test` runs the suite once more with every test's files in a bucket of
        // its own prefix (SeaweedFS on loopback).
        if let Ok(base) = std::env::var("FOLIO_TEST_STORAGE_URL") {
            vars.insert(
                "FOLIO_STORAGE_URL".into(),
                format!("{}/{id}", base.trim_end_matches('/')),
            );
            for name in [
                "FOLIO_S3_ENDPOINT",
                "FOLIO_S3_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            ] {
                if let Ok(value) = std::env::var(name) {
                    vars.insert(name.into(), value);
                }
            }
        }
        for (k, v) in self.settings {
            vars.insert(k, v);
        }
        let settings = Settings::from_lookup(|k| vars.get(k).cloned().filter(|v| !v.is_empty()))
            .expect("test settings are valid");
        let storage = match self.storage {
            Some(make) => make(&settings.data_dir.join("objects")),
            None => Storage::open(&settings.storage).expect("the test's storage opens"),
        };
        let state = AppState::new(settings, storage).expect("app state");
        let db = state.db.clone();
        // A copy of the template is migrated already; this proves it and applies nothing.
        let applied = tokio::task::spawn_blocking(move || folio_api::migrate(&db))
            .await
            .unwrap()
            .expect("migrations apply");
        assert!(applied.is_empty(), "the template lacked {applied:?}");
        let server = folio_api::server(state.clone(), listener).expect("server starts");
        actix_web::rt::spawn(server);
        emulator.set_webhook_url(&format!("{address}/api/v1/stripe/webhook"));

        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .cookie_store(true)
            .build()
            .unwrap();
        Some(TestApp {
            address,
            client,
            state,
            backend: self.backend,
            emulator,
            smtp,
            dir,
            _database: database,
        })
    }
}

impl TestApp {
    pub fn builder(backend: Backend) -> TestAppBuilder {
        TestAppBuilder {
            backend,
            settings: Vec::new(),
            pg_admin: None,
            storage: None,
        }
    }

    /// A server with default test settings, or None when the backend is missing outside CI.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::builder(backend).spawn().await
    }

    /// [`TestApp::spawn`] with some settings of its own.
    pub async fn spawn_with(backend: Backend, settings: &[(&str, &str)]) -> Option<TestApp> {
        Self::builder(backend).settings(settings).spawn().await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A client without cookies, for requests that must not ride on a session cookie.
    pub fn bare_client(&self) -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> reqwest::Response {
        let mut req = self.bare_client().post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> reqwest::Response {
        let mut req = self.bare_client().get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap()
    }

    pub async fn register(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/register",
            None,
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/auth/login",
            None,
            &serde_json::json!({"email": email, "password": password}),
        )
        .await
    }

    /// Registers a customer and returns its tokens.
    pub async fn customer(&self, email: &str) -> TokenResponse {
        let res = self.register(email, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::CREATED, "register {email}");
        let tokens: TokenResponse = res.json().await.unwrap();
        remember_secret(&tokens.refresh_token);
        tokens
    }

    /// Creates an admin the way `folio admin create` does and signs in. Through the server's
    /// own write path: on SQLite a second writer beside the writer thread (whose jobs keep it
    /// busy) could find the database locked.
    pub async fn admin(&self) -> String {
        self.state
            .db
            .write(|conn| {
                folio_api::auth::create_admin(
                    conn,
                    &shared_types::Email::parse(ADMIN_EMAIL).unwrap(),
                    &shared_types::Password::parse(PASSWORD).unwrap(),
                )
                .map_err(folio_api::error::ApiError::Internal)
            })
            .await
            .unwrap();
        let res = self.login(ADMIN_EMAIL, PASSWORD).await;
        assert_eq!(res.status(), StatusCode::OK);
        let tokens = res.json::<TokenResponse>().await.unwrap();
        remember_secret(&tokens.refresh_token);
        tokens.access_token
    }

    pub async fn user_id(&self, token: &str) -> String {
        let me: Value = self
            .get("/api/v1/me", Some(token))
            .await
            .json()
            .await
            .unwrap();
        me["id"].as_str().unwrap().to_owned()
    }

    /// Posts a product form as the given caller.
    pub async fn create_product(&self, token: &str, form: Form) -> reqwest::Response {
        self.bare_client()
            .post(self.url("/api/v1/admin/products"))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .await
            .unwrap()
    }

    /// Creates a published product and returns its JSON.
    pub async fn product(&self, admin: &str, title: &str, price: &str, file: Vec<u8>) -> Value {
        let res = self
            .create_product(admin, product_form(title, price, file, Some(png())))
            .await;
        assert_eq!(
            res.status(),
            StatusCode::CREATED,
            "{}",
            res.text().await.unwrap()
        );
        res.json().await.unwrap()
    }

    /// Starts a checkout as `token` and returns the response JSON.
    pub async fn checkout(&self, token: &str, slug: &str) -> reqwest::Response {
        self.post_json(
            "/api/v1/checkout",
            Some(token),
            &serde_json::json!({ "slug": slug }),
        )
        .await
    }

    pub async fn download_token(&self, token: &str, slug: &str) -> reqwest::Response {
        self.bare_client()
            .post(self.url(&format!("/api/v1/products/{slug}/download-token")))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Grants ownership directly in the database (payments are tested elsewhere).
    pub async fn grant(&self, user_id: &str, product_id: &str) {
        use diesel::ExpressionMethods;
        use folio_api::schema::entitlements;
        let (u, p) = (user_id.to_owned(), product_id.to_owned());
        self.state
            .db
            .run(move |conn| {
                diesel::insert_into(entitlements::table)
                    .values((
                        entitlements::id.eq(folio_api::db::new_id()),
                        entitlements::user_id.eq(u),
                        entitlements::product_id.eq(p),
                        entitlements::granted_at.eq(folio_api::db::now()),
                    ))
                    .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        self.state.catalog.invalidate_owners();
    }

    pub async fn revoke(&self, user_id: &str, product_id: &str) {
        use diesel::{ExpressionMethods, QueryDsl};
        use folio_api::schema::entitlements;
        let (u, p) = (user_id.to_owned(), product_id.to_owned());
        self.state
            .db
            .run(move |conn| {
                diesel::update(
                    entitlements::table
                        .filter(entitlements::user_id.eq(u))
                        .filter(entitlements::product_id.eq(p)),
                )
                .set(entitlements::revoked_at.eq(Some(folio_api::db::now())))
                .execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        // Written behind the server's back: tell its cache, as the payment code does.
        self.state.catalog.invalidate_owners();
    }

    pub async fn count(&self, table: &'static str) -> i64 {
        #[derive(diesel::QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        self.state
            .db
            .run(move |conn| {
                let c: Count = diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                    .get_result(conn)?;
                Ok(c.n)
            })
            .await
            .unwrap()
    }

    /// A download link for `slug` as `token`: (url, the link's own token).
    pub async fn download_link(&self, token: &str, slug: &str) -> (String, String) {
        let res = self.download_token(token, slug).await;
        assert_eq!(res.status(), StatusCode::OK, "download link for {slug}");
        let link: Value = res.json().await.unwrap();
        let url = link["url"].as_str().unwrap().to_owned();
        let token = url.rsplit('/').next().unwrap().to_owned();
        remember_secret(&token);
        (url, token)
    }

    /// (method, path, operation) for every operation in the served OpenAPI document.
    pub async fn operations(&self) -> Vec<(String, String, Value)> {
        let spec: Value = self
            .get("/api/openapi.json", None)
            .await
            .json()
            .await
            .unwrap();
        let mut ops = Vec::new();
        for (path, item) in spec["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                ops.push((method.to_uppercase(), path.clone(), op.clone()));
            }
        }
        ops.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        ops
    }

    /// Every stored object key (files, previews, temporaries).
    pub async fn objects(&self) -> Vec<String> {
        let mut keys = self.state.storage.list("").await.unwrap();
        keys.sort();
        keys
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let leaks = new_leaks();
            assert!(leaks.is_empty(), "secrets in the server's logs: {leaks:?}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        // The database (PostgreSQL) is dropped with its handle, connections and all.
    }
}

/// One JSON request as `token` (or anonymous): the status and the body as JSON (`null` when it
/// is not JSON).
pub async fn send(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = app.bare_client().request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

//! Test harness: starts the real Folio server on port 0 against a fresh database of its own
//! (a SQLite file or a new PostgreSQL database), with its own storage folder.
//!
//! `backend_tests!` runs one async test body on both backends. PostgreSQL is found through
//! `FOLIO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); when it is
//! unreachable the PostgreSQL variant fails if `CI` is set and is skipped loudly otherwise.

use std::collections::HashMap;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use diesel::{Connection, PgConnection, RunQueryDsl};
use folio_api::config::Settings;
use folio_api::storage::Storage;
use folio_api::AppState;
use reqwest::multipart::{Form, Part};
use serde_json::Value;
use shared_types::TokenResponse;

pub use reqwest::StatusCode;

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const PASSWORD: &str = "correct horse battery";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const WEBHOOK_SECRET: &str = "whsec_test_secret_for_folio_tests";

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
    dir: PathBuf,
    pg_database: Option<(String, String)>,
}

fn postgres_admin_url() -> String {
    std::env::var("FOLIO_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

fn with_database(url: &str, db: &str) -> String {
    let mut u = url::Url::parse(url).expect("FOLIO_TEST_POSTGRES_URL is a URL");
    u.set_path(&format!("/{db}"));
    u.to_string()
}

impl TestApp {
    /// A server with default test settings, or None when the backend is missing outside CI.
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, &[]).await
    }

    pub async fn spawn_with(backend: Backend, overrides: &[(&str, &str)]) -> Option<TestApp> {
        Self::spawn_custom(backend, overrides, None, |dir| Storage::local(dir).unwrap()).await
    }

    /// The general form: `pg_admin` names another PostgreSQL server to create the database on
    /// (the fault tests start their own), `storage` builds the object store from its folder.
    pub async fn spawn_custom(
        backend: Backend,
        overrides: &[(&str, &str)],
        pg_admin: Option<String>,
        storage: impl FnOnce(&Path) -> Storage,
    ) -> Option<TestApp> {
        capture_logs();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = std::env::temp_dir().join(format!("folio-test-{id}"));
        std::fs::create_dir_all(&dir).unwrap();

        let (database_url, pg_database) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.join("folio.db").display()), None),
            Backend::Postgres => {
                let admin = pg_admin.unwrap_or_else(postgres_admin_url);
                let name = format!("folio_test_{id}");
                let created = tokio::task::spawn_blocking({
                    let (admin, name) = (admin.clone(), name.clone());
                    move || -> Result<(), String> {
                        let mut conn =
                            PgConnection::establish(&admin).map_err(|e| e.to_string())?;
                        diesel::sql_query(format!("CREATE DATABASE {name}"))
                            .execute(&mut conn)
                            .map_err(|e| e.to_string())?;
                        Ok(())
                    }
                })
                .await
                .unwrap();
                if let Err(e) = created {
                    let _ = std::fs::remove_dir_all(&dir);
                    if std::env::var_os("CI").is_some() {
                        panic!("PostgreSQL is required in CI but unreachable at {admin}: {e}");
                    }
                    eprintln!(
                        "\n!!! SKIPPED: PostgreSQL unreachable ({e}); set FOLIO_TEST_POSTGRES_URL or start it. !!!\n"
                    );
                    return None;
                }
                (with_database(&admin, &name), Some((admin, name)))
            }
        };

        let emulator = stripe_emulator::Emulator::new(stripe_emulator::Config {
            webhook_url: None,
            webhook_secret: WEBHOOK_SECRET.to_owned(),
        });
        let emulator_listener = TcpListener::bind("127.0.0.1:0").unwrap();
        actix_web::rt::spawn(emulator.server(emulator_listener).unwrap());
        let stripe_base = format!("{}/", emulator.base_url());

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
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        for (k, v) in overrides {
            vars.insert((*k).to_owned(), (*v).to_owned());
        }
        let settings = Settings::from_lookup(|k| vars.get(k).cloned().filter(|v| !v.is_empty()))
            .expect("test settings are valid");
        let storage = storage(&settings.storage_dir);
        let state = AppState::new(settings, storage).expect("app state");
        let db = state.db.clone();
        tokio::task::spawn_blocking(move || folio_api::migrate(&db))
            .await
            .unwrap()
            .expect("migrations apply");
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
            backend,
            emulator,
            dir,
            pg_database,
        })
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

    /// Creates an admin the way `folio admin create` does and signs in.
    pub async fn admin(&self) -> String {
        let db = self.state.db.clone();
        tokio::task::spawn_blocking(move || {
            let mut conn = db.get().unwrap();
            folio_api::auth::create_admin(
                &mut conn,
                &shared_types::Email::parse(ADMIN_EMAIL).unwrap(),
                &shared_types::Password::parse(PASSWORD).unwrap(),
            )
            .unwrap();
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
            let leaks = find_leaks(&captured_logs(), &secrets());
            assert!(leaks.is_empty(), "secrets in the server's logs: {leaks:?}");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some((admin, name)) = self.pg_database.take() {
            // The server may still hold connections: FORCE ends them.
            let _ = std::thread::spawn(move || {
                if let Ok(mut conn) = PgConnection::establish(&admin) {
                    let _ =
                        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                            .execute(&mut conn);
                }
            })
            .join();
        }
    }
}

/// A small but real PDF with `marker` in it, so different products have different bytes.
pub fn pdf(marker: &str) -> Vec<u8> {
    format!(
        "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n\
         2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n% {marker}\ntrailer << /Root 1 0 R >>\n%%EOF\n"
    )
    .into_bytes()
}

/// A PDF of `len` bytes with varied content (for range tests).
pub fn big_pdf(len: usize) -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n".to_vec();
    let mut x: u32 = 12345;
    while bytes.len() < len {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        bytes.push((x >> 16) as u8);
    }
    bytes
}

pub fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x02\0\0\0".to_vec();
    bytes.extend_from_slice(&[0x90, 0x77, 0x53, 0xDE]);
    bytes
}

pub fn svg_with_script() -> Vec<u8> {
    b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(document.cookie)</script></svg>"
        .to_vec()
}

pub fn product_form(title: &str, price: &str, file: Vec<u8>, preview: Option<Vec<u8>>) -> Form {
    let mut form = Form::new()
        .text("title", title.to_owned())
        .text("description", format!("All about {title}."))
        .text("price", price.to_owned())
        .part(
            "file",
            Part::bytes(file)
                .file_name("guide.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        );
    if let Some(p) = preview {
        form = form.part(
            "preview",
            Part::bytes(p)
                .file_name("cover.png")
                .mime_str("image/png")
                .unwrap(),
        );
    }
    form
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Reads a problem+json body, checking its content type and shape.
pub async fn problem(res: reqwest::Response) -> Value {
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "status {}", res.status());
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["code"].is_string() && body["title"].is_string() && body["detail"].is_string());
    let text = body.to_string();
    let internals = internals_in(&text);
    assert!(
        internals.is_empty(),
        "error body shows {internals:?}: {text}"
    );
    body
}

/// What an error body must never show: stack traces, SQL, driver names, file paths.
pub fn internals_in(text: &str) -> Vec<&'static str> {
    const MARKERS: &[&str] = &[
        "panicked",
        "backtrace",
        ".rs:",
        "src/",
        "SELECT ",
        "INSERT ",
        "UPDATE ",
        "DELETE FROM",
        "diesel",
        "sqlite",
        "SQLITE",
        "postgres",
        "PostgreSQL",
        "libpq",
        "/tmp/",
        "/root",
        "/home/",
        "/var/",
        "folio-test-",
        "os error",
        "object_store",
        "LocalFileSystem",
    ];
    MARKERS
        .iter()
        .copied()
        .filter(|m| text.contains(m))
        .collect()
}

// ---- Logs: every server in a test binary logs into one buffer, scanned for secrets. ----

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs (once per test binary) a subscriber that keeps every log line at debug level and
/// above, request spans included, so that the suite can prove no secret reaches the logs.
pub fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        use tracing_subscriber::fmt::format::FmtSpan;
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("debug"))
            .with_span_events(FmtSpan::CLOSE)
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .finish();
        tracing::subscriber::set_global_default(subscriber)
            .expect("no other subscriber in the test binary");
    });
}

pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap()).into_owned()
}

/// Adds a value that must never be logged (tokens handed out during a test).
pub fn remember_secret(secret: &str) {
    SECRETS.lock().unwrap().push(secret.to_owned());
}

fn secrets() -> Vec<String> {
    let mut all: Vec<String> = [PASSWORD, JWT_SECRET, WEBHOOK_SECRET, "sk_test_folio"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    all.extend(SECRETS.lock().unwrap().iter().cloned());
    all
}

/// The secrets found in `logs`: any of `secrets`, any JWT (`eyJ...`.`eyJ...`), a bearer header.
pub fn find_leaks(logs: &str, secrets: &[String]) -> Vec<String> {
    let mut found: Vec<String> = secrets
        .iter()
        .filter(|s| !s.is_empty() && logs.contains(s.as_str()))
        .map(|s| format!("secret {}…", &s[..s.len().min(6)]))
        .collect();
    let jwt_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    for (at, _) in logs.match_indices("eyJ") {
        let rest = &logs[at..];
        let head = rest.find(|c: char| !jwt_char(c)).unwrap_or(rest.len());
        if rest[head..].starts_with(".eyJ") {
            found.push(format!("a JWT: {}…", &rest[..head.min(12)]));
        }
    }
    if logs.contains("Bearer ey") || logs.to_ascii_lowercase().contains("\"password\":") {
        found.push("a bearer header or a password field".into());
    }
    found
}

/// Runs each listed `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    let app = $crate::TestApp::spawn($crate::Backend::Sqlite).await.expect("SQLite is embedded");
                    super::$name(app).await;
                }
                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) = $crate::TestApp::spawn($crate::Backend::Postgres).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

/// Like `backend_tests!` for bodies that need their own settings.
#[macro_export]
macro_rules! backend_tests_with {
    ($settings:expr => $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    let app = $crate::TestApp::spawn_with($crate::Backend::Sqlite, $settings).await.expect("SQLite is embedded");
                    super::$name(app).await;
                }
                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) = $crate::TestApp::spawn_with($crate::Backend::Postgres, $settings).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

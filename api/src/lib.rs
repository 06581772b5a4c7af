//! Folio's API server as a library: `folio` (src/main.rs) and the tests start it the same way.

pub mod auth;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod db;
pub mod downloads;
pub mod error;
pub mod files;
pub mod jobs;
pub mod library;
pub mod mail;
pub mod membership;
pub mod net;
pub mod openapi;
pub mod operations;
pub mod ops;
pub mod pagination;
pub mod payments;
pub mod pricing;
pub mod reports;
pub mod schema;
pub mod storage;
pub mod telemetry;
pub mod web_ui;
pub mod webhooks;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::{from_fn, DefaultHeaders};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use tracing_actix_web::TracingLogger;

use auth::ratelimit::RateLimit;
use auth::tokens::Keys;
use config::Settings;
use db::Db;
use error::ApiError;
use storage::Storage;

/// Everything a handler needs, shared by all workers. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub settings: Arc<Settings>,
    pub db: Db,
    pub storage: Storage,
    pub keys: Arc<Keys>,
    pub auth_limiter: Arc<RateLimit>,
    pub payments: Arc<payments::Payments>,
    pub catalog: Arc<catalog::cache::CatalogCache>,
    pub mailer: Arc<mail::Mailer>,
    /// Wakes this node's job workers after a commit that enqueued work.
    pub wake: Arc<jobs::Wake>,
    /// Mailed-link requests per email address and per client.
    pub link_limiter_by_email: Arc<RateLimit>,
    pub link_limiter_by_ip: Arc<RateLimit>,
    /// Receipt resends per order.
    pub receipt_limiter: Arc<RateLimit>,
    /// Discount codes tried per client (previews and checkouts with a code), so codes cannot
    /// be guessed by trying many.
    pub discount_limiter: Arc<RateLimit>,
    /// Requests per API key.
    pub api_key_limiter: Arc<RateLimit>,
    /// What access windows are judged by.
    pub clock: Arc<clock::Clock>,
    /// Stamping plans read from storage, kept a while.
    pub stamp_plans: Arc<files::stamping::PlanCache>,
}

impl AppState {
    /// Needs `settings.stripe`: `serve` fills it with the emulator's when Stripe is not configured.
    pub fn new(settings: Settings, storage: Storage) -> anyhow::Result<Self> {
        let stripe = settings.stripe.as_ref().context(
            "Stripe is not configured (STRIPE_SECRET_KEY) and the emulator was not started",
        )?;
        Ok(Self {
            payments: Arc::new(payments::Payments::new(stripe)?),
            db: Db::new(&settings.database_url, settings.db_pool_size),
            keys: Arc::new(Keys::new(&settings)),
            auth_limiter: Arc::new(RateLimit::per_minute(
                "auth",
                settings.auth_rate_limit_per_minute,
            )),
            catalog: Arc::default(),
            mailer: Arc::new(mail::Mailer::new(&settings)?),
            wake: Arc::default(),
            link_limiter_by_email: Arc::new(RateLimit::per_hour(
                "link_email",
                settings.mail_link_rate_limit_per_hour,
            )),
            link_limiter_by_ip: Arc::new(RateLimit::per_hour(
                "link_client",
                settings.mail_link_rate_limit_per_hour.saturating_mul(10),
            )),
            receipt_limiter: Arc::new(RateLimit::per_hour("receipt", 3)),
            discount_limiter: Arc::new(RateLimit::per_minute(
                "discount",
                pricing::CODES_PER_MINUTE,
            )),
            api_key_limiter: Arc::new(RateLimit::per_minute(
                "api_key",
                settings.api_key_rate_limit_per_minute,
            )),
            clock: Arc::default(),
            stamp_plans: Arc::default(),
            storage,
            settings: Arc::new(settings),
        })
    }
}

/// Applies pending migrations. Runs before the server accepts requests.
///
/// On PostgreSQL under a session advisory lock: nodes starting together take turns, and each
/// after the first finds nothing left to apply.
pub fn migrate(db: &Db) -> anyhow::Result<Vec<String>> {
    use diesel::connection::SimpleConnection;
    /// `pg_advisory_lock`'s key for migrations ("folio" + 1).
    const MIGRATION_LOCK: i64 = 0x666f_6c69_6f01;
    let mut conn = db
        .get()
        .map_err(|e| anyhow::anyhow!("connecting to the database: {e:#}"))?;
    let postgres = matches!(*conn, db::DbConnection::Postgresql(_));
    if !postgres {
        return conn.run_migrations();
    }
    conn.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
        .context("waiting for the migration lock")?;
    let applied = conn.run_migrations();
    let unlocked = conn.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
    let applied = applied?;
    unlocked.context("releasing the migration lock")?;
    Ok(applied)
}

/// The API: the operations of [`operations`], the admin ones in a scope behind its role check.
pub fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(operations::ADMIN_PREFIX)
            .wrap(from_fn(auth::extract::require_admin))
            .configure(|cfg| operations::mount(cfg, operations::Part::Admin))
            // Without its own default a scope falls through to the app's (the web UI's
            // index.html, 200), not to the enclosing scope's.
            .default_service(web::to(api_route_not_found)),
    )
    .configure(|cfg| operations::mount(cfg, operations::Part::Public));
}

/// Any path or method under /api/v1 that no route takes: a problem+json 404.
async fn api_route_not_found() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::NotFound("route"))
}

/// Builds the HTTP server on an already bound listener (port 0 in tests).
pub fn server(state: AppState, listener: TcpListener) -> anyhow::Result<Server> {
    let origin = state.settings.public_url.origin().ascii_serialization();
    let web_ui = web_ui::WebUi::load(state.settings.web_dist.as_deref(), &origin);
    // Database calls and file reads run on each worker's blocking threads. Threads beyond the
    // pool's size only wait for a connection, and each keeps a malloc arena of its own: unbounded
    // (actix allows 512), they multiplied RSS under load (bench/NOTES.md). Enough for every
    // pooled connection plus 16 more: for file opens and reads that would wait for the disk
    // (cached ones run on the worker), and on PostgreSQL for the pool of download records (half
    // the size, `Db::record`). The rest queue cheaply.
    let blocking_threads = state.settings.db_pool_size as usize + 16;
    jobs::worker::start(&state);
    if let config::DatabaseUrl::Postgres(url) = &state.settings.database_url {
        catalog::notify::start(url, state.catalog.clone())?;
    }
    let data = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(
                web::JsonConfig::default()
                    .limit(64 * 1024)
                    .error_handler(error::json_error_handler),
            )
            .app_data(web::QueryConfig::default().error_handler(error::query_error_handler))
            .app_data(web::PathConfig::default().error_handler(error::path_error_handler))
            .wrap(
                DefaultHeaders::new()
                    .add(("X-Content-Type-Options", "nosniff"))
                    // Download links carry a token: never leak them to other sites.
                    .add(("Referrer-Policy", "no-referrer"))
                    .add(("X-Frame-Options", "DENY")),
            )
            .wrap(from_fn(private_when_signed_in))
            .wrap(TracingLogger::<telemetry::FolioRootSpan>::new())
            .route(
                "/media/previews/{name}",
                web::get().to(downloads::routes::serve_preview),
            )
            .service(
                web::resource("/api/openapi.json")
                    .route(web::get().to(openapi_json))
                    .default_service(web::to(|| async {
                        Err::<actix_web::HttpResponse, _>(ApiError::MethodNotAllowed("GET".into()))
                    })),
            )
            .service(
                utoipa_swagger_ui::SwaggerUi::new("/api/docs/{_:.*}")
                    .url("/api/docs/openapi.json", openapi::document()),
            )
            .route(
                "/api/docs",
                web::get().to(|| async {
                    actix_web::HttpResponse::PermanentRedirect()
                        .insert_header(("Location", "/api/docs/"))
                        .finish()
                }),
            )
            .configure(configure_api)
            // Unknown API and media paths are problems, never the web UI's page.
            .service(web::scope("/api").default_service(web::to(api_route_not_found)))
            .service(web::scope("/media").default_service(web::to(api_route_not_found)))
            .configure(|cfg| web_ui.configure(cfg))
    })
    .worker_max_blocking_threads(blocking_threads)
    // actix answers 408 when a new connection's request head takes over 5 s, which a busy webhook
    // sender reaches (bench/NOTES.md); nginx allows 60 s.
    .client_request_timeout(std::time::Duration::from_secs(15))
    .shutdown_timeout(10)
    .listen(listener)
    .context("listening")?
    .run();
    Ok(server)
}

/// Answers to a request that carried credentials are the caller's own: no cache may keep them
/// unless the handler said otherwise.
async fn private_when_signed_in(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use actix_web::http::header::{HeaderValue, AUTHORIZATION, CACHE_CONTROL, COOKIE};
    let credentials =
        req.headers().contains_key(AUTHORIZATION) || req.headers().contains_key(COOKIE);
    let mut res = next.call(req).await?;
    if credentials && !res.headers().contains_key(CACHE_CONTROL) {
        res.headers_mut()
            .insert(CACHE_CONTROL, HeaderValue::from_static("private, no-store"));
    }
    Ok(res)
}

/// Development without a Stripe key: the emulator runs in this process on its own loopback port
/// and receives the same calls Stripe would. Never in production (settings refuse that case).
/// The file under FOLIO_DATA_DIR where a development server notes its Stripe emulator's URL.
pub const EMULATOR_POINTER: &str = "stripe-emulator-url";

/// `folio reconcile --since YYYY-MM-DD`: the admin action, from the command line. Without a
/// Stripe key (development) it reads the emulator of the `folio serve` running beside it.
pub async fn reconcile_command(
    mut settings: Settings,
    since: &str,
) -> anyhow::Result<(bool, String)> {
    if settings.stripe.is_none() {
        anyhow::ensure!(
            settings.environment != config::Environment::Production,
            "STRIPE_SECRET_KEY is required in production"
        );
        let pointer = settings.data_dir.join(EMULATOR_POINTER);
        let base = std::fs::read_to_string(&pointer).with_context(|| {
            format!(
                "no STRIPE_SECRET_KEY, and no development server's emulator noted at {}: start `folio serve` (its emulator took the payments) or set STRIPE_SECRET_KEY",
                pointer.display()
            )
        })?;
        settings.stripe = Some(config::StripeSettings {
            secret_key: config::Secret::new(b"sk_test_emulator".to_vec()),
            webhook_secrets: Vec::new(),
            api_base: url::Url::parse(base.trim())?,
            emulated: true,
        });
    }
    let storage = Storage::open(&settings.storage)?;
    let state = AppState::new(settings, storage)?;
    migrate(&state.db)?;
    let since = payments::reconcile::parse_since(since, state.clock.now().date())
        .map_err(|e| anyhow::anyhow!("--since: {e}"))?;
    let report = payments::reconcile::run(&state, since)
        .await
        .map_err(|e| match e {
            ApiError::PaymentProvider(cause) => anyhow::anyhow!("Stripe did not answer: {cause}"),
            other => anyhow::anyhow!("{other}"),
        })?;
    Ok((report.agree, payments::reconcile::render(&report)))
}

fn start_emulator(settings: &Settings) -> anyhow::Result<config::StripeSettings> {
    use rand::RngCore;
    anyhow::ensure!(
        settings.environment != config::Environment::Production,
        "the Stripe emulator never runs in production"
    );
    let mut raw = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut raw);
    let secret = format!("whsec_{}", hex::encode(raw));
    let webhook = format!(
        "http://127.0.0.1:{}/api/v1/stripe/webhook",
        settings.bind.port()
    );
    let emulator = stripe_emulator::Emulator::new(stripe_emulator::Config {
        webhook_url: Some(webhook),
        webhook_secret: secret.clone(),
    });
    let listener = TcpListener::bind("127.0.0.1:0").context("binding the Stripe emulator")?;
    actix_web::rt::spawn(
        emulator
            .server(listener)
            .context("starting the Stripe emulator")?,
    );
    let base = emulator.base_url();
    // `folio reconcile` run beside this server reads Stripe's records where the shop's payments
    // went: this emulator (its state lives in this process).
    let pointer = settings.data_dir.join(EMULATOR_POINTER);
    if let Err(e) = std::fs::create_dir_all(&settings.data_dir)
        .and_then(|()| std::fs::write(&pointer, format!("{base}/\n")))
    {
        tracing::warn!(error = %e, path = %pointer.display(), "could not note the emulator's address");
    }
    tracing::warn!(
        emulator = %base,
        "PAYMENTS ARE SIMULATED: no STRIPE_SECRET_KEY, so the built-in Stripe emulator takes payments (no money moves)"
    );
    Ok(config::StripeSettings {
        secret_key: config::Secret::new(b"sk_test_emulator".to_vec()),
        webhook_secrets: vec![config::Secret::new(secret.into_bytes())],
        api_base: url::Url::parse(&format!("{base}/"))?,
        emulated: true,
    })
}

async fn openapi_json() -> web::Json<utoipa::openapi::OpenApi> {
    web::Json(openapi::document())
}

/// `folio serve`: migrate, then serve until SIGTERM (in-flight requests finish first, for up to
/// 10 s) or SIGINT (at once: actix stops its workers without waiting).
pub async fn serve(mut settings: Settings) -> anyhow::Result<()> {
    let storage = Storage::open(&settings.storage)
        .with_context(|| format!("opening storage at {:?}", settings.storage))?;
    let bind = settings.bind;
    if settings.stripe.is_none() {
        settings.stripe = Some(start_emulator(&settings)?);
    }
    // Held while serving: a second node on the same SQLite file is refused.
    let _single_node = match &settings.database_url {
        config::DatabaseUrl::Sqlite(path) => Some(db::sqlite_node_lock(path)?),
        config::DatabaseUrl::Postgres(_) => None,
    };
    let state = AppState::new(settings, storage)?;
    let db = state.db.clone();
    let applied = web::block(move || migrate(&db)).await??;
    for m in &applied {
        tracing::info!(migration = %m, "applied migration");
    }
    if let Some(dir) = state.mailer.mailbox() {
        tracing::warn!(
            mailbox = %dir.display(),
            "MAIL IS NOT SENT: no FOLIO_SMTP_URL, so receipts and sign-in links are kept in the dev mailbox (admins read it at /admin/mailbox)"
        );
    }
    let listener = TcpListener::bind(bind).with_context(|| format!("binding {bind}"))?;
    tracing::info!(
        address = %bind,
        public_url = %state.settings.public_url,
        database = ?state.settings.database_url,
        "Folio is listening"
    );
    server(state, listener)?.await.context("server")
}

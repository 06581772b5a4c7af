//! Settings, read from the environment once at start and validated as a whole: every problem is
//! reported on its own line, not just the first.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use shared_types::Email;
use url::Url;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://./data/folio.db";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Which database a `DATABASE_URL` names.
#[derive(Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Postgres(String),
    /// A file path (or `:memory:`).
    Sqlite(String),
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, String> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres(url.to_owned()))
        } else if let Some(path) = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
        {
            if path.is_empty() {
                Err(
                    "DATABASE_URL: sqlite:// needs a file path, e.g. sqlite://./data/folio.db"
                        .into(),
                )
            } else {
                Ok(Self::Sqlite(path.to_owned()))
            }
        } else {
            Err("DATABASE_URL must start with postgres://, postgresql:// or sqlite://".into())
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DatabaseUrl::Postgres(_) => "postgresql",
            DatabaseUrl::Sqlite(_) => "sqlite",
        }
    }
}

// Never print a PostgreSQL URL: it may hold a password.
impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatabaseUrl::Postgres(url) => match Url::parse(url) {
                Ok(u) => write!(
                    f,
                    "postgres://{}@{}:{}{}",
                    u.username(),
                    u.host_str().unwrap_or(""),
                    u.port().unwrap_or(5432),
                    u.path()
                ),
                Err(_) => f.write_str("postgres://…"),
            },
            DatabaseUrl::Sqlite(path) => write!(f, "sqlite://{path}"),
        }
    }
}

/// Key material that must never be printed.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// How Folio reaches Stripe.
#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub secret_key: Secret,
    /// Webhook signing secrets; several during a rotation.
    pub webhook_secrets: Vec<Secret>,
    /// Base URL of the Stripe API (with a trailing slash).
    pub api_base: Url,
    /// True when the built-in emulator stands in for Stripe.
    pub emulated: bool,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub database_url: DatabaseUrl,
    pub db_pool_size: u32,
    pub bind: SocketAddr,
    /// Base of every absolute URL Folio hands out (download links, preview images).
    pub public_url: Url,
    pub jwt_secret: Secret,
    pub data_dir: PathBuf,
    /// `FOLIO_STORAGE_URL`: where files and previews are kept.
    pub storage: StorageLocation,
    pub download_redirect: DownloadRedirect,
    /// Load balancers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<crate::net::Cidr>,
    /// `FOLIO_WEB_DIST`: the built web UI to serve instead of the one in the binary.
    pub web_dist: Option<PathBuf>,
    pub max_file_bytes: u64,
    pub max_preview_bytes: u64,
    pub admin_emails: Vec<Email>,
    pub auth_rate_limit_per_minute: u32,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub download_token_ttl_secs: i64,
    /// When set, downloads are handed to the reverse proxy in front (nginx's `X-Accel-Redirect`):
    /// folio checks the token and the entitlement, records the download, and answers with this
    /// prefix followed by the object's key (`files/<sha256>`) instead of the bytes.
    pub download_accel_prefix: Option<String>,
    pub log_format: LogFormat,
    /// None in development without STRIPE_SECRET_KEY: `folio serve` starts the emulator.
    pub stripe: Option<StripeSettings>,
    pub mail: MailSettings,
    pub jobs: JobSettings,
    /// Lifetime of a mailed sign-in or password-reset link.
    pub link_ttl_secs: i64,
    /// How long a guest's browser may follow its checkout to the file.
    pub guest_access_secs: i64,
    /// Sign-in-link and reset requests per email address per hour (and ten times that per
    /// client address).
    pub mail_link_rate_limit_per_hour: u32,
    pub pricing: PricingSettings,
    pub api_key_rate_limit_per_minute: u32,
    pub webhooks: WebhookSettings,
    /// `FOLIO_RECONCILE_EVERY` in seconds; None: off.
    pub reconcile_every_secs: Option<u64>,
}

/// Where and how outbound webhooks go.
#[derive(Debug, Clone, Copy)]
pub struct WebhookSettings {
    /// Refuse loopback, link-local and private addresses (always in production by default).
    pub refuse_private: bool,
    pub timeout_secs: u64,
}

/// How prices become charges: tax, and the ceiling of pay what you want.
#[derive(Debug, Clone, Copy)]
pub struct PricingSettings {
    /// `FOLIO_STRIPE_TAX=on`: Stripe Tax computes tax at Checkout, collects the buyer's address
    /// and tax id, and makes an invoice for every paid order.
    pub stripe_tax: bool,
    /// `FOLIO_PRICES_INCLUDE_TAX=true`: prices already include the tax (else it is added).
    pub prices_include_tax: bool,
    /// The most a buyer may choose to pay, in minor units.
    pub max_pay_what_you_want_cents: i64,
    /// `FOLIO_PAST_DUE_GRACE`: how long a past-due membership keeps access, in seconds.
    pub past_due_grace_secs: i64,
}

/// Where mail goes.
#[derive(Debug, Clone)]
pub enum MailTransport {
    /// An SMTP server (`FOLIO_SMTP_URL`, as lettre reads it: `smtps://user:pass@host:465`,
    /// `smtp://host:587?tls=required`, `smtp://host:25`).
    Smtp(Secret),
    /// Development without SMTP: files in this folder, read by admins in the web UI.
    Mailbox(PathBuf),
}

#[derive(Debug, Clone)]
pub struct MailSettings {
    pub transport: MailTransport,
    /// `Name <address>` or an address.
    pub from: String,
}

#[derive(Debug, Clone)]
pub struct JobSettings {
    /// Jobs run at once on this node.
    pub workers: u32,
    /// Attempts before a job is left as failed.
    pub max_attempts: i32,
    /// The first retry's delay; each next one doubles (with jitter), up to an hour.
    pub retry_base_ms: u64,
    /// How long a claimed job is a worker's before another may take it (a crashed node's jobs
    /// run again after this).
    pub lease_secs: u64,
    /// How often an idle worker looks for due jobs (a job enqueued on this node wakes it).
    pub poll_ms: u64,
}

/// Where files and previews are kept.
#[derive(Debug, Clone)]
pub enum StorageLocation {
    /// `file:///path`: a folder on this machine (one node).
    Local(PathBuf),
    /// `s3://bucket/prefix`: an S3-compatible bucket, shared by every node.
    S3(Box<S3Location>),
}

#[derive(Debug, Clone)]
pub struct S3Location {
    pub bucket: String,
    /// Keys are stored under it (`prefix/files/<sha256>`); empty for the bucket's root.
    pub prefix: String,
    /// An S3-compatible server; None for AWS itself.
    pub endpoint: Option<Url>,
    pub region: String,
    /// None: credentials come from the machine (instance role, web identity), as the AWS SDKs
    /// find them.
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
}

/// How a download's bytes reach the buyer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownloadRedirect {
    /// Folio streams them (Range passed on to the store).
    Stream,
    /// A 302 to a presigned URL of the object store.
    Presigned,
}

pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// A setting's default: a value (parsed like one when the variable is not set), or what happens
/// when it is not set, for settings whose default is not a value.
#[derive(Debug, Clone, Copy)]
pub enum Default {
    Value(&'static str),
    Described(&'static str),
}

/// One setting, declared once: its variable, its default and what it means. The parsing below,
/// `folio settings` and the README's table all read these.
#[derive(Debug)]
pub struct Setting {
    pub name: &'static str,
    pub default: Default,
    pub meaning: &'static str,
}

impl Setting {
    const fn value(name: &'static str, default: &'static str, meaning: &'static str) -> Self {
        Self {
            name,
            default: Default::Value(default),
            meaning,
        }
    }

    const fn described(name: &'static str, default: &'static str, meaning: &'static str) -> Self {
        Self {
            name,
            default: Default::Described(default),
            meaning,
        }
    }

    pub fn default_text(&self) -> &'static str {
        match self.default {
            Default::Value(v) | Default::Described(v) => v,
        }
    }
}

pub mod vars {
    //! Every setting Folio reads.
    use super::Setting;

    pub const ENV: Setting = Setting::value(
        "FOLIO_ENV",
        "development",
        "`production` requires FOLIO_JWT_SECRET and FOLIO_PUBLIC_URL",
    );
    pub const DATABASE_URL: Setting = Setting::value(
        "DATABASE_URL",
        super::DEFAULT_DATABASE_URL,
        "`sqlite://PATH` or `postgres://USER@HOST/DB`",
    );
    pub const DB_POOL_SIZE: Setting =
        Setting::value("FOLIO_DB_POOL_SIZE", "10", "database connections per node");
    pub const BIND: Setting = Setting::value(
        "FOLIO_BIND",
        "127.0.0.1:8080",
        "address and port to listen on",
    );
    pub const PUBLIC_URL: Setting = Setting::described(
        "FOLIO_PUBLIC_URL",
        "http://<FOLIO_BIND>",
        "external base URL, used in download and preview links",
    );
    pub const JWT_SECRET: Setting = Setting::described(
        "FOLIO_JWT_SECRET",
        "generated into <FOLIO_DATA_DIR>/jwt-secret",
        "HMAC key for access and download tokens, at least 32 bytes",
    );
    pub const DATA_DIR: Setting =
        Setting::value("FOLIO_DATA_DIR", "./data", "where development data lives");
    pub const STORAGE_URL: Setting = Setting::described(
        "FOLIO_STORAGE_URL",
        "file://<FOLIO_DATA_DIR>/objects",
        "where files and previews are kept: `file:///path` (a folder) or `s3://bucket/prefix` (an S3-compatible bucket; several nodes need this)",
    );
    pub const S3_ENDPOINT: Setting = Setting::described(
        "FOLIO_S3_ENDPOINT",
        "(none: AWS)",
        "with `s3://`: the S3-compatible server, e.g. `http://127.0.0.1:8333` (path-style requests; `http://` is allowed)",
    );
    pub const S3_REGION: Setting = Setting::value(
        "FOLIO_S3_REGION",
        "us-east-1",
        "with `s3://`: the bucket's region",
    );
    pub const AWS_ACCESS_KEY_ID: Setting = Setting::described(
        "AWS_ACCESS_KEY_ID",
        "(none: the machine's role, as the AWS SDKs find it)",
        "with `s3://`: the access key (with AWS_SECRET_ACCESS_KEY, optionally AWS_SESSION_TOKEN)",
    );
    pub const AWS_SECRET_ACCESS_KEY: Setting = Setting::described(
        "AWS_SECRET_ACCESS_KEY",
        "(none)",
        "with `s3://`: the secret key",
    );
    pub const AWS_SESSION_TOKEN: Setting = Setting::described(
        "AWS_SESSION_TOKEN",
        "(none)",
        "with `s3://`: a temporary session token",
    );
    pub const DOWNLOAD_REDIRECT: Setting = Setting::value(
        "FOLIO_DOWNLOAD_REDIRECT",
        "stream",
        "`stream` (folio sends the bytes) or `presigned` (with `s3://`: after the checks and the record, a 302 to a presigned URL that expires with the download link; stamped PDFs and ZIPs are still streamed)",
    );
    pub const TRUSTED_PROXIES: Setting = Setting::described(
        "FOLIO_TRUSTED_PROXIES",
        "(none: the TCP peer is the client)",
        "comma-separated addresses or CIDRs of the load balancers in front; from their requests the client is the rightmost untrusted `X-Forwarded-For` hop",
    );
    pub const WEB_DIST: Setting = Setting::described(
        "FOLIO_WEB_DIST",
        "the UI built into the binary, else web-ui/dist",
        "the built web UI to serve at / (a folder, for UI development)",
    );
    pub const MAX_FILE_BYTES: Setting = Setting::value(
        "FOLIO_MAX_FILE_BYTES",
        "209715200",
        "largest product file accepted (200 MiB)",
    );
    pub const MAX_PREVIEW_BYTES: Setting = Setting::value(
        "FOLIO_MAX_PREVIEW_BYTES",
        "5242880",
        "largest preview image accepted (5 MiB)",
    );
    pub const ADMIN_EMAILS: Setting = Setting::described(
        "FOLIO_ADMIN_EMAILS",
        "(none)",
        "comma-separated emails that get the admin role",
    );
    pub const AUTH_RATE_LIMIT: Setting = Setting::value(
        "FOLIO_AUTH_RATE_LIMIT",
        "10",
        "register and login attempts per client IP per minute",
    );
    pub const ACCESS_TOKEN_TTL_SECS: Setting = Setting::value(
        "FOLIO_ACCESS_TOKEN_TTL_SECS",
        "900",
        "lifetime of an access token",
    );
    pub const REFRESH_TOKEN_TTL_SECS: Setting = Setting::value(
        "FOLIO_REFRESH_TOKEN_TTL_SECS",
        "2592000",
        "lifetime of a refresh token (30 days)",
    );
    pub const DOWNLOAD_TOKEN_TTL_SECS: Setting = Setting::value(
        "FOLIO_DOWNLOAD_TOKEN_TTL_SECS",
        "300",
        "lifetime of a download link",
    );
    pub const DOWNLOAD_ACCEL_PREFIX: Setting = Setting::described(
        "FOLIO_DOWNLOAD_ACCEL_PREFIX",
        "(none: folio streams the file)",
        "behind nginx, with `file://` storage: an `internal` location over the storage folder, e.g. `/_folio_objects/`; downloads answer with `X-Accel-Redirect` and nginx sends the bytes",
    );
    pub const LOG_FORMAT: Setting = Setting::value("FOLIO_LOG_FORMAT", "text", "`text` or `json`");
    pub const STRIPE_SECRET_KEY: Setting = Setting::described(
        "STRIPE_SECRET_KEY",
        "(none: the built-in emulator)",
        "Stripe secret key; required in production",
    );
    pub const STRIPE_WEBHOOK_SECRET: Setting = Setting::described(
        "STRIPE_WEBHOOK_SECRET",
        "(none)",
        "webhook signing secret(s), comma-separated for rotation; required with STRIPE_SECRET_KEY",
    );
    pub const STRIPE_API_BASE: Setting = Setting::value(
        "STRIPE_API_BASE",
        "https://api.stripe.com/",
        "Stripe API base URL (tests point it at the emulator)",
    );
    pub const SMTP_URL: Setting = Setting::described(
        "FOLIO_SMTP_URL",
        "(none: a dev mailbox under <FOLIO_DATA_DIR>/mail)",
        "SMTP server for mail, e.g. `smtps://user:pass@host:465` or `smtp://host:587?tls=required`; required in production",
    );
    pub const MAIL_FROM: Setting = Setting::value(
        "FOLIO_MAIL_FROM",
        "Folio <folio@localhost>",
        "sender of every message; set a real one in production",
    );
    pub const JOB_WORKERS: Setting = Setting::value(
        "FOLIO_JOB_WORKERS",
        "2",
        "background jobs run at once per node",
    );
    pub const JOB_MAX_ATTEMPTS: Setting = Setting::value(
        "FOLIO_JOB_MAX_ATTEMPTS",
        "8",
        "attempts before a job is left as failed (an admin can retry it)",
    );
    pub const JOB_RETRY_BASE_MS: Setting = Setting::value(
        "FOLIO_JOB_RETRY_BASE_MS",
        "5000",
        "delay before a failed job's first retry; doubling, with jitter, up to an hour",
    );
    pub const JOB_LEASE_SECS: Setting = Setting::value(
        "FOLIO_JOB_LEASE_SECS",
        "120",
        "how long a running job is its node's before another may run it again",
    );
    pub const JOB_POLL_MS: Setting = Setting::value(
        "FOLIO_JOB_POLL_MS",
        "1000",
        "how often an idle node looks for due jobs",
    );
    pub const LINK_TTL_SECS: Setting = Setting::value(
        "FOLIO_LINK_TTL_SECS",
        "900",
        "lifetime of a mailed sign-in or password-reset link",
    );
    pub const GUEST_ACCESS_SECS: Setting = Setting::value(
        "FOLIO_GUEST_ACCESS_SECS",
        "3600",
        "how long a guest's browser may follow its checkout to the file",
    );
    pub const MAIL_LINK_RATE_LIMIT: Setting = Setting::value(
        "FOLIO_MAIL_LINK_RATE_LIMIT",
        "5",
        "sign-in-link and reset requests per email per hour (ten times that per client IP)",
    );
    pub const STRIPE_TAX: Setting = Setting::value(
        "FOLIO_STRIPE_TAX",
        "off",
        "`on`: Stripe Tax at Checkout (address and tax id collected) and an invoice for every paid order",
    );
    pub const PRICES_INCLUDE_TAX: Setting = Setting::value(
        "FOLIO_PRICES_INCLUDE_TAX",
        "false",
        "`true`: prices include tax (with FOLIO_STRIPE_TAX=on); else tax is added at Checkout",
    );
    pub const PAY_WHAT_YOU_WANT_MAX: Setting = Setting::value(
        "FOLIO_PAY_WHAT_YOU_WANT_MAX",
        "1000",
        "the most a buyer may choose to pay for a pay-what-you-want item (in the item's currency)",
    );
    pub const PAST_DUE_GRACE: Setting = Setting::value(
        "FOLIO_PAST_DUE_GRACE",
        "3d",
        "how long a member whose renewal failed keeps access, from the failed invoice's time: seconds, or a duration such as `72h`, `3d`, `90m`",
    );
    pub const API_KEY_RATE_LIMIT: Setting = Setting::value(
        "FOLIO_API_KEY_RATE_LIMIT",
        "600",
        "requests per API key per minute, counted across nodes",
    );
    pub const WEBHOOK_PRIVATE_TARGETS: Setting = Setting::described(
        "FOLIO_WEBHOOK_PRIVATE_TARGETS",
        "`refuse` in production, `allow` otherwise",
        "`refuse`: outbound webhooks never go to loopback, link-local or private addresses (checked on the resolved address at every delivery); `allow` lets a local receiver get them",
    );
    pub const WEBHOOK_TIMEOUT_SECS: Setting = Setting::value(
        "FOLIO_WEBHOOK_TIMEOUT_SECS",
        "10",
        "how long an outbound webhook delivery may take before it counts as failed",
    );
    pub const RECONCILE_EVERY: Setting = Setting::described(
        "FOLIO_RECONCILE_EVERY",
        "off",
        "compare the last two days of orders with Stripe this often (a duration such as `6h` or `1d`) through the job queue, repairing what a lost webhook left undone",
    );
    pub const RUST_LOG: Setting =
        Setting::value("RUST_LOG", "info", "log filter (tracing-subscriber syntax)");

    /// In the order the help and the README list them.
    pub const ALL: &[&Setting] = &[
        &ENV,
        &DATABASE_URL,
        &DB_POOL_SIZE,
        &BIND,
        &PUBLIC_URL,
        &JWT_SECRET,
        &DATA_DIR,
        &STORAGE_URL,
        &S3_ENDPOINT,
        &S3_REGION,
        &AWS_ACCESS_KEY_ID,
        &AWS_SECRET_ACCESS_KEY,
        &AWS_SESSION_TOKEN,
        &DOWNLOAD_REDIRECT,
        &TRUSTED_PROXIES,
        &WEB_DIST,
        &MAX_FILE_BYTES,
        &MAX_PREVIEW_BYTES,
        &ADMIN_EMAILS,
        &AUTH_RATE_LIMIT,
        &ACCESS_TOKEN_TTL_SECS,
        &REFRESH_TOKEN_TTL_SECS,
        &DOWNLOAD_TOKEN_TTL_SECS,
        &DOWNLOAD_ACCEL_PREFIX,
        &LOG_FORMAT,
        &STRIPE_SECRET_KEY,
        &STRIPE_WEBHOOK_SECRET,
        &STRIPE_API_BASE,
        &SMTP_URL,
        &MAIL_FROM,
        &JOB_WORKERS,
        &JOB_MAX_ATTEMPTS,
        &JOB_RETRY_BASE_MS,
        &JOB_LEASE_SECS,
        &JOB_POLL_MS,
        &LINK_TTL_SECS,
        &GUEST_ACCESS_SECS,
        &MAIL_LINK_RATE_LIMIT,
        &STRIPE_TAX,
        &PRICES_INCLUDE_TAX,
        &PAY_WHAT_YOU_WANT_MAX,
        &PAST_DUE_GRACE,
        &API_KEY_RATE_LIMIT,
        &WEBHOOK_PRIVATE_TARGETS,
        &WEBHOOK_TIMEOUT_SECS,
        &RECONCILE_EVERY,
        &RUST_LOG,
    ];
}

/// The settings as a Markdown table: `folio settings` prints it, the README holds it (a test
/// checks that the two agree; `cargo xtask readme` writes it there).
pub fn markdown_table() -> String {
    let mut out = String::from("| Variable | Default | Meaning |\n| --- | --- | --- |\n");
    for s in vars::ALL {
        out.push_str(&format!(
            "| `{}` | `{}` | {} |\n",
            s.name,
            s.default_text(),
            s.meaning
        ));
    }
    out
}

/// Reads settings from a lookup, collecting every problem.
struct Reader<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
    problems: Vec<String>,
}

impl Reader<'_> {
    fn raw(&self, setting: &Setting) -> Option<String> {
        (self.get)(setting.name)
    }

    /// The value, or the default when unset; a value that does not parse is a problem.
    fn parse<T: std::str::FromStr>(&mut self, setting: &Setting) -> T {
        let default = || match setting.default {
            Default::Value(v) => v
                .parse()
                .unwrap_or_else(|_| panic!("the default of {} parses", setting.name)),
            Default::Described(_) => panic!("{} has no default value", setting.name),
        };
        match self.raw(setting) {
            None => default(),
            Some(raw) => raw.trim().parse().unwrap_or_else(|_| {
                self.problems
                    .push(format!("{}: `{raw}` is not valid", setting.name));
                default()
            }),
        }
    }

    /// [`Reader::parse`] for numbers that must be above zero.
    fn positive<T>(&mut self, setting: &Setting) -> T
    where
        T: std::str::FromStr + PartialOrd + Copy,
        T: std::default::Default,
    {
        let value: T = self.parse(setting);
        if value <= T::default() {
            self.problems
                .push(format!("{} must be greater than zero", setting.name));
            return match setting.default {
                Default::Value(v) => v.parse().unwrap_or(value),
                Default::Described(_) => value,
            };
        }
        value
    }

    fn problem(&mut self, message: String) {
        self.problems.push(message);
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, Vec<String>> {
        Self::from_lookup(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        use vars::*;
        let mut r = Reader {
            get: &get,
            problems: Vec::new(),
        };

        let environment = match r.raw(&ENV).as_deref() {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(other) => {
                r.problem(format!(
                    "FOLIO_ENV: `{other}` is neither `development` nor `production`"
                ));
                Environment::Development
            }
        };
        let production = environment == Environment::Production;

        let database_url =
            DatabaseUrl::parse(&r.parse::<String>(&DATABASE_URL)).unwrap_or_else(|e| {
                r.problem(e);
                DatabaseUrl::Sqlite(":memory:".into())
            });

        let bind: SocketAddr = r.parse(&BIND);

        let public_url = match r.raw(&PUBLIC_URL) {
            Some(raw) => match Url::parse(&raw) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => u,
                _ => {
                    r.problem(format!(
                        "FOLIO_PUBLIC_URL: `{raw}` is not an absolute http(s) URL"
                    ));
                    default_public_url(bind)
                }
            },
            None => {
                if production {
                    r.problem("FOLIO_PUBLIC_URL is required when FOLIO_ENV=production".into());
                }
                default_public_url(bind)
            }
        };

        let data_dir = PathBuf::from(r.parse::<String>(&DATA_DIR));
        let storage = parse_storage(&mut r, &data_dir);
        let download_redirect = match r.parse::<String>(&DOWNLOAD_REDIRECT).as_str() {
            "stream" => DownloadRedirect::Stream,
            "presigned" => DownloadRedirect::Presigned,
            other => {
                r.problem(format!(
                    "FOLIO_DOWNLOAD_REDIRECT: `{other}` is neither `stream` nor `presigned`"
                ));
                DownloadRedirect::Stream
            }
        };
        if download_redirect == DownloadRedirect::Presigned
            && !matches!(storage, StorageLocation::S3(_))
        {
            r.problem(
                "FOLIO_DOWNLOAD_REDIRECT=presigned needs s3:// storage (FOLIO_STORAGE_URL)".into(),
            );
        }
        let mut trusted_proxies = Vec::new();
        for raw in r.raw(&TRUSTED_PROXIES).unwrap_or_default().split(',') {
            if raw.trim().is_empty() {
                continue;
            }
            match raw.trim().parse::<crate::net::Cidr>() {
                Ok(c) => trusted_proxies.push(c),
                Err(e) => r.problem(format!("FOLIO_TRUSTED_PROXIES: `{}`: {e}", raw.trim())),
            }
        }
        let web_dist = r.raw(&WEB_DIST).map(PathBuf::from);

        let jwt_secret = match r.raw(&JWT_SECRET) {
            Some(s) if s.len() >= MIN_JWT_SECRET_BYTES => Some(Secret(s.into_bytes())),
            Some(_) => {
                r.problem(format!(
                    "FOLIO_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
                ));
                None
            }
            None if production => {
                r.problem("FOLIO_JWT_SECRET is required when FOLIO_ENV=production".into());
                None
            }
            None => None,
        };
        // In development the secret is generated once and kept, so restarts keep sessions.
        let jwt_secret = match jwt_secret {
            Some(s) => s,
            None if production || !r.problems.is_empty() => Secret(vec![0; MIN_JWT_SECRET_BYTES]),
            None => match dev_secret(&data_dir) {
                Ok(s) => s,
                Err(e) => {
                    r.problem(format!("FOLIO_JWT_SECRET: {e:#}"));
                    Secret(vec![0; MIN_JWT_SECRET_BYTES])
                }
            },
        };

        let mut admin_emails = Vec::new();
        for raw in r.raw(&ADMIN_EMAILS).unwrap_or_default().split(',') {
            if raw.trim().is_empty() {
                continue;
            }
            match Email::parse(raw) {
                Ok(e) => admin_emails.push(e),
                Err(e) => r.problem(format!("FOLIO_ADMIN_EMAILS: `{}`: {e}", raw.trim())),
            }
        }

        let log_format = match r.parse::<String>(&LOG_FORMAT).as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                r.problem(format!(
                    "FOLIO_LOG_FORMAT: `{other}` is neither `text` nor `json`"
                ));
                LogFormat::Text
            }
        };

        let stripe = parse_stripe(&mut r, production);

        let download_accel_prefix = r.raw(&DOWNLOAD_ACCEL_PREFIX);
        if download_accel_prefix.is_some() && !matches!(storage, StorageLocation::Local(_)) {
            r.problem("FOLIO_DOWNLOAD_ACCEL_PREFIX needs file:// storage: nginx reads the files from the folder".into());
        }
        if let Some(prefix) = &download_accel_prefix {
            let safe = prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/_-.".contains(c));
            if !(prefix.starts_with('/') && prefix.ends_with('/') && safe) || prefix.contains("..")
            {
                r.problem(format!(
                    "FOLIO_DOWNLOAD_ACCEL_PREFIX: `{prefix}` must be a path that starts and ends \
                     with `/`, of letters, digits, `/`, `_`, `-` and `.`"
                ));
            }
        }

        let mail_from: String = r.parse(&MAIL_FROM);
        if mail_from.trim().is_empty() || !mail_from.contains('@') {
            r.problem(format!(
                "FOLIO_MAIL_FROM: `{mail_from}` is not an address (`Name <shop@example.com>`)"
            ));
        }
        let transport = match r.raw(&SMTP_URL) {
            Some(url) => {
                let ok = ["smtp://", "smtps://"].iter().any(|p| url.starts_with(p))
                    && Url::parse(&url).is_ok_and(|u| u.host().is_some());
                if !ok {
                    // Never echo it: it may hold a password.
                    r.problem(
                        "FOLIO_SMTP_URL must be an smtp:// or smtps:// URL with a host".into(),
                    );
                }
                MailTransport::Smtp(Secret(url.into_bytes()))
            }
            None => {
                if production {
                    r.problem("FOLIO_SMTP_URL is required when FOLIO_ENV=production".into());
                }
                MailTransport::Mailbox(data_dir.join("mail"))
            }
        };
        let jobs = JobSettings {
            workers: r.positive(&JOB_WORKERS),
            max_attempts: r.positive(&JOB_MAX_ATTEMPTS),
            retry_base_ms: r.positive(&JOB_RETRY_BASE_MS),
            lease_secs: r.positive(&JOB_LEASE_SECS),
            poll_ms: r.positive(&JOB_POLL_MS),
        };

        let stripe_tax = match r.parse::<String>(&STRIPE_TAX).as_str() {
            "on" => true,
            "off" => false,
            other => {
                r.problem(format!(
                    "FOLIO_STRIPE_TAX: `{other}` is neither `on` nor `off`"
                ));
                false
            }
        };
        let prices_include_tax = match r.parse::<String>(&PRICES_INCLUDE_TAX).as_str() {
            "true" => true,
            "false" => false,
            other => {
                r.problem(format!(
                    "FOLIO_PRICES_INCLUDE_TAX: `{other}` is neither `true` nor `false`"
                ));
                false
            }
        };
        let raw_max = r.parse::<String>(&PAY_WHAT_YOU_WANT_MAX);
        let max_pay_what_you_want_cents = match shared_types::Price::parse(
            &raw_max,
            shared_types::Currency::Usd,
        ) {
            Ok(p) if !p.is_free() => p.cents(),
            _ => {
                r.problem(format!(
                        "FOLIO_PAY_WHAT_YOU_WANT_MAX: `{raw_max}` is not an amount from 0.50 to 999999.99"
                    ));
                100_000
            }
        };
        let raw_grace = r.parse::<String>(&PAST_DUE_GRACE);
        let past_due_grace_secs = parse_duration_secs(&raw_grace).unwrap_or_else(|| {
            r.problem(format!(
                "FOLIO_PAST_DUE_GRACE: `{raw_grace}` is not seconds or a duration such as `72h`, `3d` or `90m`"
            ));
            0
        });
        let refuse_private = match r.raw(&WEBHOOK_PRIVATE_TARGETS).as_deref().map(str::trim) {
            None | Some("") => production,
            Some("refuse") => true,
            Some("allow") => false,
            Some(other) => {
                r.problem(format!(
                    "FOLIO_WEBHOOK_PRIVATE_TARGETS: `{other}` is neither `refuse` nor `allow`"
                ));
                true
            }
        };
        let reconcile_every_secs = match r.raw(&RECONCILE_EVERY).as_deref().map(str::trim) {
            None | Some("") | Some("off") => None,
            Some(raw) => match parse_duration_secs(raw) {
                Some(secs) if secs >= 60 => Some(secs as u64),
                _ => {
                    r.problem(format!(
                        "FOLIO_RECONCILE_EVERY: `{raw}` is not `off` or a duration of a minute or more such as `6h` or `1d`"
                    ));
                    None
                }
            },
        };
        let settings = Settings {
            environment,
            database_url,
            db_pool_size: r.positive(&DB_POOL_SIZE),
            bind,
            public_url,
            jwt_secret,
            data_dir,
            storage,
            download_redirect,
            trusted_proxies,
            web_dist,
            max_file_bytes: r.positive(&MAX_FILE_BYTES),
            max_preview_bytes: r.positive(&MAX_PREVIEW_BYTES),
            admin_emails,
            auth_rate_limit_per_minute: r.positive(&AUTH_RATE_LIMIT),
            access_token_ttl_secs: r.positive(&ACCESS_TOKEN_TTL_SECS),
            refresh_token_ttl_secs: r.positive(&REFRESH_TOKEN_TTL_SECS),
            download_token_ttl_secs: r.positive(&DOWNLOAD_TOKEN_TTL_SECS),
            download_accel_prefix,
            log_format,
            stripe,
            mail: MailSettings {
                transport,
                from: mail_from,
            },
            jobs,
            link_ttl_secs: r.positive(&LINK_TTL_SECS),
            guest_access_secs: r.positive(&GUEST_ACCESS_SECS),
            mail_link_rate_limit_per_hour: r.positive(&MAIL_LINK_RATE_LIMIT),
            pricing: PricingSettings {
                stripe_tax,
                prices_include_tax,
                max_pay_what_you_want_cents,
                past_due_grace_secs,
            },
            api_key_rate_limit_per_minute: r.positive(&API_KEY_RATE_LIMIT),
            webhooks: WebhookSettings {
                refuse_private,
                timeout_secs: r.positive(&WEBHOOK_TIMEOUT_SECS),
            },
            reconcile_every_secs,
        };
        if r.problems.is_empty() {
            Ok(settings)
        } else {
            Err(r.problems)
        }
    }

    pub fn is_admin_email(&self, email: &str) -> bool {
        self.admin_emails.iter().any(|e| e.as_ref() == email)
    }

    /// Whether cookies must carry `Secure`.
    pub fn https(&self) -> bool {
        self.public_url.scheme() == "https"
    }

    /// An absolute URL under the public base.
    pub fn public(&self, path: &str) -> String {
        format!("{}{}", self.public_url.as_str().trim_end_matches('/'), path)
    }
}

/// Seconds (`259200`), or a whole number of `s`, `m`, `h` or `d` (`72h`); 0 and up to ten
/// years.
pub fn parse_duration_secs(raw: &str) -> Option<i64> {
    let raw = raw.trim();
    let (digits, unit) = match raw.char_indices().last()? {
        (i, c) if c.is_ascii_alphabetic() => (&raw[..i], c),
        _ => (raw, 's'),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: i64 = digits.parse().ok()?;
    let secs = n.checked_mul(match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        _ => return None,
    })?;
    (secs <= 10 * 366 * 86_400).then_some(secs)
}

fn parse_storage(r: &mut Reader<'_>, data_dir: &Path) -> StorageLocation {
    use vars::*;
    let local = || StorageLocation::Local(data_dir.join("objects"));
    let Some(raw) = r.raw(&STORAGE_URL) else {
        return local();
    };
    let raw = raw.trim().to_owned();
    if let Some(path) = raw.strip_prefix("file://") {
        if !path.starts_with('/') {
            r.problem(format!(
                "FOLIO_STORAGE_URL: `{raw}` must name an absolute folder, e.g. file:///var/lib/folio/objects"
            ));
            return local();
        }
        return StorageLocation::Local(PathBuf::from(path));
    }
    let Some(rest) = raw.strip_prefix("s3://") else {
        r.problem(format!(
            "FOLIO_STORAGE_URL: `{raw}` must start with file:// or s3://"
        ));
        return local();
    };
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let prefix = prefix.trim_matches('/').to_owned();
    let prefix_ok =
        prefix.split('/').all(|part| part != "." && part != "..") && !prefix.contains("//");
    if !bucket_ok || !prefix_ok {
        r.problem(format!(
            "FOLIO_STORAGE_URL: `{raw}` is not s3://bucket/prefix (a bucket of 3 to 63 lowercase letters, digits, `-` and `.`)"
        ));
        return local();
    }
    let endpoint = r
        .raw(&S3_ENDPOINT)
        .and_then(|raw| match Url::parse(raw.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            _ => {
                r.problem(format!("FOLIO_S3_ENDPOINT: `{raw}` is not an http(s) URL"));
                None
            }
        });
    let access_key_id = r.raw(&AWS_ACCESS_KEY_ID);
    let secret_access_key = r
        .raw(&AWS_SECRET_ACCESS_KEY)
        .map(|s| Secret(s.into_bytes()));
    if access_key_id.is_some() != secret_access_key.is_some() {
        r.problem(
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY go together: set both or neither".into(),
        );
    }
    StorageLocation::S3(Box::new(S3Location {
        bucket: bucket.to_owned(),
        prefix,
        endpoint,
        region: r.parse(&S3_REGION),
        access_key_id,
        secret_access_key,
        session_token: r.raw(&AWS_SESSION_TOKEN).map(|s| Secret(s.into_bytes())),
    }))
}

fn parse_stripe(r: &mut Reader<'_>, production: bool) -> Option<StripeSettings> {
    use vars::*;
    let key = r.raw(&STRIPE_SECRET_KEY);
    let secrets: Vec<Secret> = r
        .raw(&STRIPE_WEBHOOK_SECRET)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| Secret(s.as_bytes().to_vec()))
        .collect();
    let raw_base = r.parse::<String>(&STRIPE_API_BASE);
    let api_base = match Url::parse(&raw_base) {
        Ok(mut u) if matches!(u.scheme(), "http" | "https") => {
            if !u.path().ends_with('/') {
                u.set_path(&format!("{}/", u.path()));
            }
            u
        }
        _ => {
            r.problem(format!(
                "STRIPE_API_BASE: `{raw_base}` is not an http(s) URL"
            ));
            return None;
        }
    };
    match key {
        None => {
            if production {
                r.problem("STRIPE_SECRET_KEY is required when FOLIO_ENV=production".into());
                if secrets.is_empty() {
                    r.problem("STRIPE_WEBHOOK_SECRET is required when FOLIO_ENV=production".into());
                }
            }
            None
        }
        Some(key) => {
            if secrets.is_empty() {
                r.problem("STRIPE_WEBHOOK_SECRET is required with STRIPE_SECRET_KEY".into());
            }
            if production && key.starts_with("sk_test_") {
                tracing::warn!(
                    "FOLIO_ENV=production with a Stripe test key: payments are in test mode"
                );
            }
            Some(StripeSettings {
                secret_key: Secret(key.into_bytes()),
                webhook_secrets: secrets,
                api_base,
                emulated: false,
            })
        }
    }
}

fn default_public_url(bind: SocketAddr) -> Url {
    Url::parse(&format!("http://{bind}")).expect("a socket address makes a valid URL")
}

fn dev_secret(data_dir: &Path) -> anyhow::Result<Secret> {
    use rand::RngCore;
    let path = data_dir.join("jwt-secret");
    if let Ok(existing) = std::fs::read(&path) {
        if existing.len() >= MIN_JWT_SECRET_BYTES {
            return Ok(Secret(existing));
        }
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut bytes = vec![0u8; 48];
    rand::thread_rng().fill_bytes(&mut bytes);
    write_private(&path, &bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(Secret(bytes))
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, Vec<String>> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn the_grace_is_seconds_or_a_duration() {
        assert_eq!(parse_duration_secs("259200"), Some(259_200));
        assert_eq!(parse_duration_secs("72h"), Some(259_200));
        assert_eq!(parse_duration_secs("3d"), Some(259_200));
        assert_eq!(parse_duration_secs("90m"), Some(5400));
        assert_eq!(parse_duration_secs("0"), Some(0));
        for bad in ["", "h", "-1", "3w", "1.5h", "3 d", "99999999999d"] {
            assert_eq!(parse_duration_secs(bad), None, "{bad}");
        }
        let problems = settings(&[
            ("FOLIO_PAST_DUE_GRACE", "soon"),
            // Given, so that no development secret is written under ./data.
            ("FOLIO_JWT_SECRET", "a-test-secret-of-thirty-two-bytes!!"),
        ])
        .unwrap_err();
        assert!(problems.iter().any(|p| p.contains("FOLIO_PAST_DUE_GRACE")));
    }

    #[test]
    fn production_refuses_to_start_without_secret_and_public_url() {
        let problems = settings(&[("FOLIO_ENV", "production")]).unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.contains("STRIPE_SECRET_KEY is required")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("STRIPE_WEBHOOK_SECRET is required")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("FOLIO_JWT_SECRET is required")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("FOLIO_PUBLIC_URL is required")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.contains("FOLIO_SMTP_URL is required")),
            "{problems:?}"
        );
    }

    #[test]
    fn short_secrets_and_bad_values_are_each_reported() {
        let problems = settings(&[
            ("FOLIO_JWT_SECRET", "short"),
            ("FOLIO_MAX_FILE_BYTES", "lots"),
            ("DATABASE_URL", "mysql://x"),
            ("FOLIO_ADMIN_EMAILS", "ok@example.com,not-an-email"),
        ])
        .unwrap_err();
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn production_with_everything_set_starts_and_hides_the_secret() {
        let s = settings(&[
            ("FOLIO_ENV", "production"),
            ("FOLIO_JWT_SECRET", "0123456789abcdef0123456789abcdef"),
            ("FOLIO_PUBLIC_URL", "https://shop.example.com"),
            ("DATABASE_URL", "postgres://folio:hunter2@db/folio"),
            ("STRIPE_SECRET_KEY", "sk_live_abcdefabcdef"),
            ("STRIPE_WEBHOOK_SECRET", "whsec_old,whsec_new"),
            (
                "FOLIO_SMTP_URL",
                "smtps://shop:mailpass42@mail.example.com:465",
            ),
        ])
        .unwrap();
        assert!(s.https());
        let debug = format!("{s:?}");
        assert!(!debug.contains("0123456789abcdef"));
        assert!(!debug.contains("hunter2"));
        assert!(!debug.contains("sk_live") && !debug.contains("whsec"));
        assert!(
            !debug.contains("mailpass42"),
            "the SMTP password stays hidden"
        );
        assert_eq!(s.stripe.unwrap().webhook_secrets.len(), 2);
    }

    #[test]
    fn the_download_accel_prefix_must_be_a_plain_path() {
        // A secret of its own, or development settings would write one under ./data.
        let secret = ("FOLIO_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        let ok = settings(&[secret, ("FOLIO_DOWNLOAD_ACCEL_PREFIX", "/_folio_objects/")]).unwrap();
        assert_eq!(
            ok.download_accel_prefix.as_deref(),
            Some("/_folio_objects/")
        );
        assert_eq!(settings(&[secret]).unwrap().download_accel_prefix, None);
        for bad in [
            "_folio/",
            "/_folio",
            "/a/../b/",
            "/a b/",
            "/a\r\nX: y/",
            "http://x/",
        ] {
            let problems = settings(&[secret, ("FOLIO_DOWNLOAD_ACCEL_PREFIX", bad)]).unwrap_err();
            assert!(
                problems[0].contains("FOLIO_DOWNLOAD_ACCEL_PREFIX"),
                "{bad}: {problems:?}"
            );
        }
    }

    #[test]
    fn storage_is_a_folder_or_a_bucket() {
        let secret = ("FOLIO_JWT_SECRET", "0123456789abcdef0123456789abcdef");
        match settings(&[secret, ("FOLIO_DATA_DIR", "/srv/folio")])
            .unwrap()
            .storage
        {
            StorageLocation::Local(dir) => assert_eq!(dir, PathBuf::from("/srv/folio/objects")),
            other => panic!("{other:?}"),
        }
        let s3 = settings(&[
            secret,
            ("FOLIO_STORAGE_URL", "s3://shop-files/prod/eu/"),
            ("FOLIO_S3_ENDPOINT", "http://127.0.0.1:8333"),
            ("AWS_ACCESS_KEY_ID", "AK"),
            ("AWS_SECRET_ACCESS_KEY", "SK"),
            ("FOLIO_DOWNLOAD_REDIRECT", "presigned"),
        ])
        .unwrap();
        match &s3.storage {
            StorageLocation::S3(b) => {
                assert_eq!(
                    (b.bucket.as_str(), b.prefix.as_str()),
                    ("shop-files", "prod/eu")
                );
                assert_eq!(b.region, "us-east-1");
                assert_eq!(
                    b.endpoint.as_ref().unwrap().as_str(),
                    "http://127.0.0.1:8333/"
                );
                assert!(
                    !format!("{s3:?}").contains("SK"),
                    "the secret is never printed"
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(s3.download_redirect, DownloadRedirect::Presigned);
        for (bad, says) in [
            (vec![("FOLIO_STORAGE_URL", "ftp://x")], "FOLIO_STORAGE_URL"),
            (vec![("FOLIO_STORAGE_URL", "file://relative")], "absolute"),
            (vec![("FOLIO_STORAGE_URL", "s3://UPPER")], "bucket"),
            (vec![("FOLIO_STORAGE_URL", "s3://files/../up")], "bucket"),
            (
                vec![
                    ("FOLIO_STORAGE_URL", "s3://files"),
                    ("AWS_ACCESS_KEY_ID", "AK"),
                ],
                "go together",
            ),
            (
                vec![("FOLIO_DOWNLOAD_REDIRECT", "presigned")],
                "needs s3://",
            ),
            (
                vec![("FOLIO_DOWNLOAD_REDIRECT", "sometimes")],
                "FOLIO_DOWNLOAD_REDIRECT",
            ),
            (
                vec![
                    ("FOLIO_STORAGE_URL", "s3://files"),
                    ("FOLIO_DOWNLOAD_ACCEL_PREFIX", "/_x/"),
                ],
                "needs file://",
            ),
            (
                vec![("FOLIO_TRUSTED_PROXIES", "10.0.0.0/8, nonsense")],
                "nonsense",
            ),
        ] {
            let mut vars = vec![secret];
            vars.extend(bad.iter().copied());
            let problems = settings(&vars).unwrap_err();
            assert!(
                problems.iter().any(|p| p.contains(says)),
                "{bad:?}: {problems:?}"
            );
        }
        let proxies = settings(&[secret, ("FOLIO_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8")])
            .unwrap()
            .trusted_proxies;
        assert_eq!(proxies.len(), 2);
    }
}

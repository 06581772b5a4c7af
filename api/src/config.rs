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
    pub storage_dir: PathBuf,
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

    fn default_text(&self) -> &'static str {
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
    pub const STORAGE_DIR: Setting = Setting::described(
        "FOLIO_STORAGE_DIR",
        "<FOLIO_DATA_DIR>/objects",
        "local object storage for files and previews",
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
        "behind nginx: an `internal` location over FOLIO_STORAGE_DIR, e.g. `/_folio_objects/`; downloads answer with `X-Accel-Redirect` and nginx sends the bytes",
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
        &STORAGE_DIR,
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
        let storage_dir = r
            .raw(&STORAGE_DIR)
            .map(PathBuf::from)
            .unwrap_or_else(|| data_dir.join("objects"));
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

        let settings = Settings {
            environment,
            database_url,
            db_pool_size: r.positive(&DB_POOL_SIZE),
            bind,
            public_url,
            jwt_secret,
            data_dir,
            storage_dir,
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
        ])
        .unwrap();
        assert!(s.https());
        let debug = format!("{s:?}");
        assert!(!debug.contains("0123456789abcdef"));
        assert!(!debug.contains("hunter2"));
        assert!(!debug.contains("sk_live") && !debug.contains("whsec"));
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
}

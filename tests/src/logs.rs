//! Every server in a test binary logs into one buffer, at debug level with request spans, so
//! that the suite can prove no secret reaches the logs. Each server, when its test ends, scans
//! what was logged since the last scan for every secret known, and what was logged before it
//! for the secrets handed out since (in one pass each, with Aho-Corasick): every byte meets
//! every secret once, however many tests share the binary.

use std::sync::{Mutex, OnceLock};

use crate::{JWT_SECRET, PASSWORD, WEBHOOK_SECRET};

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static SECRETS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How far the logs have been scanned, and with how many of the secrets.
static SCANNED: Mutex<(usize, usize)> = Mutex::new((0, 0));

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
/// above, request spans included.
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

fn fixed_secrets() -> Vec<String> {
    [PASSWORD, JWT_SECRET, WEBHOOK_SECRET, "sk_test_folio"]
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// The leaks in what was logged since the last call (see the module's comment).
pub fn new_leaks() -> Vec<String> {
    let mut scanned = SCANNED.lock().unwrap();
    let logs = LOGS.lock().unwrap().clone();
    let secrets: Vec<String> = SECRETS.lock().unwrap().clone();
    let (done_bytes, done_secrets) = *scanned;
    let mut all = fixed_secrets();
    all.extend(secrets.iter().cloned());
    // Secrets can straddle the last scan's end: go back by the longest one.
    let overlap = all.iter().map(String::len).max().unwrap_or(0);
    let start = done_bytes.saturating_sub(overlap);
    let mut found = find_leaks(&String::from_utf8_lossy(&logs[start..]), &all);
    let newer: Vec<String> = secrets[done_secrets.min(secrets.len())..].to_vec();
    if !newer.is_empty() && start > 0 {
        found.extend(secrets_in(&logs[..start], &newer));
    }
    *scanned = (logs.len(), secrets.len());
    found
}

fn secrets_in(haystack: &[u8], secrets: &[String]) -> Vec<String> {
    let patterns: Vec<&String> = secrets.iter().filter(|s| !s.is_empty()).collect();
    if patterns.is_empty() {
        return Vec::new();
    }
    let ac = aho_corasick::AhoCorasick::new(&patterns).expect("secrets make an automaton");
    let mut hit: Vec<usize> = ac
        .find_iter(haystack)
        .map(|m| m.pattern().as_usize())
        .collect();
    hit.sort_unstable();
    hit.dedup();
    hit.into_iter()
        .map(|i| {
            let s = patterns[i];
            format!("secret {}…", &s[..s.len().min(6)])
        })
        .collect()
}

/// The secrets found in `logs`: any of `secrets`, any JWT (`eyJ...`.`eyJ...`), a bearer header.
pub fn find_leaks(logs: &str, secrets: &[String]) -> Vec<String> {
    let mut found = secrets_in(logs.as_bytes(), secrets);
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

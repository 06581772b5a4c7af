//! `cargo xtask soak`: folio (SQLite, or PostgreSQL with `--postgres`) and the Stripe emulator
//! binary under mixed traffic from N concurrent connections for a while (default: release build,
//! 10 minutes, 200 connections), then three checks:
//!
//! - every response and every webhook delivery is accounted for: no 5xx, no transport error, no
//!   status other than the one each step expects;
//! - orders and entitlements reconcile exactly with what the driver did: each session it paid is
//!   one `paid` order, every other session's order is in the state its outcome implies, and each
//!   user's library is exactly the products that user paid for;
//! - the RSS of folio stays flat after warm-up (see [`RSS_RULE`]).
//!
//! The traffic, per connection (one thread, one keep-alive connection, two users of its own):
//! anonymous and signed-in catalog browsing through cursors, product pages, download-token issue
//! plus the download itself (free items and owned ones), library, orders, token refresh, sign-in,
//! and checkouts that are paid by card, paid later (succeeding or failing), expired, cancelled
//! or declined on the emulator's hosted page, sometimes followed by the success page's status
//! call. The emulator delivers every event three times (two concurrent duplicates), and every
//! few seconds holds events back and releases them in reverse order.
//!
//! `cargo xtask test` runs a bounded form (debug build, 25 s, 24 connections) that checks the
//! same things except RSS. The full form writes bench/SOAK.md, linked from bench/RESULTS.md.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::bench::{self, PgDatabase, Stack};
use crate::process::free_port;

const ADMIN_EMAIL: &str = "soak-admin@example.com";
const PASSWORD: &str = "soak password 1";
const FREE_PRODUCTS: usize = 40;
const PAID_PRODUCTS: usize = 300;
const FILE_BYTES: usize = 256 << 10;
const USERS_PER_CONNECTION: usize = 2;
/// The bound on RSS growth after warm-up, checked by the full soak.
const RSS_RULE: &str = "after a warm-up of the first 20% of the run, the median RSS of the last \
    10% of the samples may exceed the median of the first 20% of the post-warm-up samples by at \
    most 20% or 16 MB, whichever is larger";
const RSS_MAX_GROWTH: f64 = 0.20;
const RSS_MAX_GROWTH_KB: u64 = 16 << 10;

/// What to run; [`Options::full`] unless flags say otherwise.
pub struct Options {
    release: bool,
    duration: Duration,
    connections: usize,
    postgres: bool,
    /// Write bench/SOAK.md and fail on RSS growth (the full form).
    full: bool,
}

impl Options {
    fn full() -> Self {
        Self {
            release: true,
            duration: Duration::from_secs(600),
            connections: 200,
            postgres: false,
            full: true,
        }
    }

    /// The bounded form for `cargo xtask test`: the debug build `cargo test` made, 25 s.
    fn bounded() -> Self {
        Self {
            release: false,
            duration: Duration::from_secs(25),
            connections: 24,
            postgres: false,
            full: false,
        }
    }
}

fn parse_duration(text: &str) -> Result<Duration> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let n: u64 = t[..split]
        .parse()
        .with_context(|| format!("--duration {text}: a number, then s, m or nothing"))?;
    Ok(Duration::from_secs(match &t[split..] {
        "" | "s" => n,
        "m" => n * 60,
        _ => bail!("--duration {text}: the unit is s or m"),
    }))
}

/// `cargo xtask soak [--bounded] [--duration 10m] [--connections 200] [--postgres]`;
/// `--bounded` starts from the form `cargo xtask test` runs.
pub fn soak_command(root: &Path, args: &[String]) -> Result<()> {
    let mut opts = if args.iter().any(|a| a == "--bounded") {
        Options::bounded()
    } else {
        Options::full()
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = || args.next().context("a value must follow the flag");
        match arg.as_str() {
            "--duration" => opts.duration = parse_duration(value()?)?,
            "--connections" => {
                opts.connections = value()?.parse().context("--connections takes a number")?
            }
            "--postgres" => opts.postgres = true,
            "--bounded" => {}
            other => bail!(
                "unknown soak flag {other}; usage: cargo xtask soak [--bounded] [--duration 10m] [--connections 200] [--postgres]"
            ),
        }
    }
    if opts.connections == 0 || opts.duration.is_zero() {
        bail!("--connections and --duration must be positive");
    }
    soak(root, &opts)
}

/// The bounded soak of `cargo xtask test`.
pub fn bounded(root: &Path) -> Result<()> {
    soak(root, &Options::bounded())
}

// ---------------------------------------------------------------------------------------------
// Counting

#[derive(Default)]
struct KindStats {
    statuses: BTreeMap<u16, u64>,
    /// Transport errors: refused, reset, timed out, unreadable body.
    errors: u64,
    /// Answers with a status the step did not expect (5xx included).
    unexpected: u64,
    latencies_us: Vec<u32>,
}

#[derive(Default)]
struct Stats {
    kinds: BTreeMap<&'static str, KindStats>,
    /// The first problems, word for word.
    problems: Vec<String>,
    problem_count: u64,
    /// Broken invariants seen during the run (e.g. owned without a payment).
    violations: u64,
    downloaded_bytes: u64,
}

impl Stats {
    fn problem(&mut self, text: String) {
        self.problem_count += 1;
        if self.problems.len() < 20 {
            self.problems.push(text);
        }
    }

    fn violation(&mut self, text: String) {
        self.violations += 1;
        self.problem(format!("invariant: {text}"));
    }

    fn merge(&mut self, other: Stats) {
        for (kind, o) in other.kinds {
            let k = self.kinds.entry(kind).or_default();
            for (status, n) in o.statuses {
                *k.statuses.entry(status).or_default() += n;
            }
            k.errors += o.errors;
            k.unexpected += o.unexpected;
            k.latencies_us.extend(o.latencies_us);
        }
        for p in other.problems {
            if self.problems.len() < 20 {
                self.problems.push(p);
            }
        }
        self.problem_count += other.problem_count;
        self.violations += other.violations;
        self.downloaded_bytes += other.downloaded_bytes;
    }

    fn requests(&self) -> u64 {
        self.kinds
            .values()
            .map(|k| k.statuses.values().sum::<u64>() + k.errors)
            .sum()
    }

    fn status_classes(&self) -> BTreeMap<String, u64> {
        let mut classes = BTreeMap::new();
        for k in self.kinds.values() {
            for (status, n) in &k.statuses {
                *classes.entry(format!("{}xx", status / 100)).or_default() += n;
            }
            if k.errors > 0 {
                *classes.entry("transport error".into()).or_default() += k.errors;
            }
        }
        classes
    }

    fn count_5xx(&self) -> u64 {
        self.kinds
            .values()
            .flat_map(|k| k.statuses.iter())
            .filter(|(s, _)| **s >= 500)
            .map(|(_, n)| n)
            .sum()
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

// ---------------------------------------------------------------------------------------------
// HTTP

enum Body<'a> {
    None,
    Json(Value),
    Form(&'a str),
}

struct Client {
    agent: ureq::Agent,
    /// For the emulator, whose calls come seconds apart: a fresh connection each time. A pooled
    /// one would sometimes be reused just as the server closes it for idleness (actix's 5 s
    /// keep-alive), and a POST is not retried: "Unexpected EOF" without any fault on either side.
    emulator_agent: ureq::Agent,
    base: String,
    emulator: String,
    stats: Stats,
}

impl Client {
    fn new(base: &str, emulator: &str) -> Self {
        Self {
            // No redirects: the hosted page answers 303 to the success URL, which is the web UI.
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .redirects(0)
                .build(),
            emulator_agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .redirects(0)
                .max_idle_connections(0)
                .build(),
            base: base.to_owned(),
            emulator: emulator.to_owned(),
            stats: Stats::default(),
        }
    }

    /// One request; its status, latency and any problem are counted under `kind`. The body when
    /// the status is one of `expect`.
    fn call(
        &mut self,
        kind: &'static str,
        req: ureq::Request,
        body: Body<'_>,
        expect: &[u16],
    ) -> Option<Vec<u8>> {
        let what = format!("{kind}: {} {}", req.method(), req.url());
        let start = Instant::now();
        let result = match body {
            Body::None => req.call(),
            Body::Json(v) => req.send_json(v),
            Body::Form(f) => req
                .set("Content-Type", "application/x-www-form-urlencoded")
                .send_string(f),
        };
        let response = match result {
            Ok(r) | Err(ureq::Error::Status(_, r)) => r,
            Err(e) => {
                self.stats.kinds.entry(kind).or_default().errors += 1;
                self.stats.problem(format!("{what}: {e}"));
                return None;
            }
        };
        let status = response.status();
        let mut bytes = Vec::new();
        if let Err(e) = response.into_reader().read_to_end(&mut bytes) {
            self.stats.kinds.entry(kind).or_default().errors += 1;
            self.stats
                .problem(format!("{what}: {status}, body unreadable: {e}"));
            return None;
        }
        let k = self.stats.kinds.entry(kind).or_default();
        k.latencies_us
            .push(start.elapsed().as_micros().min(u32::MAX as u128) as u32);
        *k.statuses.entry(status).or_default() += 1;
        if expect.contains(&status) {
            return Some(bytes);
        }
        k.unexpected += 1;
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(300)]).into_owned();
        self.stats.problem(format!("{what}: {status} {text}"));
        None
    }

    fn json(
        &mut self,
        kind: &'static str,
        req: ureq::Request,
        body: Body<'_>,
        expect: &[u16],
    ) -> Option<Value> {
        let bytes = self.call(kind, req, body, expect)?;
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                self.stats.violation(format!("{kind}: not JSON: {e}"));
                None
            }
        }
    }

    fn get(&self, path: &str, token: Option<&str>) -> ureq::Request {
        self.with_token(self.agent.get(&format!("{}{path}", self.base)), token)
    }

    fn post(&self, path: &str, token: Option<&str>) -> ureq::Request {
        self.with_token(self.agent.post(&format!("{}{path}", self.base)), token)
    }

    fn with_token(&self, req: ureq::Request, token: Option<&str>) -> ureq::Request {
        match token {
            Some(t) => req.set("Authorization", &format!("Bearer {t}")),
            None => req,
        }
    }

    fn emulator_post(&self, path: &str) -> ureq::Request {
        self.emulator_agent
            .post(&format!("{}{path}", self.emulator))
    }
}

// ---------------------------------------------------------------------------------------------
// The driver's side of the story

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        (!items.is_empty()).then(|| &items[self.below(items.len())])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Outcome {
    /// Paid by card on the hosted page.
    Paid,
    /// "Pay later", settling as paid.
    PaidLater,
    /// "Pay later", settling as failed.
    FailedLater,
    /// Expired through the API.
    Expired,
    /// The Cancel button: the session stays open, the order pending.
    Cancelled,
    /// The card was declined: the session stays open, the order pending.
    Declined,
    /// The emulator call failed: no expectation.
    Unknown,
}

impl Outcome {
    fn expected_status(self) -> Option<&'static str> {
        match self {
            Outcome::Paid | Outcome::PaidLater => Some("paid"),
            Outcome::FailedLater => Some("failed"),
            Outcome::Expired => Some("expired"),
            Outcome::Cancelled | Outcome::Declined => Some("pending"),
            Outcome::Unknown => None,
        }
    }

    /// Events the emulator raises for it.
    fn events(self) -> usize {
        match self {
            Outcome::Paid | Outcome::Expired => 1,
            Outcome::PaidLater | Outcome::FailedLater => 2,
            Outcome::Cancelled | Outcome::Declined | Outcome::Unknown => 0,
        }
    }

    fn grants(self) -> bool {
        matches!(self, Outcome::Paid | Outcome::PaidLater)
    }
}

struct Checkout {
    user: String,
    slug: String,
    order_id: String,
    outcome: Outcome,
}

struct User {
    email: String,
    access: String,
    refresh: String,
    /// Products this user paid for (granted now or soon).
    paid: HashSet<String>,
    /// Products whose checkout ended in an unknown state.
    unknown: HashSet<String>,
    /// Products the library listed (so downloading them must work).
    owned: Vec<String>,
}

impl User {
    fn take_tokens(&mut self, v: &Value) {
        if let (Some(a), Some(r)) = (v["access_token"].as_str(), v["refresh_token"].as_str()) {
            self.access = a.to_owned();
            self.refresh = r.to_owned();
        }
    }
}

struct Shared {
    base: String,
    emulator: String,
    free: Vec<String>,
    paid: Vec<String>,
    all: Vec<String>,
    stop: AtomicBool,
}

struct WorkerResult {
    stats: Stats,
    users: Vec<User>,
    checkouts: Vec<Checkout>,
}

fn worker(id: usize, shared: Arc<Shared>, mut users: Vec<User>) -> WorkerResult {
    let mut c = Client::new(&shared.base, &shared.emulator);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0x2545_F491_4F6C_DD1D));
    let mut checkouts = Vec::new();
    while !shared.stop.load(Ordering::Relaxed) {
        let u = rng.below(users.len());
        let user = &mut users[u];
        match rng.below(100) {
            0..=19 => browse(&mut c, &mut rng, &shared, None),
            20..=31 => browse(&mut c, &mut rng, &shared, Some(&*user)),
            32..=39 => {
                let slug = rng.pick(&shared.all).cloned().unwrap_or_default();
                let token = (rng.below(2) == 0).then_some(user.access.as_str());
                c.call(
                    "product",
                    c.get(&format!("/api/v1/products/{slug}"), token),
                    Body::None,
                    &[200],
                );
            }
            40..=49 => {
                let slug = rng.pick(&shared.free).cloned().unwrap_or_default();
                download(&mut c, user, &slug);
            }
            50..=55 => match rng.pick(&user.owned).cloned() {
                Some(slug) => download(&mut c, user, &slug),
                None => library(&mut c, user),
            },
            56..=63 => library(&mut c, user),
            64..=69 => {
                let req = c.get("/api/v1/orders?limit=20", Some(&user.access));
                c.call("orders", req, Body::None, &[200]);
            }
            70..=96 => {
                if let Some(done) = checkout(&mut c, &mut rng, &shared, user) {
                    checkouts.push(done);
                }
            }
            97..=98 => {
                let body = json!({ "refresh_token": user.refresh });
                let req = c.post("/api/v1/auth/refresh", None);
                if let Some(v) = c.json("refresh", req, Body::Json(body), &[200]) {
                    user.take_tokens(&v);
                }
            }
            _ => {
                let body = json!({ "email": user.email, "password": PASSWORD });
                let req = c.post("/api/v1/auth/login", None);
                if let Some(v) = c.json("login", req, Body::Json(body), &[200]) {
                    user.take_tokens(&v);
                }
            }
        }
    }
    WorkerResult {
        stats: c.stats,
        users,
        checkouts,
    }
}

/// A catalog page, then up to three more through `next_cursor`, then one product of the last.
fn browse(c: &mut Client, rng: &mut Rng, shared: &Shared, user: Option<&User>) {
    let token = user.as_ref().map(|u| u.access.clone());
    let pages = 1 + rng.below(4);
    let mut cursor: Option<String> = None;
    let mut slugs = Vec::new();
    for _ in 0..pages {
        let mut req = c
            .get("/api/v1/products", token.as_deref())
            .query("limit", "20");
        if let Some(cur) = &cursor {
            req = req.query("cursor", cur);
        }
        let Some(page) = c.json("catalog", req, Body::None, &[200]) else {
            return;
        };
        slugs.clear();
        for item in page["items"].as_array().into_iter().flatten() {
            let slug = item["slug"].as_str().unwrap_or_default().to_owned();
            if let Some(u) = &user {
                if item["owned"] == true && !u.paid.contains(&slug) && !u.unknown.contains(&slug) {
                    c.stats.violation(format!(
                        "catalog says {} owns {slug}, which they did not pay for",
                        u.email
                    ));
                }
            }
            slugs.push(slug);
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let slug = rng
        .pick(&slugs)
        .or_else(|| rng.pick(&shared.all))
        .cloned()
        .unwrap_or_default();
    c.call(
        "product",
        c.get(&format!("/api/v1/products/{slug}"), token.as_deref()),
        Body::None,
        &[200],
    );
}

/// A download link, then the file through it.
fn download(c: &mut Client, user: &User, slug: &str) {
    let req = c.post(
        &format!("/api/v1/products/{slug}/download-token"),
        Some(&user.access),
    );
    let Some(link) = c.json("download-token", req, Body::None, &[200]) else {
        return;
    };
    let Some(url) = link["url"].as_str() else {
        c.stats
            .violation(format!("download-token for {slug}: no url"));
        return;
    };
    let req = c.agent.get(url);
    if let Some(bytes) = c.call("download", req, Body::None, &[200]) {
        c.stats.downloaded_bytes += bytes.len() as u64;
        if bytes.len() != FILE_BYTES || !bytes.starts_with(b"%PDF-") {
            c.stats.violation(format!(
                "download of {slug}: {} bytes, expected {FILE_BYTES}",
                bytes.len()
            ));
        }
    }
}

fn library(c: &mut Client, user: &mut User) {
    let req = c.get("/api/v1/library", Some(&user.access));
    let Some(items) = c.json("library", req, Body::None, &[200]) else {
        return;
    };
    user.owned.clear();
    for item in items.as_array().into_iter().flatten() {
        let slug = item["slug"].as_str().unwrap_or_default().to_owned();
        if !user.paid.contains(&slug) && !user.unknown.contains(&slug) {
            c.stats.violation(format!(
                "library of {} has {slug}, which they did not pay for",
                user.email
            ));
        }
        user.owned.push(slug);
    }
}

/// Starts a checkout for a paid product the user has not paid for, and ends it on the hosted
/// page (or expires it through the API).
fn checkout(c: &mut Client, rng: &mut Rng, shared: &Shared, user: &mut User) -> Option<Checkout> {
    let start = rng.below(shared.paid.len());
    let slug = (0..shared.paid.len())
        .map(|i| &shared.paid[(start + i) % shared.paid.len()])
        .find(|s| !user.paid.contains(*s) && !user.unknown.contains(*s))?
        .clone();
    let req = c.post("/api/v1/checkout", Some(&user.access));
    let started = c.json("checkout", req, Body::Json(json!({ "slug": slug })), &[201])?;
    let (Some(session), Some(order_id)) = (
        started["session_id"].as_str().map(str::to_owned),
        started["order_id"].as_str().map(str::to_owned),
    ) else {
        c.stats.violation(format!("checkout of {slug}: {started}"));
        return None;
    };
    let roll = rng.below(100);
    let (outcome, done) = match roll {
        0..=44 => {
            let req = c.emulator_post(&format!("/pay/{session}/pay"));
            (Outcome::Paid, c.call("page: pay", req, Body::None, &[303]))
        }
        45..=54 => {
            let req = c.emulator_post(&format!("/pay/{session}/pay-async"));
            let r = c.call("page: pay later", req, Body::Form(""), &[303]);
            (Outcome::PaidLater, r)
        }
        55..=59 => {
            let req = c.emulator_post(&format!("/pay/{session}/pay-async"));
            let r = c.call("page: pay later", req, Body::Form("outcome=fail"), &[303]);
            (Outcome::FailedLater, r)
        }
        60..=74 => {
            let req = c
                .emulator_post(&format!("/v1/checkout/sessions/{session}/expire"))
                .set("Authorization", "Bearer sk_test_x");
            (
                Outcome::Expired,
                c.call("stripe: expire", req, Body::None, &[200]),
            )
        }
        75..=89 => {
            let req = c.emulator_post(&format!("/pay/{session}/cancel"));
            (
                Outcome::Cancelled,
                c.call("page: cancel", req, Body::None, &[303]),
            )
        }
        _ => {
            let req = c.emulator_post(&format!("/pay/{session}/decline"));
            (
                Outcome::Declined,
                c.call("page: decline", req, Body::None, &[402]),
            )
        }
    };
    let outcome = if done.is_some() {
        outcome
    } else {
        Outcome::Unknown
    };
    match outcome {
        o if o.grants() => {
            user.paid.insert(slug.clone());
        }
        Outcome::Unknown => {
            user.unknown.insert(slug.clone());
        }
        _ => {}
    }
    // Half the card payments come back through the success page, racing the webhook: it must
    // say paid at once.
    if outcome == Outcome::Paid && rng.below(2) == 0 {
        let req = c.get(
            &format!("/api/v1/checkout/sessions/{session}"),
            Some(&user.access),
        );
        if let Some(order) = c.json("success page", req, Body::None, &[200]) {
            if order["status"] != "paid" {
                c.stats.violation(format!(
                    "success page of a paid session {session}: status {}",
                    order["status"]
                ));
            }
        }
    }
    Some(Checkout {
        user: user.email.clone(),
        slug,
        order_id,
        outcome,
    })
}

// ---------------------------------------------------------------------------------------------
// Set-up, the reordering controller, RSS

fn register(c: &mut Client, email: &str) -> Result<User> {
    let req = c.post("/api/v1/auth/register", None);
    let body = json!({ "email": email, "password": PASSWORD });
    let v = c
        .json("register", req, Body::Json(body), &[201])
        .with_context(|| format!("registering {email}: {:?}", c.stats.problems.last()))?;
    let mut user = User {
        email: email.to_owned(),
        access: String::new(),
        refresh: String::new(),
        paid: HashSet::new(),
        unknown: HashSet::new(),
        owned: Vec::new(),
    };
    user.take_tokens(&v);
    Ok(user)
}

/// Registers `count` users from a few threads (argon2 is the cost).
fn register_users(base: &str, emulator: &str, count: usize) -> Result<Vec<User>> {
    let threads = 8.min(count);
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let (base, emulator) = (base.to_owned(), emulator.to_owned());
            std::thread::spawn(move || -> Result<Vec<(usize, User)>> {
                let mut c = Client::new(&base, &emulator);
                (t..count)
                    .step_by(threads)
                    .map(|i| Ok((i, register(&mut c, &format!("soak-{i}@example.com"))?)))
                    .collect()
            })
        })
        .collect();
    let mut users = Vec::with_capacity(count);
    for h in handles {
        users.extend(
            h.join()
                .map_err(|_| anyhow::anyhow!("a thread panicked"))??,
        );
    }
    users.sort_by_key(|(i, _)| *i);
    Ok(users.into_iter().map(|(_, u)| u).collect())
}

/// Every slug in the catalog, through the cursors, split into free and paid.
fn catalog(c: &mut Client) -> Result<(Vec<String>, Vec<String>)> {
    let (mut free, mut paid) = (Vec::new(), Vec::new());
    let mut cursor: Option<String> = None;
    loop {
        let mut req = c.get("/api/v1/products", None).query("limit", "100");
        if let Some(cur) = &cursor {
            req = req.query("cursor", cur);
        }
        let page = c
            .json("catalog", req, Body::None, &[200])
            .context("listing the catalog")?;
        for item in page["items"].as_array().into_iter().flatten() {
            let slug = item["slug"].as_str().unwrap_or_default().to_owned();
            if item["is_free"] == true {
                free.push(slug);
            } else {
                paid.push(slug);
            }
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            return Ok((free, paid));
        }
    }
}

fn knobs(c: &mut Client, knobs: Value) -> Result<()> {
    let req = c.emulator_post("/_emulator/knobs");
    c.call("emulator control", req, Body::Json(knobs), &[200])
        .map(drop)
        .with_context(|| format!("setting knobs: {:?}", c.stats.problems.last()))
}

/// Every `period`, holds events back for `hold`, then releases them in reverse order. Returns
/// how many windows it ran; on stop, releases what is held.
fn reorder(shared: Arc<Shared>, period: Duration, hold: Duration) -> Result<(usize, Stats)> {
    let mut c = Client::new(&shared.base, &shared.emulator);
    let mut windows = 0;
    let sleep = |d: Duration| {
        let end = Instant::now() + d;
        while Instant::now() < end && !shared.stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    while !shared.stop.load(Ordering::Relaxed) {
        sleep(period);
        if shared.stop.load(Ordering::Relaxed) {
            break;
        }
        knobs(&mut c, json!({ "hold": true }))?;
        sleep(hold);
        knobs(&mut c, json!({ "hold": false }))?;
        let req = c
            .emulator_post("/_emulator/release")
            .query("reverse", "true");
        c.call("emulator control", req, Body::None, &[204])
            .context("release")?;
        windows += 1;
    }
    // Whatever raced the last "hold: false" is sent now.
    let req = c
        .emulator_post("/_emulator/release")
        .query("reverse", "true");
    c.call("emulator control", req, Body::None, &[204])
        .context("release")?;
    Ok((windows, c.stats))
}

struct Rss {
    samples: Vec<(f64, u64)>,
    /// The largest size SQLite's write-ahead log reached (bytes), when folio runs on SQLite: a
    /// log that keeps growing means checkpoints never finish and every read slows down.
    wal_peak: Option<u64>,
}

fn sample_rss(pid: u32, wal: Option<PathBuf>, every: Duration, stop: Arc<AtomicBool>) -> Rss {
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut wal_peak = None;
    while !stop.load(Ordering::Relaxed) {
        if let Some(kb) = bench::rss_kb(pid, "VmRSS:") {
            samples.push((start.elapsed().as_secs_f64(), kb));
        }
        if let Some(len) = wal
            .as_ref()
            .and_then(|w| w.metadata().ok())
            .map(|m| m.len())
        {
            wal_peak = Some(wal_peak.unwrap_or(0).max(len));
        }
        let next = Instant::now() + every;
        while Instant::now() < next && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Rss { samples, wal_peak }
}

fn median(values: &[u64]) -> u64 {
    let mut v = values.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Applies [`RSS_RULE`]: (baseline kB, end kB, growth within bounds).
fn rss_verdict(samples: &[(f64, u64)]) -> (u64, u64, bool) {
    let kb: Vec<u64> = samples.iter().map(|s| s.1).collect();
    let after = &kb[(kb.len() / 5).min(kb.len())..];
    if after.is_empty() {
        return (0, 0, true);
    }
    let baseline = median(&after[..(after.len() / 5).max(1)]);
    let end = median(&kb[kb.len() - (kb.len() / 10).max(1)..]);
    let bound = ((baseline as f64 * RSS_MAX_GROWTH) as u64).max(RSS_MAX_GROWTH_KB);
    (baseline, end, end <= baseline + bound)
}

// ---------------------------------------------------------------------------------------------
// The end: idle, reconcile

struct Webhooks {
    deliveries: usize,
    events_delivered: usize,
    statuses: BTreeMap<String, u64>,
    /// How long each attempt that reached folio took, as the emulator timed it, in µs (sorted).
    micros: Vec<u32>,
    /// When (unix seconds) each attempt that took over a second or got no answer was sent.
    slow_at: Vec<i64>,
    first_sent: Option<i64>,
    idle: bool,
}

/// Waits until every event the driver caused was accepted and no delivery happened for 2 s.
/// Reads the emulator's delivery log incrementally (`?since=`): it holds every attempt of the run.
fn wait_deliveries(c: &mut Client, expected_events: usize) -> Webhooks {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = 0;
    let mut statuses = BTreeMap::new();
    let mut micros = Vec::new();
    let (mut slow_at, mut first_sent) = (Vec::new(), None);
    let mut ok = HashSet::new();
    let mut stable = 0;
    loop {
        let req = c
            .emulator_agent
            .get(&format!("{}/_emulator/deliveries", c.emulator))
            .query("since", &seen.to_string());
        let list = c
            .json("emulator control", req, Body::None, &[200])
            .unwrap_or(Value::Null);
        let list = list.as_array().cloned().unwrap_or_default();
        for d in &list {
            let key = match d["status"].as_u64() {
                Some(s) => s.to_string(),
                None => format!("error: {}", d["error"].as_str().unwrap_or("?")),
            };
            *statuses.entry(key).or_default() += 1;
            if let Some(t) = d["signed_at"].as_i64().filter(|t| *t > 0) {
                let ms = d["millis"].as_u64().unwrap_or_default();
                micros.push(u32::try_from(ms * 1000).unwrap_or(u32::MAX));
                first_sent = Some(first_sent.unwrap_or(t).min(t));
                if ms >= 1000 || d["status"].is_null() {
                    slow_at.push(t);
                }
            }
            if d["status"]
                .as_u64()
                .is_some_and(|s| (200..300).contains(&s))
            {
                ok.insert(d["event_id"].as_str().unwrap_or_default().to_owned());
            }
        }
        seen += list.len();
        stable = if list.is_empty() { stable + 1 } else { 0 };
        let idle = ok.len() >= expected_events && stable >= 2;
        if idle || Instant::now() > deadline {
            micros.sort_unstable();
            return Webhooks {
                deliveries: seen,
                events_delivered: ok.len(),
                statuses,
                micros,
                slow_at,
                first_sent,
                idle,
            };
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

struct Reconcile {
    checkouts: usize,
    by_outcome: BTreeMap<Outcome, usize>,
    orders_in_folio: usize,
    folio_by_status: BTreeMap<String, usize>,
    paid_orders: usize,
    entitlements: usize,
    paid_pairs: usize,
    mismatches: Vec<String>,
    mismatch_count: usize,
}

impl Reconcile {
    fn mismatch(&mut self, text: String) {
        self.mismatch_count += 1;
        if self.mismatches.len() < 20 {
            self.mismatches.push(text);
        }
    }
}

fn reconcile(c: &mut Client, users: &[User], checkouts: &[Checkout]) -> Result<Reconcile> {
    let admin = c
        .json(
            "reconcile",
            c.post("/api/v1/auth/login", None),
            Body::Json(json!({ "email": ADMIN_EMAIL, "password": PASSWORD })),
            &[200],
        )
        .context("admin sign-in")?;
    let admin = admin["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut orders: HashMap<String, (String, String, String)> = HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut req = c
            .get("/api/v1/admin/orders", Some(&admin))
            .query("limit", "100");
        if let Some(cur) = &cursor {
            req = req.query("cursor", cur);
        }
        let page = c
            .json("reconcile", req, Body::None, &[200])
            .context("listing orders")?;
        for o in page["items"].as_array().into_iter().flatten() {
            let field = |k: &str| o[k].as_str().unwrap_or_default().to_owned();
            orders.insert(
                field("id"),
                (
                    field("status"),
                    o["buyer_email"].as_str().unwrap_or_default().to_owned(),
                    o["product"]["slug"].as_str().unwrap_or_default().to_owned(),
                ),
            );
        }
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let mut r = Reconcile {
        checkouts: checkouts.len(),
        by_outcome: BTreeMap::new(),
        orders_in_folio: orders.len(),
        folio_by_status: BTreeMap::new(),
        paid_orders: 0,
        entitlements: 0,
        paid_pairs: 0,
        mismatches: Vec::new(),
        mismatch_count: 0,
    };
    for (status, _, _) in orders.values() {
        *r.folio_by_status.entry(status.clone()).or_default() += 1;
    }
    r.paid_orders = r.folio_by_status.get("paid").copied().unwrap_or(0);
    let mut known = HashSet::new();
    let mut expected_paid = 0;
    let mut pairs: HashMap<&str, HashSet<&str>> = HashMap::new();
    for ch in checkouts {
        *r.by_outcome.entry(ch.outcome).or_default() += 1;
        known.insert(ch.order_id.as_str());
        if ch.outcome.grants() {
            expected_paid += 1;
            pairs.entry(&ch.user).or_default().insert(&ch.slug);
        }
        let Some((status, email, slug)) = orders.get(&ch.order_id) else {
            r.mismatch(format!(
                "order {} ({:?}) is not in folio",
                ch.order_id, ch.outcome
            ));
            continue;
        };
        if *email != ch.user || *slug != ch.slug {
            r.mismatch(format!(
                "order {} is {email}/{slug} in folio, {}/{} for the driver",
                ch.order_id, ch.user, ch.slug
            ));
        }
        if let Some(want) = ch.outcome.expected_status() {
            if status != want {
                r.mismatch(format!(
                    "order {} ({:?}) is {status} in folio, expected {want}",
                    ch.order_id, ch.outcome
                ));
            }
        }
    }
    for id in orders.keys().filter(|id| !known.contains(id.as_str())) {
        r.mismatch(format!("order {id} in folio was not made by the driver"));
    }
    if r.paid_orders != expected_paid {
        r.mismatch(format!(
            "{} paid orders in folio, the driver paid {expected_paid} sessions",
            r.paid_orders
        ));
    }
    r.paid_pairs = pairs.values().map(HashSet::len).sum();
    for user in users {
        let req = c.get("/api/v1/library", Some(&user.access));
        let items = c
            .json("reconcile", req, Body::None, &[200])
            .with_context(|| format!("library of {}", user.email))?;
        let owned: HashSet<&str> = items
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p["slug"].as_str())
            .collect();
        r.entitlements += owned.len();
        let paid = pairs.get(user.email.as_str()).cloned().unwrap_or_default();
        for slug in owned.difference(&paid) {
            if !user.unknown.contains(*slug) {
                r.mismatch(format!("{} owns {slug} without a paid session", user.email));
            }
        }
        for slug in paid.difference(&owned) {
            r.mismatch(format!(
                "{} paid for {slug} but does not own it",
                user.email
            ));
        }
    }
    if r.entitlements != r.paid_pairs {
        r.mismatch(format!(
            "{} entitlements, {} distinct (user, product) pairs paid",
            r.entitlements, r.paid_pairs
        ));
    }
    Ok(r)
}

// ---------------------------------------------------------------------------------------------
// The run

pub fn soak(root: &Path, opts: &Options) -> Result<()> {
    bench::build(opts.release)?;
    let stack = Stack {
        profile: if opts.release { "release" } else { "debug" },
        folio_port: free_port()?,
        emulator_port: free_port()?,
        env: &[("FOLIO_ADMIN_EMAILS", ADMIN_EMAIL)],
    };
    let backend = if opts.postgres {
        "postgresql"
    } else {
        "sqlite"
    };
    let work = root.join("target/soak");
    let dir = work.join(format!("{backend}-{}", stack.profile));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let file = work.join("256kib.pdf");
    bench::make_pdf(&file, FILE_BYTES)?;
    let pg = if opts.postgres {
        let name = format!("folio_soak_{}", std::process::id());
        Some(PgDatabase::create(&name)?.context("--postgres: PostgreSQL is not reachable")?)
    } else {
        None
    };
    let db = match &pg {
        Some(pg) => pg.url.clone(),
        None => format!("sqlite://{}", dir.join("folio.db").display()),
    };
    crate::status(
        stack
            .folio(root, &dir, &db)
            .arg("migrate")
            .stdout(Stdio::null()),
    )?;
    stack.seed(root, &dir, &db, FREE_PRODUCTS, &file, 0)?;
    stack.seed(root, &dir, &db, PAID_PRODUCTS, &file, 500)?;

    let base = stack.base();
    let emulator_url = format!("http://127.0.0.1:{}", stack.emulator_port);
    let emulator = stack.start_emulator(root, Some(&format!("{base}/api/v1/stripe/webhook")))?;
    let (server, _) = stack.start_folio(root, &dir, &db)?;
    let pid = server.0.id();

    let mut setup = Client::new(&base, &emulator_url);
    knobs(
        &mut setup,
        json!({ "duplicates": 2, "concurrent": true, "async_delay_ms": 300 }),
    )?;
    let (free, paid) = catalog(&mut setup)?;
    if free.len() != FREE_PRODUCTS || paid.len() != PAID_PRODUCTS {
        bail!(
            "the catalog lists {} free and {} paid products",
            free.len(),
            paid.len()
        );
    }
    register(&mut setup, ADMIN_EMAIL)?;
    let users = register_users(
        &base,
        &emulator_url,
        opts.connections * USERS_PER_CONNECTION,
    )?;
    let rss_idle = bench::rss_kb(pid, "VmRSS:").unwrap_or(0);
    let mut all = free.clone();
    all.extend(paid.iter().cloned());
    let shared = Arc::new(Shared {
        base: base.clone(),
        emulator: emulator_url.clone(),
        free,
        paid,
        all,
        stop: AtomicBool::new(false),
    });

    eprintln!(
        "xtask: soak: {backend}, {} build, {} connections, {} s, folio pid {pid} on {base}, emulator on {emulator_url}",
        stack.profile,
        opts.connections,
        opts.duration.as_secs()
    );
    let stop_rss = Arc::new(AtomicBool::new(false));
    let every = (opts.duration / 120).clamp(Duration::from_secs(1), Duration::from_secs(5));
    let rss_thread = {
        let stop = stop_rss.clone();
        let wal = (!opts.postgres).then(|| dir.join("folio.db-wal"));
        std::thread::spawn(move || sample_rss(pid, wal, every, stop))
    };
    let (period, hold) = if opts.full {
        (Duration::from_secs(20), Duration::from_secs(3))
    } else {
        (Duration::from_secs(5), Duration::from_secs(2))
    };
    let reorder_thread = {
        let shared = shared.clone();
        std::thread::spawn(move || reorder(shared, period, hold))
    };
    let started = Instant::now();
    let mut per_worker = users.into_iter();
    let workers: Vec<_> = (0..opts.connections)
        .map(|i| {
            let mine: Vec<User> = per_worker.by_ref().take(USERS_PER_CONNECTION).collect();
            let shared = shared.clone();
            std::thread::Builder::new()
                .stack_size(512 << 10)
                .spawn(move || worker(i, shared, mine))
        })
        .collect::<std::io::Result<_>>()?;
    let mut last_report = Instant::now();
    while started.elapsed() < opts.duration {
        std::thread::sleep(Duration::from_millis(200));
        if last_report.elapsed() >= Duration::from_secs(30) {
            last_report = Instant::now();
            eprintln!(
                "xtask: soak: {:>4.0} s, folio RSS {:.1} MB",
                started.elapsed().as_secs_f64(),
                bench::rss_kb(pid, "VmRSS:").unwrap_or(0) as f64 / 1024.0
            );
        }
    }
    shared.stop.store(true, Ordering::Relaxed);
    let mut stats = Stats::default();
    let mut users = Vec::new();
    let mut checkouts = Vec::new();
    for w in workers {
        let r = w
            .join()
            .map_err(|_| anyhow::anyhow!("a soak thread panicked"))?;
        stats.merge(r.stats);
        users.extend(r.users);
        checkouts.extend(r.checkouts);
    }
    let elapsed = started.elapsed();
    let (windows, control) = reorder_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the reorder thread panicked"))??;
    stats.merge(control);

    let expected_events = checkouts.iter().map(|c| c.outcome.events()).sum();
    let mut end = Client::new(&base, &emulator_url);
    let webhooks = wait_deliveries(&mut end, expected_events);
    let reconciled = reconcile(&mut end, &users, &checkouts)?;
    stop_rss.store(true, Ordering::Relaxed);
    let rss = rss_thread
        .join()
        .map_err(|_| anyhow::anyhow!("the RSS thread panicked"))?;
    let rss_peak = bench::rss_kb(pid, "VmHWM:").unwrap_or(0);
    let emulator_rss = bench::rss_kb(emulator.0.id(), "VmRSS:").unwrap_or(0);
    stats.merge(end.stats);
    drop(server);
    drop(emulator);
    drop(pg);

    let report = Report {
        opts,
        backend,
        stats: &stats,
        elapsed,
        windows,
        expected_events,
        webhooks: &webhooks,
        reconciled: &reconciled,
        rss: &rss,
        rss_idle,
        rss_peak,
        emulator_rss,
    };
    let (text, failures) = report.render(root);
    eprintln!("{text}");
    if opts.full {
        write_soak_md(root, &text)?;
    }
    if !failures.is_empty() {
        bail!("soak failed: {}", failures.join("; "));
    }
    eprintln!("xtask: soak passed");
    Ok(())
}

struct Report<'a> {
    opts: &'a Options,
    backend: &'a str,
    stats: &'a Stats,
    elapsed: Duration,
    windows: usize,
    expected_events: usize,
    webhooks: &'a Webhooks,
    reconciled: &'a Reconcile,
    rss: &'a Rss,
    rss_idle: u64,
    rss_peak: u64,
    emulator_rss: u64,
}

impl Report<'_> {
    /// The Markdown summary, and what failed.
    fn render(&self, root: &Path) -> (String, Vec<String>) {
        let (s, r, w) = (self.stats, self.reconciled, self.webhooks);
        let mut failures = Vec::new();
        let secs = self.elapsed.as_secs_f64();
        let (cpu, cores) = bench::machine();
        let mut md = format!(
            "## Soak\n\nWritten by `cargo xtask soak`. Date: {}. Commit: {}. Machine: {cpu}, {cores} cores.\n\
             folio {} build on {}, the Stripe emulator binary; {} connections (one thread and one \
             keep-alive connection each, {} users each) for {:.0} s; {} free and {} paid products \
             of {} KiB. Webhooks: every event delivered 3 times (2 concurrent duplicates), and \
             {} windows in which events were held back and then released in reverse order.\n\n",
            bench::date_utc(),
            bench::commit(root),
            if self.opts.release { "release" } else { "debug" },
            self.backend,
            self.opts.connections,
            USERS_PER_CONNECTION,
            secs,
            FREE_PRODUCTS,
            PAID_PRODUCTS,
            FILE_BYTES >> 10,
            self.windows,
        );
        let mut all: Vec<u32> = Vec::new();
        md.push_str("| request | count | req/s | statuses | unexpected | errors | p50 ms | p99 ms |\n| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
        for (kind, k) in &s.kinds {
            let mut lat = k.latencies_us.clone();
            lat.sort_unstable();
            all.extend_from_slice(&lat);
            let n: u64 = k.statuses.values().sum::<u64>() + k.errors;
            let statuses: Vec<String> = k
                .statuses
                .iter()
                .map(|(st, c)| format!("{st}: {c}"))
                .collect();
            md.push_str(&format!(
                "| {kind} | {n} | {:.1} | {} | {} | {} | {:.2} | {:.2} |\n",
                n as f64 / secs,
                statuses.join(", "),
                k.unexpected,
                k.errors,
                percentile(&lat, 0.50),
                percentile(&lat, 0.99),
            ));
        }
        all.sort_unstable();
        let total = s.requests();
        let classes: Vec<String> = s
            .status_classes()
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        md.push_str(&format!(
            "| **all** | {total} | {:.1} | {} | {} | {} | {:.2} | {:.2} |\n\n",
            total as f64 / secs,
            classes.join(", "),
            s.kinds.values().map(|k| k.unexpected).sum::<u64>(),
            s.kinds.values().map(|k| k.errors).sum::<u64>(),
            percentile(&all, 0.50),
            percentile(&all, 0.99),
        ));
        md.push_str(&format!(
            "(Requests counted during the run and the checks after it; \"page\" and \"stripe\" \
             rows go to the emulator. Downloaded: {:.1} MB.)\n\n",
            s.downloaded_bytes as f64 / 1_048_576.0
        ));
        let hooks: Vec<String> = w
            .statuses
            .iter()
            .map(|(k, n)| format!("{k}: {n}"))
            .collect();
        md.push_str(&format!(
            "Webhook deliveries to folio: {} ({}; time to answer p50 {:.0} ms, p99 {:.0} ms, \
             max {} ms); {} of the {} events the driver caused were accepted; emulator idle at \
             the end: {}.\n\n",
            w.deliveries,
            hooks.join(", "),
            percentile(&w.micros, 0.50),
            percentile(&w.micros, 0.99),
            w.micros.last().copied().unwrap_or_default() / 1000,
            w.events_delivered,
            self.expected_events,
            if w.idle { "yes" } else { "NO" }
        ));
        if let (false, Some(first)) = (w.slow_at.is_empty(), w.first_sent) {
            let mut by_minute = BTreeMap::<i64, usize>::new();
            for t in &w.slow_at {
                *by_minute.entry((t - first) / 60).or_default() += 1;
            }
            let minutes: Vec<String> = by_minute
                .iter()
                .map(|(m, n)| format!("minute {}: {n}", m + 1))
                .collect();
            md.push_str(&format!(
                "Webhook attempts that took over 1 s or got no answer, by minute of the run: {}.\n\n",
                minutes.join(", ")
            ));
        }
        let outcomes: Vec<String> = r
            .by_outcome
            .iter()
            .map(|(o, n)| format!("{o:?}: {n}"))
            .collect();
        let statuses: Vec<String> = r
            .folio_by_status
            .iter()
            .map(|(st, n)| format!("{st}: {n}"))
            .collect();
        md.push_str(&format!(
            "Reconcile: {} checkouts ({}); {} orders in folio ({}); {} paid orders; {} \
             entitlements for {} distinct (user, product) pairs paid: {}.\n\n",
            r.checkouts,
            outcomes.join(", "),
            r.orders_in_folio,
            statuses.join(", "),
            r.paid_orders,
            r.entitlements,
            r.paid_pairs,
            if r.mismatch_count == 0 {
                "exact".to_owned()
            } else {
                format!("{} MISMATCHES", r.mismatch_count)
            }
        ));
        for m in &r.mismatches {
            md.push_str(&format!("- {m}\n"));
        }
        let (baseline, end, flat) = rss_verdict(&self.rss.samples);
        let mb = |kb: u64| kb as f64 / 1024.0;
        md.push_str(&format!(
            "RSS of folio: {:.1} MB idle before the traffic, {:.1} MB after warm-up (baseline), \
             {:.1} MB at the end, peak {:.1} MB; rule: {RSS_RULE}: {}. (The emulator, which \
             keeps every event and delivery in memory, ended at {:.1} MB.)\n\n",
            mb(self.rss_idle),
            mb(baseline),
            mb(end),
            mb(self.rss_peak),
            if flat { "flat" } else { "GROWING" },
            mb(self.emulator_rss),
        ));
        let n = self.rss.samples.len();
        let step = (n / 20).max(1);
        let samples: Vec<String> = self
            .rss
            .samples
            .iter()
            .enumerate()
            .filter(|(i, _)| i % step == 0 || *i + 1 == n)
            .map(|(_, (t, kb))| format!("{t:.0} s: {:.1}", mb(*kb)))
            .collect();
        md.push_str(&format!("RSS samples (MB): {}.\n", samples.join(", ")));
        if let Some(wal) = self.rss.wal_peak {
            md.push_str(&format!(
                "\nSQLite's write-ahead log peaked at {:.1} MB.\n",
                wal as f64 / 1e6
            ));
        }
        if s.problem_count > 0 {
            md.push_str(&format!(
                "\nProblems ({}, the first {}):\n",
                s.problem_count,
                s.problems.len()
            ));
            for p in &s.problems {
                md.push_str(&format!("- {}\n", p.replace('\n', " ")));
            }
        }

        let five = s.count_5xx()
            + w.statuses
                .iter()
                .filter(|(k, _)| k.starts_with('5'))
                .map(|(_, n)| n)
                .sum::<u64>();
        if five > 0 {
            failures.push(format!("{five} responses were 5xx"));
        }
        if s.problem_count > 0 {
            failures.push(format!(
                "{} problems (unexpected statuses, transport errors, broken invariants)",
                s.problem_count
            ));
        }
        let bad_hooks: u64 = w
            .statuses
            .iter()
            .filter(|(k, _)| !k.starts_with('2'))
            .map(|(_, n)| n)
            .sum();
        if bad_hooks > 0 {
            failures.push(format!("{bad_hooks} webhook deliveries were not accepted"));
        }
        if !w.idle {
            failures.push("the emulator did not become idle".into());
        }
        if r.mismatch_count > 0 {
            failures.push(format!("{} reconcile mismatches", r.mismatch_count));
        }
        if self.opts.full && !flat {
            failures.push(format!(
                "RSS grew from {:.1} MB to {:.1} MB",
                mb(baseline),
                mb(end)
            ));
        }
        md.push_str(&format!(
            "\nVerdict: {}.\n",
            if failures.is_empty() {
                "passed".to_owned()
            } else {
                format!("FAILED ({})", failures.join("; "))
            }
        ));
        (md, failures)
    }
}

/// bench/SOAK.md gets the run; bench/RESULTS.md (written by `cargo xtask bench`) keeps its
/// content and gains a link to it if it has none.
fn write_soak_md(root: &Path, section: &str) -> Result<()> {
    let dir = root.join("bench");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(
        dir.join("SOAK.md"),
        format!("# Folio soak results\n\n{section}"),
    )?;
    let results = dir.join("RESULTS.md");
    let current = std::fs::read_to_string(&results).unwrap_or_default();
    if !current.contains("(SOAK.md)") {
        let sep = if current.is_empty() || current.ends_with("\n\n") {
            ""
        } else if current.ends_with('\n') {
            "\n"
        } else {
            "\n\n"
        };
        std::fs::write(&results, format!("{current}{sep}{}", bench::SOAK_LINK))?;
    }
    eprintln!("xtask: wrote bench/SOAK.md");
    Ok(())
}

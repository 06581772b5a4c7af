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

use crate::bench::{self, Stack};
use crate::process::free_port;

mod client;
mod reconcile;
mod report;
mod stats;
mod workload;

use client::*;
use reconcile::*;
use report::*;
use stats::*;
use workload::*;

pub(super) const ADMIN_EMAIL: &str = "soak-admin@example.com";
pub(super) const PASSWORD: &str = "soak password 1";
pub(super) const FREE_PRODUCTS: usize = 40;
pub(super) const PAID_PRODUCTS: usize = 300;
pub(super) const FILE_BYTES: usize = 256 << 10;
pub(super) const USERS_PER_CONNECTION: usize = 2;
/// The bound on RSS growth after warm-up, checked by the full soak.
pub(super) const RSS_RULE: &str =
    "after a warm-up of the first 20% of the run, the median RSS of the last \
    10% of the samples may exceed the median of the first 20% of the post-warm-up samples by at \
    most 20% or 16 MB, whichever is larger";
pub(super) const RSS_MAX_GROWTH: f64 = 0.20;
pub(super) const RSS_MAX_GROWTH_KB: u64 = 16 << 10;

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
    pub(super) fn full() -> Self {
        Self {
            release: true,
            duration: Duration::from_secs(600),
            connections: 200,
            postgres: false,
            full: true,
        }
    }

    /// The bounded form for `cargo xtask test`: the debug build `cargo test` made, 25 s.
    pub(super) fn bounded() -> Self {
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
        Some(bench::pg_database(&name)?.context("--postgres: PostgreSQL is not reachable")?)
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

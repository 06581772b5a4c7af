//! `cargo xtask bench`: release builds of folio and the Stripe emulator, SQLite then PostgreSQL,
//! seeded data, load from wrk (a second process) on loopback, nginx serving the same file from the
//! same disk as the reference for downloads. Writes bench/RESULTS.md and bench/results.json.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use crate::process::{wait_listening, which, Proc};

const FOLIO_PORT: u16 = 18080;
const EMULATOR_PORT: u16 = 18111;
const NGINX_PORT: u16 = 18090;
/// nginx in front of a second folio that hands downloads over (`FOLIO_DOWNLOAD_ACCEL_PREFIX`).
const NGINX_PROXY_PORT: u16 = 18091;
const ACCEL_FOLIO_PORT: u16 = 18081;
const ACCEL_PREFIX: &str = "/_folio_objects/";
/// The webhook signing secret shared by folio and the emulator (bench and soak).
pub(crate) const SECRET: &str = "whsec_bench";
const BENCH: Stack = Stack {
    profile: "release",
    folio_port: FOLIO_PORT,
    emulator_port: EMULATOR_PORT,
    env: &[],
};
/// Seconds of load per row.
const DURATION_SECS: u64 = 10;
const WEBHOOK_EVENTS: usize = 2000;
/// The parts of a run `--only` can pick.
const SECTIONS: &[&str] = &[
    "catalog",
    "slug",
    "token",
    "login",
    "downloads",
    "webhooks",
    "files",
    "100k",
    "orders",
];

/// What to run: everything by default. A partial run (`--only`, `--backend`) is for working on
/// one figure: it writes target/bench/RESULTS.md, never bench/RESULTS.md.
struct Selection {
    only: Option<Vec<String>>,
    backend: Option<String>,
}

impl Selection {
    fn parse(args: &[String]) -> Result<Self> {
        let mut sel = Selection {
            only: None,
            backend: None,
        };
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--only" => {
                    let list = it.next().context("--only needs a list, e.g. downloads,token")?;
                    let parts: Vec<String> = list.split(',').map(str::to_owned).collect();
                    if let Some(bad) = parts.iter().find(|p| !SECTIONS.contains(&p.as_str())) {
                        bail!("--only: unknown part {bad:?}; the parts are {SECTIONS:?}");
                    }
                    sel.only = Some(parts);
                }
                "--backend" => {
                    let b = it.next().context("--backend needs sqlite or postgresql")?;
                    if b != "sqlite" && b != "postgresql" {
                        bail!("--backend: {b:?} is neither sqlite nor postgresql");
                    }
                    sel.backend = Some(b.clone());
                }
                other => bail!(
                    "unknown argument {other:?}; usage: cargo xtask bench [--only {}] [--backend sqlite|postgresql]",
                    SECTIONS.join(",")
                ),
            }
        }
        Ok(sel)
    }

    fn wants(&self, section: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|parts| parts.iter().any(|p| p == section))
    }

    fn wants_backend(&self, backend: &str) -> bool {
        self.backend.as_deref().is_none_or(|b| b == backend)
    }

    fn is_partial(&self) -> bool {
        self.only.is_some() || self.backend.is_some()
    }
}

#[derive(Debug, Clone)]
struct Measure {
    backend: &'static str,
    name: String,
    connections: u32,
    /// Requests (or events) per second.
    rps: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    /// Bytes per second, for downloads.
    bytes_per_sec: Option<f64>,
    non_2xx: u64,
}

fn ensure_tools() -> Result<()> {
    let missing: Vec<&str> = [("wrk", "wrk"), ("nginx", "nginx-light")]
        .into_iter()
        .filter(|(bin, _)| !which(bin) && !Path::new(&format!("/usr/sbin/{bin}")).exists())
        .map(|(_, pkg)| pkg)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!("xtask: installing {missing:?} from Debian's packages");
    crate::status(
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(&missing),
    )
    .context("install wrk and nginx-light (apt-get install wrk nginx-light)")
}

fn base() -> String {
    BENCH.base()
}

/// Rough pseudo-random bytes behind a PDF header, so the files do not compress.
pub(crate) fn make_pdf(path: &Path, len: usize) -> Result<()> {
    if path.metadata().is_ok_and(|m| m.len() as usize == len) {
        return Ok(());
    }
    let mut bytes = b"%PDF-1.4\n".to_vec();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    while bytes.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        bytes.extend_from_slice(&x.to_le_bytes());
    }
    bytes.truncate(len);
    std::fs::write(path, bytes)?;
    Ok(())
}

fn parse_duration_ms(text: &str) -> Option<f64> {
    let (num, unit) = text
        .trim()
        .split_at(text.trim().find(|c: char| c.is_alphabetic())?);
    let n: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => n / 1000.0,
        "ms" => n,
        "s" => n * 1000.0,
        "m" => n * 60_000.0,
        _ => return None,
    })
}

fn parse_bytes(text: &str) -> Option<f64> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_alphabetic()).unwrap_or(t.len());
    let n: f64 = t[..split].parse().ok()?;
    Some(match &t[split..] {
        "" | "B" => n,
        "KB" => n * 1024.0,
        "MB" => n * 1024.0 * 1024.0,
        "GB" => n * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
}

/// Runs wrk and reads its summary.
fn wrk(
    backend: &'static str,
    name: &str,
    connections: u32,
    url: &str,
    script: Option<&Path>,
    headers: &[String],
) -> Result<Measure> {
    let mut cmd = Command::new("wrk");
    let threads = connections.clamp(1, 2);
    cmd.args([
        "-t",
        &threads.to_string(),
        "-c",
        &connections.to_string(),
        "-d",
        &format!("{DURATION_SECS}s"),
        "--latency",
    ]);
    for h in headers {
        cmd.args(["-H", h]);
    }
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(url);
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .context("running wrk")?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let line_value = |prefix: &str| {
        text.lines()
            .find(|l| l.trim_start().starts_with(prefix))
            .map(|l| l.trim_start()[prefix.len()..].trim().to_owned())
    };
    let rps: f64 = line_value("Requests/sec:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    let pct = |p: &str| {
        text.lines()
            .map(str::trim)
            .find(|l| l.starts_with(p))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(parse_duration_ms)
    };
    let non_2xx = line_value("Non-2xx or 3xx responses:")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let m = Measure {
        backend,
        name: name.to_owned(),
        connections,
        rps,
        p50_ms: pct("50%"),
        p99_ms: pct("99%"),
        bytes_per_sec: line_value("Transfer/sec:").and_then(|v| parse_bytes(&v)),
        non_2xx,
    };
    eprintln!(
        "xtask: bench {backend:<10} {name:<44} c={connections:<3} {:>10.0} req/s  p50 {:>7.2} ms  p99 {:>7.2} ms  {:>9.1} MB/s{}",
        m.rps,
        m.p50_ms.unwrap_or(f64::NAN),
        m.p99_ms.unwrap_or(f64::NAN),
        m.bytes_per_sec.unwrap_or(0.0) / 1_048_576.0,
        if m.non_2xx > 0 { format!("  non-2xx: {}", m.non_2xx) } else { String::new() }
    );
    Ok(m)
}

fn lua_post(path: &Path, body: &str, extra_headers: &[(&str, &str)]) -> Result<()> {
    let mut lua = String::from(
        "wrk.method = \"POST\"\nwrk.headers[\"Content-Type\"] = \"application/json\"\n",
    );
    for (k, v) in extra_headers {
        lua.push_str(&format!("wrk.headers[\"{k}\"] = \"{v}\"\n"));
    }
    lua.push_str(&format!("wrk.body = [[{body}]]\n"));
    std::fs::write(path, lua)?;
    Ok(())
}

/// A `kB` field of /proc/<pid>/status (`VmRSS:`, `VmHWM:`).
/// User plus system CPU time a process has used so far.
fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces; the fields after it are plain. utime and stime are
    // fields 14 and 15, in ticks of USER_HZ (100 on Linux).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

pub(crate) fn rss_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

fn agent() -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build()
}

fn post_json(agent: &ureq::Agent, path: &str, token: Option<&str>, body: &Value) -> Result<Value> {
    let mut req = agent.post(&format!("{}{path}", base()));
    if let Some(t) = token {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    Ok(req
        .send_json(body.clone())
        .with_context(|| format!("POST {path}"))?
        .into_json()?)
}

fn get_json_auth(agent: &ureq::Agent, path: &str, token: &str) -> Result<Value> {
    let res = agent
        .get(&format!("{}{path}", base()))
        .set("Authorization", &format!("Bearer {token}"))
        .call()?;
    Ok(res.into_json()?)
}

fn get_json(agent: &ureq::Agent, path: &str) -> Result<Value> {
    Ok(agent
        .get(&format!("{}{path}", base()))
        .call()
        .with_context(|| format!("GET {path}"))?
        .into_json()?)
}

fn sign(body: &str) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).expect("any key length");
    mac.update(format!("{t}.{body}").as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Waits until `dir` holds `count` mailed messages (`.eml` files).
fn wait_for_mail(dir: &Path, count: usize, limit: Duration) -> Result<()> {
    let start = Instant::now();
    loop {
        let n = std::fs::read_dir(dir)
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| e.path().extension().is_some_and(|x| x == "eml"))
                    .count()
            })
            .unwrap_or(0);
        if n >= count {
            return Ok(());
        }
        if start.elapsed() > limit {
            bail!(
                "only {n} of {count} receipts reached {} in {limit:?}",
                dir.display()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Posts each (body, signature) once from 64 threads; events per second.
fn fire_webhooks(events: Vec<(String, String)>) -> Result<(f64, usize)> {
    let events = Arc::new(events);
    let next = Arc::new(AtomicUsize::new(0));
    let failures = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let workers: Vec<_> = (0..64)
        .map(|_| {
            let (events, next, failures) = (events.clone(), next.clone(), failures.clone());
            std::thread::spawn(move || {
                let agent = agent();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((body, sig)) = events.get(i) else {
                        break;
                    };
                    let res = agent
                        .post(&format!("{}/api/v1/stripe/webhook", base()))
                        .set("Content-Type", "application/json")
                        .set("Stripe-Signature", sig)
                        .send_string(body);
                    if res.is_err() {
                        failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    Ok((
        events.len() as f64 / start.elapsed().as_secs_f64(),
        failures.load(Ordering::Relaxed),
    ))
}

struct Backend {
    name: &'static str,
    url: String,
}

/// The processes under test: which build of folio and the emulator, and where they listen.
pub(crate) struct Stack {
    /// `release` or `debug`: the directory under target/ the binaries come from.
    pub(crate) profile: &'static str,
    pub(crate) folio_port: u16,
    pub(crate) emulator_port: u16,
    /// More settings for folio, e.g. `FOLIO_ADMIN_EMAILS`.
    pub(crate) env: &'static [(&'static str, &'static str)],
}

impl Stack {
    pub(crate) fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.folio_port)
    }

    fn bin(&self, root: &Path, name: &str) -> std::path::PathBuf {
        crate::target_dir(root).join(self.profile).join(name)
    }

    /// `folio` with its settings for the benchmarks: no rate limit on sign-in, long-lived tokens,
    /// Stripe calls to the emulator.
    pub(crate) fn folio(&self, root: &Path, dir: &Path, db: &str) -> Command {
        let mut cmd = Command::new(self.bin(root, "folio"));
        cmd.env("DATABASE_URL", db)
            .env("FOLIO_DATA_DIR", dir)
            .env(
                "FOLIO_JWT_SECRET",
                "bench-secret-bench-secret-bench-secret-00",
            )
            .env("FOLIO_BIND", format!("127.0.0.1:{}", self.folio_port))
            .env("FOLIO_PUBLIC_URL", self.base())
            .env("FOLIO_WEB_DIST", dir.join("no-ui"))
            .env("FOLIO_AUTH_RATE_LIMIT", "1000000000")
            .env("FOLIO_DOWNLOAD_TOKEN_TTL_SECS", "3600")
            .env("FOLIO_ACCESS_TOKEN_TTL_SECS", "3600")
            .env("FOLIO_MAX_FILE_BYTES", (3u64 << 30).to_string())
            .env("FOLIO_DB_POOL_SIZE", "16")
            .env("STRIPE_SECRET_KEY", "sk_test_bench")
            .env("STRIPE_WEBHOOK_SECRET", SECRET)
            .env(
                "STRIPE_API_BASE",
                format!("http://127.0.0.1:{}/", self.emulator_port),
            )
            .env("RUST_LOG", "warn")
            .envs(self.env.iter().copied());
        cmd
    }

    pub(crate) fn seed(
        &self,
        root: &Path,
        dir: &Path,
        db: &str,
        count: usize,
        file: &Path,
        cents: u32,
    ) -> Result<()> {
        crate::status(
            self.folio(root, dir, db)
                .args(["seed", "--products", &count.to_string(), "--file"])
                .arg(file)
                .args(["--price-cents", &cents.to_string()])
                .stdout(Stdio::null()),
        )
    }

    pub(crate) fn start_folio(
        &self,
        root: &Path,
        dir: &Path,
        db: &str,
    ) -> Result<(Proc, Duration)> {
        let start = Instant::now();
        let child = self
            .folio(root, dir, db)
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()?;
        let proc = Proc(child);
        let agent = agent();
        loop {
            if agent.get(&format!("{}/readyz", self.base())).call().is_ok() {
                return Ok((proc, start.elapsed()));
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!("folio did not become ready");
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The emulator binary, sending its events to `webhook_url` (none: they wait).
    pub(crate) fn start_emulator(&self, root: &Path, webhook_url: Option<&str>) -> Result<Proc> {
        let mut cmd = Command::new(self.bin(root, "stripe-emulator"));
        cmd.env(
            "STRIPE_EMULATOR_BIND",
            format!("127.0.0.1:{}", self.emulator_port),
        )
        .env("STRIPE_WEBHOOK_SECRET", SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null());
        if let Some(url) = webhook_url {
            cmd.env("STRIPE_EMULATOR_WEBHOOK_URL", url);
        }
        let emulator = Proc(cmd.spawn()?);
        wait_listening(self.emulator_port, "stripe-emulator")?;
        Ok(emulator)
    }
}

/// Builds folio and the emulator (`--release` or the debug profile).
pub(crate) fn build(release: bool) -> Result<()> {
    let mut cmd = crate::cargo();
    cmd.args([
        "build",
        "--locked",
        "-p",
        "folio-api",
        "-p",
        "stripe-emulator",
    ]);
    if release {
        cmd.arg("--release");
    }
    crate::status(&mut cmd)
}

/// A fresh PostgreSQL database on 127.0.0.1:5432 (user postgres), dropped with this value.
/// A database of the local PostgreSQL for one run (`None` when the server is not there),
/// dropped with its handle.
pub(crate) fn pg_database(name: &str) -> Result<Option<folio_testkit::Database>> {
    let admin = folio_testkit::admin_url();
    if folio_testkit::reachable(&admin).is_err() {
        return Ok(None);
    }
    folio_testkit::Database::create(&admin, name, None)
        .map(Some)
        .map_err(anyhow::Error::msg)
}

fn product_where(agent: &ureq::Agent, pred: impl Fn(&Value) -> bool) -> Result<String> {
    let page = get_json(agent, "/api/v1/products?limit=100")?;
    page["items"]
        .as_array()
        .and_then(|items| items.iter().find(|p| pred(p)))
        .and_then(|p| p["slug"].as_str())
        .map(str::to_owned)
        .context("seeded product not found")
}

fn run_backend(
    root: &Path,
    sel: &Selection,
    backend: &Backend,
    files: &Path,
    out: &mut Vec<Measure>,
    extra: &mut Vec<(String, String)>,
) -> Result<()> {
    let b = backend.name;
    let dir = root.join("target/bench").join(b);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let db = backend.url.clone();
    let small = files.join("1mib.pdf");
    let big = files.join("200mib.pdf");
    crate::status(
        BENCH
            .folio(root, &dir, &db)
            .arg("migrate")
            .stdout(Stdio::null()),
    )?;
    BENCH.seed(root, &dir, &db, 97, &small, 0)?;
    BENCH.seed(root, &dir, &db, 1, &big, 0)?;
    BENCH.seed(root, &dir, &db, 2, &small, 500)?;

    let (server, ready) = BENCH.start_folio(root, &dir, &db)?;
    let pid = server.0.id();
    extra.push((
        format!("{b}: start to /readyz, 100 products"),
        format!("{:.0} ms", ready.as_secs_f64() * 1000.0),
    ));
    let idle = rss_kb(pid, "VmRSS:").unwrap_or(0);
    extra.push((
        format!("{b}: RSS idle"),
        format!("{:.1} MB", idle as f64 / 1024.0),
    ));

    let agent = agent();
    let email = format!("bench-{}@example.com", std::process::id());
    let tokens = post_json(
        &agent,
        "/api/v1/auth/register",
        None,
        &json!({"email": email, "password": "bench password"}),
    )?;
    let token = tokens["access_token"].as_str().context("token")?.to_owned();
    let auth = format!("Authorization: Bearer {token}");

    let slug_small = product_where(&agent, |p| {
        p["files"][0]["size"] == 1 << 20 && p["is_free"] == true
    })?;
    let slug_big = product_where(&agent, |p| p["files"][0]["size"] == 200 << 20)?;
    let slug_paid = product_where(&agent, |p| p["is_free"] == false)?;

    let catalog = format!("{}/api/v1/products?limit=50", base());
    if sel.wants("catalog") {
        out.push(wrk(
            b,
            "catalog list, anonymous, 100 products",
            64,
            &catalog,
            None,
            &[],
        )?);
        out.push(wrk(
            b,
            "catalog list, signed in, 100 products",
            64,
            &catalog,
            None,
            std::slice::from_ref(&auth),
        )?);
    }
    if sel.wants("slug") {
        out.push(wrk(
            b,
            "product by slug",
            64,
            &format!("{}/api/v1/products/{slug_small}", base()),
            None,
            &[],
        )?);
    }
    if sel.wants("token") {
        let lua = dir.join("token.lua");
        lua_post(&lua, "", &[("Authorization", &format!("Bearer {token}"))])?;
        out.push(wrk(
            b,
            "download-token issue",
            64,
            &format!("{}/api/v1/products/{slug_small}/download-token", base()),
            Some(&lua),
            &[],
        )?);
    }
    if sel.wants("login") {
        let login = dir.join("login.lua");
        lua_post(
            &login,
            &json!({"email": email, "password": "bench password"}).to_string(),
            &[],
        )?;
        let cpu_before = cpu_seconds(pid);
        let m = wrk(
            b,
            "login (argon2id verify)",
            64,
            &format!("{}/api/v1/auth/login", base()),
            Some(&login),
            &[],
        )?;
        // Each login is one argon2id verification; the rest of the request is noise beside it.
        let cpu = cpu_seconds(pid)
            .zip(cpu_before)
            .map(|(after, before)| after - before);
        let logins = m.rps * DURATION_SECS as f64;
        if let Some(cpu) = cpu.filter(|_| logins > 0.0) {
            extra.push((
                format!("{b}: CPU time per login (one argon2id verification)"),
                format!("{:.1} ms", cpu * 1000.0 / logins),
            ));
        }
        out.push(m);
    }
    if sel.wants("downloads") {
        downloads(
            root,
            &dir,
            &db,
            b,
            &token,
            &agent,
            [&slug_small, &slug_big],
            [&small, &big],
            out,
            extra,
        )?;
        let peak = rss_kb(pid, "VmHWM:").unwrap_or(0);
        extra.push((
            format!("{b}: peak RSS after the download runs (incl. 64 x 200 MiB)"),
            format!("{:.1} MB", peak as f64 / 1024.0),
        ));
    }
    if sel.wants("webhooks") {
        webhooks(b, &token, &agent, &slug_paid, &dir.join("mail"), out)?;
    }
    if sel.wants("files") {
        files_section(root, &dir, &db, b, pid, &token, &agent, files, out, extra)?;
    }
    drop(server);
    if sel.wants("orders") {
        million_orders(root, &dir, &db, b, &agent, out, extra)?;
    }
    if sel.wants("100k") {
        large_catalog(
            root, &dir, &db, b, &email, &small, &catalog, &agent, out, extra,
        )?;
    }
    Ok(())
}

/// A download link for a one-file product.
fn download_url(agent: &ureq::Agent, token: &str, slug: &str) -> Result<String> {
    let t = post_json(
        agent,
        &format!("/api/v1/products/{slug}/download-token"),
        Some(token),
        &json!({}),
    )?;
    Ok(t["url"].as_str().context("url")?.to_owned())
}

/// Downloads of the 1 MiB and the 200 MiB file, one client and 64, against nginx serving the
/// very same object file, and against nginx sending the bytes folio hands it.
#[allow(clippy::too_many_arguments)]
fn downloads(
    root: &Path,
    dir: &Path,
    db: &str,
    b: &'static str,
    token: &str,
    agent: &ureq::Agent,
    [slug_small, slug_big]: [&String; 2],
    [small, big]: [&std::path::PathBuf; 2],
    out: &mut Vec<Measure>,
    extra: &mut Vec<(String, String)>,
) -> Result<()> {
    let link = |slug: &str| download_url(agent, token, slug);
    let nginx_dir = dir.join("nginx");
    std::fs::create_dir_all(nginx_dir.join("tmp"))?;
    let conf = nginx_dir.join("nginx.conf");
    std::fs::write(
        &conf,
        format!(
            "worker_processes 2; daemon off; pid {p}/nginx.pid; error_log {p}/error.log;\n\
             events {{ worker_connections 1024; }}\n\
             http {{ access_log off; sendfile on; client_body_temp_path {p}/tmp; proxy_temp_path {p}/tmp;\n\
             fastcgi_temp_path {p}/tmp; uwsgi_temp_path {p}/tmp; scgi_temp_path {p}/tmp;\n\
             server {{ listen 127.0.0.1:{NGINX_PORT}; root {root}; location / {{ }} }}\n\
             upstream folio {{ server 127.0.0.1:{ACCEL_FOLIO_PORT}; keepalive 64; }}\n\
             server {{ listen 127.0.0.1:{NGINX_PROXY_PORT};\n\
               location / {{ proxy_pass http://folio; proxy_http_version 1.1; proxy_set_header Connection \"\"; }}\n\
               location {ACCEL_PREFIX} {{ internal; alias {objects}/; }} }} }}\n",
            p = nginx_dir.display(),
            root = dir.join("objects/files").display(),
            objects = dir.join("objects").display(),
        ),
    )?;
    // The same database and objects, served by a folio that hands the bytes to nginx.
    let accel = Proc(
        BENCH
            .folio(root, dir, db)
            .env("FOLIO_BIND", format!("127.0.0.1:{ACCEL_FOLIO_PORT}"))
            .env("FOLIO_DOWNLOAD_ACCEL_PREFIX", ACCEL_PREFIX)
            .arg("serve")
            .stdout(Stdio::null())
            .spawn()?,
    );
    wait_listening(ACCEL_FOLIO_PORT, "folio (X-Accel-Redirect)")?;
    let nginx_bin = if which("nginx") {
        "nginx".to_owned()
    } else {
        "/usr/sbin/nginx".to_owned()
    };
    let nginx = Proc(
        Command::new(nginx_bin)
            .args(["-c"])
            .arg(&conf)
            .args(["-p"])
            .arg(&nginx_dir)
            .stderr(Stdio::null())
            .spawn()?,
    );
    wait_listening(NGINX_PORT, "nginx")?;
    let sha = |path: &Path| -> Result<String> {
        use sha2::Digest;
        Ok(hex::encode(sha2::Sha256::digest(std::fs::read(path)?)))
    };
    for (label, slug, file) in [("1 MiB", slug_small, small), ("200 MiB", slug_big, big)] {
        let url = link(slug)?;
        let nginx_url = format!("http://127.0.0.1:{NGINX_PORT}/{}", sha(file)?);
        let proxied_url = url.replace(&base(), &format!("http://127.0.0.1:{NGINX_PROXY_PORT}"));
        for c in [1, 64] {
            let folio = wrk(b, &format!("download {label}, folio"), c, &url, None, &[])?;
            let nginx = wrk(
                b,
                &format!("download {label}, nginx"),
                c,
                &nginx_url,
                None,
                &[],
            )?;
            let handed = wrk(
                b,
                &format!("download {label}, folio behind nginx (X-Accel-Redirect)"),
                c,
                &proxied_url,
                None,
                &[],
            )?;
            let share = |m: &Measure| match (m.bytes_per_sec, nginx.bytes_per_sec) {
                (Some(x), Some(n)) if n > 0.0 => format!("{:.0}%", 100.0 * x / n),
                _ => "n/a".into(),
            };
            extra.push((
                format!("{b}: download {label} x{c}, MB/s as a share of nginx's"),
                format!(
                    "folio {}, folio behind nginx {}",
                    share(&folio),
                    share(&handed)
                ),
            ));
            out.extend([folio, nginx, handed]);
        }
    }
    drop(nginx);
    drop(accel);
    Ok(())
}

/// A PDF of `pages` pages, each with a content stream of about `page_bytes` of text drawing
/// operators (uncompressed, so the file has the size of a long illustrated book).
pub(crate) fn make_book(path: &Path, pages: usize, page_bytes: usize) -> Result<()> {
    use std::io::Write;
    if path.exists() {
        return Ok(());
    }
    let mut out: Vec<u8> = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    let object = |out: &mut Vec<u8>, offsets: &mut Vec<usize>, body: &[u8]| {
        offsets.push(out.len());
        writeln!(out, "{} 0 obj", offsets.len()).unwrap();
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    };
    let kids: Vec<String> = (0..pages).map(|i| format!("{} 0 R", 4 + 2 * i)).collect();
    object(&mut out, &mut offsets, b"<< /Type /Catalog /Pages 2 0 R >>");
    object(
        &mut out,
        &mut offsets,
        format!(
            "<< /Type /Pages /Kids [{}] /Count {pages} >>",
            kids.join(" ")
        )
        .as_bytes(),
    );
    object(
        &mut out,
        &mut offsets,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    );
    let line = b"BT /F1 9 Tf 72 700 Td (The quick brown fox jumps over the lazy dog, page after page.) Tj ET\n";
    for i in 0..pages {
        object(
            &mut out,
            &mut offsets,
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {} 0 R >>",
                5 + 2 * i
            )
            .as_bytes(),
        );
        let content: Vec<u8> = line
            .iter()
            .copied()
            .cycle()
            .take(page_bytes / line.len() * line.len())
            .collect();
        let mut stream = format!("<< /Length {} >>\nstream\n", content.len()).into_bytes();
        stream.extend_from_slice(&content);
        stream.extend_from_slice(b"\nendstream");
        object(&mut out, &mut offsets, &stream);
    }
    let xref = out.len();
    write!(out, "xref\n0 {}\n0000000000 65535 f \n", offsets.len() + 1)?;
    for o in &offsets {
        writeln!(out, "{o:010} 00000 n ")?;
    }
    write!(
        out,
        "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
        offsets.len() + 1
    )?;
    std::fs::write(path, out)?;
    Ok(())
}

/// Uploads `file` as a new free product through the API with curl (streamed from disk); the
/// created product and the seconds the upload took.
fn upload(admin: &str, title: &str, file: &Path, stamp: bool) -> Result<(Value, f64)> {
    upload_to(&base(), admin, title, file, stamp)
}

/// The highest VmRSS of `pid` while `work` runs, sampled every 20 ms.
fn peak_rss_during<T>(pid: u32, work: impl FnOnce() -> Result<T>) -> Result<(T, u64)> {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(rss_kb(pid, "VmRSS:").unwrap_or(0));
                std::thread::sleep(Duration::from_millis(20));
            }
            peak
        })
    };
    let result = work();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.join().unwrap_or(0);
    Ok((result?, peak))
}

/// Files: what stamping a 500-page 50 MB PDF costs at upload, stamped downloads as a share of
/// unstamped ones, and the server's memory while a 2 GiB file goes up and comes down.
#[allow(clippy::too_many_arguments)]
fn files_section(
    root: &Path,
    dir: &Path,
    db: &str,
    b: &'static str,
    pid: u32,
    token: &str,
    agent: &ureq::Agent,
    files: &Path,
    out: &mut Vec<Measure>,
    extra: &mut Vec<(String, String)>,
) -> Result<()> {
    let admin_email = format!("bench-admin-{}@example.com", std::process::id());
    let mut create = BENCH
        .folio(root, dir, db)
        .args(["admin", "create", "--email", &admin_email])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    {
        use std::io::Write;
        create
            .stdin
            .take()
            .context("stdin")?
            .write_all(b"bench admin password\n")?;
    }
    if !create.wait()?.success() {
        bail!("folio admin create failed");
    }
    let admin = post_json(
        agent,
        "/api/v1/auth/login",
        None,
        &json!({"email": admin_email, "password": "bench admin password"}),
    )?["access_token"]
        .as_str()
        .context("admin token")?
        .to_owned();

    let book = files.join("book-500-pages.pdf");
    make_book(&book, 500, 100_000)?;
    let size_mb = book.metadata()?.len() as f64 / 1e6;
    let (plain, plain_secs) = upload(&admin, &format!("Plain {b}"), &book, false)?;
    let (stamped, stamped_secs) = upload(&admin, &format!("Stamped {b}"), &book, true)?;
    extra.push((
        format!(
            "{b}: upload of a 500-page {size_mb:.0} MB PDF, stamping off / on (on parses it once)"
        ),
        format!("{:.2} s / {:.2} s", plain_secs, stamped_secs),
    ));
    let link =
        |product: &Value| download_url(agent, token, product["slug"].as_str().context("slug")?);
    let history = get_json_auth(
        agent,
        &format!(
            "/api/v1/admin/products/{}/files/{}/versions",
            stamped["id"].as_str().context("id")?,
            stamped["files"][0]["id"].as_str().context("file id")?
        ),
        &admin,
    )?;
    if let Some(why) = history["versions"][0]["stamp_error"].as_str() {
        bail!("the bench book cannot be stamped: {why}");
    }
    let (plain_url, stamped_url) = (link(&plain)?, link(&stamped)?);
    // One download of each first: both read from the page cache, and the plan is in memory.
    for url in [&plain_url, &stamped_url] {
        crate::status(
            Command::new("curl")
                .args(["-sS", "--fail", "-o", "/dev/null"])
                .arg(url),
        )?;
    }
    for c in [1, 64] {
        let p = wrk(
            b,
            "download 500-page PDF, unstamped",
            c,
            &plain_url,
            None,
            &[],
        )?;
        let s = wrk(
            b,
            "download 500-page PDF, stamped",
            c,
            &stamped_url,
            None,
            &[],
        )?;
        if let (Some(x), Some(y)) = (s.bytes_per_sec, p.bytes_per_sec) {
            extra.push((
                format!("{b}: download 500-page PDF x{c}, stamped MB/s as a share of unstamped"),
                format!("{:.0}%", 100.0 * x / y),
            ));
        }
        out.extend([p, s]);
    }

    let huge = files.join("2gib.bin");
    make_pdf(&huge, 2 << 30)?;
    let ((product, secs), up_peak) =
        peak_rss_during(pid, || upload(&admin, &format!("Huge {b}"), &huge, false))?;
    let url = link(&product)?;
    let (down_secs, down_peak) = peak_rss_during(pid, || {
        let started = Instant::now();
        crate::status(
            Command::new("curl")
                .args(["-sS", "--fail", "-o", "/dev/null"])
                .arg(&url),
        )?;
        Ok(started.elapsed().as_secs_f64())
    })?;
    extra.push((
        format!("{b}: a 2 GiB file: upload / download time, server RSS peak during each"),
        format!(
            "{secs:.1} s / {down_secs:.1} s, {:.0} MB / {:.0} MB",
            up_peak as f64 / 1024.0,
            down_peak as f64 / 1024.0
        ),
    ));
    Ok(())
}

/// Webhook fulfillment: real pending orders (checkouts through the emulator), then signed
/// checkout.session.completed events for each, fired from 64 threads.
fn webhooks(
    b: &'static str,
    token: &str,
    agent: &ureq::Agent,
    slug_paid: &str,
    mailbox: &Path,
    out: &mut Vec<Measure>,
) -> Result<()> {
    let mut events = Vec::with_capacity(WEBHOOK_EVENTS);
    for i in 0..WEBHOOK_EVENTS {
        let c = post_json(
            agent,
            "/api/v1/checkout",
            Some(token),
            &json!({"slug": slug_paid}),
        )
        .with_context(|| format!("checkout {i}"))?;
        let session = json!({
            "id": c["session_id"], "object": "checkout.session", "client_reference_id": c["order_id"],
            "metadata": {"order_id": c["order_id"]}, "payment_status": "paid", "status": "complete",
            "payment_intent": format!("pi_bench_{i}"),
        });
        let body = json!({"id": format!("evt_bench_{b}_{i}"), "object": "event", "type": "checkout.session.completed",
            "created": 0, "data": {"object": session}})
        .to_string();
        let sig = sign(&body);
        events.push((body, sig));
    }
    let duplicate = events[0].clone();
    let first_event = Instant::now();
    let (distinct, failed) = fire_webhooks(events)?;
    // Each paid order queued its receipt in the fulfilment transaction; the job workers mail
    // them (to the dev mailbox, one `.eml` per message) while the events still arrive.
    wait_for_mail(mailbox, WEBHOOK_EVENTS, Duration::from_secs(300))?;
    let jobs_per_sec = WEBHOOK_EVENTS as f64 / first_event.elapsed().as_secs_f64();
    out.push(Measure {
        backend: b,
        name: format!("receipt jobs mailed to the dev mailbox ({WEBHOOK_EVENTS}, timed from the first webhook)"),
        connections: 2,
        rps: jobs_per_sec,
        p50_ms: None,
        p99_ms: None,
        bytes_per_sec: None,
        non_2xx: 0,
    });
    out.push(Measure {
        backend: b,
        name: format!("webhook fulfillment, distinct events ({WEBHOOK_EVENTS})"),
        connections: 64,
        rps: distinct,
        p50_ms: None,
        p99_ms: None,
        bytes_per_sec: None,
        non_2xx: failed as u64,
    });
    let dups = vec![(duplicate.0.clone(), sign(&duplicate.0)); WEBHOOK_EVENTS];
    let (dup_rate, failed) = fire_webhooks(dups)?;
    out.push(Measure {
        backend: b,
        name: format!("webhook duplicates ({WEBHOOK_EVENTS} copies)"),
        connections: 64,
        rps: dup_rate,
        p50_ms: None,
        p99_ms: None,
        bytes_per_sec: None,
        non_2xx: failed as u64,
    });
    eprintln!("xtask: bench {b:<10} webhooks: {distinct:.0} distinct events/s, {dup_rate:.0} duplicates/s, receipt jobs {jobs_per_sec:.0}/s");
    Ok(())
}

/// 100,000 products: the catalog cost should stay flat, and start-up fast.
#[allow(clippy::too_many_arguments)]
fn large_catalog(
    root: &Path,
    dir: &Path,
    db: &str,
    b: &'static str,
    email: &str,
    small: &Path,
    catalog: &str,
    agent: &ureq::Agent,
    out: &mut Vec<Measure>,
    extra: &mut Vec<(String, String)>,
) -> Result<()> {
    BENCH.seed(root, dir, db, 99_900, small, 0)?;
    let (server, ready) = BENCH.start_folio(root, dir, db)?;
    extra.push((
        format!("{b}: start to /readyz, 100,000 products"),
        format!("{:.0} ms", ready.as_secs_f64() * 1000.0),
    ));
    let tokens = post_json(
        agent,
        "/api/v1/auth/login",
        None,
        &json!({"email": email, "password": "bench password"}),
    )?;
    let auth = format!(
        "Authorization: Bearer {}",
        tokens["access_token"].as_str().unwrap_or_default()
    );
    out.push(wrk(
        b,
        "catalog list, anonymous, 100,000 products",
        64,
        catalog,
        None,
        &[],
    )?);
    out.push(wrk(
        b,
        "catalog list, signed in, 100,000 products",
        64,
        catalog,
        None,
        &[auth],
    )?);
    drop(server);
    Ok(())
}

/// The dashboard and the exports over a ledger of 1,000,000 orders: the stats of a month, a
/// year by day and two years by month under load, and the whole orders.csv (time, size, the
/// server's peak RSS while it streams).
fn million_orders(
    root: &Path,
    dir: &Path,
    db: &str,
    b: &'static str,
    agent: &ureq::Agent,
    out: &mut Vec<Measure>,
    extra: &mut Vec<(String, String)>,
) -> Result<()> {
    const ORDERS: u32 = 1_000_000;
    let started = Instant::now();
    crate::status(
        BENCH
            .folio(root, dir, db)
            .args(["seed", "--orders", &ORDERS.to_string()])
            .stdout(Stdio::null()),
    )?;
    extra.push((
        format!("{b}: seeding 1,000,000 orders (one INSERT … SELECT)"),
        format!("{:.1} s", started.elapsed().as_secs_f64()),
    ));
    let admin_email = format!("bench-stats-{}@example.com", std::process::id());
    let mut create = BENCH
        .folio(root, dir, db)
        .args(["admin", "create", "--email", &admin_email])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    {
        use std::io::Write;
        create
            .stdin
            .take()
            .context("stdin")?
            .write_all(b"bench admin password\n")?;
    }
    if !create.wait()?.success() {
        bail!("folio admin create failed");
    }
    let (server, _) = BENCH.start_folio(root, dir, db)?;
    let pid = server.0.id();
    let admin = post_json(
        agent,
        "/api/v1/auth/login",
        None,
        &json!({"email": admin_email, "password": "bench admin password"}),
    )?["access_token"]
        .as_str()
        .context("admin token")?
        .to_owned();
    let auth = format!("Authorization: Bearer {admin}");
    // Sanity: the year holds about half the ledger.
    let year = get_json_auth(
        agent,
        "/api/v1/admin/stats?from=2025-11-01&to=2026-10-31&interval=day",
        &admin,
    )?;
    let paid = year["paid_orders"].as_i64().unwrap_or(0);
    if paid < 300_000 {
        bail!("the seeded year has {paid} paid orders: the seeding or the stats are wrong");
    }
    for (name, query) in [
        (
            "stats, 30 days by day, 1,000,000 orders",
            "from=2026-10-01&to=2026-10-30&interval=day",
        ),
        (
            "stats, 365 days by day, 1,000,000 orders",
            "from=2025-11-01&to=2026-10-31&interval=day",
        ),
        (
            "stats, 2 years by month, 1,000,000 orders",
            "from=2024-11-01&to=2026-10-31&interval=month",
        ),
    ] {
        out.push(wrk(
            b,
            name,
            4,
            &format!("{}/api/v1/admin/stats?{query}", base()),
            None,
            std::slice::from_ref(&auth),
        )?);
    }
    let csv = dir.join("orders.csv");
    let (elapsed, peak) = peak_rss_during(pid, || {
        let started = Instant::now();
        crate::status(
            Command::new("curl")
                .args(["-sS", "--fail", "-o"])
                .arg(&csv)
                .args(["-H", &auth])
                .arg(format!("{}/api/v1/admin/orders.csv", base())),
        )?;
        Ok(started.elapsed())
    })?;
    let size = csv.metadata()?.len();
    let rows = std::fs::read(&csv)?.iter().filter(|&&c| c == b'\n').count();
    let _ = std::fs::remove_file(&csv);
    if rows < ORDERS as usize {
        bail!("orders.csv has {rows} lines for {ORDERS} orders");
    }
    extra.push((
        format!("{b}: orders.csv of 1,000,000 orders: time, size, server RSS peak while streaming"),
        format!(
            "{:.1} s, {:.0} MB, {:.0} MB",
            elapsed.as_secs_f64(),
            size as f64 / 1e6,
            peak as f64 / 1024.0
        ),
    ));
    drop(server);
    Ok(())
}

pub(crate) fn commit(root: &Path) -> String {
    Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The CPU model and the number of cores.
pub(crate) fn machine() -> (String, usize) {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    (cpu, cores)
}

pub(crate) fn date_utc() -> String {
    Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%d %H:%M UTC")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Where `cargo xtask soak` writes its figures; bench/RESULTS.md links to it.
pub(crate) const SOAK_LINK: &str =
    "Soak results (`cargo xtask soak`, 10 minutes of mixed traffic) are in [SOAK.md](SOAK.md); \
     the measurements behind choices in the code are in [NOTES.md](NOTES.md).\n";

/// Writes RESULTS.md and results.json into `dir`.
/// The measures' table rows, then the figures' table.
fn rows(measures: &[Measure], extra: &[(String, String)]) -> String {
    let mut md = String::new();
    let fmt = |v: Option<f64>| v.map(|x| format!("{x:.2}")).unwrap_or_else(|| "".into());
    for m in measures {
        md.push_str(&format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} |\n",
            m.backend,
            m.name,
            m.connections,
            m.rps,
            fmt(m.p50_ms),
            fmt(m.p99_ms),
            m.bytes_per_sec
                .map(|b| format!("{:.1}", b / 1_048_576.0))
                .unwrap_or_default(),
            m.non_2xx
        ));
    }
    md.push_str("\n| figure | value |\n| --- | --- |\n");
    for (k, v) in extra {
        md.push_str(&format!("| {k} | {v} |\n"));
    }
    md
}

const CLUSTER_HEADING: &str = "## Several nodes (`cargo xtask bench --cluster`)";

/// `cargo xtask bench --cluster`: nginx in front of one node, then of three (release builds, on
/// one PostgreSQL and SeaweedFS), streamed and presigned downloads, the invalidation delay, and
/// a node's memory while a 1 GiB upload streams to the bucket. Written into bench/RESULTS.md as
/// a section of its own.
fn cluster_bench(root: &Path) -> Result<()> {
    use crate::cluster::{self, Cluster, Http};
    ensure_tools()?;
    let files = root.join("target/bench/files");
    std::fs::create_dir_all(&files)?;
    make_pdf(&files.join("1mib.pdf"), 1 << 20)?;
    make_pdf(&files.join("1gib.pdf"), 1 << 30)?;
    let mut measures = Vec::new();
    let mut extra = Vec::new();
    let runs: [(usize, &str, &'static str); 3] = [
        (1, "stream", "1 node"),
        (3, "stream", "3 nodes"),
        (3, "presigned", "3 nodes, presigned"),
    ];
    for (nodes, redirect, backend) in runs {
        let env: Vec<(String, String)> = [
            ("FOLIO_DOWNLOAD_REDIRECT", redirect.to_owned()),
            ("FOLIO_DOWNLOAD_TOKEN_TTL_SECS", "3600".to_owned()),
            ("FOLIO_MAX_FILE_BYTES", (3u64 << 30).to_string()),
            ("FOLIO_DB_POOL_SIZE", "16".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let c = Cluster::start(root, nodes, true, env)?;
        let lb = c.lb();
        let http = Http::new();
        let admin = cluster::login(&http, &lb, cluster::ADMIN_EMAIL, cluster::ADMIN_PASSWORD)?;
        let (product, _) = upload_to(&lb, &admin, "Bench One MiB", &files.join("1mib.pdf"), false)?;
        let slug = product["slug"].as_str().context("a slug")?.to_owned();
        let id = product["id"].as_str().context("an id")?.to_owned();
        let user = cluster::register(&http, &lb, "bench@folio.test")?;
        let link = http.expect(
            "POST",
            &format!("{lb}/api/v1/products/{slug}/download-token"),
            Some(&user),
            None,
            200,
        )?;
        let url = link["url"].as_str().context("a download URL")?.to_owned();
        if redirect == "stream" {
            let catalog = format!("{lb}/api/v1/products");
            measures.push(wrk(
                backend,
                "catalog list, anonymous, through nginx",
                64,
                &catalog,
                None,
                &[],
            )?);
            measures.push(wrk(
                backend,
                "download 1 MiB, streamed by folio from the bucket, through nginx",
                16,
                &url,
                None,
                &[],
            )?);
        } else {
            measures.push(wrk(
                backend,
                "download 1 MiB: folio's 302 to a presigned URL, through nginx",
                16,
                &url,
                None,
                &[],
            )?);
            let res = ureq::AgentBuilder::new()
                .redirects(0)
                .build()
                .get(&url)
                .call()?;
            let presigned = res
                .header("location")
                .context("a presigned URL")?
                .to_owned();
            measures.push(wrk(
                backend,
                "download 1 MiB: the presigned URL, sent by SeaweedFS",
                16,
                &presigned,
                None,
                &[],
            )?);
        }
        if nodes == 3 && redirect == "stream" {
            let mut ms = cluster::invalidation_delays(&c, &http, &admin, &id, 200)?;
            ms.sort_by(f64::total_cmp);
            extra.push((
                "invalidation delay: a write's answer on one node → the next catalog page of another shows it (200 writes, each poll one GET)".to_owned(),
                format!(
                    "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
                    cluster::percentile(&ms, 0.5),
                    cluster::percentile(&ms, 0.99),
                    ms.last().copied().unwrap_or(f64::NAN)
                ),
            ));
        }
        if nodes == 1 {
            let pid = c.nodes[0].proc.as_ref().context("the node")?.0.id();
            let ((_, secs), peak_kb) = peak_rss_during(pid, || {
                upload_to(&lb, &admin, "Bench One GiB", &files.join("1gib.pdf"), false)
            })?;
            extra.push((
                "1 GiB upload through nginx into the bucket (5 MiB parts): the node's peak RSS"
                    .to_owned(),
                format!(
                    "{} MB, {:.1} s ({:.0} MB/s)",
                    peak_kb / 1024,
                    secs,
                    1024.0 / secs
                ),
            ));
        }
    }
    let (cpu, cores) = machine();
    let mut section = format!(
        "{CLUSTER_HEADING}\n\nMachine: {cpu}, {cores} cores. Date: {}. Commit: {}. nginx (2 workers) in \
         front of the nodes, on one PostgreSQL and SeaweedFS, all on this machine; wrk {DURATION_SECS} s \
         per row. Every process shares the same 2 cores, so three nodes cannot be faster than one here: \
         the rows show what the shared parts cost (nginx's hop, the bucket instead of the page cache, \
         the notices), not how Folio scales on more machines.\n\n\
         | nodes | scenario | conns | req/s | p50 ms | p99 ms | MB/s | non-2xx |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n",
        date_utc(),
        commit(root)
    );
    section.push_str(&rows(&measures, &extra));
    let path = root.join("bench/RESULTS.md");
    let old = std::fs::read_to_string(&path).unwrap_or_default();
    let kept = old
        .find(CLUSTER_HEADING)
        .map_or(old.as_str(), |at| &old[..at]);
    std::fs::write(&path, format!("{}\n{section}", kept.trim_end()))?;
    eprintln!("xtask: wrote the cluster section of {}", path.display());
    Ok(())
}

/// A free product with `file`, through `base` (curl streams the file); how long it took.
fn upload_to(
    base: &str,
    admin: &str,
    title: &str,
    file: &Path,
    stamp: bool,
) -> Result<(Value, f64)> {
    let started = Instant::now();
    let out = Command::new("curl")
        .args(["-sS", "--fail-with-body", "-H"])
        .arg(format!("Authorization: Bearer {admin}"))
        .args(["-F", &format!("title={title}"), "-F", "price=0"])
        .args(["-F", &format!("stamp_pdfs={stamp}"), "-F"])
        .arg(format!("file=@{}", file.display()))
        .arg(format!("{base}/api/v1/admin/products"))
        .output()?;
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "upload of {}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stdout)
        );
    }
    Ok((serde_json::from_slice(&out.stdout)?, secs))
}

fn write_results(
    root: &Path,
    dir: &Path,
    measures: &[Measure],
    extra: &[(String, String)],
) -> Result<()> {
    let (cpu, cores) = machine();
    let date = date_utc();
    let commit = commit(root);
    let mut md = format!(
        "# Folio benchmark results\n\nWritten by `cargo xtask bench`. Machine: {cpu}, {cores} cores. Date: {date}. Commit: {commit}.\n\
         Load from wrk ({DURATION_SECS} s per row, loopback); folio release build, RUST_LOG=warn.\n\n\
         | backend | scenario | conns | req/s | p50 ms | p99 ms | MB/s | non-2xx |\n| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
    );
    md.push_str(&rows(measures, extra));
    md.push('\n');
    md.push_str(SOAK_LINK);
    // `cargo xtask bench --cluster` keeps its own section; a run of the rest keeps it too.
    if let Some(section) = std::fs::read_to_string(dir.join("RESULTS.md"))
        .ok()
        .and_then(|old| old.find(CLUSTER_HEADING).map(|at| old[at..].to_owned()))
    {
        md.push('\n');
        md.push_str(&section);
    }
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("RESULTS.md"), md)?;
    let json = json!({
        "machine": {"cpu": cpu, "cores": cores}, "date": date, "commit": commit,
        "measures": measures.iter().map(|m| json!({
            "backend": m.backend, "name": m.name, "connections": m.connections, "rps": m.rps,
            "p50_ms": m.p50_ms, "p99_ms": m.p99_ms, "bytes_per_sec": m.bytes_per_sec, "non_2xx": m.non_2xx,
        })).collect::<Vec<_>>(),
        "figures": extra.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>(),
    });
    std::fs::write(
        dir.join("results.json"),
        serde_json::to_string_pretty(&json)?,
    )?;
    eprintln!(
        "xtask: wrote {} and results.json",
        dir.join("RESULTS.md").display()
    );
    Ok(())
}

pub fn bench(root: &Path, args: &[String]) -> Result<()> {
    if args.iter().any(|a| a == "--cluster") {
        return cluster_bench(root);
    }
    let sel = Selection::parse(args)?;
    ensure_tools()?;
    build(true)?;
    let files = root.join("target/bench/files");
    std::fs::create_dir_all(&files)?;
    make_pdf(&files.join("1mib.pdf"), 1 << 20)?;
    make_pdf(&files.join("200mib.pdf"), 200 << 20)?;

    let emulator = BENCH.start_emulator(root, None)?;

    let mut backends = vec![Backend {
        name: "sqlite",
        url: format!(
            "sqlite://{}",
            root.join("target/bench/sqlite/folio.db").display()
        ),
    }];
    let pg = if sel.wants_backend("postgresql") {
        pg_database(&format!("folio_bench_{}", std::process::id()))?
    } else {
        None
    };
    match &pg {
        Some(pg) => backends.push(Backend {
            name: "postgresql",
            url: pg.url.clone(),
        }),
        None if sel.wants_backend("postgresql") => {
            eprintln!("\n!!! xtask: PostgreSQL not reachable: benchmarking SQLite only !!!\n")
        }
        None => {}
    }
    backends.retain(|b| sel.wants_backend(b.name));
    let mut measures = Vec::new();
    let mut extra = Vec::new();
    let result = backends
        .iter()
        .try_for_each(|b| run_backend(root, &sel, b, &files, &mut measures, &mut extra));
    drop(pg);
    drop(emulator);
    result?;
    let dir = if sel.is_partial() {
        root.join("target/bench")
    } else {
        root.join("bench")
    };
    write_results(root, &dir, &measures, &extra)
}

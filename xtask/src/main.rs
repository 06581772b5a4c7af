//! `cargo xtask <command>`: the project's commands, the same on a laptop and in CI.
//!
//!   run      build and start Folio on http://127.0.0.1:8080 (SQLite, local storage)
//!   test     every test: unit, API on SQLite and PostgreSQL, the web UI's wasm build
//!   openapi  write openapi.yaml from the code
//!   schema   write api/src/schema.rs from the migrations
//!   bench    release benchmarks on SQLite and PostgreSQL → bench/RESULTS.md
//!            [--only catalog,slug,token,login,downloads,webhooks,100k] [--backend sqlite|postgresql]
//!            (a partial run writes target/bench/RESULTS.md instead)
//!   fuzz     schemathesis against openapi.yaml on a running folio [--examples N] [--seed S]
//!   soak     10 minutes of mixed traffic at 200 connections, then reconcile → bench/SOAK.md

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};

mod bench;
mod fuzz;
mod soak;

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// 0.22 needs a newer rustc than these machines have.
const TRUNK_VERSION: &str = "0.21.14";
const DEV_ADMIN_EMAIL: &str = "admin@folio.local";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => run(&root),
        Some("test") => test(),
        Some("openapi") => openapi(&root),
        Some("schema") => schema(&root),
        Some("bench") => bench::bench(&root, &args[1..]),
        Some("soak") => soak::soak_command(&root, &args[1..]),
        Some("fuzz") => fuzz::fuzz_command(&root, &args[1..]),
        _ => {
            eprintln!("usage: cargo xtask run | test | openapi | schema | bench | fuzz | soak");
            std::process::exit(2);
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_owned()
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

fn status(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: {cmd:?}");
    let st = cmd.status().with_context(|| format!("running {cmd:?}"))?;
    if !st.success() {
        bail!("{cmd:?} failed with {st}");
    }
    Ok(())
}

fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd
        .stderr(Stdio::inherit())
        .output()
        .with_context(|| format!("running {cmd:?}"))?;
    if !out.status.success() {
        bail!("{cmd:?} failed with {}", out.status);
    }
    Ok(String::from_utf8(out.stdout)?)
}

fn ensure_wasm_target() -> Result<()> {
    let installed =
        output(Command::new("rustup").args(["target", "list", "--installed"])).unwrap_or_default();
    if !installed.lines().any(|l| l.trim() == WASM_TARGET) {
        status(Command::new("rustup").args(["target", "add", WASM_TARGET]))?;
    }
    Ok(())
}

/// The version Cargo.lock pins for `krate`.
fn locked_version(root: &Path, krate: &str) -> Result<String> {
    let lock = std::fs::read_to_string(root.join("Cargo.lock"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == format!("name = \"{krate}\"") {
            if let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \"")) {
                return Ok(v.trim_end_matches('"').to_owned());
            }
        }
    }
    bail!("{krate} is not in Cargo.lock")
}

fn tool_version(tool: &str) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Installs trunk and wasm-bindgen-cli from the Rust package registry when missing: trunk must
/// never download them itself (Trunk.toml says `offline = true`).
fn ensure_web_tools(root: &Path) -> Result<()> {
    ensure_wasm_target()?;
    if tool_version("trunk").is_none_or(|v| !v.contains(TRUNK_VERSION)) {
        status(cargo().args(["install", "--locked", "trunk", "--version", TRUNK_VERSION]))?;
    }
    let bindgen = locked_version(root, "wasm-bindgen")?;
    let trunk_toml = std::fs::read_to_string(root.join("Trunk.toml"))?;
    if !trunk_toml.contains(&format!("wasm_bindgen = \"{bindgen}\"")) {
        bail!("Trunk.toml's [tools] wasm_bindgen must be {bindgen}, the version Cargo.lock pins");
    }
    if tool_version("wasm-bindgen")
        .is_none_or(|v| v.split_whitespace().last() != Some(bindgen.as_str()))
    {
        // Without --locked: the CLI's own lock file names a crate version the registry lacks.
        status(cargo().args(["install", "wasm-bindgen-cli", "--version", &bindgen]))?;
    }
    Ok(())
}

/// Builds web-ui/dist with Trunk (release, size-optimised profile) and reports its size.
fn build_web_ui(root: &Path) -> Result<()> {
    ensure_web_tools(root)?;
    status(cargo().args(["fetch", "--locked"]))?;
    status(Command::new("trunk").args([
        "build",
        "--release",
        "--offline",
        "--skip-version-check",
    ]))?;
    report_web_ui_size(&root.join("web-ui/dist"))
}

fn report_web_ui_size(dist: &Path) -> Result<()> {
    let (mut raw, mut gz) = (0u64, 0u64);
    for entry in std::fs::read_dir(dist)? {
        let path = entry?.path();
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        if !matches!(ext, "wasm" | "js" | "css") {
            continue;
        }
        let size = std::fs::metadata(&path)?.len();
        let zipped = Command::new("gzip")
            .args(["-9", "-c"])
            .arg(&path)
            .output()?
            .stdout
            .len() as u64;
        eprintln!(
            "xtask: web-ui {:<40} {:>8} bytes, {:>7} gzipped",
            path.file_name().unwrap().to_string_lossy(),
            size,
            zipped
        );
        raw += size;
        gz += zipped;
    }
    eprintln!(
        "xtask: web-ui total (wasm+js+css): {raw} bytes, {gz} gzipped (budget 250 KB gzipped)"
    );
    Ok(())
}

fn postgres_reachable() -> bool {
    let url = std::env::var("FOLIO_TEST_POSTGRES_URL").unwrap_or_default();
    // Only the default local server is probed here; a custom URL is left to the tests.
    if !url.is_empty() && !url.contains("127.0.0.1:5432") && !url.contains("localhost:5432") {
        return true;
    }
    let addr: SocketAddr = "127.0.0.1:5432".parse().unwrap();
    TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok()
}

fn test() -> Result<()> {
    let ci = std::env::var_os("CI").is_some();
    if !postgres_reachable() {
        if ci {
            bail!("PostgreSQL is not reachable on 127.0.0.1:5432 and CI is set: .ci/run should have started it");
        }
        eprintln!("\n!!! xtask: PostgreSQL is not reachable on 127.0.0.1:5432: the PostgreSQL variants of the API tests will be SKIPPED. !!!\n");
    }
    let root = workspace_root();
    // The browser tests drive the built UI, so it is built first.
    build_web_ui(&root)?;
    let browser = ["chromium", "chromedriver"].iter().all(|t| {
        Command::new("which")
            .arg(t)
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !browser {
        if ci {
            bail!(
                "chromium and chromedriver are required in CI: .ci/run should have installed them"
            );
        }
        eprintln!("\n!!! xtask: chromium/chromedriver not found: the browser tests will be SKIPPED (apt-get install chromium chromium-driver). !!!\n");
    }
    status(
        cargo()
            .args(["test", "--workspace", "--locked"])
            .env("FOLIO_TEST_WEB_DIST", root.join("web-ui/dist")),
    )?;
    // Bounded: a fixed seed and a few examples per operation (`cargo xtask fuzz` alone for more).
    fuzz::fuzz(&root, fuzz::CI_EXAMPLES, fuzz::SEED)?;
    soak::bounded(&root)?;
    eprintln!("xtask: all tests passed");
    Ok(())
}

fn openapi(root: &Path) -> Result<()> {
    let yaml = output(cargo().args([
        "run",
        "--quiet",
        "--locked",
        "-p",
        "folio-api",
        "--bin",
        "folio",
        "--",
        "openapi",
    ]))?;
    std::fs::write(root.join("openapi.yaml"), yaml)?;
    eprintln!("xtask: wrote openapi.yaml");
    Ok(())
}

fn schema(root: &Path) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("folio-schema-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let rendered = output(
        cargo()
            .args([
                "run",
                "--quiet",
                "--locked",
                "-p",
                "folio-api",
                "--bin",
                "folio",
                "--",
                "print-schema",
            ])
            .env(
                "DATABASE_URL",
                format!("sqlite://{}", dir.join("schema.db").display()),
            )
            .env("FOLIO_DATA_DIR", &dir),
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::write(root.join("api/src/schema.rs"), rendered?)?;
    eprintln!("xtask: wrote api/src/schema.rs (the tests check it against PostgreSQL too)");
    Ok(())
}

/// Makes a development admin once and remembers its password in ./data/admin-password.
fn dev_admin(folio: &Path, data: &Path) -> Result<String> {
    use std::io::Write;
    let file = data.join("admin-password");
    if let Ok(saved) = std::fs::read_to_string(&file) {
        return Ok(saved.trim().to_owned());
    }
    let password: String = {
        let mut bytes = [0u8; 12];
        std::fs::File::open("/dev/urandom")
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes))
            .context("reading /dev/urandom")?;
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    };
    let mut child = Command::new(folio)
        .args(["admin", "create", "--email", DEV_ADMIN_EMAIL])
        .stdin(Stdio::piped())
        .spawn()?;
    child.stdin.take().unwrap().write_all(password.as_bytes())?;
    if !child.wait()?.success() {
        bail!("folio admin create failed");
    }
    std::fs::write(&file, &password)?;
    Ok(password)
}

fn run(root: &Path) -> Result<()> {
    status(cargo().args([
        "build",
        "--locked",
        "--release",
        "-p",
        "folio-api",
        "--bin",
        "folio",
    ]))?;
    let folio = root.join("target/release/folio");
    let data = root.join("data");
    std::fs::create_dir_all(&data)?;
    let password = dev_admin(&folio, &data)?;
    eprintln!(
        "\nxtask: Folio starts on http://127.0.0.1:8080 (SQLite in ./data, files in ./data/objects)\n\
         xtask: admin sign-in: {DEV_ADMIN_EMAIL} / {password}   (kept in ./data/admin-password)\n\
         xtask: payments go through the built-in Stripe emulator unless STRIPE_SECRET_KEY is set\n\
         xtask: API reference: http://127.0.0.1:8080/api/docs/\n"
    );
    let err = exec(Command::new(&folio).arg("serve"));
    Err(err)
}

#[cfg(unix)]
fn exec(cmd: &mut Command) -> anyhow::Error {
    use std::os::unix::process::CommandExt;
    anyhow::Error::new(cmd.exec()).context("starting folio")
}

#[cfg(not(unix))]
fn exec(cmd: &mut Command) -> anyhow::Error {
    match cmd.status() {
        Ok(s) if s.success() => std::process::exit(0),
        Ok(s) => anyhow::anyhow!("folio exited with {s}"),
        Err(e) => anyhow::Error::new(e).context("starting folio"),
    }
}

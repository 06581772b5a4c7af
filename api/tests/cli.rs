//! The `folio` binary as an operator runs it: settings checks, `admin create`, `serve` with
//! readiness and graceful shutdown on SIGTERM.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FOLIO: &str = env!("CARGO_BIN_EXE_folio");

fn temp_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "folio-cli-{}-{:?}",
        std::process::id(),
        Instant::now()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// One HTTP/1.1 request with `Connection: close`; returns (status, body).
fn http(port: u16, method: &str, path: &str, body: Option<&str>) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or("");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

#[test]
fn production_refuses_to_start_without_its_secrets_and_says_why() {
    let out = Command::new(FOLIO)
        .arg("serve")
        .env("FOLIO_ENV", "production")
        .env_remove("FOLIO_JWT_SECRET")
        .env_remove("FOLIO_PUBLIC_URL")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("FOLIO_JWT_SECRET is required"), "{stderr}");
    assert!(stderr.contains("FOLIO_PUBLIC_URL is required"), "{stderr}");
}

#[test]
fn an_admin_made_with_the_cli_signs_in_to_the_served_api_and_sigterm_stops_it_cleanly() {
    let dir = temp_dir();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let env = |cmd: &mut Command| {
        cmd.env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.join("folio.db").display()),
        )
        .env("FOLIO_DATA_DIR", &dir)
        .env("FOLIO_BIND", format!("127.0.0.1:{port}"))
        .env("FOLIO_WEB_DIST", dir.join("none"))
        .env_remove("FOLIO_ENV")
        .env_remove("FOLIO_JWT_SECRET");
    };

    let mut create = Command::new(FOLIO);
    env(&mut create);
    let mut child = create
        .args(["admin", "create", "--email", "Boss@Example.com"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a long admin password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("created admin boss@example.com"));
    assert!(
        dir.join("jwt-secret").is_file(),
        "development secret is generated and kept"
    );

    let mut serve = Command::new(FOLIO);
    env(&mut serve);
    let mut server = serve
        .arg("serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok((200, _)) = http(port, "GET", "/readyz", None) {
            break;
        }
        assert!(Instant::now() < deadline, "folio did not become ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, body) = http(
        port,
        "POST",
        "/api/v1/auth/login",
        Some(r#"{"email":"boss@example.com","password":"a long admin password"}"#),
    )
    .unwrap();
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("access_token"));

    let pid = server.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = server.wait().unwrap();
    assert!(status.success(), "graceful shutdown exits 0, got {status}");
    let mut logs = String::new();
    server
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut logs)
        .unwrap();
    assert!(logs.contains("Folio is listening"), "{logs}");
    assert!(
        !logs.contains("a long admin password"),
        "passwords never reach the logs"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

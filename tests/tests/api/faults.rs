//! Faults: the database going away and coming back during traffic, and object storage failing
//! in the middle of an upload. (`kill -9` during webhook deliveries is in `api/tests/crash.rs`,
//! which runs the real binary.)

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use folio_api::storage::Storage;
use folio_tests::*;
use futures_util::stream::BoxStream;
use object_store::{
    local::LocalFileSystem, path::Path as ObjectPath, GetOptions, GetResult, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload,
    PutResult, UploadPart,
};

// ---------------------------------------------------------------------------------------------
// Object storage that fails on demand, the way a full disk or a lost bucket does.

const HEALTHY: u8 = 0;
/// Every part written after `healthy_uploads` uploads fails.
const FAIL_WRITES: u8 = 1;
/// Moving a finished upload to its final key fails.
const FAIL_RENAMES: u8 = 2;

#[derive(Debug, Default)]
struct Faults {
    mode: AtomicU8,
    /// Uploads allowed to succeed before the failures start.
    healthy_uploads: AtomicUsize,
    uploads: AtomicUsize,
    injected: AtomicUsize,
}

impl Faults {
    fn set(&self, mode: u8, healthy_uploads: usize) {
        self.uploads.store(0, Ordering::SeqCst);
        self.healthy_uploads
            .store(healthy_uploads, Ordering::SeqCst);
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn error(&self) -> object_store::Error {
        self.injected.fetch_add(1, Ordering::SeqCst);
        object_store::Error::Generic {
            store: "Flaky",
            source: Box::new(std::io::Error::other(
                "No space left on device (os error 28) at /var/lib/folio/objects/tmp",
            )),
        }
    }
}

#[derive(Debug)]
struct FlakyStore {
    inner: LocalFileSystem,
    faults: Arc<Faults>,
}

impl std::fmt::Display for FlakyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Flaky({})", self.inner)
    }
}

#[derive(Debug)]
struct FlakyUpload {
    inner: Box<dyn MultipartUpload>,
    fail: bool,
    faults: Arc<Faults>,
}

#[async_trait::async_trait]
impl MultipartUpload for FlakyUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        if self.fail {
            let err = self.faults.error();
            return Box::pin(async move { Err(err) });
        }
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait::async_trait]
impl ObjectStore for FlakyStore {
    async fn put_opts(
        &self,
        location: &ObjectPath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        if self.faults.mode.load(Ordering::SeqCst) == FAIL_WRITES {
            return Err(self.faults.error());
        }
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &ObjectPath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        let n = self.faults.uploads.fetch_add(1, Ordering::SeqCst);
        let fail = self.faults.mode.load(Ordering::SeqCst) == FAIL_WRITES
            && n >= self.faults.healthy_uploads.load(Ordering::SeqCst);
        Ok(Box::new(FlakyUpload {
            inner: self.inner.put_multipart_opts(location, opts).await?,
            fail,
            faults: self.faults.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &ObjectPath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn delete(&self, location: &ObjectPath) -> object_store::Result<()> {
        self.inner.delete(location).await
    }

    fn list(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&ObjectPath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy(&self, from: &ObjectPath, to: &ObjectPath) -> object_store::Result<()> {
        self.inner.copy(from, to).await
    }

    async fn copy_if_not_exists(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
    ) -> object_store::Result<()> {
        self.inner.copy_if_not_exists(from, to).await
    }

    async fn rename_if_not_exists(
        &self,
        from: &ObjectPath,
        to: &ObjectPath,
    ) -> object_store::Result<()> {
        let n = self.faults.uploads.load(Ordering::SeqCst);
        if self.faults.mode.load(Ordering::SeqCst) == FAIL_RENAMES
            && n > self.faults.healthy_uploads.load(Ordering::SeqCst)
        {
            return Err(self.faults.error());
        }
        self.inner.rename_if_not_exists(from, to).await
    }
}

async fn flaky_app(backend: Backend, faults: Arc<Faults>) -> Option<TestApp> {
    TestApp::builder(backend)
        .storage(move |dir| {
            std::fs::create_dir_all(dir).unwrap();
            Storage::new(Arc::new(FlakyStore {
                inner: LocalFileSystem::new_with_prefix(dir).unwrap(),
                faults,
            }))
        })
        .spawn()
        .await
}

/// Objects, once the store's background clean-up of abandoned part files has run.
async fn settled_objects(app: &TestApp) -> Vec<String> {
    for _ in 0..100 {
        let objects = app.objects().await;
        if objects.iter().all(|k| !k.starts_with("tmp")) {
            return objects;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.objects().await
}

async fn storage_failures_leave_no_object_and_no_row(backend: Backend) {
    let faults = Arc::new(Faults::default());
    let Some(app) = flaky_app(backend, faults.clone()).await else {
        return;
    };
    let admin = app.admin().await;
    let big = big_pdf(6 * 1024 * 1024 + 100); // more than one 5 MiB part
    let cases: [(&str, u8, usize, Vec<u8>, bool); 5] = [
        (
            "the first part of a large file",
            FAIL_WRITES,
            0,
            big.clone(),
            false,
        ),
        (
            "a small file's only part",
            FAIL_WRITES,
            0,
            pdf("small"),
            false,
        ),
        (
            "the preview, after the file was stored",
            FAIL_WRITES,
            1,
            pdf("with cover"),
            true,
        ),
        (
            "moving the file to its key",
            FAIL_RENAMES,
            0,
            pdf("renamed"),
            false,
        ),
        (
            "moving the preview to its key",
            FAIL_RENAMES,
            1,
            pdf("cover moved"),
            true,
        ),
    ];
    for (what, mode, healthy, file, with_preview) in cases {
        faults.set(mode, healthy);
        let before = faults.injected.load(Ordering::SeqCst);
        let form = product_form("Unlucky", "5.00", file.clone(), with_preview.then(png));
        let res = app.create_product(&admin, form).await;
        assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR, "{what}");
        assert_eq!(problem(res).await["code"], "internal_error", "{what}");
        assert!(
            faults.injected.load(Ordering::SeqCst) > before,
            "{what}: the fault was never hit"
        );
        assert_eq!(app.count("products").await, 0, "{what}");
        assert_eq!(settled_objects(&app).await, Vec::<String>::new(), "{what}");

        // The same upload goes through once storage is healthy again.
        faults.set(HEALTHY, 0);
        let form = product_form("Unlucky", "5.00", file, with_preview.then(png));
        let res = app.create_product(&admin, form).await;
        assert_eq!(res.status(), StatusCode::CREATED, "{what}: after recovery");
        let product: serde_json::Value = res.json().await.unwrap();
        let id = product["id"].as_str().unwrap();
        // Remove it so the next case starts from nothing (archive keeps rows: delete directly).
        let id = id.to_owned();
        app.state
            .db
            .run(move |conn| {
                use diesel::{ExpressionMethods, QueryDsl, RunQueryDsl};
                use folio_api::schema::{file_versions, product_files, products};
                let files = product_files::table
                    .filter(product_files::product_id.eq(id.clone()))
                    .select(product_files::id);
                diesel::delete(file_versions::table.filter(file_versions::file_id.eq_any(files)))
                    .execute(conn)?;
                diesel::delete(
                    product_files::table.filter(product_files::product_id.eq(id.clone())),
                )
                .execute(conn)?;
                diesel::delete(products::table.filter(products::id.eq(id))).execute(conn)?;
                Ok(())
            })
            .await
            .unwrap();
        for key in app.objects().await {
            app.state.storage.delete(&key).await.unwrap();
        }
    }
}

#[actix_web::test]
async fn storage_write_errors_during_upload_leave_nothing_behind_sqlite() {
    storage_failures_leave_no_object_and_no_row(Backend::Sqlite).await;
}

#[actix_web::test]
async fn storage_write_errors_during_upload_leave_nothing_behind_postgres() {
    storage_failures_leave_no_object_and_no_row(Backend::Postgres).await;
}

// ---------------------------------------------------------------------------------------------
// A PostgreSQL server of the test's own, so that stopping it disturbs no other test.

struct PrivatePostgres {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

impl PrivatePostgres {
    fn start_new() -> Option<PrivatePostgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|dirs| {
                dirs.filter_map(|d| d.ok().map(|d| d.path().join("bin")))
                    .filter(|b| b.join("initdb").exists())
                    .max_by_key(|b| {
                        b.parent()
                            .and_then(|v| v.file_name())
                            .and_then(|v| v.to_str())
                            .and_then(|v| v.parse::<u32>().ok())
                            .unwrap_or(0)
                    })
            });
        let Some(bin) = bin else {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb)"
            );
            eprintln!(
                "\n!!! SKIPPED: no PostgreSQL server binaries to start a private server. !!!\n"
            );
            return None;
        };
        let uid = Command::new("id").arg("-u").output().unwrap();
        let as_postgres = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        let dir = std::env::temp_dir().join(format!("folio-pg-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePostgres {
            dir,
            bin,
            port,
            as_postgres,
        };
        if as_postgres {
            // PostgreSQL refuses to run as root.
            pg.run(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&pg.dir),
            );
        }
        let data = pg.dir.join("data");
        pg.run(
            pg.command("initdb")
                .args([
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "-D",
                ])
                .arg(&data),
        );
        pg.start();
        Some(pg)
    }

    fn command(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(exe);
            c
        } else {
            Command::new(exe)
        }
    }

    fn run(&self, cmd: &mut Command) {
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{cmd:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn start(&self) {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            self.port,
            self.dir.display()
        );
        self.run(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .arg("-l")
                .arg(self.dir.join("log"))
                .args(["-o", &options, "-w", "start"]),
        );
    }

    fn stop(&self) {
        self.run(
            self.command("pg_ctl")
                .arg("-D")
                .arg(self.dir.join("data"))
                .args(["-m", "immediate", "-w", "stop"]),
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let _ = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request's outcome during the traffic.
#[derive(Debug, Clone)]
struct Seen {
    at: Instant,
    path: &'static str,
    status: u16,
    code: Option<String>,
    took: Duration,
}

async fn observe(client: &reqwest::Client, app: &TestApp, path: &'static str, token: &str) -> Seen {
    let at = Instant::now();
    let res = client
        .get(app.url(path))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let code = if status >= 400 && path.starts_with("/api/") {
        Some(problem(res).await["code"].as_str().unwrap().to_owned())
    } else {
        None
    };
    Seen {
        at,
        path,
        status,
        code,
        took: at.elapsed(),
    }
}

#[actix_web::test]
async fn when_postgres_stops_folio_answers_503_and_recovers_when_it_returns() {
    let pg = match tokio::task::spawn_blocking(PrivatePostgres::start_new)
        .await
        .unwrap()
    {
        Some(pg) => Arc::new(pg),
        None => return,
    };
    let app = TestApp::builder(Backend::Postgres)
        .postgres_admin(pg.url())
        .spawn()
        .await
        .expect("the private server is up");
    let app = Arc::new(app);
    let admin = app.admin().await;
    app.product(&admin, "Still Here", "0", pdf("here")).await;
    let user = app.customer("ada@example.com").await.access_token;

    // Steady traffic from four clients for the whole test.
    let seen = Arc::new(Mutex::new(Vec::<Seen>::new()));
    let done = Arc::new(AtomicBool::new(false));
    let mut clients = Vec::new();
    for i in 0..4 {
        let (app, seen, done, user) = (app.clone(), seen.clone(), done.clone(), user.clone());
        clients.push(actix_web::rt::spawn(async move {
            let client = app.bare_client();
            let paths = [
                "/api/v1/products",
                "/api/v1/me",
                "/api/v1/library",
                "/readyz",
            ];
            let mut n = i;
            while !done.load(Ordering::SeqCst) {
                let s = observe(&client, &app, paths[n % paths.len()], &user).await;
                seen.lock().unwrap().push(s);
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let healthy_before = seen
        .lock()
        .unwrap()
        .iter()
        .filter(|s| s.status == 200)
        .count();
    assert!(healthy_before > 10, "traffic flows before the fault");

    // Stop the database.
    let stopper = pg.clone();
    tokio::task::spawn_blocking(move || stopper.stop())
        .await
        .unwrap();
    // Fresh requests get their answer within 2 s: the pool gives up waiting for a connection.
    let client = app.bare_client();
    for path in ["/readyz", "/api/v1/me", "/api/v1/library"] {
        let s = observe(&client, &app, path, &user).await;
        eprintln!(
            "database down: {path} answered {} in {:?}",
            s.status, s.took
        );
        assert_eq!(s.status, 503, "{path}");
        if path != "/readyz" {
            assert_eq!(s.code.as_deref(), Some("database_unavailable"), "{path}");
        }
        assert!(s.took <= Duration::from_secs(2), "{path} took {:?}", s.took);
    }
    // Let the outage last a while, then start the database again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let starter = pg.clone();
    tokio::task::spawn_blocking(move || starter.start())
        .await
        .unwrap();
    let restarted = Instant::now();
    // Recovery without a restart of folio: every pooled connection that died is replaced.
    let deadline = restarted + Duration::from_secs(20);
    loop {
        let recent: Vec<Seen> = seen
            .lock()
            .unwrap()
            .iter()
            .filter(|s| s.at >= restarted)
            .cloned()
            .collect();
        // 20 consecutive successes on every kind of request.
        if recent.len() >= 20 && recent[recent.len() - 20..].iter().all(|s| s.status == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "folio did not recover: {:?}",
            &recent[recent.len().saturating_sub(8)..]
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done.store(true, Ordering::SeqCst);
    for c in clients {
        c.await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    let unexpected: Vec<(&str, u16)> = seen
        .iter()
        .filter(|s| !matches!(s.status, 200 | 503))
        .map(|s| (s.path, s.status))
        .collect();
    assert!(unexpected.is_empty(), "only 200 and 503: {unexpected:?}");
    let slowest = seen
        .iter()
        .filter(|s| s.status == 503)
        .map(|s| s.took)
        .max()
        .unwrap();
    eprintln!(
        "{} requests, {} answered 503, the slowest 503 took {slowest:?}",
        seen.len(),
        seen.iter().filter(|s| s.status == 503).count()
    );
    assert!(
        slowest <= Duration::from_millis(2500),
        "a request waited {slowest:?} for the database: callers get their 503 within ~2 s"
    );
    // The data is all still there.
    let res = app.get("/api/v1/products/still-here", None).await;
    assert_eq!(res.status(), StatusCode::OK);
}

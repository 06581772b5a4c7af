//! The database: one diesel connection type over PostgreSQL and SQLite, an r2d2 pool, embedded
//! migrations, and the one way handlers reach it (`Db::run`, on the blocking thread pool).

pub mod introspect;

use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::{ManageConnection, Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseUrl;
use crate::error::ApiError;

pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");

#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    Postgresql(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

impl DbConnection {
    pub fn establish_url(url: &DatabaseUrl) -> ConnectionResult<Self> {
        match url {
            DatabaseUrl::Postgres(url) => {
                diesel::PgConnection::establish(url).map(DbConnection::Postgresql)
            }
            DatabaseUrl::Sqlite(path) => {
                stable_sqlite_plans();
                let mut conn = diesel::SqliteConnection::establish(path)?;
                // Every pooled connection needs these: foreign keys are off by default in SQLite,
                // WAL lets readers run beside the writer, and the busy timeout makes writers
                // queue instead of failing with SQLITE_BUSY.
                conn.batch_execute(
                    "PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;
                     PRAGMA busy_timeout = 5000;",
                )
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }

    pub fn run_migrations(&mut self) -> anyhow::Result<Vec<String>> {
        let applied = match self {
            DbConnection::Postgresql(c) => c.run_pending_migrations(POSTGRES_MIGRATIONS),
            DbConnection::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS),
        }
        .map_err(|e| anyhow::anyhow!("running migrations: {e}"))?;
        Ok(applied.iter().map(|v| v.to_string()).collect())
    }
}

/// Turns on SQLite's query planner stability guarantee (QPSG) for every SQLite connection this
/// process opens from now on.
///
/// Without it SQLite re-prepares a statement (parses and plans it again) each time a parameter
/// that its planner looked at is bound anew, and it looks at the `LIMIT ?` that diesel binds for
/// every `.first()`: every lookup by id or slug, the download check, was parsed again on every
/// call, cached statement or not (`sqlite3Reprepare` under `sqlite3_step` in the download
/// profile, `cargo xtask bench`). With QPSG a statement keeps the plan it was prepared with. Our
/// plans do not depend on bound values: there are no ANALYZE statistics, and every `LIKE`
/// pattern starts with `%`.
fn stable_sqlite_plans() {
    use libsqlite3_sys as ffi;
    use std::os::raw::{c_char, c_int};

    unsafe extern "C" fn on_open(
        db: *mut ffi::sqlite3,
        _error: *mut *mut c_char,
        _api: *const ffi::sqlite3_api_routines,
    ) -> c_int {
        // SAFETY: SQLite calls this with the connection it is opening; the option takes an int
        // and an optional int pointer for the old value.
        unsafe {
            ffi::sqlite3_db_config(
                db,
                ffi::SQLITE_DBCONFIG_ENABLE_QPSG,
                1 as c_int,
                std::ptr::null_mut::<c_int>(),
            )
        }
    }

    static REGISTER: std::sync::Once = std::sync::Once::new();
    REGISTER.call_once(|| {
        // SAFETY: `on_open` has the signature SQLite calls auto extensions with and stays valid
        // for the life of the process.
        let rc = unsafe { ffi::sqlite3_auto_extension(Some(on_open)) };
        if rc != ffi::SQLITE_OK {
            tracing::warn!(
                rc,
                "could not turn on SQLite's query planner stability guarantee"
            );
        }
    });
}

/// Refuses a second `folio serve` on one SQLite database: SQLite is for one node (its caches
/// and limits are this process's; several nodes need PostgreSQL). An exclusive `flock` on a file
/// beside the database, held while the returned handle lives; released by the kernel when the
/// process ends, however it ends. Nodes on other machines sharing the file over a network file
/// system are not detected (and SQLite's own locking is unreliable there): don't.
pub fn sqlite_node_lock(path: &str) -> anyhow::Result<Option<std::fs::File>> {
    use std::os::fd::AsRawFd;
    if path == ":memory:" {
        return Ok(None);
    }
    let lock_path = format!("{path}.node-lock");
    if let Some(dir) = std::path::Path::new(&lock_path).parent() {
        std::fs::create_dir_all(dir)?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| anyhow::anyhow!("opening {lock_path}: {e}"))?;
    // SAFETY: a valid descriptor, owned by `file`.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        anyhow::bail!(
            "another folio node is already serving the SQLite database {path}: SQLite is for one \
             node; to run several, use PostgreSQL (DATABASE_URL=postgres://…) and s3:// storage"
        );
    }
    Ok(Some(file))
}

/// r2d2 manager that picks the backend from the parsed URL instead of trying each in turn.
pub struct Manager {
    url: DatabaseUrl,
}

impl ManageConnection for Manager {
    type Connection = DbConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConnection, Self::Error> {
        DbConnection::establish_url(&self.url).map_err(diesel::r2d2::Error::ConnectionError)
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), Self::Error> {
        conn.batch_execute("SELECT 1")
            .map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConnection) -> bool {
        use diesel::r2d2::R2D2Connection;
        conn.is_broken()
    }
}

pub type DbPool = Pool<Manager>;
pub type PooledDb = PooledConnection<Manager>;

/// Sets `synchronous_commit = off` on each new connection of the pool it is given to.
#[derive(Debug)]
struct AsynchronousCommit;

impl diesel::r2d2::CustomizeConnection<DbConnection, diesel::r2d2::Error> for AsynchronousCommit {
    fn on_acquire(&self, conn: &mut DbConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute("SET synchronous_commit = off")
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Executes `$query` on the backend's own connection, for SQL the multi-backend connection cannot
/// build (multi-row inserts, `ON CONFLICT`).
#[macro_export]
macro_rules! execute_on_backend {
    ($conn:expr, $query:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgresql(c) => $query.execute(c),
            $crate::db::DbConnection::Sqlite(c) => $query.execute(c),
        }
    };
}

/// Handle to the pool. Cheap to clone.
#[derive(Clone)]
pub struct Db {
    pool: DbPool,
    /// PostgreSQL only: connections that commit without waiting for the WAL flush (see
    /// [`Db::record`]).
    relaxed: Option<DbPool>,
    /// SQLite only: the queue of the one thread that runs every write (see [`Db::write`]).
    writer: Option<std::sync::mpsc::Sender<WriteJob>>,
}

type WriteJob = Box<dyn Write>;

/// One write waiting on the writer thread: it runs inside a batch, and its caller is answered
/// once the batch has committed (or failed).
trait Write: Send {
    fn run(&mut self, conn: &mut DbConnection);
    /// Answers the caller: with the write's own result when its batch committed, otherwise with
    /// `failure`.
    fn answer(self: Box<Self>, failure: Option<&dyn Fn() -> ApiError>);
}

struct Pending<T, F> {
    write: Option<F>,
    result: Option<Result<T, ApiError>>,
    reply: tokio::sync::oneshot::Sender<Result<T, ApiError>>,
}

impl<T, F> Write for Pending<T, F>
where
    F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send,
    T: Send,
{
    fn run(&mut self, conn: &mut DbConnection) {
        if let Some(write) = self.write.take() {
            self.result = Some(write(conn));
        }
    }

    fn answer(self: Box<Self>, failure: Option<&dyn Fn() -> ApiError>) {
        let result = match (failure, self.result) {
            (Some(failure), _) => Err(failure()),
            (None, Some(result)) => result,
            (None, None) => Err(ApiError::Internal(anyhow::anyhow!("a write was never run"))),
        };
        // The caller may be gone (client disconnected); the write stands either way.
        let _ = self.reply.send(result);
    }
}

/// Writes taken into one transaction at most.
const MAX_BATCH: usize = 128;

/// SQLite lets one connection write at a time. Left to themselves, writers on several pooled
/// connections wait in SQLite's busy handler, which sleeps (1 to 100 ms at a time) and retries:
/// not first come, first served, and a writer can lose the race again and again under a steady
/// stream of writes. Here every write of the process runs on this one thread, in arrival order,
/// on its own connection, with no sleeping; readers keep the pool.
///
/// The writes waiting when the thread comes round run in one transaction (group commit): each
/// commit costs a dozen system calls (file locks, a WAL frame per changed page, a checkpoint
/// every 1000 pages), and concurrent downloads each wrote the same few pages of
/// `download_events` in a transaction of their own. Nothing waits to fill a batch. A write
/// behaves as it did alone: what it did stands even if it returns an error (as in autocommit),
/// its own `transaction` becomes a savepoint, and its caller hears nothing before the commit.
/// If the batch cannot commit (or a write panics), it is rolled back and every caller in it gets
/// the error.
fn spawn_sqlite_writer(url: DatabaseUrl) -> std::sync::mpsc::Sender<WriteJob> {
    let (tx, rx) = std::sync::mpsc::channel::<WriteJob>();
    std::thread::Builder::new()
        .name("sqlite-writer".into())
        .spawn(move || {
            let mut conn: Option<DbConnection> = None;
            // Ends when the last `Db` handle is dropped.
            while let Ok(first) = rx.recv() {
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(write) => batch.push(write),
                        Err(_) => break,
                    }
                }
                if conn.is_none() {
                    match DbConnection::establish_url(&url) {
                        Ok(c) => conn = Some(c),
                        Err(e) => tracing::error!(error = %e, "sqlite writer cannot connect"),
                    }
                }
                let Some(c) = conn.as_mut() else {
                    let unavailable = || {
                        ApiError::DatabaseUnavailable(anyhow::anyhow!(
                            "the sqlite writer has no connection"
                        ))
                    };
                    batch.into_iter().for_each(|w| w.answer(Some(&unavailable)));
                    continue;
                };
                match run_batch(c, &mut batch) {
                    Ok(()) => batch.into_iter().for_each(|w| w.answer(None)),
                    Err(BatchFailed { reason, reconnect }) => {
                        tracing::error!(%reason, writes = batch.len(), "a write batch was rolled back");
                        let failed = || ApiError::Internal(anyhow::anyhow!("{reason}"));
                        batch.into_iter().for_each(|w| w.answer(Some(&failed)));
                        if reconnect {
                            conn = None;
                        }
                    }
                }
            }
        })
        .expect("spawning the sqlite writer thread");
    tx
}

struct BatchFailed {
    reason: String,
    /// The connection may be in a state diesel does not know: open a new one.
    reconnect: bool,
}

fn run_batch(conn: &mut DbConnection, batch: &mut [WriteJob]) -> Result<(), BatchFailed> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    fn sqlite(conn: &mut DbConnection) -> &mut diesel::SqliteConnection {
        match conn {
            DbConnection::Sqlite(c) => c,
            DbConnection::Postgresql(_) => unreachable!("the writer thread is SQLite's"),
        }
    }
    // IMMEDIATE takes the write lock now (waiting in the busy handler for another process), so
    // no write in the batch can fail for want of it halfway.
    AnsiTransactionManager::begin_transaction_sql(sqlite(conn), "BEGIN IMMEDIATE").map_err(
        |e| BatchFailed {
            reason: format!("beginning a write batch: {e}"),
            reconnect: false,
        },
    )?;
    for write in batch.iter_mut() {
        // A panicking write must not take the thread (and every later write) with it.
        if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| write.run(conn))).is_err() {
            let _ = AnsiTransactionManager::rollback_transaction(sqlite(conn));
            return Err(BatchFailed {
                reason: "a write panicked".into(),
                reconnect: true,
            });
        }
    }
    AnsiTransactionManager::commit_transaction(sqlite(conn)).map_err(|e| {
        let _ = AnsiTransactionManager::rollback_transaction(sqlite(conn));
        BatchFailed {
            reason: format!("committing a write batch: {e}"),
            reconnect: true,
        }
    })
}

impl Db {
    /// Builds the pool without connecting: a server may start while the database is still coming
    /// up, and `/readyz` says when it is there.
    pub fn new(url: &DatabaseUrl, size: u32) -> Self {
        let size = match url {
            // One file, one writer at a time: a few connections are plenty and keep lock waits short.
            DatabaseUrl::Sqlite(path) if path == ":memory:" => 1,
            _ => size,
        };
        let builder = |size: u32| {
            Pool::builder()
                .max_size(size)
                .min_idle(Some(0))
                // A caller waits at most this long for a connection: while the database is down,
                // every request answers 503 within 2 s instead of hanging (tests/tests/faults.rs).
                .connection_timeout(Duration::from_millis(1500))
                .test_on_check_out(false)
        };
        let pool = builder(size).build_unchecked(Manager { url: url.clone() });
        let relaxed = matches!(url, DatabaseUrl::Postgres(_)).then(|| {
            builder(size.div_ceil(2))
                .connection_customizer(Box::new(AsynchronousCommit))
                .build_unchecked(Manager { url: url.clone() })
        });
        let writer = match url {
            // `:memory:` is one database per connection: its single pooled connection must also
            // do the writes.
            DatabaseUrl::Sqlite(path) if path != ":memory:" => {
                Some(spawn_sqlite_writer(url.clone()))
            }
            _ => None,
        };
        Self {
            pool,
            relaxed,
            writer,
        }
    }

    /// Runs `f` with a pooled connection on actix's blocking thread pool, never on an async worker.
    pub async fn run<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        Self::run_on(self.pool.clone(), f).await
    }

    async fn run_on<T, F>(pool: DbPool, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        actix_web::web::block(move || {
            let mut conn = pool.get()?;
            f(&mut conn)
        })
        .await?
    }

    /// Like [`Db::run`], for a closure that writes. On SQLite it runs on the writer thread, after
    /// the writes that came before it, so no write waits in SQLite's busy handler; on PostgreSQL
    /// it is [`Db::run`].
    pub async fn write<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        let Some(writer) = &self.writer else {
            return self.run(f).await;
        };
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: WriteJob = Box::new(Pending {
            write: Some(f),
            result: None,
            reply,
        });
        writer
            .send(job)
            .map_err(|_| anyhow::anyhow!("the sqlite writer thread has stopped"))?;
        answer
            .await
            .map_err(|_| anyhow::anyhow!("a write ended without an answer"))?
    }

    /// Like [`Db::write`], for a record whose last fraction of a second may be lost if the
    /// database server (not folio) crashes, but never half-written: a download's record.
    ///
    /// On SQLite this is [`Db::write`]: in WAL mode with `synchronous = NORMAL` no commit waits
    /// for the disk. On PostgreSQL it runs on a connection with `synchronous_commit = off`, the
    /// same durability: the commit is atomic and in order, and reaches the disk within
    /// PostgreSQL's WAL writer delay instead of before the answer. Waiting for the flush was about
    /// half the time of a whole download check (bench/NOTES.md). Payments and accounts keep
    /// [`Db::write`].
    pub async fn record<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        F: FnOnce(&mut DbConnection) -> Result<T, ApiError> + Send + 'static,
        T: Send + 'static,
    {
        match &self.relaxed {
            Some(pool) => Self::run_on(pool.clone(), f).await,
            None => self.write(f).await,
        }
    }

    /// A connection for code that is already off the async executor (CLI, startup).
    pub fn get(&self) -> Result<PooledDb, ApiError> {
        Ok(self.pool.get()?)
    }

    pub async fn ping(&self) -> Result<(), ApiError> {
        self.run(|conn| Ok(conn.batch_execute("SELECT 1")?)).await
    }
}

/// The current time as stored: UTC, truncated to microseconds so that PostgreSQL and SQLite
/// round-trip the same value (cursors compare timestamps for equality).
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{DurationRound, TimeDelta};
    chrono::Utc::now()
        .naive_utc()
        .duration_trunc(TimeDelta::microseconds(1))
        .expect("truncating to microseconds cannot overflow")
}

/// A fresh time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether the planner stability guarantee is on for a connection opened now, asked of
    /// SQLite directly (diesel keeps its handle private).
    fn qpsg_of_a_new_connection() -> i32 {
        use libsqlite3_sys as ffi;
        let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
        let mut on: std::os::raw::c_int = -1;
        // SAFETY: an in-memory database opened, asked one option and closed here.
        unsafe {
            assert_eq!(
                ffi::sqlite3_open(c":memory:".as_ptr(), &mut db),
                ffi::SQLITE_OK
            );
            ffi::sqlite3_db_config(db, ffi::SQLITE_DBCONFIG_ENABLE_QPSG, -1, &mut on);
            ffi::sqlite3_close(db);
        }
        on
    }

    #[test]
    fn every_sqlite_connection_keeps_its_plans() {
        let url = DatabaseUrl::Sqlite(":memory:".into());
        DbConnection::establish_url(&url).unwrap();
        assert_eq!(qpsg_of_a_new_connection(), 1);
    }

    mod writer {
        use super::super::*;
        use crate::schema::stripe_events;

        fn database(name: &str) -> Db {
            let path =
                std::env::temp_dir().join(format!("folio-writer-{name}-{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            let url = DatabaseUrl::Sqlite(path.display().to_string());
            DbConnection::establish_url(&url)
                .unwrap()
                .run_migrations()
                .unwrap();
            Db::new(&url, 2)
        }

        fn insert(conn: &mut DbConnection, id: &str) -> Result<(), ApiError> {
            diesel::insert_into(stripe_events::table)
                .values((
                    stripe_events::id.eq(id),
                    stripe_events::event_type.eq("test"),
                    stripe_events::received_at.eq(now()),
                ))
                .execute(conn)?;
            Ok(())
        }

        async fn ids(db: &Db) -> Vec<String> {
            let mut ids: Vec<String> = db
                .run(|conn| Ok(stripe_events::table.select(stripe_events::id).load(conn)?))
                .await
                .unwrap();
            ids.sort();
            ids
        }

        #[actix_web::test]
        async fn concurrent_writes_each_get_their_own_answer() {
            let db = database("answers");
            let writes = (0..300).map(|i| {
                let db = db.clone();
                async move {
                    db.write(move |conn| {
                        insert(conn, &format!("ok-{i:03}"))?;
                        match i % 3 {
                            // What a write did before its error stands, as in autocommit.
                            1 => Err(ApiError::NotFound("kept")),
                            // Its own transaction rolls back alone.
                            2 => conn.transaction(|conn| {
                                insert(conn, &format!("undone-{i:03}"))?;
                                Err(ApiError::NotFound("undone"))
                            }),
                            _ => Ok(i),
                        }
                    })
                    .await
                }
            });
            let results = futures_util::future::join_all(writes).await;
            for (i, result) in results.iter().enumerate() {
                match i % 3 {
                    0 => assert_eq!(result.as_ref().ok(), Some(&i)),
                    1 => assert!(matches!(result, Err(ApiError::NotFound("kept")))),
                    _ => assert!(matches!(result, Err(ApiError::NotFound("undone")))),
                }
            }
            let expected: Vec<String> = (0..300).map(|i| format!("ok-{i:03}")).collect();
            assert_eq!(ids(&db).await, expected);
        }

        #[actix_web::test]
        async fn a_panicking_write_fails_its_batch_and_the_writer_goes_on() {
            let db = database("panic");
            // The first write holds the writer thread while the next three queue up behind it,
            // so those three run as one batch.
            let first = db.write(|conn| {
                std::thread::sleep(std::time::Duration::from_millis(300));
                insert(conn, "first")
            });
            let queued = async {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                futures_util::future::join3(
                    db.write(|conn| insert(conn, "same-batch-before")),
                    db.write(|conn| -> Result<(), ApiError> {
                        insert(conn, "the-panicking-write")?;
                        panic!("a bug in a write")
                    }),
                    db.write(|conn| insert(conn, "same-batch-after")),
                )
                .await
            };
            let (first, (before, panicking, after)) = futures_util::join!(first, queued);
            first.unwrap();
            for result in [before, panicking, after] {
                assert!(matches!(result, Err(ApiError::Internal(_))), "{result:?}");
            }
            db.write(|conn| insert(conn, "later")).await.unwrap();
            assert_eq!(
                ids(&db).await,
                ["first", "later"],
                "the batch was rolled back"
            );
        }
    }
}

//! Keeps every node's catalog cache true to what any node wrote (PostgreSQL).
//!
//! Triggers on the tables the cache is built from (`products`, `product_files`,
//! `file_versions`: payload `catalog`; `entitlements`: `owners`) call `pg_notify('folio_cache',
//! …)` inside the writing transaction, so the notice goes out exactly when the write commits
//! (migration `2026-12-03-000006_shared_state`). Each node listens on a connection of its own,
//! outside the pool, on a thread of its own that sleeps in `poll(2)` on the socket: a notice
//! drops what it names at once. Until the listener is connected, and again whenever it has lost
//! its connection, the cache is bypassed (every read goes to the database); on each
//! (re)connection the whole cache is dropped, since notices sent meanwhile were missed. With
//! every write announced, values are kept up to [`super::cache::NOTIFIED_TTL`].
//!
//! A notice can still arrive a moment after the writer has answered, so a read right then would be
//! stale: the same triggers also bump `cache_versions` (scope `catalog`) in the writing
//! transaction, and [`sync`] reads it before a page or product is served from the cache. The
//! owned sets (entitlements, written on every purchase) rely on the notice alone: a buyer's
//! "owned" badge on another node may lag its purchase by the notice's delay (milliseconds); the
//! download itself checks the entitlement in the database.
//!
//! diesel's `PgConnection` can list notifications received but cannot wait for one without
//! running a query, so this speaks to libpq (which diesel links already) directly.

use std::ffi::{CStr, CString};
use std::sync::Arc;
use std::time::{Duration, Instant};

use pq_sys::{
    ConnStatusType, ExecStatusType, PGconn, PQclear, PQconnectdb, PQconsumeInput, PQerrorMessage,
    PQexec, PQfinish, PQfreemem, PQnotifies, PQresultStatus, PQsocket, PQstatus,
};

use super::cache::CatalogCache;
use crate::db::DbConnection;
use crate::error::ApiError;
use crate::AppState;

/// Before a read served from the cache (PostgreSQL): the catalog's version, one primary-key
/// lookup, so that a write committed on any node before this read began is never answered from
/// an older page, even when its notice has not arrived yet.
pub async fn sync(state: &AppState) -> Result<(), ApiError> {
    if !matches!(
        state.settings.database_url,
        crate::config::DatabaseUrl::Postgres(_)
    ) {
        return Ok(());
    }
    let version = state.db.run(catalog_version).await?;
    state.catalog.observe_version(version);
    Ok(())
}

fn catalog_version(conn: &mut DbConnection) -> Result<i64, ApiError> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Version {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        version: i64,
    }
    let DbConnection::Postgresql(c) = conn else {
        return Ok(0);
    };
    Ok(
        diesel::sql_query("SELECT version FROM cache_versions WHERE scope = 'catalog'")
            .get_result::<Version>(c)?
            .version,
    )
}

pub const CHANNEL: &str = "folio_cache";
/// The listener's `application_name` in `pg_stat_activity`.
pub const APPLICATION_NAME: &str = "folio cache listener";
/// How often an idle listener checks that its connection is still alive.
const KEEPALIVE: Duration = Duration::from_secs(15);
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Starts this node's listener. The cache is bypassed until it is connected.
pub fn start(url: &str, cache: Arc<CatalogCache>) -> anyhow::Result<()> {
    let url = CString::new(url)?;
    cache.set_live(false);
    cache.announced();
    std::thread::Builder::new()
        .name("cache-listener".into())
        .spawn(move || loop {
            match Listener::connect(&url) {
                Ok(listener) => {
                    cache.invalidate();
                    cache.invalidate_owners();
                    cache.set_live(true);
                    tracing::info!("listening for catalog changes made by any node");
                    let lost = listener.run(&cache);
                    cache.set_live(false);
                    tracing::warn!(reason = %lost, "the catalog listener lost its connection: the cache is bypassed until it is back");
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the catalog listener cannot connect: the cache is bypassed");
                }
            }
            std::thread::sleep(RECONNECT_AFTER);
        })?;
    Ok(())
}

struct Listener(*mut PGconn);

// SAFETY: the connection is used by one thread at a time (the listener's own).
unsafe impl Send for Listener {}

impl Drop for Listener {
    fn drop(&mut self) {
        // SAFETY: the pointer came from PQconnectdb and is finished once.
        unsafe { PQfinish(self.0) }
    }
}

impl Listener {
    fn connect(url: &CStr) -> Result<Self, String> {
        // SAFETY: a NUL-terminated string; the result is owned by `Listener` from here on.
        let listener = Listener(unsafe { PQconnectdb(url.as_ptr()) });
        if listener.0.is_null() {
            return Err("libpq could not allocate a connection".into());
        }
        // SAFETY: a live connection.
        if unsafe { PQstatus(listener.0) } != ConnStatusType::CONNECTION_OK {
            return Err(listener.error());
        }
        // Named, so that operators (and the tests) can tell it from the pool's connections.
        listener.exec(&format!("SET application_name = '{APPLICATION_NAME}'"))?;
        listener.exec(&format!("LISTEN {CHANNEL}"))?;
        Ok(listener)
    }

    fn error(&self) -> String {
        // SAFETY: libpq returns a NUL-terminated message owned by the connection.
        unsafe { CStr::from_ptr(PQerrorMessage(self.0)) }
            .to_string_lossy()
            .trim()
            .to_owned()
    }

    fn exec(&self, sql: &str) -> Result<(), String> {
        let sql = CString::new(sql).map_err(|e| e.to_string())?;
        // SAFETY: a live connection and a NUL-terminated query; the result is cleared here.
        unsafe {
            let result = PQexec(self.0, sql.as_ptr());
            let status = PQresultStatus(result);
            PQclear(result);
            match status {
                ExecStatusType::PGRES_COMMAND_OK | ExecStatusType::PGRES_TUPLES_OK => Ok(()),
                _ => Err(self.error()),
            }
        }
    }

    /// Applies notices until the connection is lost; returns why.
    fn run(&self, cache: &CatalogCache) -> String {
        // SAFETY: a live connection.
        let fd = unsafe { PQsocket(self.0) };
        let mut last_heard = Instant::now();
        loop {
            let mut poll = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, KEEPALIVE.as_millis() as i32) };
            if ready < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() == std::io::ErrorKind::Interrupted {
                    continue;
                }
                return format!("poll: {e}");
            }
            if ready == 0 || last_heard.elapsed() >= KEEPALIVE {
                // Nothing for a while: a dead peer only shows when something is sent.
                if let Err(e) = self.exec("SELECT 1") {
                    return e;
                }
                last_heard = Instant::now();
            }
            // SAFETY: a live connection.
            if ready > 0 && unsafe { PQconsumeInput(self.0) } == 0 {
                return self.error();
            }
            if ready > 0 {
                last_heard = Instant::now();
            }
            self.drain(cache);
        }
    }

    fn drain(&self, cache: &CatalogCache) {
        loop {
            // SAFETY: a live connection; each notice is freed after use.
            let notice = unsafe { PQnotifies(self.0) };
            if notice.is_null() {
                return;
            }
            let payload = unsafe { CStr::from_ptr((*notice).extra) }
                .to_string_lossy()
                .into_owned();
            unsafe { PQfreemem(notice.cast()) };
            match payload.as_str() {
                "owners" => cache.invalidate_owners(),
                // `catalog`, or anything a newer node sends: drop the most.
                _ => {
                    cache.invalidate();
                    cache.invalidate_owners();
                }
            }
        }
    }
}

//! Fixed-window rate limiting: register and login per client address, mailed links per email
//! address and per client, receipt resends per order.
//!
//! The counters live in the database (`rate_limits`), so every node behind a load balancer
//! counts the same attempts: ten wrong passwords spread over three nodes are ten, not three
//! times ten. One statement counts an attempt and says whether it is allowed; a window starts
//! at a client's first attempt and lasts [`RateLimit::window_secs`].

use std::fmt::Display;
use std::sync::atomic::{AtomicU32, Ordering};

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::RunQueryDsl;

use crate::db::{Db, DbConnection};
use crate::error::ApiError;

/// Checks between two sweeps of ended windows on one node.
const SWEEP_EVERY: u32 = 512;

pub struct RateLimit {
    /// Which limit (`auth`, `link_email`…): one row per bucket and client.
    bucket: &'static str,
    limit: u32,
    window_secs: i64,
    checks: AtomicU32,
}

#[derive(diesel::QueryableByName)]
struct Counted {
    #[diesel(sql_type = Integer)]
    hits: i32,
    #[diesel(sql_type = BigInt)]
    window_ends_at: i64,
}

impl RateLimit {
    pub fn per_minute(bucket: &'static str, limit: u32) -> Self {
        Self::new(bucket, limit, 60)
    }

    pub fn per_hour(bucket: &'static str, limit: u32) -> Self {
        Self::new(bucket, limit, 3600)
    }

    pub fn new(bucket: &'static str, limit: u32, window_secs: i64) -> Self {
        Self {
            bucket,
            limit,
            window_secs,
            checks: AtomicU32::new(0),
        }
    }

    /// Counts one attempt of `client`; refused past the limit with how long to wait.
    pub async fn check(&self, db: &Db, client: impl Display) -> Result<(), ApiError> {
        let (bucket, client) = (self.bucket, client.to_string());
        let (limit, window) = (self.limit, self.window_secs);
        let sweep = self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1;
        let now = chrono::Utc::now().timestamp();
        // A count lost to a database crash in its last fraction of a second is acceptable.
        let counted = db
            .record(move |conn| {
                if sweep {
                    sweep_ended(conn, now)?;
                }
                count(conn, bucket, &client, now, window)
            })
            .await?;
        if counted.hits as i64 > limit as i64 {
            let retry_after_secs = (counted.window_ends_at - now).max(1) as u64;
            return Err(ApiError::RateLimited { retry_after_secs });
        }
        Ok(())
    }
}

/// One more attempt in the client's window (a new window when the last one ended).
fn count(
    conn: &mut DbConnection,
    bucket: &str,
    client: &str,
    now: i64,
    window: i64,
) -> Result<Counted, ApiError> {
    // The same statement on both backends but for the placeholders.
    const SQL: &str = "INSERT INTO rate_limits (bucket, client, window_ends_at, hits) \
                       VALUES (?1, ?2, ?3, 1) \
                       ON CONFLICT (bucket, client) DO UPDATE SET \
                         hits = CASE WHEN rate_limits.window_ends_at > ?4 \
                                THEN rate_limits.hits + 1 ELSE 1 END, \
                         window_ends_at = CASE WHEN rate_limits.window_ends_at > ?4 \
                                THEN rate_limits.window_ends_at ELSE ?3 END \
                       RETURNING hits, window_ends_at";
    macro_rules! run {
        ($c:expr, $sql:expr) => {
            diesel::sql_query($sql)
                .bind::<Text, _>(bucket)
                .bind::<Text, _>(client)
                .bind::<BigInt, _>(now + window)
                .bind::<BigInt, _>(now)
                .get_result::<Counted>($c)
        };
    }
    Ok(match conn {
        DbConnection::Postgresql(c) => run!(c, SQL.replace('?', "$")),
        DbConnection::Sqlite(c) => run!(c, SQL),
    }?)
}

fn sweep_ended(conn: &mut DbConnection, now: i64) -> Result<(), ApiError> {
    let query = |sql: &'static str| diesel::sql_query(sql).bind::<BigInt, _>(now);
    match conn {
        DbConnection::Postgresql(c) => {
            query("DELETE FROM rate_limits WHERE window_ends_at <= $1").execute(c)
        }
        DbConnection::Sqlite(c) => {
            query("DELETE FROM rate_limits WHERE window_ends_at <= ?").execute(c)
        }
    }?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseUrl;

    #[actix_web::test]
    async fn the_attempt_after_the_limit_is_refused_with_a_wait() {
        let db = Db::new(&DatabaseUrl::Sqlite(":memory:".into()), 1);
        let migrated = db.clone();
        actix_web::web::block(move || crate::migrate(&migrated))
            .await
            .unwrap()
            .unwrap();
        let limit = RateLimit::per_minute("test", 3);
        for _ in 0..3 {
            limit.check(&db, "10.0.0.1").await.unwrap();
        }
        match limit.check(&db, "10.0.0.1").await {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=60).contains(&retry_after_secs))
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        limit
            .check(&db, "10.0.0.2")
            .await
            .expect("other clients are not affected");
        RateLimit::per_minute("other", 3)
            .check(&db, "10.0.0.1")
            .await
            .expect("other limits are not affected");
        // An ended window starts again.
        db.run(|conn| {
            use diesel::connection::SimpleConnection;
            Ok(conn.batch_execute("UPDATE rate_limits SET window_ends_at = 0")?)
        })
        .await
        .unwrap();
        limit.check(&db, "10.0.0.1").await.expect("a new window");
    }
}

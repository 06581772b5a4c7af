//! The `jobs` table: enqueue (inside the caller's transaction), claim with a lease, finish,
//! retry later or fail. A claim is one statement on PostgreSQL (`FOR UPDATE SKIP LOCKED`: nodes
//! never take the same job) and a conditional update on SQLite's one writer thread.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::{new_id, DbConnection};
use crate::pagination::Cursor;
use crate::schema::jobs;

#[derive(Debug, Clone, Queryable, QueryableByName, Selectable, Insertable)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub id: String,
    pub kind: String,
    pub payload: String,
    pub dedupe_key: Option<String>,
    pub run_at: NaiveDateTime,
    pub attempts: i32,
    pub max_attempts: i32,
    pub last_error: Option<String>,
    pub lease_until: Option<NaiveDateTime>,
    pub done_at: Option<NaiveDateTime>,
    pub failed_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// Where a job stands, derived from its times.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pending,
    Running,
    Done,
    Failed,
}

impl JobRow {
    pub fn state(&self, now: NaiveDateTime) -> State {
        if self.done_at.is_some() {
            State::Done
        } else if self.failed_at.is_some() {
            State::Failed
        } else if self.lease_until.is_some_and(|l| l > now) {
            State::Running
        } else {
            State::Pending
        }
    }
}

/// Adds a job; with a `dedupe_key` already used, adds nothing (false).
pub fn enqueue(
    conn: &mut DbConnection,
    kind: &str,
    payload: &str,
    dedupe_key: Option<&str>,
    run_at: NaiveDateTime,
    max_attempts: i32,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let insert = diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(new_id()),
            jobs::kind.eq(kind),
            jobs::payload.eq(payload),
            jobs::dedupe_key.eq(dedupe_key),
            jobs::run_at.eq(run_at),
            jobs::attempts.eq(0),
            jobs::max_attempts.eq(max_attempts),
            jobs::created_at.eq(now),
            jobs::updated_at.eq(now),
        ))
        .on_conflict(jobs::dedupe_key)
        .do_nothing();
    Ok(crate::execute_on_backend!(conn, insert)? == 1)
}

/// Takes the next job due by `due` for this worker until `lease_until`, counting the attempt.
/// `due` is the server's clock (which tests move, so a job scheduled hours ahead can run now);
/// leases are judged by `now`, the real time, so moving the clock never breaks a lease.
pub fn claim(
    conn: &mut DbConnection,
    due: NaiveDateTime,
    now: NaiveDateTime,
    lease_until: NaiveDateTime,
) -> QueryResult<Option<JobRow>> {
    use diesel::sql_types::Timestamp;
    match conn {
        DbConnection::Postgresql(pg) => diesel::sql_query(
            "UPDATE jobs SET lease_until = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id = (SELECT id FROM jobs \
                         WHERE done_at IS NULL AND failed_at IS NULL AND run_at <= $3 \
                           AND (lease_until IS NULL OR lease_until < $2) \
                         ORDER BY run_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
             RETURNING *",
        )
        .bind::<Timestamp, _>(lease_until)
        .bind::<Timestamp, _>(now)
        .bind::<Timestamp, _>(due)
        .get_result::<JobRow>(pg)
        .optional(),
        // SQLite: every write runs on one thread, so nothing claims between the two statements.
        DbConnection::Sqlite(_) => {
            let due = jobs::table
                .filter(jobs::done_at.is_null())
                .filter(jobs::failed_at.is_null())
                .filter(jobs::run_at.le(due))
                .filter(jobs::lease_until.is_null().or(jobs::lease_until.lt(now)))
                .order_by(jobs::run_at)
                .select(jobs::id)
                .first::<String>(conn)
                .optional()?;
            let Some(id) = due else {
                return Ok(None);
            };
            diesel::update(jobs::table.find(&id))
                .set((
                    jobs::lease_until.eq(Some(lease_until)),
                    jobs::attempts.eq(jobs::attempts + 1),
                    jobs::updated_at.eq(now),
                ))
                .execute(conn)?;
            jobs::table
                .find(&id)
                .select(JobRow::as_select())
                .first(conn)
                .optional()
        }
    }
}

/// The claim a worker holds: the job as claimed (its attempt number guards against a worker
/// whose lease ran out and whose job another worker took meanwhile).
fn claimed(
    id: &str,
    attempts: i32,
) -> diesel::dsl::Filter<diesel::dsl::Find<jobs::table, &str>, diesel::dsl::Eq<jobs::attempts, i32>>
{
    jobs::table.find(id).filter(jobs::attempts.eq(attempts))
}

pub fn finish(conn: &mut DbConnection, job: &JobRow, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(claimed(&job.id, job.attempts))
        .set((
            jobs::done_at.eq(Some(now)),
            jobs::lease_until.eq(None::<NaiveDateTime>),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

/// Records a failed attempt: the job runs again at `retry_at`, or, with `None` (its attempts are
/// spent, or trying again cannot help), is left failed.
pub fn fail_attempt(
    conn: &mut DbConnection,
    job: &JobRow,
    error: &str,
    retry_at: Option<NaiveDateTime>,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let error: String = error.chars().take(2000).collect();
    let target = claimed(&job.id, job.attempts);
    let n = match retry_at {
        None => diesel::update(target)
            .set((
                jobs::failed_at.eq(Some(now)),
                jobs::lease_until.eq(None::<NaiveDateTime>),
                jobs::last_error.eq(Some(error)),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)?,
        Some(at) => diesel::update(target)
            .set((
                jobs::run_at.eq(at),
                jobs::lease_until.eq(None::<NaiveDateTime>),
                jobs::last_error.eq(Some(error)),
                jobs::updated_at.eq(now),
            ))
            .execute(conn)?,
    };
    Ok(n == 1)
}

/// A failed job back in the queue, with all its attempts again; false when it is not failed.
pub fn retry(conn: &mut DbConnection, id: &str, now: NaiveDateTime) -> QueryResult<bool> {
    let n = diesel::update(jobs::table.find(id).filter(jobs::failed_at.is_not_null()))
        .set((
            jobs::failed_at.eq(None::<NaiveDateTime>),
            jobs::attempts.eq(0),
            jobs::run_at.eq(now),
            jobs::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(n == 1)
}

pub fn find(conn: &mut DbConnection, id: &str) -> QueryResult<Option<JobRow>> {
    jobs::table
        .find(id)
        .select(JobRow::as_select())
        .first(conn)
        .optional()
}

pub struct ListFilter<'a> {
    pub state: Option<State>,
    pub now: NaiveDateTime,
    pub after: Option<&'a Cursor>,
    pub limit: i64,
}

/// Newest first, keyset-paginated.
pub fn list(conn: &mut DbConnection, filter: ListFilter<'_>) -> QueryResult<Vec<JobRow>> {
    let now = filter.now;
    let mut query = jobs::table
        .select(JobRow::as_select())
        .order_by((jobs::created_at.desc(), jobs::id.desc()))
        .limit(filter.limit)
        .into_boxed();
    query = match filter.state {
        None => query,
        Some(State::Done) => query.filter(jobs::done_at.is_not_null()),
        Some(State::Failed) => query.filter(jobs::failed_at.is_not_null()),
        Some(State::Running) => query
            .filter(jobs::done_at.is_null())
            .filter(jobs::failed_at.is_null())
            .filter(jobs::lease_until.gt(now)),
        Some(State::Pending) => query
            .filter(jobs::done_at.is_null())
            .filter(jobs::failed_at.is_null())
            .filter(jobs::lease_until.is_null().or(jobs::lease_until.le(now))),
    };
    if let Some(after) = filter.after {
        // The bound on the time alone lets the index start at the cursor (with only the OR, the
        // database walks the index from the newest row and filters: every page cost the pages
        // before it, 0.5 s at 1,000,000 orders).
        query = query.filter(
            jobs::created_at.le(after.created_at).and(
                jobs::created_at
                    .lt(after.created_at)
                    .or(jobs::id.lt(after.id.clone())),
            ),
        );
    }
    query.load(conn)
}

/// Jobs whose dedupe key starts with `prefix`: how many there are, and how many are done.
pub fn count_by_key_prefix(conn: &mut DbConnection, prefix: &str) -> QueryResult<(i64, i64)> {
    let pattern = format!(
        "{}%",
        prefix
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_")
    );
    let matching = || jobs::table.filter(jobs::dedupe_key.like(pattern.clone()).escape('\\'));
    let total = matching().count().get_result(conn)?;
    let done = matching()
        .filter(jobs::done_at.is_not_null())
        .count()
        .get_result(conn)?;
    Ok((total, done))
}

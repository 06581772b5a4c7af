//! Admin handlers for the job queue.

use actix_web::web;
use serde::Deserialize;
use shared_types::{Job, JobPage, JobStatus, Problem};

use super::repo::{self, ListFilter, State};
use crate::auth::AdminUser;
use crate::db::now;
use crate::error::ApiError;
use crate::pagination::{self, Cursor};
use crate::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only jobs in this state.
    pub status: Option<JobStatus>,
}

/// Background jobs, newest first.
#[utoipa::path(
    get, path = "/api/v1/admin/jobs", tag = "admin",
    params(JobQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, body = JobPage),
        (status = 400, description = "`invalid_cursor` or `invalid_query`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (limit out of range)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_jobs(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<JobQuery>,
) -> Result<web::Json<JobPage>, ApiError> {
    let query = query.into_inner();
    let limit = pagination::limit(query.limit)?;
    let after = query.cursor.as_deref().map(Cursor::decode).transpose()?;
    let state_filter = query.status.map(|s| match s {
        JobStatus::Pending => State::Pending,
        JobStatus::Running => State::Running,
        JobStatus::Done => State::Done,
        JobStatus::Failed => State::Failed,
    });
    let at = now();
    let rows = state
        .db
        .run(move |conn| {
            Ok(repo::list(
                conn,
                ListFilter {
                    state: state_filter,
                    now: at,
                    after: after.as_ref(),
                    limit: limit + 1,
                },
            )?)
        })
        .await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |r| (r.created_at, r.id.as_str()));
    Ok(web::Json(JobPage {
        items: rows.iter().map(|r| super::to_dto(r, at)).collect(),
        next_cursor,
    }))
}

/// Puts a failed job back in the queue with all its attempts.
#[utoipa::path(
    post, path = "/api/v1/admin/jobs/{id}/retry", tag = "admin",
    params(("id" = String, Path, description = "Job id")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = Job),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`job_not_failed`: only a failed job is retried", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn retry_job(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<String>,
) -> Result<web::Json<Job>, ApiError> {
    let id = id.into_inner();
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError::NotFound("job"));
    }
    let row = state
        .db
        .write(move |conn| {
            let at = now();
            if !repo::retry(conn, &id, at)? {
                return match repo::find(conn, &id)? {
                    None => Err(ApiError::NotFound("job")),
                    Some(_) => Err(ApiError::JobNotFailed),
                };
            }
            repo::find(conn, &id)?.ok_or(ApiError::NotFound("job"))
        })
        .await?;
    state.wake.now();
    Ok(web::Json(super::to_dto(&row, now())))
}

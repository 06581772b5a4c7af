//! Thin handlers for memberships: the plans on offer, subscribing, the member's own
//! subscriptions and billing portal, and the admin's plans and members.

use actix_web::{web, HttpResponse};
use shared_types::{
    MembershipPage, Plan, PlanId, PlanList, PlanRequest, PortalResponse, Problem, SubscribeRequest,
    SubscribeResponse,
};

use crate::auth::{AdminUser, AuthUser};
use crate::error::ApiError;
use crate::AppState;

/// The membership plans on offer, cheapest first.
#[utoipa::path(
    get, path = "/api/v1/plans", tag = "memberships",
    security(()),
    responses((status = 200, body = PlanList))
)]
pub async fn list_plans(state: web::Data<AppState>) -> Result<web::Json<PlanList>, ApiError> {
    Ok(web::Json(super::public_plans(&state).await?))
}

/// Start a subscription to a plan: answers with Stripe Checkout's page (subscription mode, the
/// user's Stripe customer, made the first time). Access starts when Stripe reports the first
/// payment.
#[utoipa::path(
    post, path = "/api/v1/subscriptions/checkout", tag = "memberships",
    request_body = SubscribeRequest,
    security(("bearer" = [])),
    responses(
        (status = 200, body = SubscribeResponse),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No active plan has this id", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`already_subscribed`: a subscription to this plan is live or can still be paid", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_subscription(
    state: web::Data<AppState>,
    user: AuthUser,
    body: web::Json<SubscribeRequest>,
) -> Result<web::Json<SubscribeResponse>, ApiError> {
    Ok(web::Json(
        super::subscribe(&state, &user, body.into_inner().plan_id).await?,
    ))
}

/// The member back from Checkout: reads the session's subscription from Stripe (so access does
/// not wait for the webhook) and answers with the member's subscriptions.
#[utoipa::path(
    get, path = "/api/v1/subscriptions/checkout/{session_id}", tag = "memberships",
    params(("session_id" = String, Path, description = "The Checkout Session's id (`cs_…`)")),
    security(("bearer" = [])),
    responses(
        (status = 200, body = MembershipPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such session, or not the caller's subscription", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`: Stripe did not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn follow_subscription_checkout(
    state: web::Data<AppState>,
    user: AuthUser,
    session_id: web::Path<String>,
) -> Result<web::Json<MembershipPage>, ApiError> {
    Ok(web::Json(
        super::follow_checkout(&state, &user, session_id.into_inner()).await?,
    ))
}

/// The caller's subscriptions, newest first: status, period end, cancel at period end, and
/// whether and until when they unlock their plan's products.
#[utoipa::path(
    get, path = "/api/v1/subscriptions", tag = "memberships",
    security(("bearer" = [])),
    responses(
        (status = 200, body = MembershipPage),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_own_subscriptions(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<MembershipPage>, ApiError> {
    Ok(web::Json(super::mine(&state, &user.id).await?))
}

/// A Stripe billing portal session for the caller's own billing account (change card, cancel,
/// resume), returning to the membership page.
#[utoipa::path(
    post, path = "/api/v1/subscriptions/portal", tag = "memberships",
    security(("bearer" = [])),
    responses(
        (status = 200, body = PortalResponse),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`no_billing_account`: the caller never subscribed", body = Problem, content_type = "application/problem+json"),
        (status = 502, description = "`payment_provider_error`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn open_billing_portal(
    state: web::Data<AppState>,
    user: AuthUser,
) -> Result<web::Json<PortalResponse>, ApiError> {
    Ok(web::Json(super::portal(&state, &user).await?))
}

/// Every plan, newest first, with its members now.
#[utoipa::path(
    get, path = "/api/v1/admin/plans", tag = "admin",
    security(("bearer" = []), ("api_key" = ["catalog:read"])),
    responses(
        (status = 200, body = PlanList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_all_plans(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<web::Json<PlanList>, ApiError> {
    Ok(web::Json(super::admin_plans(&state).await?))
}

/// One plan.
#[utoipa::path(
    get, path = "/api/v1/admin/plans/{id}", tag = "admin",
    params(("id" = String, Path, description = "Plan id")),
    security(("bearer" = []), ("api_key" = ["catalog:read"])),
    responses(
        (status = 200, body = Plan),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_plan(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<PlanId>,
) -> Result<web::Json<Plan>, ApiError> {
    Ok(web::Json(super::admin_plan(&state, id.into_inner()).await?))
}

/// Create a membership plan.
#[utoipa::path(
    post, path = "/api/v1/admin/plans", tag = "admin",
    request_body = PlanRequest,
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 201, body = Plan),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_plan(
    state: web::Data<AppState>,
    _admin: AdminUser,
    body: web::Json<PlanRequest>,
) -> Result<HttpResponse, ApiError> {
    let plan = super::write_plan(&state, None, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(plan))
}

/// Replace a plan (the whole plan; `active: false` stops new subscriptions, members keep
/// theirs). A new price applies to new members. Once anyone has subscribed, the interval and
/// currency stay.
#[utoipa::path(
    put, path = "/api/v1/admin/plans/{id}", tag = "admin",
    params(("id" = String, Path, description = "Plan id")),
    request_body = PlanRequest,
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 200, body = Plan),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan_billing_fixed`: members are billed in its interval and currency", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replace_plan(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<PlanId>,
    body: web::Json<PlanRequest>,
) -> Result<web::Json<Plan>, ApiError> {
    Ok(web::Json(
        super::write_plan(&state, Some(id.into_inner()), body.into_inner()).await?,
    ))
}

/// Delete a plan nobody has subscribed to.
#[utoipa::path(
    delete, path = "/api/v1/admin/plans/{id}", tag = "admin",
    params(("id" = String, Path, description = "Plan id")),
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`plan_in_use`: deactivate it instead", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_plan(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<PlanId>,
) -> Result<HttpResponse, ApiError> {
    super::delete_plan(&state, id.into_inner()).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Every subscription (of one plan with `plan_id`), newest first, with the member's email.
#[utoipa::path(
    get, path = "/api/v1/admin/members", tag = "admin",
    params(super::MembersQuery),
    security(("bearer" = []), ("api_key" = ["customers:read"])),
    responses(
        (status = 200, body = MembershipPage),
        (status = 400, description = "`invalid_query` or `invalid_cursor`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: `limit` outside 1 to 100", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_members(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<super::MembersQuery>,
) -> Result<web::Json<MembershipPage>, ApiError> {
    Ok(web::Json(super::members(&state, query.into_inner()).await?))
}

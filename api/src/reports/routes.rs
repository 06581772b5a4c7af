//! Thin handlers for the seller's reports: the dashboard's figures, customers, CSV exports.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use shared_types::{CustomerPage, OrderStatus, Problem, Stats};

use super::csv::{self, Cell};
use super::{CustomerQuery, StatsQuery};
use crate::auth::AdminUser;
use crate::error::ApiError;
use crate::pagination::Cursor;
use crate::AppState;

/// The shop's figures over a period: takings per currency (gross, refunds, net), paid orders,
/// checkouts started and completed, new customers, downloads, a series per day, week or month,
/// and the best sellers. Days are UTC.
#[utoipa::path(
    get, path = "/api/v1/admin/stats", tag = "admin",
    params(StatsQuery),
    security(("bearer" = []), ("api_key" = ["stats:read"])),
    responses(
        (status = 200, body = Stats),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: a date that is not `YYYY-MM-DD`, `from` after `to`, an unknown interval, or a period longer than 366 days by day (1830 by week or month)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_stats(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<StatsQuery>,
) -> Result<web::Json<Stats>, ApiError> {
    Ok(web::Json(super::stats(&state, query.into_inner()).await?))
}

/// Customer accounts, newest first, with their paid orders.
#[utoipa::path(
    get, path = "/api/v1/admin/customers", tag = "admin",
    params(CustomerQuery),
    security(("bearer" = []), ("api_key" = ["customers:read"])),
    responses(
        (status = 200, body = CustomerPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_customers(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<CustomerQuery>,
) -> Result<web::Json<CustomerPage>, ApiError> {
    Ok(web::Json(
        super::customers(&state, query.into_inner()).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerExportQuery {
    /// Only customers whose email contains this (any case), as in the list.
    pub q: Option<String>,
}

/// Every customer the list would show, as CSV (RFC 4180, UTF-8, streamed; cells that a
/// spreadsheet would read as a formula start with `'`).
#[utoipa::path(
    get, path = "/api/v1/admin/customers.csv", tag = "admin",
    params(CustomerExportQuery),
    security(("bearer" = []), ("api_key" = ["customers:read"])),
    responses(
        (status = 200, description = "`id,email,created_at,email_verified,paid_orders,last_paid_at`", body = String, content_type = "text/csv"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_customers(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<CustomerExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let search = CustomerQuery {
        limit: None,
        cursor: None,
        q: query.into_inner().q,
    }
    .search()?;
    let header = csv::header_row(&[
        "id",
        "email",
        "created_at",
        "email_verified",
        "paid_orders",
        "last_paid_at",
    ]);
    let state = state.into_inner();
    Ok(csv::stream(
        "customers.csv",
        header,
        move |after: Option<Cursor>| {
            let (state, search) = (state.clone(), search.clone());
            async move {
                let rows = state
                    .db
                    .run(move |conn| {
                        Ok(super::repo::customers(
                            conn,
                            search.as_deref(),
                            after.as_ref(),
                            csv::PAGE,
                        )?)
                    })
                    .await?;
                let next = (rows.len() as i64 == csv::PAGE).then(|| {
                    let last = rows.last().expect("a full page");
                    Cursor {
                        created_at: last.created_at,
                        id: last.id.to_string(),
                    }
                });
                let mut out = String::new();
                for r in &rows {
                    csv::record(
                        &[
                            Cell::Plain(r.id.to_string()),
                            Cell::Text(&r.email),
                            Cell::Plain(time(r.created_at)),
                            Cell::Plain(r.email_verified_at.is_some().to_string()),
                            Cell::Plain(r.paid_orders.to_string()),
                            r.last_paid_at.map_or(Cell::Empty, |t| Cell::Plain(time(t))),
                        ],
                        &mut out,
                    );
                }
                Ok((out, next))
            }
        },
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrderExportQuery {
    /// Only orders in this status, as in the list.
    pub status: Option<OrderStatus>,
}

/// Every order the list would show, newest first, as CSV (RFC 4180, UTF-8, streamed; amounts in
/// cents; cells that a spreadsheet would read as a formula start with `'`).
#[utoipa::path(
    get, path = "/api/v1/admin/orders.csv", tag = "admin",
    params(OrderExportQuery),
    security(("bearer" = []), ("api_key" = ["orders:read"])),
    responses(
        (status = 200, description = "`id,created_at,paid_at,status,product_id,product_title,buyer_email,currency,list_price_cents,discount_code,amount_cents,tax_cents,total_cents,refunded_cents,stripe_session_id,stripe_payment_intent_id`", body = String, content_type = "text/csv"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn export_orders(
    state: web::Data<AppState>,
    _admin: AdminUser,
    query: web::Query<OrderExportQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = query.into_inner().status;
    let header = csv::header_row(&[
        "id",
        "created_at",
        "paid_at",
        "status",
        "product_id",
        "product_title",
        "buyer_email",
        "currency",
        "list_price_cents",
        "discount_code",
        "amount_cents",
        "tax_cents",
        "total_cents",
        "refunded_cents",
        "stripe_session_id",
        "stripe_payment_intent_id",
    ]);
    let state = state.into_inner();
    Ok(csv::stream(
        "orders.csv",
        header,
        move |after: Option<Cursor>| {
            let state = state.clone();
            async move {
                let rows = state
                    .db
                    .run(move |conn| {
                        Ok(crate::payments::repo::list_orders(
                            conn,
                            crate::payments::repo::OrderFilter {
                                user_id: None,
                                discount_id: None,
                                status,
                                after: after.as_ref(),
                                limit: csv::PAGE,
                            },
                        )?)
                    })
                    .await?;
                let next = (rows.len() as i64 == csv::PAGE).then(|| {
                    let (last, ..) = rows.last().expect("a full page");
                    Cursor {
                        created_at: last.created_at,
                        id: last.id.to_string(),
                    }
                });
                let mut out = String::new();
                let optional =
                    |v: Option<i64>| v.map_or(Cell::Empty, |c| Cell::Plain(c.to_string()));
                for (o, _slug, title, email) in &rows {
                    csv::record(
                        &[
                            Cell::Plain(o.id.to_string()),
                            Cell::Plain(time(o.created_at)),
                            o.paid_at.map_or(Cell::Empty, |t| Cell::Plain(time(t))),
                            Cell::Plain(o.status.as_str().to_owned()),
                            Cell::Plain(o.product_id.to_string()),
                            Cell::Text(title),
                            Cell::Text(email),
                            Cell::Plain(o.currency.code().to_owned()),
                            Cell::Plain(o.list_price_cents.to_string()),
                            o.discount_code.as_deref().map_or(Cell::Empty, Cell::Text),
                            Cell::Plain(o.amount_cents.to_string()),
                            optional(o.tax_cents),
                            optional(o.total_cents),
                            Cell::Plain(o.refunded_cents.to_string()),
                            o.stripe_session_id
                                .as_deref()
                                .map_or(Cell::Empty, Cell::Text),
                            o.stripe_payment_intent_id
                                .as_deref()
                                .map_or(Cell::Empty, Cell::Text),
                        ],
                        &mut out,
                    );
                }
                Ok((out, next))
            }
        },
    ))
}

/// RFC 3339 in UTC to the second, as spreadsheets read it.
fn time(t: chrono::NaiveDateTime) -> String {
    t.and_utc().format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

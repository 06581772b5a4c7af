//! Thin handlers for discount codes: the admin's CRUD and redemptions, and the product page's
//! preview.

use actix_web::{web, HttpResponse};
use diesel::Connection;
use shared_types::{
    Discount, DiscountId, DiscountList, DiscountPreview, DiscountRequest, OrderPage, Problem,
    ProductId,
};

use super::repo;
use crate::auth::{AdminUser, MaybeUser};
use crate::db::now;
use crate::error::ApiError;
use crate::AppState;

#[derive(serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewQuery {
    /// The product the code would be used on.
    pub slug: String,
}

/// What a discount code makes of a product's price, before checkout. Reserves nothing: the
/// checkout checks the code again. Signed in, the per-customer cap is checked too.
#[utoipa::path(
    get, path = "/api/v1/discounts/{code}", tag = "payments",
    params(("code" = String, Path, description = "The code, in any case"), PreviewQuery),
    security((), ("bearer" = [])),
    responses(
        (status = 200, body = DiscountPreview),
        (status = 400, description = "`invalid_query`: no `slug`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown or archived product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`discount_invalid`, `discount_not_started`, `discount_expired`, `discount_exhausted`, `discount_limit_reached` or `discount_not_applicable`, with a sentence for the buyer", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: codes cannot be guessed quickly", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn preview_discount(
    state: web::Data<AppState>,
    user: MaybeUser,
    req: actix_web::HttpRequest,
    code: web::Path<String>,
    query: web::Query<PreviewQuery>,
) -> Result<web::Json<DiscountPreview>, ApiError> {
    crate::pricing::check_guess(&state, &req).await?;
    Ok(web::Json(
        super::preview(&state, user.0, code.into_inner(), query.into_inner().slug).await?,
    ))
}

/// Every discount code, newest first, with its redemptions.
#[utoipa::path(
    get, path = "/api/v1/admin/discounts", tag = "admin",
    security(("bearer" = []), ("api_key" = ["catalog:read"])),
    responses(
        (status = 200, body = DiscountList),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_discounts(
    state: web::Data<AppState>,
    _admin: AdminUser,
) -> Result<web::Json<DiscountList>, ApiError> {
    let items = state
        .db
        .run(|conn| {
            let rows = repo::list(conn)?;
            let ids: Vec<DiscountId> = rows.iter().map(|(r, _)| r.id.clone()).collect();
            let products = repo::products_of(conn, &ids)?;
            Ok(rows
                .into_iter()
                .map(|(row, n)| {
                    let limited = (!row.all_products).then(|| {
                        products
                            .iter()
                            .filter(|(d, _)| *d == row.id)
                            .map(|(_, p)| p.clone())
                            .collect()
                    });
                    super::to_dto(row, limited, n)
                })
                .collect())
        })
        .await?;
    Ok(web::Json(DiscountList { items }))
}

fn one(conn: &mut crate::db::DbConnection, id: &DiscountId) -> Result<Discount, ApiError> {
    let row = repo::find(conn, id)?.ok_or(ApiError::NotFound("discount"))?;
    let (n, _) = repo::redemptions(conn, id, None)?;
    let limited = (!row.all_products).then(|| {
        repo::products_of(conn, std::slice::from_ref(id))
            .map(|v| v.into_iter().map(|(_, p)| p).collect())
    });
    Ok(super::to_dto(row, limited.transpose()?, n))
}

/// One discount code.
#[utoipa::path(
    get, path = "/api/v1/admin/discounts/{id}", tag = "admin",
    params(("id" = String, Path, description = "Discount id")),
    security(("bearer" = []), ("api_key" = ["catalog:read"])),
    responses(
        (status = 200, body = Discount),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_discount(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<DiscountId>,
) -> Result<web::Json<Discount>, ApiError> {
    let id = id.into_inner();
    Ok(web::Json(state.db.run(move |conn| one(conn, &id)).await?))
}

/// Writes a discount; `existing` is the one edited.
async fn save(
    state: &AppState,
    body: DiscountRequest,
    existing: Option<DiscountId>,
) -> Result<Discount, ApiError> {
    let at = now();
    state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                let (id, created_at) = match &existing {
                    Some(id) => {
                        let row = repo::find(conn, id)?.ok_or(ApiError::NotFound("discount"))?;
                        (row.id, row.created_at)
                    }
                    None => (DiscountId::generate(), at),
                };
                let row = super::parse_request(&body, id, created_at, at)?;
                let products: Option<Vec<ProductId>> = body.product_ids.as_ref().map(|ids| {
                    let mut ids = ids.clone();
                    ids.sort();
                    ids.dedup();
                    ids
                });
                if let Some(ids) = &products {
                    let known = repo::existing_products(conn, ids)?;
                    if let Some(unknown) = ids.iter().find(|id| !known.contains(id)) {
                        return Err(ApiError::validation(
                            "product_ids",
                            format!("there is no product {unknown}"),
                        ));
                    }
                }
                if repo::find_by_code(conn, &row.code)?.is_some_and(|d| d.id != row.id) {
                    return Err(ApiError::DiscountCodeTaken(row.code));
                }
                repo::save(conn, &row, products.as_deref(), existing.is_none()).map_err(|e| {
                    match crate::error::is_unique_violation(&e) {
                        true => ApiError::DiscountCodeTaken(row.code.clone()),
                        false => e.into(),
                    }
                })?;
                one(conn, &row.id)
            })
        })
        .await
}

/// Create a discount code.
#[utoipa::path(
    post, path = "/api/v1/admin/discounts", tag = "admin",
    request_body = DiscountRequest,
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 201, body = Discount),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`discount_code_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_discount(
    state: web::Data<AppState>,
    _admin: AdminUser,
    body: web::Json<DiscountRequest>,
) -> Result<HttpResponse, ApiError> {
    let discount = save(&state, body.into_inner(), None).await?;
    Ok(HttpResponse::Created().json(discount))
}

/// Replace a discount code's terms (the whole discount; set `active: false` to deactivate it).
/// Checkouts already started keep the price they were given.
#[utoipa::path(
    put, path = "/api/v1/admin/discounts/{id}", tag = "admin",
    params(("id" = String, Path, description = "Discount id")),
    request_body = DiscountRequest,
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 200, body = Discount),
        (status = 400, description = "`invalid_json`", body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`discount_code_taken`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replace_discount(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<DiscountId>,
    body: web::Json<DiscountRequest>,
) -> Result<web::Json<Discount>, ApiError> {
    Ok(web::Json(
        save(&state, body.into_inner(), Some(id.into_inner())).await?,
    ))
}

/// Delete a discount code that was never used; one that was stays (deactivate it instead, so
/// its orders keep naming it).
#[utoipa::path(
    delete, path = "/api/v1/admin/discounts/{id}", tag = "admin",
    params(("id" = String, Path, description = "Discount id")),
    security(("bearer" = []), ("api_key" = ["catalog:write"])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`discount_in_use`: orders name it; deactivate it instead", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_discount(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<DiscountId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .db
        .write(move |conn| {
            conn.transaction(|conn| {
                repo::find(conn, &id)?.ok_or(ApiError::NotFound("discount"))?;
                match repo::delete_unused(conn, &id)? {
                    true => Ok(()),
                    false => Err(ApiError::DiscountInUse),
                }
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The orders that used a discount code (open checkouts included), newest first.
#[utoipa::path(
    get, path = "/api/v1/admin/discounts/{id}/redemptions", tag = "admin",
    params(("id" = String, Path, description = "Discount id"), crate::payments::OrderQuery),
    security(("bearer" = []), ("api_key" = ["catalog:read"])),
    responses(
        (status = 200, body = OrderPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_discount_redemptions(
    state: web::Data<AppState>,
    _admin: AdminUser,
    id: web::Path<DiscountId>,
    query: web::Query<crate::payments::OrderQuery>,
) -> Result<web::Json<OrderPage>, ApiError> {
    let id = id.into_inner();
    let check = id.clone();
    state
        .db
        .run(move |conn| {
            repo::find(conn, &check)?.ok_or(ApiError::NotFound("discount"))?;
            Ok(())
        })
        .await?;
    Ok(web::Json(
        crate::payments::list_orders_with(&state, None, Some(id), query.into_inner()).await?,
    ))
}

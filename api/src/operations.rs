//! Every operation of the API, listed once. The OpenAPI document's paths and the server's routes
//! are both made from this list, so a handler cannot be served without being documented (and
//! swept by the tests that walk the document), or documented without being served.
//!
//! Each path becomes one actix resource with a route per documented method; any other method
//! answers 405 with `Allow`. Paths under `/api/v1/admin/` are mounted inside the admin scope,
//! behind its role check.

use std::collections::HashMap;

use actix_web::http::Method;
use actix_web::{web, HttpResponse, Route};
use utoipa::OpenApi;

use crate::error::ApiError;
use crate::{
    auth, catalog, downloads, files, jobs, library, mail, membership, ops, payments, pricing,
    reports, webhooks,
};

/// The prefix of the routes that need the admin role.
pub const ADMIN_PREFIX: &str = "/api/v1/admin";

macro_rules! operations {
    ($($($segment:ident)::+),* $(,)?) => {
        /// The documented operations (the rest of the document is `openapi::ApiDoc`).
        #[derive(OpenApi)]
        #[openapi(paths($($($segment)::+),*))]
        pub struct Paths;

        /// Each handler under its operation id (its function's name), as a route for a method.
        fn handlers() -> Vec<(&'static str, fn(Method) -> Route)> {
            vec![$(
                (last_segment(stringify!($($segment)::+)), {
                    fn route(method: Method) -> Route {
                        web::method(method).to($($segment)::+)
                    }
                    route as fn(Method) -> Route
                }),
            )*]
        }
    };
}

operations! {
    auth::routes::register,
    auth::routes::login,
    auth::routes::refresh,
    auth::routes::logout,
    auth::routes::me,
    auth::routes::request_email_link,
    auth::routes::redeem_email_link,
    auth::routes::request_password_reset,
    auth::routes::confirm_password_reset,
    auth::key_routes::list_api_keys,
    auth::key_routes::create_api_key,
    auth::key_routes::revoke_api_key,
    catalog::routes::list_products,
    catalog::routes::get_product,
    downloads::routes::issue_download_token,
    downloads::routes::download_file,
    library::routes::list_library,
    catalog::admin_routes::list_all_products,
    catalog::admin_routes::get_product_by_id,
    catalog::admin_routes::create_product,
    catalog::admin_routes::update_product,
    catalog::admin_routes::archive_product,
    catalog::admin_routes::replace_product_preview,
    files::routes::add_product_file,
    files::routes::update_product_file,
    files::routes::remove_product_file,
    files::routes::add_file_version,
    files::routes::list_file_versions,
    files::routes::unsubscribe_notices,
    library::routes::list_product_entitlements,
    library::routes::reset_entitlement_downloads,
    payments::routes::start_checkout,
    payments::routes::get_checkout_session,
    payments::routes::issue_session_download_token,
    payments::routes::resend_own_receipt,
    payments::routes::resend_receipt,
    payments::routes::list_own_orders,
    payments::routes::receive_stripe_webhook,
    payments::routes::list_all_orders,
    payments::routes::refund_order,
    payments::routes::reconcile_with_stripe,
    webhooks::routes::list_webhook_endpoints,
    webhooks::routes::create_webhook_endpoint,
    webhooks::routes::get_webhook_endpoint,
    webhooks::routes::replace_webhook_endpoint,
    webhooks::routes::delete_webhook_endpoint,
    webhooks::routes::rotate_webhook_secret,
    webhooks::routes::list_webhook_deliveries,
    webhooks::routes::redeliver_webhook,
    pricing::routes::preview_discount,
    pricing::routes::list_discounts,
    pricing::routes::get_discount,
    pricing::routes::create_discount,
    pricing::routes::replace_discount,
    pricing::routes::delete_discount,
    pricing::routes::list_discount_redemptions,
    membership::routes::list_plans,
    membership::routes::start_subscription,
    membership::routes::follow_subscription_checkout,
    membership::routes::list_own_subscriptions,
    membership::routes::open_billing_portal,
    membership::routes::list_all_plans,
    membership::routes::get_plan,
    membership::routes::create_plan,
    membership::routes::replace_plan,
    membership::routes::delete_plan,
    membership::routes::list_members,
    reports::routes::get_stats,
    reports::routes::list_customers,
    reports::routes::export_customers,
    reports::routes::export_orders,
    jobs::routes::list_jobs,
    jobs::routes::retry_job,
    mail::routes::list_mailbox,
    ops::healthz,
    ops::readyz,
    ops::client_config,
}

fn last_segment(path: &'static str) -> &'static str {
    path.rsplit("::").next().unwrap_or(path).trim()
}

/// One documented path: its methods, each with the operation id of its handler.
struct PathRoutes {
    path: String,
    methods: Vec<(Method, String)>,
}

fn documented() -> Vec<PathRoutes> {
    Paths::openapi()
        .paths
        .paths
        .into_iter()
        .map(|(path, item)| {
            let methods = [
                (Method::GET, item.get),
                (Method::PUT, item.put),
                (Method::POST, item.post),
                (Method::DELETE, item.delete),
                (Method::OPTIONS, item.options),
                (Method::HEAD, item.head),
                (Method::PATCH, item.patch),
                (Method::TRACE, item.trace),
            ]
            .into_iter()
            .filter_map(|(method, op)| {
                let id = op?.operation_id.expect("utoipa names every operation");
                Some((method, id))
            })
            .collect();
            PathRoutes { path, methods }
        })
        .collect()
}

/// Which part of the API to mount.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Everything outside the admin scope, at its full path.
    Public,
    /// The admin routes, relative to [`ADMIN_PREFIX`] (mounted inside that scope).
    Admin,
}

/// Mounts the resources of `part`.
pub fn mount(cfg: &mut web::ServiceConfig, part: Part) {
    let handlers: HashMap<&str, fn(Method) -> Route> = handlers().into_iter().collect();
    for PathRoutes { path, methods } in documented() {
        let relative = match (part, path.strip_prefix(ADMIN_PREFIX)) {
            (Part::Admin, Some(rest)) => rest.to_owned(),
            (Part::Public, None) => path.clone(),
            _ => continue,
        };
        let allow = methods
            .iter()
            .map(|(m, _)| m.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let mut resource = web::resource(relative);
        for (method, id) in methods {
            let route = handlers
                .get(id.as_str())
                .unwrap_or_else(|| panic!("operation `{id}` has no handler in the list"));
            resource = resource.route(route(method));
        }
        if path == payments::routes::WEBHOOK_PATH {
            resource =
                resource.app_data(web::PayloadConfig::new(payments::routes::WEBHOOK_MAX_BYTES));
        }
        let resource = resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move { Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow)) }
        }));
        // JSON shrinks to a fifth compressed (the catalog's first page is part of a shopper's
        // first view); a file download is served as stored, Range and Content-Length intact.
        if path == downloads::routes::DOWNLOAD_PATH {
            cfg.service(resource);
        } else {
            cfg.service(resource.wrap(actix_web::middleware::Compress::default()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_operation_has_exactly_one_handler() {
        let handlers = handlers();
        let mut ids: Vec<&str> = handlers.iter().map(|(id, _)| *id).collect();
        ids.sort();
        let before = ids.len();
        ids.dedup();
        assert_eq!(before, ids.len(), "two handlers share an operation id");
        let mut documented: Vec<String> = documented()
            .into_iter()
            .flat_map(|p| p.methods.into_iter().map(|(_, id)| id))
            .collect();
        documented.sort();
        assert_eq!(documented, ids);
    }

    #[test]
    fn handler_names_are_the_last_path_segment() {
        assert_eq!(last_segment("auth :: routes :: register"), "register");
        assert_eq!(last_segment("ops :: healthz"), "healthz");
    }
}

//! The OpenAPI document, generated from the handlers' and DTOs' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::{auth, catalog, downloads, library, ops, payments};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Folio API",
        description = "Sell and deliver digital content. Errors are `application/problem+json` with a stable `code`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        auth::routes::register,
        auth::routes::login,
        auth::routes::refresh,
        auth::routes::logout,
        auth::routes::me,
        catalog::routes::list_products,
        catalog::routes::get_product,
        downloads::routes::issue_download_token,
        downloads::routes::download_file,
        library::routes::list_library,
        catalog::admin_routes::list_all_products,
        catalog::admin_routes::create_product,
        catalog::admin_routes::update_product,
        catalog::admin_routes::archive_product,
        catalog::admin_routes::replace_product_file,
        catalog::admin_routes::replace_product_preview,
        payments::routes::start_checkout,
        payments::routes::get_checkout_session,
        payments::routes::list_own_orders,
        payments::routes::receive_stripe_webhook,
        payments::routes::list_all_orders,
        payments::routes::refund_order,
        ops::healthz,
        ops::readyz,
    ),
    components(schemas(shared_types::Problem, shared_types::FieldError)),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "catalog", description = "What is for sale"),
        (name = "downloads", description = "Getting the files"),
        (name = "library", description = "What the caller owns"),
        (name = "payments", description = "Checkout, orders and Stripe's webhook"),
        (name = "admin", description = "Catalog and order management (admin role)"),
        (name = "operations", description = "Health checks"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// The document as checked in at the repository root (`openapi.yaml`).
pub fn yaml() -> String {
    ApiDoc::openapi()
        .to_yaml()
        .expect("the OpenAPI document serialises to YAML")
}

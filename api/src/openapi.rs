//! The OpenAPI document, generated from the handlers' and DTOs' annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Folio API",
        description = "Sell and deliver digital content. Errors are `application/problem+json` with a stable `code`.",
        license(name = "MIT OR Apache-2.0"),
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

/// The whole document: the operations listed in [`crate::operations`] with what this adds.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::operations::Paths::openapi());
    doc
}

/// The document as checked in at the repository root (`openapi.yaml`).
pub fn yaml() -> String {
    document()
        .to_yaml()
        .expect("the OpenAPI document serialises to YAML")
}

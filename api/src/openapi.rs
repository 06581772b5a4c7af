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
    tags(
        (name = "auth", description = "Accounts and sessions"),
        (name = "catalog", description = "What is for sale"),
        (name = "downloads", description = "Getting the files"),
        (name = "library", description = "What the caller owns"),
        (name = "payments", description = "Checkout, orders and Stripe's webhook"),
        (name = "memberships", description = "Plans, subscriptions and the billing portal"),
        (name = "admin", description = "Catalog and order management (admin role, or an API key with the operation's scope)"),
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
        let scopes: String = shared_types::ApiScope::ALL
            .iter()
            .map(|s| format!("\n- `{}`: {}", s.as_str(), s.description()))
            .collect();
        components.add_security_scheme(
            crate::auth::keys::SCHEME,
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("folio_sk_…")
                    .description(Some(format!(
                        "An API key made on the admin's API keys page, for the admin operations. \
                         Each operation names the one scope it needs; an operation without this \
                         requirement needs a signed-in admin. Without the scope: 403 \
                         `insufficient_scope`; a revoked key: 401 `api_key_revoked`; over {} \
                         requests a minute by default (`FOLIO_API_KEY_RATE_LIMIT`): 429. Scopes:{scopes}",
                        crate::config::vars::API_KEY_RATE_LIMIT.default_text()
                    )))
                    .build(),
            ),
        );
    }
}

/// The whole document: the operations listed in [`crate::operations`] with what this adds.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(crate::operations::Paths::openapi());
    // After the merge: they change the operations' parameters and schemas.
    BearerAuth.modify(&mut doc);
    Limits.modify(&mut doc);
    doc
}

/// The limits the server checks, written into the document from the constants its parsers use
/// (utoipa's attributes take only literals, which would write each limit twice).
struct Limits;

/// What a string or number must be.
enum Limit {
    Length(Option<usize>, Option<usize>),
    Pattern(&'static str),
    Range(i64, i64),
    Values(&'static [&'static str]),
    MinItems(usize),
}

fn apply(schema: &mut utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>, limit: &Limit) {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    if let (RefOr::T(Schema::Array(array)), Limit::MinItems(n)) = (&mut *schema, limit) {
        array.min_items = Some(*n);
        return;
    }
    let RefOr::T(Schema::Object(object)) = schema else {
        panic!("a limit on something that is not a plain schema");
    };
    match limit {
        Limit::Length(min, max) => {
            object.min_length = *min;
            object.max_length = *max;
        }
        Limit::Pattern(pattern) => object.pattern = Some((*pattern).to_owned()),
        Limit::Range(min, max) => {
            object.minimum = Some(utoipa::Number::Int(*min as isize));
            object.maximum = Some(utoipa::Number::Int(*max as isize));
        }
        Limit::Values(values) => {
            object.enum_values = Some(values.iter().map(|v| (*v).into()).collect());
        }
        Limit::MinItems(_) => panic!("MinItems on something that is not a list"),
    }
}

impl Modify for Limits {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        use shared_types::{Description, Email, Password, Price, Title};
        use utoipa::openapi::schema::Schema;
        use utoipa::openapi::RefOr;
        let title = [
            Limit::Length(Some(Title::MIN_CHARS), Some(Title::MAX_CHARS)),
            Limit::Pattern(Title::PATTERN),
        ];
        let properties: &[(&str, &str, &[Limit])] = &[
            (
                "CredentialsRequest",
                "email",
                &[
                    Limit::Length(Some(1), Some(Email::MAX_CHARS)),
                    Limit::Pattern(Email::PATTERN),
                ],
            ),
            (
                "CredentialsRequest",
                "password",
                &[Limit::Length(
                    Some(Password::MIN_CHARS),
                    Some(Password::MAX_CHARS),
                )],
            ),
            (
                "EmailRequest",
                "email",
                &[
                    Limit::Length(Some(1), Some(Email::MAX_CHARS)),
                    Limit::Pattern(Email::PATTERN),
                ],
            ),
            (
                "CheckoutRequest",
                "email",
                &[
                    Limit::Length(Some(1), Some(Email::MAX_CHARS)),
                    Limit::Pattern(Email::PATTERN),
                ],
            ),
            (
                "ResetPasswordRequest",
                "password",
                &[Limit::Length(
                    Some(Password::MIN_CHARS),
                    Some(Password::MAX_CHARS),
                )],
            ),
            ("UpdateProductRequest", "title", &title),
            ("CreateProductForm", "title", &title),
            (
                "UpdateProductRequest",
                "description",
                &[Limit::Length(None, Some(Description::MAX_CHARS))],
            ),
            (
                "CreateProductForm",
                "description",
                &[Limit::Length(None, Some(Description::MAX_CHARS))],
            ),
            (
                "UpdateProductRequest",
                "price",
                &[Limit::Pattern(Price::PATTERN)],
            ),
            (
                "CreateProductForm",
                "price",
                &[Limit::Pattern(Price::PATTERN)],
            ),
            (
                "PlanRequest",
                "name",
                &[
                    Limit::Length(Some(1), Some(shared_types::MAX_PLAN_NAME)),
                    Limit::Pattern("\\S"),
                ],
            ),
            (
                "PlanRequest",
                "description",
                &[Limit::Length(
                    None,
                    Some(shared_types::MAX_PLAN_DESCRIPTION),
                )],
            ),
        ];
        let date = Limit::Pattern(crate::reports::DATE_PATTERN);
        let seller: &[(&str, &str, &[Limit])] = &[
            (
                "ApiKeyRequest",
                "name",
                &[
                    Limit::Length(Some(1), Some(shared_types::MAX_KEY_NAME)),
                    Limit::Pattern("\\S"),
                ],
            ),
            ("ApiKeyRequest", "scopes", &[Limit::MinItems(1)]),
            (
                "WebhookEndpointRequest",
                "url",
                &[
                    Limit::Length(Some(1), Some(shared_types::MAX_WEBHOOK_URL)),
                    Limit::Pattern(crate::webhooks::URL_PATTERN),
                ],
            ),
            (
                "WebhookEndpointRequest",
                "description",
                &[Limit::Length(None, Some(shared_types::MAX_KEY_NAME))],
            ),
            ("WebhookEndpointRequest", "events", &[Limit::MinItems(1)]),
            ("ReconcileRequest", "since", std::slice::from_ref(&date)),
        ];
        let schemas = &mut doc
            .components
            .as_mut()
            .expect("the document has components")
            .schemas;
        for (schema, property, limits) in properties.iter().chain(seller) {
            let Some(RefOr::T(Schema::Object(object))) = schemas.get_mut(*schema) else {
                panic!("no schema {schema} to limit");
            };
            let target = object
                .properties
                .get_mut(*property)
                .unwrap_or_else(|| panic!("{schema} has no property {property}"));
            for limit in limits.iter() {
                apply(target, limit);
            }
        }
        // Query parameters, on every operation that takes them.
        let parameters: &[(&str, Limit)] = &[
            ("limit", Limit::Range(1, crate::pagination::MAX_LIMIT)),
            (
                "q",
                Limit::Length(None, Some(crate::catalog::MAX_SEARCH_CHARS)),
            ),
            (
                "session_id",
                Limit::Pattern(crate::membership::SESSION_ID_PATTERN),
            ),
            ("from", Limit::Pattern(crate::reports::DATE_PATTERN)),
            ("to", Limit::Pattern(crate::reports::DATE_PATTERN)),
            ("interval", Limit::Values(&["day", "week", "month"])),
        ];
        let mut limited = 0;
        for item in doc.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
            ];
            for op in operations.into_iter().flatten() {
                for param in op.parameters.iter_mut().flatten() {
                    for (name, limit) in parameters {
                        if param.name == *name {
                            if let Some(schema) = param.schema.as_mut() {
                                apply(schema, limit);
                                limited += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(
            limited >= 4,
            "the list operations lost their limit and q parameters"
        );
    }
}

/// The document as checked in at the repository root (`openapi.yaml`).
pub fn yaml() -> String {
    document()
        .to_yaml()
        .expect("the OpenAPI document serialises to YAML")
}

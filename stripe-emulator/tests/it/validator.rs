//! A validator for the part of OpenAPI 3.0 that Stripe's spec uses for response objects:
//! `$ref` (to `#/components/schemas/*`), `anyOf`/`oneOf`, `nullable`, `type`, `properties`,
//! `required`, `enum`, `items`, `additionalProperties` and `maxLength`. Other keywords
//! (`format`, `description`, `x-*`, ...) are ignored.

use std::sync::OnceLock;

use serde_json::Value;

/// Stripe's spec, checked in gzipped (see tests/fixtures/README.md).
const SPEC_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/stripe-openapi-2025-10-15.json.gz"
);

pub struct Spec {
    root: Value,
}

/// The spec, read once per test binary (2.5 MB unzipped).
pub fn spec() -> &'static Spec {
    static SPEC: OnceLock<Spec> = OnceLock::new();
    SPEC.get_or_init(|| {
        let file = std::fs::File::open(SPEC_PATH)
            .unwrap_or_else(|e| panic!("cannot read Stripe's OpenAPI spec at {SPEC_PATH}: {e}"));
        let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(file));
        Spec {
            root: serde_json::from_reader(reader).expect("the spec is gzipped JSON"),
        }
    })
}

impl Spec {
    /// Validates against `#/components/schemas/{name}`.
    pub fn validate(&self, name: &str, value: &Value) -> Result<(), Vec<String>> {
        self.validate_pointer(&format!("/components/schemas/{name}"), value)
    }

    /// Validates against the schema at a JSON pointer into the spec (for inline schemas such as
    /// `/components/schemas/checkout.session/properties/line_items`).
    pub fn validate_pointer(&self, pointer: &str, value: &Value) -> Result<(), Vec<String>> {
        let schema = self
            .root
            .pointer(pointer)
            .unwrap_or_else(|| panic!("no schema at {pointer}"));
        let mut errors = Vec::new();
        self.check(schema, value, "$", &mut errors);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Panics with every violation, for use in tests.
    #[track_caller]
    pub fn assert_valid(&self, name: &str, value: &Value) {
        if let Err(errors) = self.validate(name, value) {
            panic!(
                "{name} does not match Stripe's schema:\n  {}\nobject: {value:#}",
                errors.join("\n  ")
            );
        }
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference
                    .strip_prefix('#')
                    .unwrap_or_else(|| panic!("only local $refs are supported: {reference}"));
                self.resolve(
                    self.root
                        .pointer(pointer)
                        .unwrap_or_else(|| panic!("dangling $ref {reference}")),
                )
            }
            None => schema,
        }
    }

    fn check(&self, schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if value.is_null() {
            if !self.accepts_null(schema) {
                errors.push(format!("{path}: null but not nullable"));
            }
            return;
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(keyword).and_then(Value::as_array) {
                let mut branch_errors = Vec::new();
                let matched = branches.iter().any(|branch| {
                    let mut errs = Vec::new();
                    self.check(branch, value, path, &mut errs);
                    let ok = errs.is_empty();
                    branch_errors.extend(errs);
                    ok
                });
                if !matched {
                    errors.push(format!(
                        "{path}: matches no branch of {keyword} ({})",
                        branch_errors.join("; ")
                    ));
                }
            }
        }
        if let Some(expected) = schema.get("type").and_then(Value::as_str) {
            let ok = match expected {
                "object" => value.is_object(),
                "array" => value.is_array(),
                "string" => value.is_string(),
                "boolean" => value.is_boolean(),
                "integer" => value.is_i64() || value.is_u64(),
                "number" => value.is_number(),
                other => panic!("unknown type {other} in the spec"),
            };
            if !ok {
                errors.push(format!("{path}: expected {expected}, got {value}"));
                return;
            }
        }
        if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                errors.push(format!("{path}: {value} is not one of {allowed:?}"));
            }
        }
        if let (Some(max), Some(text)) = (
            schema.get("maxLength").and_then(Value::as_u64),
            value.as_str(),
        ) {
            if text.chars().count() as u64 > max {
                errors.push(format!("{path}: longer than {max} characters"));
            }
        }
        if let Some(items) = schema.get("items") {
            if let Some(array) = value.as_array() {
                for (i, item) in array.iter().enumerate() {
                    self.check(items, item, &format!("{path}[{i}]"), errors);
                }
            }
        }
        if let Some(object) = value.as_object() {
            let properties = schema.get("properties").and_then(Value::as_object);
            if let Some(required) = schema.get("required").and_then(Value::as_array) {
                for name in required.iter().filter_map(Value::as_str) {
                    if !object.contains_key(name) {
                        errors.push(format!("{path}: missing required property `{name}`"));
                    }
                }
            }
            for (key, item) in object {
                let item_path = format!("{path}.{key}");
                match properties.and_then(|p| p.get(key)) {
                    Some(property) => self.check(property, item, &item_path, errors),
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            errors.push(format!("{path}: unexpected property `{key}`"))
                        }
                        Some(extra) if extra.is_object() => {
                            self.check(extra, item, &item_path, errors)
                        }
                        _ => {}
                    },
                }
            }
        }
    }

    fn accepts_null(&self, schema: &Value) -> bool {
        let schema = self.resolve(schema);
        if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
            return true;
        }
        ["anyOf", "oneOf"].iter().any(|keyword| {
            schema
                .get(*keyword)
                .and_then(Value::as_array)
                .is_some_and(|branches| branches.iter().any(|b| self.accepts_null(b)))
        })
    }
}

/// The schema of an event's `data.object`, by event type.
pub fn object_schema_for(event_type: &str) -> &'static str {
    match event_type {
        t if t.starts_with("checkout.session.") => "checkout.session",
        "charge.refunded" => "charge",
        t if t.starts_with("charge.dispute.") => "dispute",
        t if t.starts_with("invoice.") => "invoice",
        "customer.created" | "customer.updated" => "customer",
        t if t.starts_with("customer.subscription.") => "subscription",
        t if t.starts_with("billing_portal.session.") => "billing_portal.session",
        other => panic!("no schema mapping for event type {other}"),
    }
}

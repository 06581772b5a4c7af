//! The forms people fill in, checked as a whole: every field's problem at once, keyed by the
//! field's name. The API and the web UI use these same functions, so a form shows the message
//! the server would send.

use crate::dto::{CredentialsRequest, ProductStatus, UpdateProductRequest};
use crate::money::{Currency, Price};
use crate::problem::FieldError;
use crate::validate::{Description, Email, Password, Title, ValidationError};

/// Collects the problems of several fields.
#[derive(Default)]
struct Problems(Vec<FieldError>);

impl Problems {
    fn check<T>(&mut self, field: &str, result: Result<T, ValidationError>) -> Option<T> {
        result
            .map_err(|e| self.0.push(FieldError::new(field, e.message)))
            .ok()
    }

    fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Vec<FieldError>> {
        if self.0.is_empty() {
            if let Some(value) = value() {
                return Ok(value);
            }
        }
        Err(self.0)
    }
}

/// A currency as typed (an empty one is the default).
pub fn parse_currency(raw: Option<&str>) -> Result<Currency, ValidationError> {
    match raw.map(str::trim).filter(|c| !c.is_empty()) {
        None => Ok(Currency::default()),
        Some(code) => code.parse(),
    }
}

impl CredentialsRequest {
    /// Registration input: a valid email and a password of the allowed length.
    pub fn parse(&self) -> Result<(Email, Password), Vec<FieldError>> {
        let mut problems = Problems::default();
        let email = problems.check("email", Email::parse(&self.email));
        let password = problems.check("password", Password::parse(&self.password));
        problems.finish(|| Some((email?, password?)))
    }
}

/// What a new product's form holds, checked. Whether the title makes a slug is the server's
/// to say: its transliteration tables are too large to ship to browsers.
#[derive(Debug, Clone)]
pub struct ProductFields {
    pub title: Title,
    pub description: Description,
    pub price: Price,
    pub status: ProductStatus,
}

impl ProductFields {
    /// `price` is a decimal string ("0" is free); `currency` and `status` may be left out.
    pub fn parse(
        title: &str,
        description: &str,
        price: Option<&str>,
        currency: Option<&str>,
        status: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::default();
        let title = problems.check("title", Title::parse(title));
        let description = problems.check("description", Description::parse(description));
        let currency = problems.check("currency", parse_currency(currency));
        let price = match (price, currency) {
            (None, _) => problems.check(
                "price",
                Err::<Price, _>(ValidationError::new("price is required (0 for free)")),
            ),
            (Some(p), Some(c)) => problems.check("price", Price::parse(p, c)),
            (Some(_), None) => None,
        };
        let status = match status.map(str::trim).filter(|s| !s.is_empty()) {
            None | Some("published") => Some(ProductStatus::Published),
            Some("draft") => Some(ProductStatus::Draft),
            Some(_) => problems.check(
                "status",
                Err::<ProductStatus, _>(ValidationError::new("status must be draft or published")),
            ),
        };
        problems.finish(|| {
            Some(Self {
                title: title?,
                description: description?,
                price: price?,
                status: status?,
            })
        })
    }
}

/// An edit, checked against the product as it is: the fields to change, and the price (with
/// its currency) the product will have.
#[derive(Debug, Clone)]
pub struct ProductEdit {
    pub title: Option<Title>,
    pub description: Option<Description>,
    pub price: Price,
    pub status: Option<ProductStatus>,
}

impl UpdateProductRequest {
    /// `current` is the product's price now: a new currency applies to it when no new price
    /// is given (and must then still be a valid price in that currency).
    pub fn parse(
        &self,
        current_cents: i64,
        current: Currency,
    ) -> Result<ProductEdit, Vec<FieldError>> {
        let mut problems = Problems::default();
        let title = self
            .title
            .as_deref()
            .map(|t| problems.check("title", Title::parse(t)));
        let description = self
            .description
            .as_deref()
            .map(|d| problems.check("description", Description::parse(d)));
        let currency = self.currency.unwrap_or(current);
        let price = match &self.price {
            Some(p) => problems.check("price", Price::parse(p, currency)),
            None => problems.check("price", Price::from_cents(current_cents, currency)),
        };
        problems.finish(|| {
            Some(ProductEdit {
                title: title.map(|t| t.ok_or(())).transpose().ok()?,
                description: description.map(|d| d.ok_or(())).transpose().ok()?,
                price: price?,
                status: self.status,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_reported_at_once() {
        let errors =
            ProductFields::parse("ab", &"x".repeat(20_001), Some("0.01"), None, Some("gone"))
                .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["title", "description", "price", "status"]);
        let errors = ProductFields::parse("A title", "", None, Some("xyz"), None).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["currency", "price"]);
    }

    #[test]
    fn a_good_form_parses_with_its_defaults() {
        let ok = ProductFields::parse(" A title ", "", Some("4.99"), Some("EUR"), None).unwrap();
        assert_eq!(ok.title.as_ref(), "A title");
        assert_eq!(ok.price.cents(), 499);
        assert_eq!(ok.price.currency(), Currency::Eur);
        assert_eq!(ok.status, ProductStatus::Published);
    }

    #[test]
    fn an_edit_keeps_what_it_does_not_name() {
        let edit = UpdateProductRequest {
            currency: Some(Currency::Gbp),
            ..Default::default()
        }
        .parse(1999, Currency::Usd)
        .unwrap();
        assert!(edit.title.is_none() && edit.status.is_none());
        assert_eq!(
            (edit.price.cents(), edit.price.currency()),
            (1999, Currency::Gbp)
        );
        let errors = UpdateProductRequest {
            title: Some("x".into()),
            price: Some("1.234".into()),
            ..Default::default()
        }
        .parse(1999, Currency::Usd)
        .unwrap_err();
        assert_eq!(errors.len(), 2);
    }

    #[test]
    fn credentials_report_both_fields() {
        let req = CredentialsRequest {
            email: "nope".into(),
            password: "short".into(),
        };
        assert_eq!(req.parse().unwrap_err().len(), 2);
    }
}

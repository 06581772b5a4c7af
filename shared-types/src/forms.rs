//! The forms people fill in, checked as a whole: every field's problem at once, keyed by the
//! field's name. The API and the web UI use these same functions, so a form shows the message
//! the server would send.

use crate::dto::{CredentialsRequest, DiscountRequest, ProductStatus, UpdateProductRequest};
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

/// How a product sells, beside its price: pay what you want (the price is then the minimum)
/// and the suggested amount.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selling {
    pub pay_what_you_want: bool,
    pub suggested_cents: Option<i64>,
}

impl Selling {
    /// `pay_what_you_want` is a form's checkbox ("true", "on", "1" or empty); `suggested` a
    /// decimal string in the price's currency, at least the price, only for pay what you want.
    pub fn parse(
        pay_what_you_want: Option<&str>,
        suggested: Option<&str>,
        price: Option<Price>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::default();
        let pwyw = problems.check("pay_what_you_want", parse_flag(pay_what_you_want));
        let suggested = suggested.map(str::trim).filter(|s| !s.is_empty());
        let selling = match (pwyw, price) {
            (Some(pwyw), Some(price)) => problems
                .check("suggested_price", Self::check(pwyw, suggested, price))
                .map(|suggested_cents| Self {
                    pay_what_you_want: pwyw,
                    suggested_cents,
                }),
            _ => None,
        };
        problems.finish(|| selling)
    }

    /// The suggested amount, checked against the pricing and the price (the minimum).
    pub fn check(
        pay_what_you_want: bool,
        suggested: Option<&str>,
        price: Price,
    ) -> Result<Option<i64>, ValidationError> {
        let Some(text) = suggested else {
            return Ok(None);
        };
        if !pay_what_you_want {
            return Err(ValidationError::new(
                "a suggested price is only for pay what you want",
            ));
        }
        let suggested = Price::parse(text, price.currency())?;
        if suggested.cents() < price.cents() {
            return Err(ValidationError::new(format!(
                "the suggested price must be at least the minimum, {}",
                price.currency().format(price.cents())
            )));
        }
        Ok(Some(suggested.cents()))
    }
}

/// Most downloads a product may allow per buyer per file.
pub const MAX_DOWNLOAD_LIMIT: i32 = 10_000;
/// Longest access window, in days (a hundred years).
pub const MAX_ACCESS_DAYS: i32 = 36_500;

/// How a product's files reach buyers: a download limit, an access window, stamping.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delivery {
    pub download_limit: Option<i32>,
    pub access_days: Option<i32>,
    pub stamp_pdfs: bool,
}

fn check_limit(value: i32) -> Result<i32, ValidationError> {
    if (1..=MAX_DOWNLOAD_LIMIT).contains(&value) {
        Ok(value)
    } else {
        Err(ValidationError::new(
            "the download limit must be 1 to 10,000 (leave it empty for no limit)",
        ))
    }
}

fn check_days(value: i32) -> Result<i32, ValidationError> {
    if (1..=MAX_ACCESS_DAYS).contains(&value) {
        Ok(value)
    } else {
        Err(ValidationError::new(
            "the access window must be 1 to 36,500 days (leave it empty for access for ever)",
        ))
    }
}

/// A whole number typed in a form; empty is `None`.
fn parse_count(
    raw: Option<&str>,
    check: fn(i32) -> Result<i32, ValidationError>,
) -> Result<Option<i32>, ValidationError> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => text
            .parse::<i32>()
            .map_err(|_| ValidationError::new("must be a whole number"))
            .and_then(|n| check(n).map(Some)),
    }
}

/// A checkbox-like field: `true`/`on`/`1` or `false`/`off`/`0`; empty is false.
fn parse_flag(raw: Option<&str>) -> Result<bool, ValidationError> {
    match raw.map(str::trim).unwrap_or("") {
        "" | "false" | "off" | "0" => Ok(false),
        "true" | "on" | "1" => Ok(true),
        _ => Err(ValidationError::new("must be true or false")),
    }
}

impl Delivery {
    /// The create form's `download_limit`, `access_days` and `stamp_pdfs` fields.
    pub fn parse(
        download_limit: Option<&str>,
        access_days: Option<&str>,
        stamp_pdfs: Option<&str>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut problems = Problems::default();
        let limit = problems.check("download_limit", parse_count(download_limit, check_limit));
        let days = problems.check("access_days", parse_count(access_days, check_days));
        let stamp = problems.check("stamp_pdfs", parse_flag(stamp_pdfs));
        problems.finish(|| {
            Some(Self {
                download_limit: limit?,
                access_days: days?,
                stamp_pdfs: stamp?,
            })
        })
    }

    /// A form field for a limit as a person types it: empty means none.
    pub fn parse_limit(raw: &str) -> Result<Option<i32>, ValidationError> {
        parse_count(Some(raw), check_limit)
    }

    /// A form field for the access window as a person types it: empty means for ever.
    pub fn parse_days(raw: &str) -> Result<Option<i32>, ValidationError> {
        parse_count(Some(raw), check_days)
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
    pub download_limit: Option<Option<i32>>,
    pub access_days: Option<Option<i32>>,
    pub stamp_pdfs: Option<bool>,
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
        let download_limit = self
            .download_limit
            .map(|limit| problems.check("download_limit", limit.map(check_limit).transpose()));
        let access_days = self
            .access_days
            .map(|days| problems.check("access_days", days.map(check_days).transpose()));
        problems.finish(|| {
            Some(ProductEdit {
                title: title.map(|t| t.ok_or(())).transpose().ok()?,
                description: description.map(|d| d.ok_or(())).transpose().ok()?,
                price: price?,
                status: self.status,
                download_limit: download_limit.map(|l| l.ok_or(())).transpose().ok()?,
                access_days: access_days.map(|d| d.ok_or(())).transpose().ok()?,
                stamp_pdfs: self.stamp_pdfs,
            })
        })
    }
}

/// The longest discount code.
pub const MAX_CODE_LEN: usize = 32;
/// Products one discount code may be limited to.
pub const MAX_DISCOUNT_PRODUCTS: usize = 500;
/// Highest redemption cap (in all or per customer).
pub const MAX_REDEMPTION_CAP: i32 = 1_000_000;

/// Why a bundle's price cannot be 0.
pub const FREE_BUNDLE: &str = "a bundle has a price (or pay what you want): it cannot be free";

/// What a discount whose end is not after its start is told.
pub const ENDS_BEFORE_START: &str = "the end must come after the start";

/// A discount code as stored and looked up: trimmed, upper case (so codes are
/// case-insensitive); None when it could not be one.
pub fn discount_code(code: &str) -> Option<String> {
    let code = code.trim();
    let ok = (3..=MAX_CODE_LEN).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| code.to_ascii_uppercase())
}

/// A discount's terms, checked: the server stores them, the admin's form shows the same
/// messages before sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscountTerms {
    pub code: String,
    pub percent_off: Option<i32>,
    /// With its currency.
    pub amount_off: Option<(i64, Currency)>,
}

impl DiscountRequest {
    /// Every rule of a discount that needs nothing but the request (that its products exist is
    /// the server's to say), all problems at once.
    pub fn check(&self) -> Result<DiscountTerms, Vec<FieldError>> {
        let mut problems = Problems::default();
        let code = problems.check(
            "code",
            // Exactly as typed by the admin (buyers' codes are trimmed when looked up).
            discount_code(&self.code)
                .filter(|_| self.code.trim() == self.code)
                .ok_or_else(|| {
                    ValidationError::new(format!(
                        "a code is 3 to {MAX_CODE_LEN} letters, digits, `-` or `_`"
                    ))
                }),
        );
        let currency = self.currency.unwrap_or_default();
        let off = match (self.percent_off, &self.amount_off) {
            (Some(p), None) => problems
                .check(
                    "percent_off",
                    (1..=100)
                        .contains(&p)
                        .then_some(p)
                        .ok_or_else(|| ValidationError::new("percent off is 1 to 100")),
                )
                .map(|p| (Some(p), None)),
            (None, Some(a)) => problems
                .check(
                    "amount_off",
                    Price::parse(a, currency)
                        .map_err(|e| {
                            ValidationError::new(e.message.replace("price", "the amount off"))
                        })
                        .and_then(|p| {
                            (!p.is_free())
                                .then_some(p.cents())
                                .ok_or_else(|| ValidationError::new("an amount off is more than 0"))
                        }),
                )
                .map(|cents| (None, Some((cents, currency)))),
            _ => problems.check(
                "percent_off",
                Err(ValidationError::new(
                    "give either percent_off or amount_off (not both)",
                )),
            ),
        };
        // On wasm a timestamp is the server's text: the form compares the instants it made.
        #[cfg(not(target_arch = "wasm32"))]
        if let (Some(s), Some(e)) = (self.starts_at, self.ends_at) {
            if e <= s {
                problems.check::<()>("ends_at", Err(ValidationError::new(ENDS_BEFORE_START)));
            }
        }
        for (field, cap) in [
            ("max_redemptions", self.max_redemptions),
            ("max_per_customer", self.max_per_customer),
        ] {
            if cap.is_some_and(|c| !(1..=MAX_REDEMPTION_CAP).contains(&c)) {
                problems.check::<()>(
                    field,
                    Err(ValidationError::new(
                        "a cap is a whole number from 1 to 1,000,000 (empty: no cap)",
                    )),
                );
            }
        }
        if let Some(ids) = &self.product_ids {
            if ids.is_empty() {
                problems.check::<()>(
                    "product_ids",
                    Err(ValidationError::new(
                        "name at least one product, or let it apply to every product",
                    )),
                );
            } else if ids.len() > MAX_DISCOUNT_PRODUCTS {
                problems.check::<()>(
                    "product_ids",
                    Err(ValidationError::new(format!(
                        "at most {MAX_DISCOUNT_PRODUCTS} products"
                    ))),
                );
            }
        }
        problems.finish(|| {
            let (percent_off, amount_off) = off?;
            Some(DiscountTerms {
                code: code?,
                percent_off,
                amount_off,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discount_codes_are_case_insensitive_and_plain() {
        assert_eq!(discount_code(" spring-25 ").as_deref(), Some("SPRING-25"));
        assert_eq!(discount_code("ab"), None);
        assert_eq!(discount_code("no spaces"), None);
    }

    #[test]
    fn a_discount_reports_every_problem_at_once() {
        let req = DiscountRequest {
            code: "x".into(),
            percent_off: Some(101),
            max_per_customer: Some(0),
            product_ids: Some(Vec::new()),
            ..Default::default()
        };
        let fields: Vec<String> = req
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(
            fields,
            ["code", "percent_off", "max_per_customer", "product_ids"]
        );
        let ok = DiscountRequest {
            code: "half".into(),
            amount_off: Some("4.50".into()),
            currency: Some(Currency::Eur),
            ..Default::default()
        };
        assert_eq!(
            ok.check().unwrap(),
            DiscountTerms {
                code: "HALF".into(),
                percent_off: None,
                amount_off: Some((450, Currency::Eur)),
            }
        );
    }

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
    fn delivery_settings_are_checked_and_empty_means_none() {
        let d = Delivery::parse(Some("3"), Some(" 30 "), Some("true")).unwrap();
        assert_eq!(
            d,
            Delivery {
                download_limit: Some(3),
                access_days: Some(30),
                stamp_pdfs: true
            }
        );
        assert_eq!(
            Delivery::parse(None, Some(""), None).unwrap(),
            Delivery::default()
        );
        let errors = Delivery::parse(Some("0"), Some("x"), Some("maybe")).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["download_limit", "access_days", "stamp_pdfs"]);
        let edit = UpdateProductRequest {
            download_limit: Some(None),
            access_days: Some(Some(36_501)),
            ..Default::default()
        }
        .parse(0, Currency::Usd)
        .unwrap_err();
        assert_eq!(edit[0].field, "access_days");
        let json: UpdateProductRequest =
            serde_json::from_str(r#"{"download_limit": null}"#).unwrap();
        assert_eq!(json.download_limit, Some(None), "null clears");
        assert_eq!(json.access_days, None, "left out keeps");
        let json: UpdateProductRequest =
            serde_json::from_str(r#"{"download_limit": 3.0, "access_days": 30}"#).unwrap();
        assert_eq!(
            (json.download_limit, json.access_days),
            (Some(Some(3)), Some(Some(30)))
        );
        assert!(
            serde_json::from_str::<UpdateProductRequest>(r#"{"download_limit": 2.5}"#).is_err()
        );
        assert_eq!(serde_json::to_string(&UpdateProductRequest::default()).unwrap(), "{\"title\":null,\"description\":null,\"price\":null,\"currency\":null,\"status\":null}");
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

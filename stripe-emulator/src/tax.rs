//! Stripe Tax as far as Folio uses it: one rate per customer country, applied to every line item
//! as exclusive or inclusive tax once the customer's country is known (at payment), and the
//! billing details the hosted page collects to know it.
//!
//! Real Stripe Tax knows every jurisdiction, product tax codes and reverse charge; the emulator
//! only needs the arithmetic to be Stripe's, so that amounts, refunds and invoices seen in tests
//! are the ones production will see. The rates are a table that tests can change.

use std::collections::{BTreeMap, HashMap};

use crate::error::EmulatorError;
use crate::objects::{new_id, LineItem};

/// The customer's country when the page or [`crate::Emulator::pay`] gives none.
pub const DEFAULT_COUNTRY: &str = "DE";

/// Standard VAT rates in basis points (1900 = 19 %), as of 2025; the US has no federal sales tax.
const DEFAULT_RATES: [(&str, u32); 10] = [
    ("AT", 2000),
    ("BE", 2100),
    ("DE", 1900),
    ("ES", 2100),
    ("FR", 2000),
    ("GB", 2000),
    ("IE", 2300),
    ("IT", 2200),
    ("NL", 2100),
    ("US", 0),
];

/// The rate table a new emulator starts with (basis points per ISO 3166-1 alpha-2 country).
pub fn default_tax_rates() -> HashMap<String, u32> {
    DEFAULT_RATES
        .iter()
        .map(|(country, rate)| (country.to_string(), *rate))
        .collect()
}

/// The tax configuration, kept in the store so that a payment reads it atomically.
#[derive(Debug, Clone)]
pub(crate) struct TaxSettings {
    /// Sorted, so that the page lists countries in a stable order.
    pub rates: BTreeMap<String, u32>,
    pub default_country: String,
}

impl Default for TaxSettings {
    fn default() -> Self {
        Self {
            rates: default_tax_rates().into_iter().collect(),
            default_country: DEFAULT_COUNTRY.to_string(),
        }
    }
}

impl TaxSettings {
    /// A country without a configured rate is one the seller does not collect tax in: 0.
    pub fn rate(&self, country: &str) -> u32 {
        self.rates.get(country).copied().unwrap_or(0)
    }

    /// Replaces the table; codes are upper-cased, rates must be at most 10000 (100 %).
    pub fn set_rates(&mut self, rates: HashMap<String, u32>) -> Result<(), EmulatorError> {
        let mut table = BTreeMap::new();
        for (country, rate) in rates {
            let code = country_code(&country, &country)?;
            if rate > 10_000 {
                return Err(EmulatorError::state_with(
                    format!("The tax rate of {code} must be at most 10000 basis points (100 %), not {rate}."),
                    "parameter_invalid_integer",
                    Some(&code),
                ));
            }
            table.insert(code, rate);
        }
        self.rates = table;
        Ok(())
    }

    /// The countries the page offers: the configured ones and the default one.
    pub fn countries(&self) -> Vec<String> {
        let mut countries: Vec<String> = self.rates.keys().cloned().collect();
        if !countries.contains(&self.default_country) {
            countries.push(self.default_country.clone());
            countries.sort();
        }
        countries
    }
}

/// An ISO 3166-1 alpha-2 code, trimmed and upper-cased; anything else is refused with `param`.
pub(crate) fn country_code(raw: &str, param: &str) -> Result<String, EmulatorError> {
    let code = raw.trim().to_ascii_uppercase();
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(code)
    } else {
        Err(EmulatorError::state_with(
            format!("'{raw}' is not a two-letter country code (ISO 3166-1 alpha-2)."),
            "customer_tax_location_invalid",
            Some(param),
        ))
    }
}

/// English names for the page's country list; other codes are shown as they are.
pub(crate) fn country_name(code: &str) -> &str {
    match code {
        "AT" => "Austria",
        "BE" => "Belgium",
        "CH" => "Switzerland",
        "DE" => "Germany",
        "DK" => "Denmark",
        "ES" => "Spain",
        "FI" => "Finland",
        "FR" => "France",
        "GB" => "United Kingdom",
        "IE" => "Ireland",
        "IT" => "Italy",
        "LU" => "Luxembourg",
        "NL" => "Netherlands",
        "NO" => "Norway",
        "PL" => "Poland",
        "PT" => "Portugal",
        "SE" => "Sweden",
        "US" => "United States",
        other => other,
    }
}

/// `1900` as `19%`, `2050` as `20.5%`.
pub(crate) fn format_rate(rate: u32) -> String {
    let (whole, fraction) = (rate / 100, rate % 100);
    match fraction {
        0 => format!("{whole}%"),
        f if f % 10 == 0 => format!("{whole}.{}%", f / 10),
        f => format!("{whole}.{f:02}%"),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TaxBehavior {
    /// Tax is added on top of the price.
    Exclusive,
    /// The price already contains the tax.
    Inclusive,
}

impl TaxBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            TaxBehavior::Exclusive => "exclusive",
            TaxBehavior::Inclusive => "inclusive",
        }
    }
}

/// `n / d` rounded half up, for `n >= 0` and `d > 0` (amounts are never negative here).
fn div_round_half_up(n: i64, d: i64) -> i64 {
    (2 * n + d) / (2 * d)
}

/// The tax in `amount` (minor units) at `rate` basis points: on top of it when exclusive, the
/// part of it that is tax when inclusive. Rounded half up to a whole minor unit, as Stripe does.
pub(crate) fn tax_of(amount: i64, rate: u32, behavior: TaxBehavior) -> i64 {
    let rate = i64::from(rate);
    match behavior {
        TaxBehavior::Exclusive => div_round_half_up(amount * rate, 10_000),
        TaxBehavior::Inclusive => div_round_half_up(amount * rate, 10_000 + rate),
    }
}

/// The tax of one line item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LineTax {
    /// The line's amount (price × quantity; tax included when inclusive).
    pub amount: i64,
    pub tax: i64,
    pub behavior: TaxBehavior,
}

impl LineTax {
    /// What the customer pays for the line.
    pub fn total(&self) -> i64 {
        match self.behavior {
            TaxBehavior::Exclusive => self.amount + self.tax,
            TaxBehavior::Inclusive => self.amount,
        }
    }

    pub fn excluding_tax(&self) -> i64 {
        self.total() - self.tax
    }
}

/// The tax of a whole session for one country. Tax is computed per line item and summed, like
/// Stripe; for Folio's one-line sessions that is the rounding of the subtotal itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Quote {
    pub country: String,
    pub rate: u32,
    pub lines: Vec<LineTax>,
    /// The id invoices give the rate (`txr_...`); Stripe Tax makes one per calculation too.
    pub tax_rate_id: String,
}

impl Quote {
    pub fn new(items: &[LineItem], country: &str, rate: u32) -> Self {
        Self {
            country: country.to_string(),
            rate,
            lines: items
                .iter()
                .map(|item| {
                    let behavior = item.tax_behavior();
                    LineTax {
                        amount: item.amount(),
                        tax: tax_of(item.amount(), rate, behavior),
                        behavior,
                    }
                })
                .collect(),
            tax_rate_id: new_id("txr_"),
        }
    }

    pub fn subtotal(&self) -> i64 {
        self.lines.iter().map(|l| l.amount).sum()
    }

    pub fn tax(&self) -> i64 {
        self.lines.iter().map(|l| l.tax).sum()
    }

    pub fn total(&self) -> i64 {
        self.lines.iter().map(LineTax::total).sum()
    }

    /// The tax of the lines with one behavior, and the amount it was computed on (excluding
    /// tax), or `None` when no line has it: invoices list one tax amount per behavior.
    pub fn by_behavior(&self, behavior: TaxBehavior) -> Option<(i64, i64)> {
        let lines: Vec<&LineTax> = self
            .lines
            .iter()
            .filter(|l| l.behavior == behavior)
            .collect();
        (!lines.is_empty()).then(|| {
            (
                lines.iter().map(|l| l.tax).sum(),
                lines.iter().map(|l| l.excluding_tax()).sum(),
            )
        })
    }
}

/// What the customer enters on the hosted page, for [`crate::Emulator::pay_with`]. Fields left
/// `None` (or empty) stay unset, except the country, which defaults to
/// [`crate::Emulator::default_country`]. The page collects these only when the session asks for
/// them (`automatic_tax`, `billing_address_collection`, `tax_id_collection`); on other sessions
/// they are ignored, and the business name and tax ID are ignored unless `tax_id_collection` is
/// enabled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerDetails {
    /// ISO 3166-1 alpha-2, e.g. `"FR"`; it decides the tax rate.
    pub country: Option<String>,
    pub name: Option<String>,
    /// Street and number.
    pub line1: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    /// Buying as a business: its name becomes `customer_details.name`.
    pub business_name: Option<String>,
    /// An EU VAT number (Stripe type `eu_vat`), e.g. `"DE123456789"`: an EU prefix (`EL` for
    /// Greece, `XI` for Northern Ireland), then 2 to 12 letters or digits with at least two
    /// digits; spaces are dropped and letters upper-cased.
    pub tax_id: Option<String>,
}

impl CustomerDetails {
    /// Details with only a country.
    pub fn in_country(country: &str) -> Self {
        Self {
            country: Some(country.to_string()),
            ..Self::default()
        }
    }

    /// Checks and tidies the details as the session collects them.
    pub(crate) fn billing(
        &self,
        default_country: &str,
        tax_ids: bool,
    ) -> Result<Billing, EmulatorError> {
        let country = match text(&self.country, "country")? {
            Some(raw) => country_code(&raw, "country")?,
            None => default_country.to_string(),
        };
        let tax_id = match text(&self.tax_id, "tax_id")?.filter(|_| tax_ids) {
            Some(raw) => Some(eu_vat(&raw)?),
            None => None,
        };
        Ok(Billing {
            country,
            name: text(&self.name, "name")?,
            line1: text(&self.line1, "line1")?,
            postal_code: text(&self.postal_code, "postal_code")?,
            city: text(&self.city, "city")?,
            business_name: text(&self.business_name, "business_name")?.filter(|_| tax_ids),
            tax_id,
        })
    }
}

/// A trimmed field, `None` when empty; over 5000 characters (Stripe's limit) is refused.
fn text(value: &Option<String>, param: &str) -> Result<Option<String>, EmulatorError> {
    let Some(value) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > 5000 {
        return Err(EmulatorError::InvalidState {
            message: format!("{param} can be at most 5000 characters long."),
            code: None,
            param: Some(param.to_string()),
        });
    }
    Ok(Some(value.to_string()))
}

/// The prefixes of EU VAT numbers: the member states' codes, but `EL` for Greece, and `XI` for
/// Northern Ireland.
const EU_VAT_PREFIXES: [&str; 28] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "EL", "ES", "FI", "FR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK", "XI",
];

/// An `eu_vat` value, checked about as far as Stripe checks its format (not the per-country
/// patterns): an EU prefix, then 2 to 12 letters or digits, at least two of them digits.
fn eu_vat(raw: &str) -> Result<String, EmulatorError> {
    let value: String = raw
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase();
    let (prefix, rest) = value.split_at(if value.is_char_boundary(2) { 2 } else { 0 });
    let ok = EU_VAT_PREFIXES.contains(&prefix)
        && (2..=12).contains(&rest.len())
        && rest.bytes().all(|b| b.is_ascii_alphanumeric())
        && rest.bytes().filter(u8::is_ascii_digit).count() >= 2;
    if ok {
        Ok(value)
    } else {
        Err(EmulatorError::state_with(
            format!("Invalid value for eu_vat: '{raw}' (expected e.g. DE123456789)."),
            "tax_id_invalid",
            Some("tax_id"),
        ))
    }
}

/// The billing details recorded on a paid session: checked, with a country always.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Billing {
    pub country: String,
    pub name: Option<String>,
    pub line1: Option<String>,
    pub postal_code: Option<String>,
    pub city: Option<String>,
    pub business_name: Option<String>,
    pub tax_id: Option<String>,
}

impl Billing {
    /// Stripe's `address` object.
    pub fn address_json(&self) -> serde_json::Value {
        serde_json::json!({
            "city": self.city,
            "country": self.country,
            "line1": self.line1,
            "line2": null,
            "postal_code": self.postal_code,
            "state": null
        })
    }

    /// The name Stripe reports for the customer: the business's, when buying as one.
    pub fn display_name(&self) -> Option<&String> {
        self.business_name.as_ref().or(self.name.as_ref())
    }

    /// `tax_ids` / `customer_tax_ids`.
    pub fn tax_ids_json(&self) -> serde_json::Value {
        match &self.tax_id {
            Some(value) => serde_json::json!([{"type": "eu_vat", "value": value}]),
            None => serde_json::json!([]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounding_is_half_up() {
        // 1999 × 19 % = 379.81 → 380; 1999 × 19/119 = 319.17… → 319.
        assert_eq!(tax_of(1999, 1900, TaxBehavior::Exclusive), 380);
        assert_eq!(tax_of(1999, 1900, TaxBehavior::Inclusive), 319);
        // Exactly half: 50 × 21 % = 10.5 → 11; 101 × 100/200 = 50.5 → 51.
        assert_eq!(tax_of(50, 2100, TaxBehavior::Exclusive), 11);
        assert_eq!(tax_of(101, 10_000, TaxBehavior::Inclusive), 51);
        assert_eq!(tax_of(1050, 500, TaxBehavior::Inclusive), 50);
        // 2050 × 20/120 = 341.66… → 342; 150 × 1/101 = 1.485… → 1.
        assert_eq!(tax_of(2050, 2000, TaxBehavior::Inclusive), 342);
        assert_eq!(tax_of(150, 100, TaxBehavior::Inclusive), 1);
        assert_eq!(tax_of(1999, 0, TaxBehavior::Exclusive), 0);
        assert_eq!(
            tax_of(99_999_999, 10_000, TaxBehavior::Exclusive),
            99_999_999
        );
    }

    #[test]
    fn rates_and_countries() {
        assert_eq!(format_rate(1900), "19%");
        assert_eq!(format_rate(2050), "20.5%");
        assert_eq!(format_rate(725), "7.25%");
        let mut settings = TaxSettings::default();
        assert_eq!(settings.rate("DE"), 1900);
        assert_eq!(settings.rate("ZZ"), 0);
        settings
            .set_rates(HashMap::from([("fr".to_string(), 2000)]))
            .unwrap();
        assert_eq!(settings.countries(), ["DE", "FR"]);
        assert!(settings
            .set_rates(HashMap::from([("FRA".to_string(), 2000)]))
            .is_err());
        assert!(settings
            .set_rates(HashMap::from([("FR".to_string(), 10_001)]))
            .is_err());
    }

    #[test]
    fn details_are_checked() {
        let details = CustomerDetails {
            country: Some(" fr ".into()),
            name: Some("  ".into()),
            tax_id: Some("fr 12 345678901".into()),
            business_name: Some("Ada SARL".into()),
            ..CustomerDetails::default()
        };
        let billing = details.billing("DE", true).unwrap();
        assert_eq!(billing.country, "FR");
        assert_eq!(billing.name, None);
        assert_eq!(billing.tax_id.as_deref(), Some("FR12345678901"));
        assert_eq!(billing.display_name().map(String::as_str), Some("Ada SARL"));
        let without = details.billing("DE", false).unwrap();
        assert_eq!((without.tax_id, without.business_name), (None, None));
        assert_eq!(
            CustomerDetails::default()
                .billing("NL", false)
                .unwrap()
                .country,
            "NL"
        );
        for ok in [
            "NL123456789B01",
            "el 123456789",
            "ATU12345678",
            "ESX1234567X",
        ] {
            let details = CustomerDetails {
                tax_id: Some(ok.into()),
                ..CustomerDetails::default()
            };
            assert!(details.billing("DE", true).is_ok(), "{ok}");
        }
        for bad in [
            "12345",
            "D",
            "DE1",
            "DE1234567890123",
            "DE12-34",
            "NOTAVAT",
            "US123456789",
            "DEABCDEFGH",
            "ÄÖ123456",
        ] {
            let err = CustomerDetails {
                tax_id: Some(bad.into()),
                ..CustomerDetails::default()
            }
            .billing("DE", true)
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    EmulatorError::InvalidState {
                        code: Some("tax_id_invalid"),
                        ..
                    }
                ),
                "{bad}"
            );
        }
        assert!(CustomerDetails::in_country("Germany")
            .billing("DE", false)
            .is_err());
    }
}

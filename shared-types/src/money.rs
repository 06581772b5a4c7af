//! Money as integer minor units. A price is parsed from its decimal text digit by digit, so
//! "19.99" is 1999 cents exactly (the original computed `int(19.99 * 100)` = 1998).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::validate::ValidationError;

/// Lowest non-zero price, in minor units. Stripe refuses charges below 0.50 of the major unit;
/// accepting them would only fail later, at checkout.
pub const MIN_PAID_CENTS: i64 = 50;
/// Highest price, in minor units (999,999.99).
pub const MAX_CENTS: i64 = 99_999_999;

/// A currency Folio sells in (ISO 4217, lowercase on the wire as Stripe uses it). All of them
/// have two decimal places, which the price parser relies on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "diesel",
    derive(diesel::AsExpression, diesel::FromSqlRow),
    diesel(sql_type = diesel::sql_types::Text)
)]
#[serde(rename_all = "lowercase")]
pub enum Currency {
    #[default]
    Usd,
    Eur,
    Gbp,
    Cad,
    Aud,
}

impl Currency {
    pub const ALL: [Currency; 5] = [
        Currency::Usd,
        Currency::Eur,
        Currency::Gbp,
        Currency::Cad,
        Currency::Aud,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Currency::Usd => "usd",
            Currency::Eur => "eur",
            Currency::Gbp => "gbp",
            Currency::Cad => "cad",
            Currency::Aud => "aud",
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Currency::Usd => "$",
            Currency::Eur => "€",
            Currency::Gbp => "£",
            Currency::Cad => "CA$",
            Currency::Aud => "A$",
        }
    }

    /// Formats an amount of minor units for people: `$1,999.00`, `-€0.50`.
    pub fn format(self, cents: i64) -> String {
        let sign = if cents < 0 { "-" } else { "" };
        let abs = cents.unsigned_abs();
        let major = (abs / 100).to_string();
        let mut grouped = String::with_capacity(major.len() + major.len() / 3);
        for (i, ch) in major.chars().enumerate() {
            if i > 0 && (major.len() - i).is_multiple_of(3) {
                grouped.push(',');
            }
            grouped.push(ch);
        }
        format!("{sign}{}{grouped}.{:02}", self.symbol(), abs % 100)
    }
}

impl FromStr for Currency {
    type Err = ValidationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        Currency::ALL
            .into_iter()
            .find(|c| c.code() == lower)
            .ok_or_else(|| {
                ValidationError::new(format!(
                    "currency must be one of {}",
                    Currency::ALL.map(|c| c.code()).join(", ")
                ))
            })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A valid price: zero (free) or between 0.50 and 999,999.99, in a supported currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    cents: i64,
    currency: Currency,
}

impl Price {
    /// Every amount `parse` accepts, written plainly: 0, or 0.50 to 999999.99 with at most two
    /// decimals (`parse` also takes surrounding spaces and leading zeros).
    pub const PATTERN: &'static str =
        "^(0|0\\.0{1,2}|0\\.[5-9][0-9]?|[1-9][0-9]{0,5}(\\.[0-9]{1,2})?)$";

    /// Parses a decimal string such as `"19.99"`, `"5"`, `"0"` or `"0.5"` without floats.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, ValidationError> {
        let cents = parse_cents(amount)?;
        Self::from_cents(cents, currency)
    }

    /// Checks an amount that is already in minor units (as stored in the database).
    pub fn from_cents(cents: i64, currency: Currency) -> Result<Self, ValidationError> {
        if cents != 0 && cents < MIN_PAID_CENTS {
            return Err(ValidationError::new(format!(
                "price must be 0 (free) or at least {}",
                currency.format(MIN_PAID_CENTS)
            )));
        }
        if cents > MAX_CENTS {
            return Err(ValidationError::new(format!(
                "price must be at most {}",
                currency.format(MAX_CENTS)
            )));
        }
        Ok(Self { cents, currency })
    }

    pub fn cents(self) -> i64 {
        self.cents
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn is_free(self) -> bool {
        self.cents == 0
    }

    pub fn to_money(self) -> Money {
        Money::new(self.cents, self.currency)
    }
}

fn parse_cents(text: &str) -> Result<i64, ValidationError> {
    let invalid = || ValidationError::new("price must be a decimal number such as 4.99 or 0");
    let text = text.trim();
    let (whole, frac) = match text.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (text, None),
    };
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let frac_cents = match frac {
        None => 0,
        Some(f) if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) => return Err(invalid()),
        Some(f) if f.len() > 2 => {
            return Err(ValidationError::new(
                "price may have at most two decimal places",
            ))
        }
        Some(f) if f.len() == 1 => i64::from(f.as_bytes()[0] - b'0') * 10,
        Some(f) => i64::from(f.as_bytes()[0] - b'0') * 10 + i64::from(f.as_bytes()[1] - b'0'),
    };
    // More than nine whole digits is over the maximum anyway; refuse before overflowing.
    let whole = whole.trim_start_matches('0');
    if whole.len() > 9 {
        return Err(ValidationError::new("price must be at most 999,999.99"));
    }
    let whole: i64 = if whole.is_empty() {
        0
    } else {
        whole.parse().map_err(|_| invalid())?
    };
    Ok(whole * 100 + frac_cents)
}

/// A price on the wire: `{"amount_cents":1999,"currency":"usd","display":"$19.99"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Money {
    /// Amount in minor units (cents).
    pub amount_cents: i64,
    /// ISO 4217 currency code, lowercase.
    pub currency: Currency,
    /// The amount formatted for people, e.g. `$19.99`.
    pub display: String,
}

impl Money {
    pub fn new(amount_cents: i64, currency: Currency) -> Self {
        Self {
            amount_cents,
            currency,
            display: currency.format(amount_cents),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(text: &str) -> Result<i64, ValidationError> {
        Price::parse(text, Currency::Usd).map(Price::cents)
    }

    #[test]
    fn decimal_prices_parse_to_exact_cents() {
        // The original's float arithmetic charged 1998 cents for 19.99.
        assert_eq!(usd("19.99"), Ok(1999));
        assert_eq!(usd("0.57"), Ok(57));
        assert_eq!(usd("4.1"), Ok(410));
        assert_eq!(usd("5"), Ok(500));
        assert_eq!(usd(" 12.30 "), Ok(1230));
        assert_eq!(usd("999999.99"), Ok(99_999_999));
        assert_eq!(usd("0"), Ok(0));
        assert_eq!(usd("0.00"), Ok(0));
        assert_eq!(usd("007.50"), Ok(750));
    }

    #[test]
    fn every_cent_value_round_trips_through_text() {
        for cents in [50_i64, 99, 100, 1999, 2999, 123_456, 99_999_999] {
            let text = format!("{}.{:02}", cents / 100, cents % 100);
            assert_eq!(usd(&text), Ok(cents), "{text}");
        }
    }

    #[test]
    fn prices_below_the_stripe_minimum_are_refused() {
        assert!(usd("0.49").is_err());
        assert!(usd("0.01").is_err());
        assert_eq!(usd("0.50"), Ok(50));
    }

    #[test]
    fn malformed_prices_are_refused() {
        for bad in [
            "",
            "-1",
            "1e3",
            "1.999",
            "1.",
            ".5",
            "1,50",
            "abc",
            "1.2.3",
            "+5",
            "NaN",
            "inf",
            "1000000",
            "1000000000000000000000",
        ] {
            assert!(usd(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn money_is_formatted_with_symbol_and_grouping() {
        assert_eq!(Currency::Usd.format(1999), "$19.99");
        assert_eq!(Currency::Usd.format(123_456_789), "$1,234,567.89");
        assert_eq!(Currency::Eur.format(50), "€0.50");
        assert_eq!(Currency::Gbp.format(0), "£0.00");
        assert_eq!(Currency::Usd.format(100_000), "$1,000.00");
    }

    #[test]
    fn currencies_parse_case_insensitively_and_refuse_unknown_codes() {
        assert_eq!("EUR".parse::<Currency>(), Ok(Currency::Eur));
        assert_eq!("usd".parse::<Currency>(), Ok(Currency::Usd));
        assert!("xyz".parse::<Currency>().is_err());
    }
}

#[cfg(feature = "diesel")]
crate::db::text_column!(Currency, code, |s: String| s
    .parse::<Currency>()
    .map_err(|e| e.message));

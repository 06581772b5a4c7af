//! What a buyer pays: discount codes (this area owns `discounts` and `discount_products`), pay
//! what you want, and the rounding rule. The arithmetic here is pure and in integer minor units;
//! checkout ([`crate::payments`]) calls it inside the transaction that writes the order, so a
//! code's caps are counted and reserved in one step.

pub mod repo;
pub mod routes;

use chrono::NaiveDateTime;
use shared_types::money::MIN_PAID_CENTS;
use shared_types::{
    Currency, Discount, DiscountId, DiscountPreview, DiscountRequest, Money, ProductRef,
};

use crate::catalog::repo::ProductRow;
use crate::db::{now, DbConnection};
use crate::error::ApiError;
use crate::AppState;
use repo::DiscountRow;

/// Discount codes one client may try a minute (previews and checkouts with a code).
pub const CODES_PER_MINUTE: u32 = 60;

/// Why a code or an amount cannot be used. Each has its own stable `code` and a sentence for
/// the buyer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this discount code does not exist or is no longer offered: check its spelling")]
    InvalidCode,
    #[error("this discount code can be used from {0}")]
    NotStarted(String),
    #[error("this discount code expired on {0}")]
    Expired(String),
    #[error("this discount code has been used up")]
    Exhausted,
    #[error("you have already used this discount code as many times as it allows")]
    CustomerLimit,
    #[error("this discount code does not apply to this item{0}")]
    NotApplicable(&'static str),
    #[error("the least you can pay for this item is {0}")]
    BelowMinimum(String),
    #[error("the most you can pay for this item is {0}")]
    AboveMaximum(String),
    #[error("the amount must be a number such as 5 or 4.99 (at most two decimals)")]
    InvalidAmount,
    #[error("this item has a fixed price: leave the amount out")]
    AmountNotAllowed,
}

impl Refusal {
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::InvalidCode => "discount_invalid",
            Refusal::NotStarted(_) => "discount_not_started",
            Refusal::Expired(_) => "discount_expired",
            Refusal::Exhausted => "discount_exhausted",
            Refusal::CustomerLimit => "discount_limit_reached",
            Refusal::NotApplicable(_) => "discount_not_applicable",
            Refusal::BelowMinimum(_) => "amount_below_minimum",
            Refusal::AboveMaximum(_) => "amount_above_maximum",
            Refusal::InvalidAmount => "amount_invalid",
            Refusal::AmountNotAllowed => "amount_not_allowed",
        }
    }

    /// The request field it is about.
    pub fn field(&self) -> &'static str {
        match self {
            Refusal::BelowMinimum(_)
            | Refusal::AboveMaximum(_)
            | Refusal::InvalidAmount
            | Refusal::AmountNotAllowed => "amount",
            _ => "discount_code",
        }
    }
}

/// What a discount takes off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Off {
    Percent(i32),
    Amount(i64, Currency),
}

impl Off {
    pub fn describe(self) -> String {
        match self {
            Off::Percent(p) => format!("{p}% off"),
            Off::Amount(cents, currency) => format!("{} off", currency.format(cents)),
        }
    }
}

/// The price after a discount, by the rule the API documents: a percentage takes off
/// `round_half_up(list × percent / 100)`, an amount takes off at most the whole price; what is
/// left is charged, except that a remainder between zero and Stripe's minimum charge (0.50) is
/// raised to that minimum (the code then takes off a little less). A code never makes a price
/// negative, and only a code that takes off everything makes it zero.
pub fn discounted(list_cents: i64, off: Off) -> i64 {
    let taken = match off {
        Off::Percent(p) => (list_cents * i64::from(p) + 50) / 100,
        Off::Amount(cents, _) => cents,
    }
    .clamp(0, list_cents);
    let left = list_cents - taken;
    if left > 0 && left < MIN_PAID_CENTS {
        MIN_PAID_CENTS.min(list_cents)
    } else {
        left
    }
}

/// The amount a buyer chose for a pay-what-you-want item: at most two decimals, at least the
/// minimum (`product.price_cents`, which may be 0), at most the ceiling, and never between 0
/// and Stripe's 0.50.
pub fn chosen_amount(
    product: &ProductRow,
    amount: Option<&str>,
    max_cents: i64,
) -> Result<i64, Refusal> {
    let currency = product.currency;
    let Some(text) = amount else {
        return Ok(product.suggested_price_cents.unwrap_or(product.price_cents));
    };
    let cents = parse_amount(text).ok_or(Refusal::InvalidAmount)?;
    let minimum = product
        .price_cents
        .max(if cents == 0 { 0 } else { MIN_PAID_CENTS });
    if cents < minimum {
        return Err(Refusal::BelowMinimum(currency.format(minimum)));
    }
    if cents > max_cents {
        return Err(Refusal::AboveMaximum(currency.format(max_cents)));
    }
    Ok(cents)
}

/// `12`, `12.5`, `12.50` → cents; anything else (signs, three decimals, letters) → None.
fn parse_amount(text: &str) -> Option<i64> {
    if text.len() > 16 {
        return None;
    }
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 2 {
        return None;
    }
    if text.contains('.') && frac.is_empty() {
        return None;
    }
    let whole: i64 = whole.parse().ok()?;
    let frac: i64 = format!("{frac:0<2}").parse().ok()?;
    whole.checked_mul(100)?.checked_add(frac)
}

/// Checks a code for one product and buyer, inside the transaction that will write the order:
/// the discount's row is locked first (a no-op update), so concurrent checkouts for it queue and
/// each counts the redemptions the ones before it reserved. Returns the discount and the price.
pub(crate) fn redeem(
    conn: &mut DbConnection,
    code: &str,
    product: &ProductRow,
    customer: Option<&shared_types::UserId>,
    at: NaiveDateTime,
) -> Result<(DiscountRow, i64), ApiError> {
    let code = shared_types::discount_code(code).ok_or(Refusal::InvalidCode)?;
    let discount = repo::lock_by_code(conn, &code)?.ok_or(Refusal::InvalidCode)?;
    let price = check(conn, &discount, product, customer, at)?;
    Ok((discount, price))
}

/// Everything about a code for one product and buyer, caps included; the price it makes.
fn check(
    conn: &mut DbConnection,
    discount: &DiscountRow,
    product: &ProductRow,
    customer: Option<&shared_types::UserId>,
    at: NaiveDateTime,
) -> Result<i64, ApiError> {
    let price = applies(conn, discount, product, at)?;
    let (total, mine) = repo::redemptions(conn, &discount.id, customer)?;
    if discount
        .max_redemptions
        .is_some_and(|cap| total >= i64::from(cap))
    {
        return Err(Refusal::Exhausted.into());
    }
    if let (Some(cap), Some(mine)) = (discount.max_per_customer, mine) {
        if mine >= i64::from(cap) {
            return Err(Refusal::CustomerLimit.into());
        }
    }
    Ok(price)
}

/// Whether `discount` can be used on `product` now, and the price it makes.
fn applies(
    conn: &mut DbConnection,
    discount: &DiscountRow,
    product: &ProductRow,
    at: NaiveDateTime,
) -> Result<i64, ApiError> {
    if !discount.active {
        return Err(Refusal::InvalidCode.into());
    }
    if let Some(start) = discount.starts_at.filter(|s| *s > at) {
        return Err(Refusal::NotStarted(day(start)).into());
    }
    if let Some(end) = discount.ends_at.filter(|e| *e <= at) {
        return Err(Refusal::Expired(day(end)).into());
    }
    if product.pay_what_you_want {
        return Err(Refusal::NotApplicable(": you choose its price").into());
    }
    if product.price_cents == 0 {
        return Err(Refusal::NotApplicable(": it is free").into());
    }
    let off = discount.off();
    if let Off::Amount(_, currency) = off {
        if currency != product.currency {
            return Err(Refusal::NotApplicable(" (its price is in another currency)").into());
        }
    }
    if !discount.all_products && !repo::covers(conn, &discount.id, &product.id)? {
        return Err(Refusal::NotApplicable("").into());
    }
    Ok(discounted(product.price_cents, off))
}

fn day(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `GET /api/v1/discounts/{code}?slug=`: what the code makes of the product's price, for the
/// product page. Reserves nothing; the per-customer cap is checked when the caller is signed in.
pub async fn preview(
    state: &AppState,
    user: Option<crate::auth::AuthUser>,
    code: String,
    slug: String,
) -> Result<DiscountPreview, ApiError> {
    let (product, _) = crate::catalog::visible_product(state, user.as_ref(), slug).await?;
    let (list, currency) = (product.price_cents, product.currency);
    let customer = user.map(|u| u.id);
    let (discount, price) = state
        .db
        .run(move |conn| {
            let code = shared_types::discount_code(&code).ok_or(Refusal::InvalidCode)?;
            let discount = repo::find_by_code(conn, &code)?.ok_or(Refusal::InvalidCode)?;
            let price = check(conn, &discount, &product, customer.as_ref(), now())?;
            Ok((discount, price))
        })
        .await?;
    Ok(DiscountPreview {
        description: discount.off().describe(),
        code: discount.code,
        list_price: Money::new(list, currency),
        discount: Money::new(list - price, currency),
        price: Money::new(price, currency),
    })
}

/// Counts one discount code tried by the request's client.
pub async fn check_guess(
    state: &crate::AppState,
    req: &actix_web::HttpRequest,
) -> Result<(), ApiError> {
    let Some(client) = crate::net::client_ip(req, &state.settings.trusted_proxies) else {
        return Ok(());
    };
    state.discount_limiter.check(&state.db, client).await
}

/// Checks an admin's discount (the rules are shared with the admin's form) and turns it into
/// a row; `created_at` is the discount's own when editing.
pub(crate) fn parse_request(
    req: &DiscountRequest,
    id: DiscountId,
    created_at: NaiveDateTime,
    at: NaiveDateTime,
) -> Result<DiscountRow, ApiError> {
    let terms = req.check().map_err(ApiError::Validation)?;
    Ok(DiscountRow {
        id,
        code: terms.code,
        percent_off: terms.percent_off,
        amount_off_cents: terms.amount_off.map(|(cents, _)| cents),
        currency: terms.amount_off.map(|(_, currency)| currency),
        starts_at: req.starts_at.map(|t| t.naive_utc()),
        ends_at: req.ends_at.map(|t| t.naive_utc()),
        max_redemptions: req.max_redemptions,
        max_per_customer: req.max_per_customer,
        all_products: req.product_ids.is_none(),
        active: req.active.unwrap_or(true),
        created_at,
        updated_at: at,
    })
}

/// A discount as admins see it.
pub(crate) fn to_dto(
    row: DiscountRow,
    products: Option<Vec<ProductRef>>,
    redemptions: i64,
) -> Discount {
    Discount {
        percent_off: row.percent_off,
        amount_off: row
            .amount_off_cents
            .map(|c| Money::new(c, row.currency.unwrap_or_default())),
        starts_at: row.starts_at.map(|t| t.and_utc()),
        ends_at: row.ends_at.map(|t| t.and_utc()),
        max_redemptions: row.max_redemptions,
        max_per_customer: row.max_per_customer,
        products,
        active: row.active,
        redemptions,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
        code: row.code,
        id: row.id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_half_up_and_never_leave_less_than_the_minimum_charge() {
        // 33 % of 0.99 is 0.3267: 0.33 off, 0.66 to pay.
        assert_eq!(discounted(99, Off::Percent(33)), 66);
        // 50 % of 0.99 is 0.495: 0.50 off (half up), 0.49 left, raised to 0.50.
        assert_eq!(discounted(99, Off::Percent(50)), 50);
        // 25 % of 19.99 is 4.9975: 5.00 off.
        assert_eq!(discounted(1999, Off::Percent(25)), 1499);
        assert_eq!(discounted(1000, Off::Percent(100)), 0);
        assert_eq!(discounted(1000, Off::Percent(99)), 50);
    }

    #[test]
    fn an_amount_off_takes_at_most_the_whole_price() {
        assert_eq!(discounted(999, Off::Amount(500, Currency::Usd)), 499);
        assert_eq!(discounted(999, Off::Amount(5000, Currency::Usd)), 0);
        assert_eq!(discounted(999, Off::Amount(999, Currency::Usd)), 0);
        assert_eq!(discounted(999, Off::Amount(970, Currency::Usd)), 50);
    }

    #[test]
    fn amounts_have_at_most_two_decimals() {
        assert_eq!(parse_amount("12"), Some(1200));
        assert_eq!(parse_amount("12.5"), Some(1250));
        assert_eq!(parse_amount("0.05"), Some(5));
        for bad in ["12.505", "-1", "1e3", "", ".5", "5.", "1,00", "١٢"] {
            assert_eq!(parse_amount(bad), None, "{bad}");
        }
    }
}

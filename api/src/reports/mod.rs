//! Reports for sellers: the dashboard's figures, the customer list, and CSV exports of orders
//! and customers. Everything here only reads; the figures are sums the database makes over its
//! indexes (see the `seller_tools` migration), never rows carried into the process.

pub mod csv;
pub mod repo;
pub mod routes;

use chrono::{Datelike, Days, Months, NaiveDate, NaiveDateTime};
use serde::Deserialize;
use shared_types::{
    Currency, Customer, CustomerPage, Money, ProductRef, Revenue, Stats, StatsBucket,
    StatsInterval, TopProduct, TOP_PRODUCTS,
};

use crate::error::ApiError;
use crate::pagination::{self, Cursor};
use crate::AppState;

/// A day as the API takes it (the document states it; the parse checks the calendar).
pub const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
/// The longest period the dashboard reads by day, and by week or month.
pub const MAX_DAYS_BY_DAY: i64 = 366;
pub const MAX_DAYS: i64 = 366 * 5;
/// The default period: the last 30 days, today included.
pub const DEFAULT_DAYS: u64 = 30;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsQuery {
    /// First day (`YYYY-MM-DD`, UTC, included); default: 29 days before `to`.
    pub from: Option<String>,
    /// Last day (`YYYY-MM-DD`, UTC, included); default: today.
    pub to: Option<String>,
    /// `day` (default; at most 366 days), `week` or `month` (at most 1830 days).
    pub interval: Option<String>,
}

/// A checked period: `[start, end)` in UTC.
#[derive(Debug, Clone, Copy)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub interval: StatsInterval,
}

impl Period {
    pub fn start(&self) -> NaiveDateTime {
        self.from.and_hms_opt(0, 0, 0).expect("midnight exists")
    }

    pub fn end(&self) -> NaiveDateTime {
        (self.to + Days::new(1))
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
    }

    /// The first day of every interval that meets the period, oldest first.
    pub fn buckets(&self) -> Vec<NaiveDate> {
        let mut day = bucket_start(self.from, self.interval);
        let mut out = Vec::new();
        while day <= self.to {
            out.push(day);
            day = match self.interval {
                StatsInterval::Day => day + Days::new(1),
                StatsInterval::Week => day + Days::new(7),
                StatsInterval::Month => day + Months::new(1),
            };
        }
        out
    }
}

/// The first day of the interval holding `day`: itself, its week's Monday, its month's first.
pub fn bucket_start(day: NaiveDate, interval: StatsInterval) -> NaiveDate {
    match interval {
        StatsInterval::Day => day,
        StatsInterval::Week => day - Days::new(day.weekday().num_days_from_monday() as u64),
        StatsInterval::Month => day.with_day(1).expect("every month has a first"),
    }
}

impl StatsQuery {
    pub fn check(&self, today: NaiveDate) -> Result<Period, ApiError> {
        let mut problems = Vec::new();
        let date = |field: &str, raw: &Option<String>, problems: &mut Vec<_>| match raw {
            None => None,
            Some(raw) => match NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d") {
                Ok(d) => Some(d),
                Err(_) => {
                    problems.push(shared_types::FieldError::new(
                        field,
                        format!("`{raw}` is not a date like 2026-11-01"),
                    ));
                    None
                }
            },
        };
        let to = date("to", &self.to, &mut problems);
        let from = date("from", &self.from, &mut problems);
        let interval = match self.interval.as_deref() {
            None => StatsInterval::Day,
            Some(raw) => StatsInterval::parse(raw).unwrap_or_else(|| {
                problems.push(shared_types::FieldError::new(
                    "interval",
                    "Use day, week or month.",
                ));
                StatsInterval::Day
            }),
        };
        if !problems.is_empty() {
            return Err(ApiError::Validation(problems));
        }
        let to = to.unwrap_or(today);
        let from = from.unwrap_or(to - Days::new(DEFAULT_DAYS - 1));
        let days = (to - from).num_days() + 1;
        let max = if interval == StatsInterval::Day {
            MAX_DAYS_BY_DAY
        } else {
            MAX_DAYS
        };
        if days < 1 {
            return Err(ApiError::validation("from", "`from` is after `to`."));
        }
        if days > max {
            return Err(ApiError::validation(
                "from",
                format!(
                    "At most {max} days by {}: choose a shorter period or a longer interval.",
                    interval.as_str()
                ),
            ));
        }
        Ok(Period { from, to, interval })
    }
}

pub async fn stats(state: &AppState, query: StatsQuery) -> Result<Stats, ApiError> {
    let today = state.clock.now().date();
    let period = query.check(today)?;
    let figures = state
        .db
        .run(move |conn| Ok(repo::figures(conn, &period)?))
        .await?;
    Ok(assemble(&period, figures))
}

fn revenue(currency: Currency, gross: i64, refunds: i64) -> Revenue {
    Revenue {
        currency,
        gross: Money::new(gross, currency),
        refunds: Money::new(refunds, currency),
        net: Money::new(gross - refunds, currency),
    }
}

/// Per-currency sums of paid and refunded cents, currencies in code order.
fn by_currency<'a>(
    paid: impl Iterator<Item = &'a repo::Sum>,
    refunded: impl Iterator<Item = &'a repo::Sum>,
) -> Vec<Revenue> {
    let mut sums: std::collections::BTreeMap<&str, (Currency, i64, i64)> = Default::default();
    for s in paid {
        sums.entry(s.currency.code())
            .or_insert((s.currency, 0, 0))
            .1 += s.cents;
    }
    for s in refunded {
        sums.entry(s.currency.code())
            .or_insert((s.currency, 0, 0))
            .2 += s.cents;
    }
    sums.into_values()
        .map(|(c, gross, refunds)| revenue(c, gross, refunds))
        .collect()
}

fn assemble(period: &Period, f: repo::Figures) -> Stats {
    let series = period
        .buckets()
        .into_iter()
        .map(|start| {
            let key = start.format("%Y-%m-%d").to_string();
            let paid = f.paid.iter().filter(|s| s.bucket == key);
            let refunded = f.refunded.iter().filter(|s| s.bucket == key);
            StatsBucket {
                paid_orders: paid.clone().map(|s| s.count).sum(),
                revenue: by_currency(paid, refunded),
                start: key,
            }
        })
        .collect();
    Stats {
        from: period.from.format("%Y-%m-%d").to_string(),
        to: period.to.format("%Y-%m-%d").to_string(),
        interval: period.interval,
        revenue: by_currency(f.paid.iter(), f.refunded.iter()),
        paid_orders: f.paid.iter().map(|s| s.count).sum(),
        checkouts_started: f.checkouts_started,
        checkouts_completed: f.checkouts_completed,
        conversion: (f.checkouts_started > 0)
            .then(|| f.checkouts_completed as f64 / f.checkouts_started as f64),
        new_customers: f.new_customers,
        downloads: f.downloads,
        series,
        top_products: f
            .top
            .into_iter()
            .take(TOP_PRODUCTS)
            .map(|t| TopProduct {
                product: ProductRef {
                    id: t.product_id,
                    slug: t.slug,
                    title: t.title,
                },
                gross: Money::new(t.cents, t.currency),
                paid_orders: t.count,
            })
            .collect(),
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Items per page, 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only customers whose email contains this (any case).
    pub q: Option<String>,
}

impl CustomerQuery {
    fn search(&self) -> Result<Option<String>, ApiError> {
        match self.q.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(q) if q.chars().count() > crate::catalog::MAX_SEARCH_CHARS => {
                Err(ApiError::validation(
                    "q",
                    format!(
                        "Search for at most {} characters.",
                        crate::catalog::MAX_SEARCH_CHARS
                    ),
                ))
            }
            Some(q) => Ok(Some(q.to_lowercase())),
        }
    }
}

pub async fn customers(state: &AppState, query: CustomerQuery) -> Result<CustomerPage, ApiError> {
    let limit = pagination::limit(query.limit)?;
    let after = query.cursor.as_deref().map(Cursor::decode).transpose()?;
    let search = query.search()?;
    let rows = state
        .db
        .run(move |conn| {
            Ok(repo::customers(
                conn,
                search.as_deref(),
                after.as_ref(),
                limit + 1,
            )?)
        })
        .await?;
    let (rows, next_cursor) = pagination::finish(rows, limit, |r| (r.created_at, r.id.as_str()));
    Ok(CustomerPage {
        items: rows.into_iter().map(customer_dto).collect(),
        next_cursor,
    })
}

fn customer_dto(row: repo::CustomerRow) -> Customer {
    Customer {
        id: row.id,
        email: row.email,
        created_at: row.created_at.and_utc(),
        email_verified: row.email_verified_at.is_some(),
        paid_orders: row.paid_orders,
        last_paid_at: row.last_paid_at.map(|t| t.and_utc()),
    }
}

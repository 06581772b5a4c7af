//! Reconciliation: Stripe's own records of a period (its Checkout Sessions, charges and refunds,
//! read through the list endpoints) against Folio's orders, so a webhook that never arrived
//! costs nothing. A paid session whose order is still pending is fulfilled through the same
//! function the webhook uses; a refund Stripe has and Folio lacks is applied the same way;
//! amounts that differ are reported, never changed. The report ends with per-currency totals of
//! what Stripe charged and refunded for Folio's orders beside what Folio records: after the
//! repairs they agree to the cent, or a finding says why not.
//!
//! Run by an admin (`POST /api/v1/admin/reconcile`), by `folio reconcile --since`, or by the job
//! queue every `FOLIO_RECONCILE_EVERY` over the last two days. Every repair is a conditional
//! update, so runs that overlap (two nodes, a webhook arriving meanwhile) repair once.

use std::collections::{BTreeMap, HashSet};

use chrono::{Days, NaiveDate};
use diesel::prelude::*;
use shared_types::{
    Currency, Money, OrderStatus, ReconcileFinding, ReconcileReport, ReconcileTotal,
};

use super::events::{apply_refund, Outcome};
use super::gateway::ChargeInfo;
use super::{fulfill_order, repo, resolve_session_order, Fulfillment};
use crate::error::ApiError;
use crate::jobs::worker::JobError;
use crate::jobs::Task;
use crate::schema::orders;
use crate::AppState;

/// The furthest back a run may start.
pub const MAX_DAYS_BACK: u64 = 400;
/// The days a scheduled run covers (a webhook lost longer ago was caught by an earlier run).
pub const SCHEDULED_DAYS: u64 = 2;

pub fn parse_since(raw: &str, today: NaiveDate) -> Result<NaiveDate, ApiError> {
    let since = NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d").map_err(|_| {
        ApiError::validation("since", format!("`{raw}` is not a date like 2026-11-01"))
    })?;
    if since > today {
        return Err(ApiError::validation("since", "`since` is in the future."));
    }
    if since < today - Days::new(MAX_DAYS_BACK) {
        return Err(ApiError::validation(
            "since",
            format!("Reconcile at most {MAX_DAYS_BACK} days back."),
        ));
    }
    Ok(since)
}

fn finding(
    kind: &str,
    order: Option<&repo::OrderRow>,
    stripe_id: &str,
    folio_cents: Option<i64>,
    stripe_cents: Option<i64>,
    detail: String,
) -> ReconcileFinding {
    ReconcileFinding {
        kind: kind.to_owned(),
        order_id: order.map(|o| o.id.clone()),
        stripe_id: stripe_id.to_owned(),
        folio_cents,
        stripe_cents,
        detail,
    }
}

/// What Folio says the buyer paid.
fn charged(order: &repo::OrderRow) -> i64 {
    order.total_cents.unwrap_or(order.amount_cents)
}

fn was_paid(status: OrderStatus) -> bool {
    matches!(
        status,
        OrderStatus::Paid | OrderStatus::Refunded | OrderStatus::Disputed
    )
}

#[derive(Default)]
struct Sums {
    stripe_charged: i64,
    folio_charged: i64,
    stripe_refunded: i64,
    folio_refunded: i64,
}

pub async fn run(state: &AppState, since: NaiveDate) -> Result<ReconcileReport, ApiError> {
    let since_ts = since
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
        .timestamp();
    let gateway = &state.payments.gateway;
    let sessions = gateway
        .list_sessions(since_ts)
        .await
        .map_err(ApiError::PaymentProvider)?;
    let mut charges = gateway
        .list_charges(since_ts)
        .await
        .map_err(ApiError::PaymentProvider)?;
    let refunds = gateway
        .list_refunds(since_ts)
        .await
        .map_err(ApiError::PaymentProvider)?;
    // A refund in the period of a charge made before it: that charge is read too.
    let listed: HashSet<String> = charges.iter().map(|c| c.id.clone()).collect();
    let mut extra: Vec<String> = refunds
        .iter()
        .filter(|r| r.succeeded)
        .filter_map(|r| r.charge.clone())
        .filter(|c| !listed.contains(c))
        .collect();
    extra.sort();
    extra.dedup();
    for id in extra {
        charges.push(
            gateway
                .retrieve_charge(&id)
                .await
                .map_err(ApiError::PaymentProvider)?,
        );
    }
    let mut findings = Vec::new();

    // Sessions: paid at Stripe, not paid here → fulfilled as the webhook would have.
    let jobs = state.settings.jobs.clone();
    let paid_sessions: Vec<_> = sessions.iter().filter(|s| s.paid).cloned().collect();
    let session_findings = state
        .db
        .write(move |conn| {
            let mut out = Vec::new();
            for session in &paid_sessions {
                let done = conn.transaction(|conn| {
                    let Some(order) = resolve_session_order(conn, session)? else {
                        return diesel::QueryResult::Ok(None);
                    };
                    let stripe_total = session.amount_total;
                    Ok(Some(match order.status {
                        OrderStatus::Pending => {
                            match fulfill_order(conn, &jobs, &order, session)? {
                                Fulfillment::Granted => Some(finding(
                                    "fulfilled",
                                    Some(&order),
                                    &session.id,
                                    None,
                                    stripe_total,
                                    "paid at Stripe, pending here (its webhook never came): fulfilled".into(),
                                )),
                                _ => None,
                            }
                        }
                        OrderStatus::Failed | OrderStatus::Expired => Some(finding(
                            "unfulfilled",
                            Some(&order),
                            &session.id,
                            None,
                            stripe_total,
                            format!(
                                "paid at Stripe, but the order was closed as {}: refund it at Stripe or grant it by hand",
                                order.status.as_str()
                            ),
                        )),
                        _ => match stripe_total {
                            Some(total) if total != charged(&order) => Some(finding(
                                "amount_mismatch",
                                Some(&order),
                                &session.id,
                                Some(charged(&order)),
                                Some(total),
                                "the session's total differs from the order's".into(),
                            )),
                            _ => None,
                        },
                    }))
                })?;
                out.extend(done.flatten());
            }
            Ok(out)
        })
        .await?;
    let repaired = session_findings.iter().any(|f| f.kind == "fulfilled");
    findings.extend(session_findings);

    // Charges: refunds Stripe has and Folio lacks, then the totals.
    let jobs = state.settings.jobs.clone();
    let charge_list = charges.clone();
    let (charge_findings, sums, seen) = state
        .db
        .write(move |conn| {
            let mut out = Vec::new();
            let mut sums: BTreeMap<String, Sums> = BTreeMap::new();
            let mut seen: HashSet<String> = HashSet::new();
            for charge in &charge_list {
                let Some(pi) = charge.payment_intent.as_deref() else {
                    continue;
                };
                let Some(order) = repo::find_order_by_payment_intent(conn, pi)? else {
                    continue;
                };
                seen.insert(order.id.to_string());
                let order = refund_if_needed(conn, &jobs, order, charge, &mut out)?;
                let sum = sums.entry(order.currency.code().to_owned()).or_default();
                sum.stripe_charged += charge.amount;
                sum.stripe_refunded += charge.amount_refunded;
                if was_paid(order.status) {
                    sum.folio_charged += charged(&order);
                }
                sum.folio_refunded += order.refunded_cents;
                if charge.amount > 0
                    && (!was_paid(order.status) || charge.amount != charged(&order))
                {
                    out.push(finding(
                        "amount_mismatch",
                        Some(&order),
                        &charge.id,
                        Some(if was_paid(order.status) {
                            charged(&order)
                        } else {
                            0
                        }),
                        Some(charge.amount),
                        format!(
                            "Stripe charged {}; the order ({}) records {}",
                            charge.amount,
                            order.status.as_str(),
                            charged(&order)
                        ),
                    ));
                }
            }
            Ok((out, sums, seen))
        })
        .await?;
    let refunded = charge_findings.iter().any(|f| f.kind == "refund_applied");
    findings.extend(charge_findings);

    // Orders paid here in the period that Stripe has no charge for.
    let start = since.and_hms_opt(0, 0, 0).expect("midnight exists");
    let paid_here: Vec<repo::OrderRow> = state
        .db
        .run(move |conn| {
            Ok(orders::table
                .filter(orders::paid_at.ge(start))
                .filter(orders::stripe_payment_intent_id.is_not_null())
                .select(repo::OrderRow::as_select())
                .load(conn)?)
        })
        .await?;
    let mut sums = sums;
    for order in paid_here {
        if seen.contains(order.id.as_str()) || charged(&order) == 0 {
            continue;
        }
        let sum = sums.entry(order.currency.code().to_owned()).or_default();
        sum.folio_charged += charged(&order);
        sum.folio_refunded += order.refunded_cents;
        findings.push(finding(
            "missing_at_stripe",
            Some(&order),
            order
                .stripe_payment_intent_id
                .as_deref()
                .unwrap_or_default(),
            Some(charged(&order)),
            None,
            "paid here, but Stripe lists no charge for it in the period".into(),
        ));
    }
    if repaired || refunded {
        state.catalog.invalidate_owners();
        state.wake.now();
    }
    let totals: Vec<ReconcileTotal> = sums
        .into_iter()
        .filter_map(|(code, s)| {
            let currency: Currency = code.parse().ok()?;
            Some(ReconcileTotal {
                currency,
                agree: s.stripe_charged == s.folio_charged && s.stripe_refunded == s.folio_refunded,
                stripe_charged: Money::new(s.stripe_charged, currency),
                folio_charged: Money::new(s.folio_charged, currency),
                stripe_refunded: Money::new(s.stripe_refunded, currency),
                folio_refunded: Money::new(s.folio_refunded, currency),
            })
        })
        .collect();
    let problems = findings
        .iter()
        .any(|f| !matches!(f.kind.as_str(), "fulfilled" | "refund_applied"));
    let report = ReconcileReport {
        since: since.format("%Y-%m-%d").to_string(),
        sessions_checked: sessions.len() as i64,
        charges_checked: charges.len() as i64,
        refunds_checked: refunds.len() as i64,
        agree: !problems && totals.iter().all(|t| t.agree),
        findings,
        totals,
    };
    tracing::info!(
        since = %report.since,
        sessions = report.sessions_checked,
        charges = report.charges_checked,
        findings = report.findings.len(),
        agree = report.agree,
        "reconciled with Stripe"
    );
    Ok(report)
}

/// Applies a refund Stripe reports beyond what the order records; the order as it is after.
fn refund_if_needed(
    conn: &mut crate::db::DbConnection,
    jobs: &crate::config::JobSettings,
    order: repo::OrderRow,
    charge: &ChargeInfo,
    out: &mut Vec<ReconcileFinding>,
) -> diesel::QueryResult<repo::OrderRow> {
    if charge.amount_refunded <= order.refunded_cents {
        return Ok(order);
    }
    let applied = conn.transaction(|conn| {
        apply_refund(
            conn,
            jobs,
            &order,
            charge.amount_refunded,
            charge.amount,
            crate::db::now(),
        )
    })?;
    if matches!(applied, Outcome::Refunded | Outcome::PartiallyRefunded) {
        out.push(finding(
            "refund_applied",
            Some(&order),
            &charge.id,
            Some(order.refunded_cents),
            Some(charge.amount_refunded),
            if applied == Outcome::Refunded {
                "refunded in full at Stripe only: the order is refunded and its access revoked"
                    .into()
            } else {
                "refunded in part at Stripe only: recorded, access kept".into()
            },
        ));
    }
    Ok(repo::find_order(conn, &order.id)?.unwrap_or(order))
}

/// The scheduled run: the next run queued, then the last [`SCHEDULED_DAYS`] days.
pub async fn scheduled(state: &AppState) -> Result<(), JobError> {
    // Queued first, whatever becomes of this run: a Stripe outage that outlasts this job's
    // attempts must not end the schedule (the slot's dedupe key keeps retries to one job).
    schedule_next(state).await?;
    let today = state.clock.now().date();
    let report = run(state, today - Days::new(SCHEDULED_DAYS)).await?;
    if !report.agree {
        tracing::warn!(
            findings = ?report.findings.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>(),
            "reconciliation found differences it cannot repair: see the admin's reconcile page"
        );
    }
    Ok(())
}

/// Queues the next scheduled run at the start of the next `FOLIO_RECONCILE_EVERY` slot; every
/// node asks at start-up and as each run starts, and the slot's dedupe key keeps it to one job.
pub async fn schedule_next(state: &AppState) -> Result<(), ApiError> {
    let Some(every) = state.settings.reconcile_every_secs else {
        return Ok(());
    };
    let now = state.clock.now().and_utc().timestamp();
    let slot = now / every as i64 + 1;
    let at = chrono::DateTime::from_timestamp(slot * every as i64, 0)
        .expect("a time in range")
        .naive_utc();
    let jobs = state.settings.jobs.clone();
    state
        .db
        .write(move |conn| {
            Ok(crate::jobs::enqueue_at(
                conn,
                &jobs,
                &Task::Reconcile,
                Some(&format!("reconcile:{slot}")),
                at,
            )?)
        })
        .await?;
    Ok(())
}

/// The report as text, for `folio reconcile`.
pub fn render(report: &ReconcileReport) -> String {
    let mut out = format!(
        "Reconciled with Stripe since {}: {} sessions, {} charges, {} refunds read.\n",
        report.since, report.sessions_checked, report.charges_checked, report.refunds_checked
    );
    if report.findings.is_empty() {
        out.push_str("Nothing to repair and no differences.\n");
    }
    for f in &report.findings {
        out.push_str(&format!(
            "- {}: order {} ({}): {}{}\n",
            f.kind,
            f.order_id.as_ref().map_or("-".into(), |o| o.to_string()),
            f.stripe_id,
            f.detail,
            match (f.folio_cents, f.stripe_cents) {
                (Some(a), Some(b)) => format!(" [Folio {a}, Stripe {b}]"),
                _ => String::new(),
            }
        ));
    }
    out.push_str("Totals (Stripe / Folio):\n");
    for t in &report.totals {
        out.push_str(&format!(
            "  {}: charged {} / {}, refunded {} / {}{}\n",
            t.currency.code(),
            t.stripe_charged.display,
            t.folio_charged.display,
            t.stripe_refunded.display,
            t.folio_refunded.display,
            if t.agree { "  agree" } else { "  DIFFER" }
        ));
    }
    out.push_str(if report.agree {
        "Folio's ledger agrees with Stripe to the cent.\n"
    } else {
        "Folio's ledger does NOT agree with Stripe: see the findings above.\n"
    });
    out
}

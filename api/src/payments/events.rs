//! What each Stripe event does to orders and entitlements. Called inside the transaction that
//! records the event id, so an event applies once: a duplicate finds its id recorded and
//! changes nothing, and a failure leaves it unrecorded for Stripe's retry.

use shared_types::OrderStatus;

use super::repo::{self, OrderRow};
use super::webhook::{self, Envelope};
use super::{fulfill_order, resolve_session_order, Fulfillment};
use crate::db::{now, DbConnection};
use crate::library;

/// What applying one event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its id was recorded before: a repeated delivery.
    Duplicate,
    /// A type Folio does not handle.
    Ignored,
    /// The object could not be read as the type says.
    Unreadable,
    /// No order of Folio's matches it.
    NotOurs,
    /// A paid session: this event granted access.
    Granted,
    /// Completed, but not paid yet (a delayed payment method).
    AwaitingPayment,
    /// A session expired or its delayed payment failed: the order is closed.
    Closed,
    /// A full refund: the order is refunded and its access revoked.
    Refunded,
    /// A partial refund: the buyer keeps access.
    PartiallyRefunded,
    /// A dispute opened: access revoked until it is decided.
    Disputed,
    /// A dispute won: access back.
    DisputeWon,
    /// A dispute lost: access stays revoked.
    DisputeLost,
    /// The order had moved on already (paid, refunded, …): nothing changed.
    AlreadySettled,
    /// A subscription's state, read from Stripe, was stored.
    MembershipSynced,
    /// A subscription event whose read was older than the stored one: nothing changed.
    MembershipUnchanged,
}

impl Outcome {
    /// Whether the event may have changed who owns what (the catalog cache must hear of it).
    pub fn changed_ownership(self) -> bool {
        matches!(
            self,
            Outcome::Granted
                | Outcome::Refunded
                | Outcome::Disputed
                | Outcome::DisputeWon
                | Outcome::MembershipSynced
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Duplicate => "duplicate",
            Outcome::Ignored => "ignored type",
            Outcome::Unreadable => "unreadable",
            Outcome::NotOurs => "not ours",
            Outcome::Granted => "granted",
            Outcome::AwaitingPayment => "awaiting payment",
            Outcome::Closed => "closed",
            Outcome::Refunded => "refunded: access revoked",
            Outcome::PartiallyRefunded => "partial refund: access kept",
            Outcome::Disputed => "disputed: access revoked",
            Outcome::DisputeWon => "dispute won: access restored",
            Outcome::DisputeLost => "dispute lost: access stays revoked",
            Outcome::AlreadySettled => "already settled",
            Outcome::MembershipSynced => "subscription synced",
            Outcome::MembershipUnchanged => "subscription unchanged",
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(object: serde_json::Value) -> Option<T> {
    serde_json::from_value(object)
        .map_err(|e| tracing::warn!(error = %e, "unexpected webhook object"))
        .ok()
}

fn by_payment_intent(
    conn: &mut DbConnection,
    pi: Option<&webhook::Ref>,
) -> diesel::QueryResult<Option<OrderRow>> {
    match pi {
        Some(pi) => repo::find_order_by_payment_intent(conn, pi.id()),
        None => Ok(None),
    }
}

/// Applies `event`; call it inside a transaction. `subscription` is the subscription the
/// event is about, read from Stripe just before (see [`crate::membership::cue`]).
pub fn apply(
    conn: &mut DbConnection,
    jobs: &crate::config::JobSettings,
    event: Envelope,
    subscription: Option<&crate::membership::Fetched>,
) -> diesel::QueryResult<Outcome> {
    let at = now();
    if !repo::record_event(conn, &event.id, &event.type_, at)? {
        return Ok(Outcome::Duplicate);
    }
    if let Some(fetched) = subscription {
        return Ok(
            match crate::membership::apply(conn, jobs, &event, fetched)? {
                crate::membership::Applied::Synced => Outcome::MembershipSynced,
                crate::membership::Applied::Unchanged => Outcome::MembershipUnchanged,
            },
        );
    }
    let object = event.data.object;
    Ok(match event.type_.as_str() {
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            let Some(session) = parse::<webhook::SessionObject>(object).map(|s| s.into_info())
            else {
                return Ok(Outcome::Unreadable);
            };
            match resolve_session_order(conn, &session)? {
                None => Outcome::NotOurs,
                Some(order) => match fulfill_order(conn, jobs, &order, &session)? {
                    Fulfillment::Granted => Outcome::Granted,
                    Fulfillment::AlreadySettled => Outcome::AlreadySettled,
                    Fulfillment::NotPaid => Outcome::AwaitingPayment,
                    Fulfillment::NotOurs => Outcome::NotOurs,
                },
            }
        }
        kind @ ("checkout.session.async_payment_failed" | "checkout.session.expired") => {
            let Some(session) = parse::<webhook::SessionObject>(object).map(|s| s.into_info())
            else {
                return Ok(Outcome::Unreadable);
            };
            let to = if kind.ends_with("expired") {
                OrderStatus::Expired
            } else {
                OrderStatus::Failed
            };
            match resolve_session_order(conn, &session)? {
                None => Outcome::NotOurs,
                Some(order) if repo::transition(conn, &order.id, OrderStatus::Pending, to, at)? => {
                    Outcome::Closed
                }
                Some(_) => Outcome::AlreadySettled,
            }
        }
        "charge.refunded" => {
            let Some(charge) = parse::<webhook::ChargeObject>(object) else {
                return Ok(Outcome::Unreadable);
            };
            let Some(order) = by_payment_intent(conn, charge.payment_intent.as_ref())? else {
                return Ok(Outcome::NotOurs);
            };
            apply_refund(
                conn,
                jobs,
                &order,
                charge.amount_refunded,
                charge.amount,
                at,
            )?
        }
        "charge.dispute.created" => {
            let Some(dispute) = parse::<webhook::DisputeObject>(object) else {
                return Ok(Outcome::Unreadable);
            };
            let Some(order) = by_payment_intent(conn, dispute.payment_intent.as_ref())? else {
                return Ok(Outcome::NotOurs);
            };
            if repo::transition(
                conn,
                &order.id,
                OrderStatus::Paid,
                OrderStatus::Disputed,
                at,
            )? {
                library::repo::revoke_for_order(conn, &order.id, at)?;
                super::emit_order(
                    conn,
                    jobs,
                    &order.id,
                    shared_types::WebhookEventType::OrderDisputed,
                )?;
                Outcome::Disputed
            } else {
                Outcome::AlreadySettled
            }
        }
        "charge.dispute.closed" => {
            let Some(dispute) = parse::<webhook::DisputeObject>(object) else {
                return Ok(Outcome::Unreadable);
            };
            let Some(order) = by_payment_intent(conn, dispute.payment_intent.as_ref())? else {
                return Ok(Outcome::NotOurs);
            };
            if dispute.status != stripe_shared::DisputeStatus::Won {
                Outcome::DisputeLost
            } else if repo::transition(
                conn,
                &order.id,
                OrderStatus::Disputed,
                OrderStatus::Paid,
                at,
            )? {
                library::repo::restore_for_order(conn, &order.id)?;
                Outcome::DisputeWon
            } else {
                Outcome::AlreadySettled
            }
        }
        _ => Outcome::Ignored,
    })
}

/// Applies what Stripe reports of a charge's refunds to its order: the amount is recorded, and
/// a refund of the whole charge refunds the order and revokes its access (a partial one keeps
/// it). The webhook and the reconciliation both come through here.
pub(crate) fn apply_refund(
    conn: &mut DbConnection,
    jobs: &crate::config::JobSettings,
    order: &repo::OrderRow,
    amount_refunded: i64,
    charge_amount: i64,
    at: chrono::NaiveDateTime,
) -> diesel::QueryResult<Outcome> {
    let grew = repo::record_refund(conn, &order.id, amount_refunded, at)?;
    Ok(if amount_refunded < charge_amount {
        if grew {
            Outcome::PartiallyRefunded
        } else {
            Outcome::AlreadySettled
        }
    } else if repo::transition(
        conn,
        &order.id,
        OrderStatus::Paid,
        OrderStatus::Refunded,
        at,
    )? {
        library::repo::revoke_for_order(conn, &order.id, at)?;
        super::refund_notice(conn, jobs, &order.id)?;
        super::emit_order(
            conn,
            jobs,
            &order.id,
            shared_types::WebhookEventType::OrderRefunded,
        )?;
        Outcome::Refunded
    } else {
        Outcome::AlreadySettled
    })
}

#[cfg(test)]
mod tests {
    //! Each event on a database of its own (SQLite in memory, migrated), with one customer, one
    //! product and one pending order.

    use diesel::prelude::*;
    use serde_json::json;
    use shared_types::{Currency, OrderId, ProductId, ProductStatus, Role, UserId};

    use super::*;
    use crate::auth::repo::UserRow;
    use crate::catalog::repo::ProductRow;
    use crate::config::DatabaseUrl;
    use crate::db::DbConnection;

    struct World {
        conn: DbConnection,
        order: OrderId,
        user: UserId,
        product: ProductId,
    }

    fn world() -> World {
        let mut conn =
            DbConnection::establish_url(&DatabaseUrl::Sqlite(":memory:".into())).unwrap();
        conn.run_migrations().unwrap();
        let at = now();
        let user = UserId::generate();
        crate::auth::repo::insert_user(
            &mut conn,
            &UserRow {
                id: user.clone(),
                email: "ada@example.com".into(),
                password_hash: Some("x".into()),
                role: Role::Customer,
                created_at: at,
                updated_at: at,
                email_verified_at: None,
            },
        )
        .unwrap();
        let product = ProductId::generate();
        crate::catalog::repo::insert(
            &mut conn,
            &ProductRow {
                id: product.clone(),
                slug: "guide".into(),
                title: "Guide".into(),
                description: String::new(),
                price_cents: 999,
                currency: Currency::Usd,
                status: ProductStatus::Published,
                preview_key: None,
                preview_content_type: None,
                created_at: at,
                updated_at: at,
                download_limit: None,
                access_days: None,
                stamp_pdfs: false,
                pay_what_you_want: false,
                suggested_price_cents: None,
            },
        )
        .unwrap();
        let order = OrderId::generate();
        repo::insert_order(
            &mut conn,
            &OrderRow {
                id: order.clone(),
                user_id: user.clone(),
                product_id: product.clone(),
                amount_cents: 999,
                currency: Currency::Usd,
                stripe_session_id: Some("cs_1".into()),
                stripe_payment_intent_id: None,
                status: OrderStatus::Pending,
                created_at: at,
                updated_at: at,
                paid_at: None,
                list_price_cents: 999,
                discount_id: None,
                discount_code: None,
                tax_cents: None,
                total_cents: None,
                stripe_invoice_id: None,
                invoice_url: None,
                refunded_cents: 0,
                refunded_at: None,
            },
        )
        .unwrap();
        World {
            conn,
            order,
            user,
            product,
        }
    }

    fn event(id: &str, kind: &str, object: serde_json::Value) -> Envelope {
        serde_json::from_value(json!({"id": id, "type": kind, "data": {"object": object}})).unwrap()
    }

    use stripe_shared::CheckoutSessionPaymentStatus as Payment;

    fn session(w: &World, payment: Payment) -> serde_json::Value {
        json!({"id": "cs_1", "client_reference_id": w.order.as_str(), "metadata": {},
               "payment_status": payment.as_str(), "payment_intent": "pi_1"})
    }

    fn apply_to(w: &mut World, e: Envelope) -> Outcome {
        let jobs = crate::config::JobSettings {
            workers: 1,
            max_attempts: 3,
            retry_base_ms: 1000,
            lease_secs: 60,
            poll_ms: 1000,
        };
        w.conn
            .transaction(|conn| apply(conn, &jobs, e, None))
            .unwrap()
    }

    fn status(w: &mut World) -> OrderStatus {
        repo::find_order(&mut w.conn, &w.order)
            .unwrap()
            .unwrap()
            .status
    }

    fn owns(w: &mut World) -> bool {
        library::repo::has_live_entitlement(&mut w.conn, &w.user, &w.product).unwrap()
    }

    #[test]
    fn a_paid_session_grants_once_and_its_repeat_is_a_duplicate() {
        let mut w = world();
        let paid = session(&w, Payment::Paid);
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_1", "checkout.session.completed", paid.clone())
            ),
            Outcome::Granted
        );
        assert_eq!((status(&mut w), owns(&mut w)), (OrderStatus::Paid, true));
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_1", "checkout.session.completed", paid.clone())
            ),
            Outcome::Duplicate
        );
        // Another event for the same session (Stripe resends with a new id): already settled.
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_2", "checkout.session.async_payment_succeeded", paid)
            ),
            Outcome::AlreadySettled
        );
    }

    #[test]
    fn a_delayed_payment_waits_and_then_fails_or_succeeds() {
        let mut w = world();
        let unpaid = session(&w, Payment::Unpaid);
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_1", "checkout.session.completed", unpaid.clone())
            ),
            Outcome::AwaitingPayment
        );
        assert_eq!(status(&mut w), OrderStatus::Pending);
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_2", "checkout.session.async_payment_failed", unpaid)
            ),
            Outcome::Closed
        );
        assert_eq!((status(&mut w), owns(&mut w)), (OrderStatus::Failed, false));
        let paid = session(&w, Payment::Paid);
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_3", "checkout.session.async_payment_succeeded", paid)
            ),
            Outcome::AlreadySettled
        );
    }

    #[test]
    fn refunds_revoke_in_full_only_and_disputes_revoke_until_won() {
        let mut w = world();
        let paid = session(&w, Payment::Paid);
        apply_to(&mut w, event("evt_1", "checkout.session.completed", paid));
        let charge = |refunded: i64| json!({"amount": 999, "amount_refunded": refunded, "payment_intent": "pi_1"});
        assert_eq!(
            apply_to(&mut w, event("evt_2", "charge.refunded", charge(500))),
            Outcome::PartiallyRefunded
        );
        assert!(owns(&mut w));
        let dispute = |status: &str| json!({"status": status, "payment_intent": {"id": "pi_1"}});
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_3", "charge.dispute.created", dispute("needs_response"))
            ),
            Outcome::Disputed
        );
        assert_eq!(
            (status(&mut w), owns(&mut w)),
            (OrderStatus::Disputed, false)
        );
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_4", "charge.dispute.closed", dispute("won"))
            ),
            Outcome::DisputeWon
        );
        assert_eq!((status(&mut w), owns(&mut w)), (OrderStatus::Paid, true));
        assert_eq!(
            apply_to(&mut w, event("evt_5", "charge.refunded", charge(999))),
            Outcome::Refunded
        );
        assert_eq!(
            (status(&mut w), owns(&mut w)),
            (OrderStatus::Refunded, false)
        );
        assert_eq!(
            apply_to(&mut w, event("evt_6", "charge.refunded", charge(999))),
            Outcome::AlreadySettled
        );
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_7", "charge.dispute.closed", dispute("lost"))
            ),
            Outcome::DisputeLost
        );
    }

    #[test]
    fn events_of_others_and_of_unknown_shape_change_nothing() {
        let mut w = world();
        let stranger = json!({"id": "cs_other", "client_reference_id": OrderId::generate().as_str(),
                              "payment_status": Payment::Paid.as_str(), "payment_intent": "pi_x"});
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_1", "checkout.session.completed", stranger)
            ),
            Outcome::NotOurs
        );
        assert_eq!(
            apply_to(
                &mut w,
                event("evt_2", "checkout.session.completed", json!({"id": 5}))
            ),
            Outcome::Unreadable
        );
        assert_eq!(
            apply_to(&mut w, event("evt_3", "customer.created", json!({}))),
            Outcome::Ignored
        );
        assert_eq!(
            apply_to(
                &mut w,
                event(
                    "evt_4",
                    "charge.refunded",
                    json!({"amount": 1, "amount_refunded": 1, "payment_intent": "pi_x"})
                )
            ),
            Outcome::NotOurs
        );
        assert_eq!(
            (status(&mut w), owns(&mut w)),
            (OrderStatus::Pending, false)
        );
    }

    #[test]
    fn a_session_that_names_our_order_but_is_not_its_session_is_not_a_payment_for_it() {
        let mut w = world();
        let forged = json!({"id": "cs_forged", "client_reference_id": w.order.as_str(),
                            "payment_status": Payment::Paid.as_str(), "payment_intent": "pi_9"});
        assert_eq!(
            apply_to(&mut w, event("evt_1", "checkout.session.completed", forged)),
            Outcome::NotOurs
        );
        assert!(!owns(&mut w));
    }
}

//! The emulator's state and the operations on it.
//!
//! Operations are synchronous and run under one mutex, so every state change is atomic; each
//! returns the events it raised as drafts, which the caller hands to the outbox after releasing
//! the lock (delivery must never hold the state lock across an HTTP call).

use std::collections::HashMap;

use serde_json::{Map, Value};

use crate::billing::{Customer, PortalSession, Subscription};
use crate::error::EmulatorError;
use crate::invoice::{invoice_json, Invoice, InvoiceStatus};
use crate::objects::{
    charge_json, dispute_json, new_id, refund_json, session_json, Cause, Charge, ChargeSpec,
    Dispute, EventDraft, Mode, PaymentIntent, Refund, Session, SessionStatus,
};
use crate::tax::{CustomerDetails, Quote, TaxSettings};

/// A stored answer to an idempotent request.
#[derive(Debug, Clone)]
pub(crate) enum Replay {
    /// The first request with this key is still running.
    InProgress { fingerprint: String },
    Done {
        fingerprint: String,
        status: u16,
        body: String,
    },
}

#[derive(Debug, Default)]
pub(crate) struct Store {
    pub sessions: HashMap<String, Session>,
    pub intents: HashMap<String, PaymentIntent>,
    pub charges: HashMap<String, Charge>,
    pub refunds: HashMap<String, Refund>,
    pub disputes: HashMap<String, Dispute>,
    pub invoices: HashMap<String, Invoice>,
    /// Invoices created so far, for their numbers.
    pub invoice_count: u32,
    pub customers: HashMap<String, Customer>,
    pub subscriptions: HashMap<String, Subscription>,
    pub portal_sessions: HashMap<String, PortalSession>,
    /// Objects created so far, for the `order` that lists sort by.
    pub created_count: u64,
    pub idempotency: HashMap<String, Replay>,
    pub tax: TaxSettings,
}

/// How a customer finishes a session on the hosted page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Payment {
    /// Card: paid at once.
    Card,
    /// Bank transfer: completed now, paid (or failed) later.
    Delayed,
}

/// What to refund, as given to `POST /v1/refunds`.
#[derive(Debug, Clone)]
pub(crate) struct RefundRequest {
    pub payment_intent: Option<String>,
    pub charge: Option<String>,
    pub amount: Option<i64>,
    pub metadata: Map<String, Value>,
    pub reason: Option<String>,
}

pub(crate) type Outcome<T> = Result<(T, Vec<EventDraft>), EmulatorError>;

pub(crate) fn draft(kind: &'static str, object: Value, cause: &Cause) -> EventDraft {
    EventDraft {
        kind,
        object,
        cause: cause.clone(),
        previous: None,
    }
}

impl Store {
    /// Expires open sessions whose `expires_at` has passed, as Stripe does on its own.
    pub fn expire_due(&mut self, now: i64) -> Vec<EventDraft> {
        let mut drafts = Vec::new();
        for session in self.sessions.values_mut() {
            if session.status == SessionStatus::Open && session.expires_at <= now {
                session.status = SessionStatus::Expired;
                drafts.push(draft(
                    "checkout.session.expired",
                    session_json(session, false),
                    &Cause::default(),
                ));
            }
        }
        drafts
    }

    pub fn session(&self, id: &str) -> Result<&Session, EmulatorError> {
        self.sessions
            .get(id)
            .ok_or_else(|| EmulatorError::not_found("checkout.session", id))
    }

    fn open_session_mut(&mut self, id: &str) -> Result<&mut Session, EmulatorError> {
        let session = self
            .sessions
            .get_mut(id)
            .ok_or_else(|| EmulatorError::not_found("checkout.session", id))?;
        if session.status != SessionStatus::Open {
            return Err(EmulatorError::state(format!(
                "This Checkout Session is no longer open (status: {}).",
                session.status.as_str()
            )));
        }
        Ok(session)
    }

    /// The customer pays: a payment intent (and, for card payments, a charge and the invoice, if
    /// asked for) is created and the session completes. On sessions that collect details, these
    /// are checked first (a bad tax ID leaves the session open) and decide the tax.
    pub fn pay(
        &mut self,
        id: &str,
        how: Payment,
        details: &CustomerDetails,
        now: i64,
    ) -> Outcome<()> {
        let settings = self.tax.clone();
        let session = self.open_session_mut(id)?;
        let subscribing = session.mode == Mode::Subscription;
        if subscribing && how == Payment::Delayed {
            return Err(EmulatorError::state(
                "The Stripe emulator does not support delayed payment methods in subscription mode; pay by card.",
            ));
        }
        if session.collects_details() {
            let billing =
                details.billing(&settings.default_country, session.tax_id_collection.enabled)?;
            if session.automatic_tax {
                let rate = settings.rate(&billing.country);
                session.tax = Some(Quote::new(&session.items, &billing.country, rate));
            }
            session.billing = Some(billing);
        }
        if subscribing {
            return self.subscribe(id, now);
        }
        let intent_id = new_id("pi_");
        session.status = SessionStatus::Complete;
        session.payment_intent = Some(intent_id.clone());
        session.paid = how == Payment::Card;
        self.intents
            .insert(intent_id.clone(), PaymentIntent::default());
        let mut invoice_events = Vec::new();
        if how == Payment::Card {
            self.charge_session(id, now);
            invoice_events = self.create_invoice(id, now);
        }
        // Serialized after the invoice exists, so that the event names it, as Stripe's does.
        let completed = session_json(self.session(id)?, false);
        let mut drafts = vec![draft(
            "checkout.session.completed",
            completed,
            &Cause::default(),
        )];
        drafts.extend(invoice_events);
        Ok(((), drafts))
    }

    /// The invoice of a session that was just paid, if it asked for one: created, finalized
    /// and paid at once (one event each), as Stripe does for Checkout's post-payment invoices.
    fn create_invoice(&mut self, session_id: &str, now: i64) -> Vec<EventDraft> {
        let Some(session) = self.sessions.get(session_id) else {
            return Vec::new();
        };
        if !session.invoice_wanted() || session.invoice.is_some() {
            return Vec::new();
        }
        let charge = session
            .payment_intent
            .as_ref()
            .and_then(|pi| self.intents.get(pi))
            .and_then(|intent| intent.charge.clone());
        self.invoice_count += 1;
        let mut invoice =
            Invoice::for_session(session, new_id("in_"), self.invoice_count, charge, now);
        invoice.order = self.next_order();
        let mut drafts = vec![draft(
            "invoice.created",
            invoice_json(&invoice),
            &Cause::default(),
        )];
        invoice.status = InvoiceStatus::Open;
        invoice.finalized_at = Some(now);
        drafts.push(draft(
            "invoice.finalized",
            invoice_json(&invoice),
            &Cause::default(),
        ));
        invoice.status = InvoiceStatus::Paid;
        invoice.paid_at = Some(now);
        drafts.push(draft(
            "invoice.paid",
            invoice_json(&invoice),
            &Cause::default(),
        ));
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.invoice = Some(invoice.id.clone());
        }
        self.invoices.insert(invoice.id.clone(), invoice);
        drafts
    }

    pub fn invoice(&self, id: &str) -> Result<&Invoice, EmulatorError> {
        self.invoices
            .get(id)
            .ok_or_else(|| EmulatorError::not_found("invoice", id))
    }

    pub fn invoice_json(&self, id: &str) -> Result<Value, EmulatorError> {
        self.invoice(id).map(invoice_json)
    }

    /// The next `order` of a created object.
    pub fn next_order(&mut self) -> u64 {
        self.created_count += 1;
        self.created_count
    }

    /// The delayed payment of a completed session settles, one way or the other.
    pub fn settle_delayed(&mut self, id: &str, succeeded: bool, now: i64) -> Outcome<()> {
        let session = self
            .sessions
            .get_mut(id)
            .ok_or_else(|| EmulatorError::not_found("checkout.session", id))?;
        match (&session.status, &session.payment_intent, session.paid) {
            (SessionStatus::Complete, Some(_), false) => {}
            _ => {
                return Err(EmulatorError::state(
                    "This Checkout Session has no pending delayed payment.",
                ))
            }
        }
        if !succeeded {
            let object = session_json(session, false);
            return Ok((
                (),
                vec![draft(
                    "checkout.session.async_payment_failed",
                    object,
                    &Cause::default(),
                )],
            ));
        }
        session.paid = true;
        self.charge_session(id, now);
        let invoice_events = self.create_invoice(id, now);
        let object = session_json(self.session(id)?, false);
        let mut drafts = vec![draft(
            "checkout.session.async_payment_succeeded",
            object,
            &Cause::default(),
        )];
        drafts.extend(invoice_events);
        Ok(((), drafts))
    }

    /// The successful charge of a payment-mode session's payment intent.
    fn charge_session(&mut self, session_id: &str, now: i64) {
        let Some(session) = self.sessions.get(session_id) else {
            return;
        };
        let Some(intent_id) = session.payment_intent.clone() else {
            return;
        };
        let spec = ChargeSpec {
            amount: session.amount_total(),
            currency: session.currency.clone(),
            metadata: session.intent_metadata.clone(),
            description: session.intent_description.clone(),
            email: session
                .intent_receipt_email
                .clone()
                .or_else(|| session.customer_email.clone())
                .or_else(|| session.customer_on_file_email.clone()),
            billing: session.billing.clone(),
            customer: session.customer.clone(),
            invoice: None,
        };
        self.create_charge(&intent_id, spec, now);
    }

    /// A successful charge on a payment intent; returns its id.
    pub fn create_charge(&mut self, intent_id: &str, spec: ChargeSpec, now: i64) -> String {
        let order = self.next_order();
        let charge = Charge {
            id: new_id("ch_"),
            payment_intent: intent_id.to_string(),
            amount: spec.amount,
            currency: spec.currency,
            created: now,
            order,
            amount_refunded: 0,
            refunds: Vec::new(),
            disputed: false,
            metadata: spec.metadata,
            description: spec.description,
            email: spec.email,
            balance_transaction: new_id("txn_"),
            payment_method: new_id("pm_"),
            billing: spec.billing,
            customer: spec.customer,
            invoice: spec.invoice,
        };
        let id = charge.id.clone();
        self.intents
            .entry(intent_id.to_string())
            .or_default()
            .charge = Some(id.clone());
        self.charges.insert(id.clone(), charge);
        id
    }

    pub fn expire(&mut self, id: &str, cause: &Cause) -> Outcome<Value> {
        let session = self
            .sessions
            .get_mut(id)
            .ok_or_else(|| EmulatorError::not_found("checkout.session", id))?;
        if session.status != SessionStatus::Open {
            return Err(EmulatorError::state_with(
                format!(
                    "Only Checkout Sessions with a status of `open` can be expired. This session has a status of `{}`.",
                    session.status.as_str()
                ),
                "checkout_session_not_open",
                None,
            ));
        }
        session.status = SessionStatus::Expired;
        let object = session_json(session, false);
        Ok((
            object.clone(),
            vec![draft("checkout.session.expired", object, cause)],
        ))
    }

    pub fn charge_json(&self, id: &str) -> Result<Value, EmulatorError> {
        let charge = self
            .charges
            .get(id)
            .ok_or_else(|| EmulatorError::not_found("charge", id))?;
        let refunds: Vec<&Refund> = charge
            .refunds
            .iter()
            .filter_map(|r| self.refunds.get(r))
            .collect();
        Ok(charge_json(charge, &refunds))
    }

    /// The charge of a payment intent that has one.
    fn charge_of(&self, intent_id: &str, param: &str) -> Result<String, EmulatorError> {
        let intent = self.intents.get(intent_id).ok_or_else(|| {
            EmulatorError::state_with(
                format!("No such payment_intent: '{intent_id}'"),
                "resource_missing",
                Some(param),
            )
        })?;
        intent.charge.clone().ok_or_else(|| {
            EmulatorError::state_with(
                format!(
                    "This PaymentIntent ({intent_id}) does not have a successful charge to refund."
                ),
                "charge_not_refundable",
                Some(param),
            )
        })
    }

    pub fn refund(&mut self, req: RefundRequest, cause: &Cause, now: i64) -> Outcome<Value> {
        let charge_id = match (&req.payment_intent, &req.charge) {
            (Some(pi), None) => self.charge_of(pi, "payment_intent")?,
            (None, Some(ch)) => ch.clone(),
            (Some(pi), Some(ch)) => {
                let of_intent = self.charge_of(pi, "payment_intent")?;
                if &of_intent != ch {
                    return Err(EmulatorError::state_with(
                        format!("The charge {ch} does not belong to the PaymentIntent {pi}."),
                        "parameter_invalid",
                        Some("charge"),
                    ));
                }
                of_intent
            }
            (None, None) => {
                return Err(EmulatorError::state_with(
                    "One of the following params should be provided for this request: payment_intent or charge.",
                    "parameter_missing",
                    Some("payment_intent"),
                ))
            }
        };
        let charge = self.charges.get(&charge_id).ok_or_else(|| {
            EmulatorError::state_with(
                format!("No such charge: '{charge_id}'"),
                "resource_missing",
                Some("charge"),
            )
        })?;
        let remaining = charge.amount - charge.amount_refunded;
        if remaining <= 0 {
            return Err(EmulatorError::state_with(
                format!("Charge {charge_id} has already been refunded."),
                "charge_already_refunded",
                None,
            ));
        }
        let amount = req.amount.unwrap_or(remaining);
        if amount <= 0 {
            return Err(EmulatorError::state_with(
                "Refund amount must be a positive integer.",
                "parameter_invalid_integer",
                Some("amount"),
            ));
        }
        if amount > remaining {
            return Err(EmulatorError::state_with(
                format!("Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})."),
                "amount_too_large",
                Some("amount"),
            ));
        }
        let order = self.next_order();
        let Some(charge) = self.charges.get_mut(&charge_id) else {
            return Err(EmulatorError::not_found("charge", &charge_id));
        };
        let refund = Refund {
            id: new_id("re_"),
            amount,
            currency: charge.currency.clone(),
            charge: charge_id.clone(),
            payment_intent: charge.payment_intent.clone(),
            created: now,
            order,
            metadata: req.metadata,
            reason: req.reason,
            balance_transaction: new_id("txn_"),
        };
        charge.amount_refunded += amount;
        charge.refunds.push(refund.id.clone());
        let refund_object = refund_json(&refund);
        self.refunds.insert(refund.id.clone(), refund);
        let charge_object = self.charge_json(&charge_id)?;
        Ok((
            refund_object,
            vec![draft("charge.refunded", charge_object, cause)],
        ))
    }

    pub fn refund_json(&self, id: &str) -> Result<Value, EmulatorError> {
        self.refunds
            .get(id)
            .map(refund_json)
            .ok_or_else(|| EmulatorError::not_found("refund", id))
    }

    pub fn dispute_json(&self, id: &str) -> Result<Value, EmulatorError> {
        self.disputes
            .get(id)
            .map(dispute_json)
            .ok_or_else(|| EmulatorError::not_found("dispute", id))
    }

    /// The cardholder disputes the charge of a payment intent.
    pub fn create_dispute(&mut self, intent_id: &str, now: i64) -> Outcome<String> {
        let charge_id = self
            .intents
            .get(intent_id)
            .ok_or_else(|| EmulatorError::not_found("payment_intent", intent_id))?
            .charge
            .clone()
            .ok_or_else(|| {
                EmulatorError::state(format!(
                    "PaymentIntent {intent_id} has no charge to dispute."
                ))
            })?;
        let charge = self
            .charges
            .get_mut(&charge_id)
            .ok_or_else(|| EmulatorError::not_found("charge", &charge_id))?;
        if charge.disputed {
            return Err(EmulatorError::state(format!(
                "Charge {charge_id} is already disputed."
            )));
        }
        charge.disputed = true;
        let dispute = Dispute {
            id: new_id("dp_"),
            amount: charge.amount,
            currency: charge.currency.clone(),
            charge: charge_id,
            payment_intent: intent_id.to_string(),
            created: now,
            status: "needs_response",
        };
        let object = dispute_json(&dispute);
        let id = dispute.id.clone();
        self.disputes.insert(id.clone(), dispute);
        Ok((
            id,
            vec![draft("charge.dispute.created", object, &Cause::default())],
        ))
    }

    pub fn close_dispute(&mut self, id: &str, won: bool) -> Outcome<()> {
        let dispute = self
            .disputes
            .get_mut(id)
            .ok_or_else(|| EmulatorError::not_found("dispute", id))?;
        if dispute.status != "needs_response" {
            return Err(EmulatorError::state(format!(
                "Dispute {id} is already closed ({}).",
                dispute.status
            )));
        }
        dispute.status = if won { "won" } else { "lost" };
        let object = dispute_json(dispute);
        Ok((
            (),
            vec![draft("charge.dispute.closed", object, &Cause::default())],
        ))
    }
}

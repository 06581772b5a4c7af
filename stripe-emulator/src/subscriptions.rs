//! Stripe Billing: customers, subscriptions from subscription-mode Checkout Sessions, their
//! invoices, renewals and failed payments, cancellation, and billing portal sessions.
//!
//! Time is real: the emulator has no test clock. A subscription's period ends when a test or a
//! person says so ([`Advance`]), "now" or at a given time in the past, and every timestamp it
//! writes is then a real time that the application can compare with its own clock.

use serde_json::{Map, Value};

use crate::billing::{
    customer_json, portal_session_json, previous_attributes, subscription_json, Cancellation,
    Customer, CustomerStanding, PortalSession, Subscription, SubscriptionItem, SubscriptionStatus,
};
use crate::error::EmulatorError;
use crate::invoice::{invoice_json, Invoice, InvoiceStatus};
use crate::objects::{
    new_id, session_json, Cause, ChargeSpec, EventDraft, LineItem, PaymentIntent, Session,
    SessionStatus,
};
use crate::store::{draft, Outcome, Store};
use crate::tax::{Billing, Quote};

/// When Stripe tries a failed invoice payment again: the emulator schedules the next attempt
/// three days after a failed one (Stripe's Smart Retries choose their own times).
pub(crate) const RETRY_AFTER_SECS: i64 = 3 * 24 * 3600;

/// What happens to a subscription next, for [`crate::Emulator::advance_subscription`] and
/// `POST /_emulator/subscriptions/{id}/advance` (`action=` in parentheses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Advance {
    /// (`renew`) The current period ends: a new one starts, and its invoice
    /// (`billing_reason` `subscription_cycle`) is created and paid by card. A subscription set to
    /// cancel at period end ends instead (`customer.subscription.deleted`).
    Renew,
    /// (`fail`) As `Renew`, but the card is declined: the invoice stays open and the
    /// subscription turns `past_due`. On a `past_due` (or `unpaid`) subscription, another failed
    /// attempt to pay the same open invoice.
    Fail,
    /// (`recover`) The open invoice of a `past_due` or `unpaid` subscription is paid (the
    /// portal's "Update card and pay"): the subscription is `active` again.
    Recover,
    /// (`give_up`) Stripe's retries of a `past_due` subscription's invoice run out. The invoice
    /// stays open, with no further attempt.
    GiveUp(AfterRetries),
    /// (`cancel_at_period_end`) The customer cancels at the end of the period (portal button).
    CancelAtPeriodEnd,
    /// (`resume`) A pending cancellation at period end is withdrawn.
    Resume,
    /// (`cancel`) Canceled now, as `DELETE /v1/subscriptions/{id}`.
    Cancel,
}

/// What Stripe does with a subscription whose retries ran out (its "subscription status" setting
/// for failed payments; `then=` of `action=give_up`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AfterRetries {
    /// (`canceled`, the default) Cancel it: `customer.subscription.deleted`.
    #[default]
    Cancel,
    /// (`unpaid`) Mark it `unpaid`: `customer.subscription.updated`.
    MarkUnpaid,
}

impl Advance {
    /// `action=` and `then=` as the control route takes them.
    pub fn parse(action: &str, then: Option<&str>) -> Option<Self> {
        let advance = match action {
            "renew" => Advance::Renew,
            "fail" => Advance::Fail,
            "recover" => Advance::Recover,
            "give_up" => Advance::GiveUp(match then {
                None | Some("canceled") => AfterRetries::Cancel,
                Some("unpaid") => AfterRetries::MarkUnpaid,
                Some(_) => return None,
            }),
            "cancel_at_period_end" => Advance::CancelAtPeriodEnd,
            "resume" => Advance::Resume,
            "cancel" => Advance::Cancel,
            _ => return None,
        };
        match (advance, then) {
            (Advance::GiveUp(_), _) | (_, None) => Some(advance),
            _ => None,
        }
    }
}

/// A customer to create.
#[derive(Debug, Clone, Default)]
pub(crate) struct NewCustomer {
    pub email: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub phone: Option<String>,
    pub metadata: Map<String, Value>,
    pub address: Option<Billing>,
}

/// `metadata[...]` of an update: keys to set, keys to unset (`metadata[key]=`), or all unset
/// (`metadata=`).
#[derive(Debug, Clone, Default)]
pub(crate) struct MetadataPatch {
    pub clear: bool,
    pub entries: Vec<(String, Option<String>)>,
}

impl MetadataPatch {
    fn apply(&self, metadata: &mut Map<String, Value>) {
        if self.clear {
            metadata.clear();
        }
        for (key, value) in &self.entries {
            match value {
                Some(v) => metadata.insert(key.clone(), Value::String(v.clone())),
                None => metadata.remove(key),
            };
        }
    }
}

/// `POST /v1/subscriptions/{id}`.
#[derive(Debug, Clone, Default)]
pub(crate) struct SubscriptionUpdate {
    pub cancel_at_period_end: Option<bool>,
    pub metadata: Option<MetadataPatch>,
    /// `Some(None)` unsets it.
    pub description: Option<Option<String>>,
    pub comment: Option<Option<String>>,
    pub feedback: Option<Option<String>>,
}

/// Which subscriptions a list shows (`status=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatusFilter {
    /// No `status`: every subscription that is not canceled, as Stripe lists by default.
    NotCanceled,
    All,
    /// `ended`: canceled (and incomplete_expired, which the emulator never has).
    Ended,
    Is(&'static str),
}

impl StatusFilter {
    fn admits(self, status: SubscriptionStatus) -> bool {
        match self {
            StatusFilter::NotCanceled => status != SubscriptionStatus::Canceled,
            StatusFilter::All => true,
            StatusFilter::Ended => status == SubscriptionStatus::Canceled,
            StatusFilter::Is(s) => status.as_str() == s,
        }
    }
}

const CANCELED_ONLY: &str =
    "A canceled subscription can only update its cancellation_details and metadata.";

impl Store {
    /// `POST /v1/customers`: `customer.created`.
    pub fn create_customer(&mut self, new: NewCustomer, cause: &Cause, now: i64) -> Outcome<Value> {
        let id = self.add_customer(new, now);
        let json = self.customer_json(&id)?;
        Ok((json.clone(), vec![draft("customer.created", json, cause)]))
    }

    fn add_customer(&mut self, new: NewCustomer, now: i64) -> String {
        let id = new_id("cus_");
        let prefix: String = new_id("")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(8)
            .collect::<String>()
            .to_ascii_uppercase();
        let customer = Customer {
            id: id.clone(),
            created: now,
            email: new.email,
            name: new.name,
            description: new.description,
            phone: new.phone,
            metadata: new.metadata,
            currency: None,
            address: new.address,
            invoice_prefix: prefix,
        };
        self.customers.insert(id.clone(), customer);
        id
    }

    pub fn customer(&self, id: &str) -> Result<&Customer, EmulatorError> {
        self.customers
            .get(id)
            .ok_or_else(|| EmulatorError::not_found("customer", id))
    }

    pub fn customer_json(&self, id: &str) -> Result<Value, EmulatorError> {
        let customer = self.customer(id)?;
        let mut standing = CustomerStanding::default();
        for inv in self.invoices.values() {
            if inv.customer.as_deref() == Some(id) {
                standing.invoices += 1;
                standing.delinquent |= inv.status == InvoiceStatus::Open && inv.attempt_count > 0;
            }
        }
        Ok(customer_json(customer, standing))
    }

    /// A customer that a request names as a parameter must exist (a 400, not a 404).
    fn named_customer(&self, id: &str, param: &str) -> Result<&Customer, EmulatorError> {
        self.customers.get(id).ok_or_else(|| {
            EmulatorError::state_with(
                format!("No such customer: '{id}'"),
                "resource_missing",
                Some(param),
            )
        })
    }

    /// Stores a new session; a `customer` it names must exist.
    pub fn add_session(
        &mut self,
        mut session: Session,
        expand: bool,
    ) -> Result<Value, EmulatorError> {
        if let Some(customer) = &session.customer {
            let email = self.named_customer(customer, "customer")?.email.clone();
            session.customer_on_file_email = email;
        }
        session.order = self.next_order();
        let json = session_json(&session, expand);
        self.sessions.insert(session.id.clone(), session);
        Ok(json)
    }

    /// A subscription-mode session is paid by card: the customer (if the session had none), the
    /// subscription and its first invoice are created, the invoice is paid and the session
    /// completes.
    pub(crate) fn subscribe(&mut self, session_id: &str, now: i64) -> Outcome<()> {
        let session = self.session(session_id)?.clone();
        let mut drafts = Vec::new();
        let customer_id = match &session.customer {
            Some(id) => id.clone(),
            None => {
                let billing = session.billing.clone();
                let id = self.add_customer(
                    NewCustomer {
                        email: Some(session.email()),
                        name: billing.as_ref().and_then(Billing::display_name).cloned(),
                        address: billing,
                        ..NewCustomer::default()
                    },
                    now,
                );
                drafts.push(draft(
                    "customer.created",
                    self.customer_json(&id)?,
                    &Cause::default(),
                ));
                id
            }
        };
        if let Some(customer) = self.customers.get_mut(&customer_id) {
            customer
                .currency
                .get_or_insert_with(|| session.currency.clone());
        }
        let recurring = session
            .items
            .iter()
            .find_map(|item| item.recurring)
            .ok_or_else(|| EmulatorError::state("This session has no recurring price."))?;
        let sub_id = new_id("sub_");
        let subscription = Subscription {
            id: sub_id.clone(),
            customer: customer_id.clone(),
            created: now,
            order: self.next_order(),
            currency: session.currency.clone(),
            items: session
                .items
                .iter()
                .map(|item| SubscriptionItem {
                    id: new_id("si_"),
                    created: now,
                    item: item.clone(),
                })
                .collect(),
            recurring,
            period_start: now,
            period_end: recurring.after(now),
            status: SubscriptionStatus::Active,
            cancel_at_period_end: false,
            cancel_at: None,
            canceled_at: None,
            ended_at: None,
            cancellation: Cancellation::default(),
            metadata: session.subscription_data.metadata.clone(),
            description: session.subscription_data.description.clone(),
            latest_invoice: None,
            open_invoice: None,
            automatic_tax: session.automatic_tax,
            billing: session.billing.clone(),
            default_payment_method: new_id("pm_"),
            base_url: session.base_url.clone(),
        };
        self.subscriptions.insert(sub_id.clone(), subscription);
        let mut invoice_drafts = Vec::new();
        let invoice_id = self.bill(
            &sub_id,
            "subscription_create",
            now,
            (now, now),
            session.tax.clone(),
            true,
            &Cause::default(),
            &mut invoice_drafts,
        )?;
        if let Some(sub) = self.subscriptions.get_mut(&sub_id) {
            sub.latest_invoice = Some(invoice_id.clone());
        }
        drafts.push(draft(
            "customer.subscription.created",
            self.subscription_json(&sub_id)?,
            &Cause::default(),
        ));
        drafts.extend(invoice_drafts);
        if let Some(session) = self.sessions.get_mut(session_id) {
            session.status = SessionStatus::Complete;
            session.paid = true;
            session.customer = Some(customer_id);
            session.subscription = Some(sub_id);
            session.invoice = Some(invoice_id);
        }
        drafts.push(draft(
            "checkout.session.completed",
            session_json(self.session(session_id)?, false),
            &Cause::default(),
        ));
        Ok(((), drafts))
    }

    /// Creates, finalizes and tries to pay an invoice for the subscription's current period;
    /// returns its id. The events go to `drafts`.
    #[allow(clippy::too_many_arguments)]
    fn bill(
        &mut self,
        sub_id: &str,
        billing_reason: &'static str,
        at: i64,
        period: (i64, i64),
        quote: Option<Quote>,
        succeed: bool,
        cause: &Cause,
        drafts: &mut Vec<EventDraft>,
    ) -> Result<String, EmulatorError> {
        let sub = self.subscription(sub_id)?.clone();
        let email = self
            .customers
            .get(&sub.customer)
            .and_then(|c| c.email.clone());
        self.invoice_count += 1;
        let mut invoice = Invoice::for_subscription(
            &sub,
            email,
            new_id("in_"),
            self.invoice_count,
            billing_reason,
            at,
            period,
            quote,
        );
        invoice.order = self.next_order();
        drafts.push(draft("invoice.created", invoice_json(&invoice), cause));
        let intent = new_id("pi_");
        self.intents
            .insert(intent.clone(), PaymentIntent::default());
        invoice.payment_intent = Some(intent);
        invoice.status = InvoiceStatus::Open;
        invoice.finalized_at = Some(at);
        drafts.push(draft("invoice.finalized", invoice_json(&invoice), cause));
        self.attempt(&mut invoice, succeed, at, cause, drafts);
        let id = invoice.id.clone();
        self.invoices.insert(id.clone(), invoice);
        Ok(id)
    }

    /// One attempt to pay an open invoice by card: `invoice.paid` and
    /// `invoice.payment_succeeded`, or `invoice.payment_failed`.
    fn attempt(
        &mut self,
        invoice: &mut Invoice,
        succeed: bool,
        at: i64,
        cause: &Cause,
        drafts: &mut Vec<EventDraft>,
    ) {
        invoice.attempt_count += 1;
        if !succeed {
            invoice.next_payment_attempt = invoice.auto_advance.then_some(at + RETRY_AFTER_SECS);
            drafts.push(draft(
                "invoice.payment_failed",
                invoice_json(invoice),
                cause,
            ));
            return;
        }
        let intent = invoice.payment_intent.clone().unwrap_or_default();
        let spec = ChargeSpec {
            amount: invoice.total(),
            currency: invoice.currency.clone(),
            metadata: Map::new(),
            // What Stripe writes on subscription charges.
            description: Some(
                match invoice.billing_reason {
                    "subscription_create" => "Subscription creation",
                    _ => "Subscription update",
                }
                .to_string(),
            ),
            email: invoice.email.clone(),
            billing: invoice.billing.clone(),
            customer: invoice.customer.clone(),
            invoice: Some(invoice.id.clone()),
        };
        invoice.charge = Some(self.create_charge(&intent, spec, at));
        invoice.status = InvoiceStatus::Paid;
        invoice.paid_at = Some(at);
        invoice.next_payment_attempt = None;
        invoice.auto_advance = false;
        let json = invoice_json(invoice);
        drafts.push(draft("invoice.paid", json.clone(), cause));
        drafts.push(draft("invoice.payment_succeeded", json, cause));
    }

    pub fn subscription(&self, id: &str) -> Result<&Subscription, EmulatorError> {
        self.subscriptions
            .get(id)
            .ok_or_else(|| EmulatorError::not_found("subscription", id))
    }

    pub fn subscription_json(&self, id: &str) -> Result<Value, EmulatorError> {
        self.subscription(id).map(subscription_json)
    }

    /// Subscriptions, newest first, of one customer or of all. "Newest" is the order they were
    /// made in, which is Stripe's `created` order as long as no `at` reached back in time.
    pub fn subscriptions_filtered(
        &self,
        customer: Option<&str>,
        status: StatusFilter,
    ) -> Vec<&Subscription> {
        let mut subs: Vec<&Subscription> = self
            .subscriptions
            .values()
            .filter(|s| customer.is_none_or(|c| s.customer == c) && status.admits(s.status))
            .collect();
        subs.sort_by_key(|s| std::cmp::Reverse(s.order));
        subs
    }

    /// Invoices, newest first (in the order they were made: a renewal dated back with `at` still
    /// comes before the invoices made before it), filtered by customer, subscription and status.
    pub fn invoices_filtered(
        &self,
        customer: Option<&str>,
        subscription: Option<&str>,
        status: Option<&str>,
    ) -> Vec<&Invoice> {
        let mut invoices: Vec<&Invoice> = self
            .invoices
            .values()
            .filter(|inv| {
                customer.is_none_or(|c| inv.customer.as_deref() == Some(c))
                    && subscription
                        .is_none_or(|s| inv.subscription.as_ref().is_some_and(|p| p.id == s))
                    && status.is_none_or(|s| inv.status.as_str() == s)
            })
            .collect();
        invoices.sort_by_key(|inv| std::cmp::Reverse(inv.order));
        invoices
    }

    /// Changes a subscription; returns its JSON and, if anything changed,
    /// `customer.subscription.updated` with `previous_attributes`.
    fn change(
        &mut self,
        id: &str,
        cause: &Cause,
        edit: impl FnOnce(&mut Subscription),
    ) -> Result<(Value, Option<EventDraft>), EmulatorError> {
        let sub = self
            .subscriptions
            .get_mut(id)
            .ok_or_else(|| EmulatorError::not_found("subscription", id))?;
        let before = subscription_json(sub);
        edit(sub);
        let after = subscription_json(sub);
        let event = previous_attributes(&before, &after).map(|previous| EventDraft {
            kind: "customer.subscription.updated",
            object: after.clone(),
            cause: cause.clone(),
            previous: Some(previous),
        });
        Ok((after, event))
    }

    /// Ends a subscription (`customer.subscription.deleted`); an open invoice stays open, with
    /// no further attempt.
    fn end(
        &mut self,
        id: &str,
        cause: &Cause,
        edit: impl FnOnce(&mut Subscription),
    ) -> Outcome<Value> {
        let sub = self
            .subscriptions
            .get_mut(id)
            .ok_or_else(|| EmulatorError::not_found("subscription", id))?;
        edit(sub);
        sub.status = SubscriptionStatus::Canceled;
        let open = sub.open_invoice.clone();
        let json = subscription_json(sub);
        if let Some(invoice) = open.and_then(|i| self.invoices.get_mut(&i)) {
            invoice.next_payment_attempt = None;
            invoice.auto_advance = false;
        }
        Ok((
            json.clone(),
            vec![draft("customer.subscription.deleted", json, cause)],
        ))
    }

    /// What the control and the portal do; `at` is when it happened (for `Renew` and `Fail`,
    /// when the current period ended).
    pub fn advance(&mut self, id: &str, action: Advance, at: i64, cause: &Cause) -> Outcome<Value> {
        let sub = self.subscription(id)?;
        let (status, pending, open) = (
            sub.status,
            sub.cancel_at_period_end,
            sub.open_invoice.clone(),
        );
        if status == SubscriptionStatus::Canceled {
            return Err(EmulatorError::state(format!(
                "This subscription was canceled (at {}); `{}` does not apply to it.",
                sub.ended_at.unwrap_or_default(),
                action_name(action)
            )));
        }
        match action {
            Advance::Renew | Advance::Fail if pending => self.end(id, cause, |s| {
                s.period_end = at;
                s.cancel_at = Some(at);
                s.ended_at = Some(at);
            }),
            Advance::Renew | Advance::Fail if status != SubscriptionStatus::Active => {
                match (action, open) {
                    (Advance::Fail, Some(invoice)) => self.retry_failed(id, &invoice, at, cause),
                    (_, invoice) => Err(EmulatorError::state(format!(
                        "This subscription is {}: its invoice {} is still open, so its period cannot renew. Pay it (`recover`), fail it again (`fail`) or give up (`give_up`) first.",
                        status.as_str(),
                        invoice.unwrap_or_default()
                    ))),
                }
            }
            Advance::Renew => self.cycle(id, at, true, cause),
            Advance::Fail => self.cycle(id, at, false, cause),
            Advance::Recover => match open {
                Some(invoice) => {
                    let ((), drafts) = self.pay_invoice(&invoice, at, cause)?;
                    Ok((self.subscription_json(id)?, drafts))
                }
                None => Err(EmulatorError::state(format!(
                    "This subscription has no unpaid invoice to pay (status: {}).",
                    status.as_str()
                ))),
            },
            Advance::GiveUp(then) => {
                if status != SubscriptionStatus::PastDue {
                    return Err(EmulatorError::state(format!(
                        "Only a past_due subscription has retries to give up on (status: {}).",
                        status.as_str()
                    )));
                }
                if let Some(invoice) = open.and_then(|i| self.invoices.get_mut(&i)) {
                    invoice.next_payment_attempt = None;
                    invoice.auto_advance = false;
                }
                match then {
                    AfterRetries::Cancel => self.end(id, cause, |s| {
                        s.canceled_at = Some(at);
                        s.ended_at = Some(at);
                        s.cancellation.reason = Some("payment_failed");
                    }),
                    AfterRetries::MarkUnpaid => {
                        let (json, event) =
                            self.change(id, cause, |s| s.status = SubscriptionStatus::Unpaid)?;
                        Ok((json, event.into_iter().collect()))
                    }
                }
            }
            Advance::CancelAtPeriodEnd if pending => Err(EmulatorError::state(
                "This subscription is already set to cancel at the end of its period.",
            )),
            Advance::Resume if !pending => Err(EmulatorError::state(
                "This subscription is not set to cancel at the end of its period; there is nothing to resume.",
            )),
            Advance::CancelAtPeriodEnd | Advance::Resume => {
                let update = SubscriptionUpdate {
                    cancel_at_period_end: Some(action == Advance::CancelAtPeriodEnd),
                    ..SubscriptionUpdate::default()
                };
                self.update_subscription(id, update, cause, at)
            }
            Advance::Cancel => self.cancel_subscription(id, None, None, cause, at),
        }
    }

    /// The period ends at `at`: a new one starts, and its invoice is paid (or not).
    fn cycle(&mut self, id: &str, at: i64, succeed: bool, cause: &Cause) -> Outcome<Value> {
        let sub = self.subscription(id)?;
        let before = subscription_json(sub);
        let ended = (sub.period_start.min(at), at);
        let quote = self.renewal_quote(sub);
        if let Some(sub) = self.subscriptions.get_mut(id) {
            sub.period_start = at;
            sub.period_end = sub.recurring.after(at);
        }
        let mut drafts = Vec::new();
        let invoice = self.bill(
            id,
            "subscription_cycle",
            at,
            ended,
            quote,
            succeed,
            cause,
            &mut drafts,
        )?;
        let sub = self
            .subscriptions
            .get_mut(id)
            .ok_or_else(|| EmulatorError::not_found("subscription", id))?;
        sub.latest_invoice = Some(invoice.clone());
        if !succeed {
            sub.status = SubscriptionStatus::PastDue;
            sub.open_invoice = Some(invoice);
        }
        let after = subscription_json(sub);
        drafts.push(EventDraft {
            kind: "customer.subscription.updated",
            object: after.clone(),
            cause: cause.clone(),
            previous: previous_attributes(&before, &after),
        });
        Ok((after, drafts))
    }

    /// A renewal is taxed at the rate of the customer's country then.
    fn renewal_quote(&self, sub: &Subscription) -> Option<Quote> {
        if !sub.automatic_tax {
            return None;
        }
        let country = sub
            .billing
            .as_ref()
            .map_or_else(|| self.tax.default_country.clone(), |b| b.country.clone());
        let items: Vec<LineItem> = sub.items.iter().map(|si| si.item.clone()).collect();
        Some(Quote::new(&items, &country, self.tax.rate(&country)))
    }

    /// Another failed attempt on the open invoice of a past_due subscription.
    fn retry_failed(
        &mut self,
        id: &str,
        invoice_id: &str,
        at: i64,
        cause: &Cause,
    ) -> Outcome<Value> {
        let mut invoice = self.invoice(invoice_id)?.clone();
        let mut drafts = Vec::new();
        self.attempt(&mut invoice, false, at, cause, &mut drafts);
        self.invoices.insert(invoice.id.clone(), invoice);
        Ok((self.subscription_json(id)?, drafts))
    }

    /// The customer pays an open invoice (the portal, the hosted invoice page, `recover`). If it
    /// is the open invoice of a past_due or unpaid subscription, that is active again.
    pub fn pay_invoice(&mut self, invoice_id: &str, at: i64, cause: &Cause) -> Outcome<()> {
        let mut invoice = self.invoice(invoice_id)?.clone();
        if invoice.status != InvoiceStatus::Open {
            return Err(EmulatorError::state_with(
                "Invoice is already paid",
                "invoice_not_open",
                None,
            ));
        }
        let mut drafts = Vec::new();
        self.attempt(&mut invoice, true, at, cause, &mut drafts);
        let subscription = invoice.subscription.as_ref().map(|s| s.id.clone());
        self.invoices.insert(invoice.id.clone(), invoice);
        if let Some(sub_id) = subscription {
            let owes = self
                .subscriptions
                .get(&sub_id)
                .is_some_and(|s| s.open_invoice.as_deref() == Some(invoice_id));
            if owes {
                let (_, event) = self.change(&sub_id, cause, |s| {
                    s.open_invoice = None;
                    if matches!(
                        s.status,
                        SubscriptionStatus::PastDue | SubscriptionStatus::Unpaid
                    ) {
                        s.status = SubscriptionStatus::Active;
                    }
                })?;
                drafts.extend(event);
            }
        }
        Ok(((), drafts))
    }

    /// `POST /v1/subscriptions/{id}` (and the portal's cancel-at-period-end and resume):
    /// `customer.subscription.updated` if anything changed.
    pub fn update_subscription(
        &mut self,
        id: &str,
        update: SubscriptionUpdate,
        cause: &Cause,
        now: i64,
    ) -> Outcome<Value> {
        let sub = self.subscription(id)?;
        if sub.status == SubscriptionStatus::Canceled
            && (update.cancel_at_period_end.is_some() || update.description.is_some())
        {
            return Err(EmulatorError::state(CANCELED_ONLY));
        }
        let (json, event) = self.change(id, cause, |s| {
            match update.cancel_at_period_end {
                Some(true) if !s.cancel_at_period_end => {
                    s.cancel_at_period_end = true;
                    s.cancel_at = Some(s.period_end);
                    // Stripe records when the cancellation was asked for.
                    s.canceled_at = Some(now);
                    s.cancellation.reason = Some("cancellation_requested");
                }
                Some(false) if s.cancel_at_period_end => {
                    s.cancel_at_period_end = false;
                    s.cancel_at = None;
                    s.canceled_at = None;
                    s.cancellation.reason = None;
                }
                _ => {}
            }
            if let Some(patch) = &update.metadata {
                patch.apply(&mut s.metadata);
            }
            if let Some(description) = update.description {
                s.description = description;
            }
            if let Some(comment) = update.comment {
                s.cancellation.comment = comment;
            }
            if let Some(feedback) = update.feedback {
                s.cancellation.feedback = feedback;
            }
        })?;
        Ok((json, event.into_iter().collect()))
    }

    /// `DELETE /v1/subscriptions/{id}` (and the portal's "Cancel now"): canceled at `now`,
    /// `customer.subscription.deleted`. Canceling a canceled subscription is a 404, as on Stripe.
    pub fn cancel_subscription(
        &mut self,
        id: &str,
        comment: Option<String>,
        feedback: Option<String>,
        cause: &Cause,
        now: i64,
    ) -> Outcome<Value> {
        if self.subscription(id)?.status == SubscriptionStatus::Canceled {
            return Err(EmulatorError::not_found("subscription", id));
        }
        self.end(id, cause, |s| {
            s.canceled_at = Some(now);
            s.ended_at = Some(now);
            s.cancellation.reason = Some("cancellation_requested");
            if comment.is_some() {
                s.cancellation.comment = comment;
            }
            if feedback.is_some() {
                s.cancellation.feedback = feedback;
            }
        })
    }

    /// `POST /v1/billing_portal/sessions`: `billing_portal.session.created`.
    pub fn create_portal_session(
        &mut self,
        customer: &str,
        return_url: Option<String>,
        locale: Option<String>,
        base: &str,
        cause: &Cause,
        now: i64,
    ) -> Outcome<Value> {
        self.named_customer(customer, "customer")?;
        let id = new_id("bps_");
        let portal = PortalSession {
            url: format!("{base}/portal/{id}"),
            id: id.clone(),
            customer: customer.to_string(),
            created: now,
            return_url,
            locale,
        };
        let json = portal_session_json(&portal);
        self.portal_sessions.insert(id, portal);
        Ok((
            json.clone(),
            vec![draft("billing_portal.session.created", json, cause)],
        ))
    }

    pub fn portal_session(&self, id: &str) -> Result<&PortalSession, EmulatorError> {
        self.portal_sessions
            .get(id)
            .ok_or_else(|| EmulatorError::not_found("billing_portal.session", id))
    }
}

fn action_name(action: Advance) -> &'static str {
    match action {
        Advance::Renew => "renew",
        Advance::Fail => "fail",
        Advance::Recover => "recover",
        Advance::GiveUp(_) => "give_up",
        Advance::CancelAtPeriodEnd => "cancel_at_period_end",
        Advance::Resume => "resume",
        Advance::Cancel => "cancel",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_parse() {
        assert_eq!(Advance::parse("renew", None), Some(Advance::Renew));
        assert_eq!(
            Advance::parse("give_up", None),
            Some(Advance::GiveUp(AfterRetries::Cancel))
        );
        assert_eq!(
            Advance::parse("give_up", Some("unpaid")),
            Some(Advance::GiveUp(AfterRetries::MarkUnpaid))
        );
        assert_eq!(Advance::parse("give_up", Some("later")), None);
        assert_eq!(Advance::parse("renew", Some("unpaid")), None);
        assert_eq!(Advance::parse("pause", None), None);
    }
}

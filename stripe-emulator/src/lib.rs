//! A local stand-in for the part of the Stripe API that Folio uses, so that development runs and
//! tests need no Stripe account and no network.
//!
//! It serves, Stripe-shaped and test-mode only:
//! - `POST /v1/checkout/sessions` (`mode=payment` or `mode=subscription`),
//!   `GET /v1/checkout/sessions/{id}` (with `expand[]=line_items`, `customer`, `invoice`,
//!   `subscription`), `GET /v1/checkout/sessions` (the list; see below),
//!   `GET /v1/checkout/sessions/{id}/line_items`, `POST /v1/checkout/sessions/{id}/expire`;
//! - `POST /v1/refunds`, `GET /v1/refunds/{id}`, `GET /v1/charges/{id}`, `GET /v1/disputes/{id}`;
//! - the lists a shop reconciles with, in Stripe's list shape (`{"object": "list", "url",
//!   "has_more", "data"}`, each object exactly as its retrieve endpoint shows it), newest first
//!   by `created` (ties in the order they were made), with `limit` (1 to 100, default 10),
//!   `starting_after` / `ending_before` (an unknown id is Stripe's 400 `resource_missing`, "No
//!   such checkout.session: '…'") and `created` (`created=T` or `created[gt|gte|lt|lte]=T`, Unix
//!   seconds): `GET /v1/checkout/sessions` (also `payment_intent`, `status`, `customer`,
//!   `subscription`, `customer_details[email]`, `expand[]=data.line_items`),
//!   `GET /v1/charges` (also `payment_intent`, `customer`; subscription invoices' charges
//!   included, dated at their renewal's `at`) and `GET /v1/refunds` (also `payment_intent`,
//!   `charge`);
//! - refunds made on Stripe's side, not by the application: [`Emulator::refund`], or the
//!   dashboard's Payments section (below), both exactly `POST /v1/refunds`, `charge.refunded`
//!   included;
//! - the hosted checkout page `GET /pay/{id}` with Pay / Pay later / Decline / Cancel buttons
//!   (Subscribe / Decline / Cancel for subscriptions, with the price per interval), and, for
//!   sessions with `automatic_tax`, `billing_address_collection` or `tax_id_collection`, a
//!   billing address and tax ID form;
//! - Stripe Tax with a configurable rate per country ([`Emulator::set_tax_rates`]), and the
//!   invoices of `invoice_creation` and of subscriptions (`GET /v1/invoices/{id}` with
//!   `expand[]=payments`, `GET /v1/invoices?customer=&subscription=&status=`, hosted at
//!   `/invoices/{id}`, where an open one can be paid);
//! - Stripe Billing: `POST /v1/customers`, `GET /v1/customers/{id}`;
//!   `GET /v1/subscriptions?customer=&status=` (Stripe's list shape and cursors),
//!   `GET /v1/subscriptions/{id}` (`expand[]=latest_invoice`, `customer`),
//!   `POST /v1/subscriptions/{id}` (`cancel_at_period_end`, `metadata`, `description`,
//!   `cancellation_details`), `DELETE /v1/subscriptions/{id}`;
//!   `POST /v1/billing_portal/sessions` and the portal page `GET /portal/{id}` (cancel at period
//!   end, resume, cancel now, update card and pay);
//! - time for subscriptions without a clock of its own: [`Emulator::advance_subscription`] (or
//!   `POST /_emulator/subscriptions/{id}/advance`) ends a period now or at a given past time,
//!   renewing it, failing its payment, recovering, giving up or canceling ([`Advance`]);
//! - a dashboard, what Stripe's dashboard and its test clocks are for a developer (no API key):
//!   `GET /dashboard` lists the subscriptions (newest first), the payments (newest first, each
//!   with a form to refund it in full or in part, `POST /dashboard/charges/{id}/refund`), a
//!   checkbox for the knob `drop_webhooks` (`POST /dashboard/knobs`) and the last 20 events;
//!   `GET /dashboard/subscriptions/{id}` shows one, its invoices and events, and a "Test clock"
//!   with a form for each action that applies in its state, posting `action`, `then` and
//!   `days_ago` to `POST /dashboard/subscriptions/{id}/advance` (the control route's action,
//!   `at` = now − `days_ago` days), which redirects back with a notice of what happened and
//!   which events were sent, or shows why the action was refused;
//! - signed webhooks (`Stripe-Signature`) for checkout, refund, dispute, invoice, customer,
//!   subscription and portal events, with knobs ([`Knobs`]) that make delivery late,
//!   duplicated, concurrent, failing, held back, reordered or lost (`drop_webhooks`: recorded,
//!   never sent, so that the application must reconcile through the lists);
//! - `/_emulator/...` routes to drive the same knobs, disputes and subscriptions by hand.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use stripe_emulator::{Config, Emulator};
//! let emulator = Emulator::new(Config { webhook_url: None, webhook_secret: "whsec_test".into() });
//! let server = emulator.server(std::net::TcpListener::bind("127.0.0.1:0")?)?;
//! actix_web::rt::spawn(server);
//! // point async-stripe at format!("{}/", emulator.base_url())
//! # Ok(()) }
//! ```

// `json!` of a full checkout.session needs more than the default 128, of an invoice more than 256.
#![recursion_limit = "512"]

mod api;
mod billing;
mod billing_api;
mod checkout;
mod control;
mod dashboard;
mod delivery;
mod error;
mod form;
mod invoice;
mod invoice_page;
mod lists;
mod objects;
mod pages;
mod params;
mod portal;
mod routes;
mod store;
mod subscriptions;
mod tax;

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use actix_web::{web, App, HttpServer};
use serde::{Deserialize, Serialize};

pub use delivery::{signature, Delivery, MAX_ATTEMPTS};
pub use error::EmulatorError;
pub use objects::API_VERSION;
pub use subscriptions::{Advance, AfterRetries};
pub use tax::{default_tax_rates, CustomerDetails, DEFAULT_COUNTRY};

use crate::delivery::{BusyGuard, Outbox, Outgoing};
use crate::objects::{event_json, new_id, Cause, EventDraft};
use crate::store::{Payment, RefundRequest, Store};
use crate::subscriptions::StatusFilter;

/// How the emulator reaches the application.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where signed events are POSTed; can be set later with [`Emulator::set_webhook_url`].
    /// Events raised before there is one are kept and sent once it is set.
    pub webhook_url: Option<String>,
    /// The endpoint secret (`whsec_...`): the HMAC key of `Stripe-Signature`.
    pub webhook_secret: String,
}

/// Switches that make the emulator misbehave the ways Stripe can, so that the application's
/// handling of those cases can be tested. All default to off.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Knobs {
    /// Deliver every event this many extra times.
    pub duplicates: u32,
    /// Send the copies of one event concurrently instead of one after another.
    pub concurrent: bool,
    /// Wait this long before the first delivery attempt of each event.
    pub delay_ms: u64,
    /// Drop the first N attempts of each event as simulated network failures (logged, then
    /// retried with backoff).
    pub fail_first: u32,
    /// Queue events instead of sending them; [`Emulator::release`] sends them.
    pub hold: bool,
    /// Every `/v1` call answers HTTP 500 with an `api_error`.
    pub api_outage: bool,
    /// Reserved; delayed payments are chosen on the page ("Pay later") instead.
    pub async_payments: bool,
    /// Retry backoff base (0: 200 ms); doubles per failed attempt, capped at 5 s; delivery gives
    /// up after [`MAX_ATTEMPTS`] attempts of a copy.
    pub retry_base_ms: u64,
    /// How long a delayed ("Pay later") payment takes to settle (0: 1000 ms).
    pub async_delay_ms: u64,
    /// Lose webhooks: every event raised while this is on is created and recorded
    /// ([`Emulator::events`], `GET /_emulator/events`) but never sent; the deliveries log gets
    /// one entry per event with [`Delivery::dropped`] set. Turning it off does not resend them:
    /// the application has to find out through the list endpoints (`GET /v1/checkout/sessions`,
    /// `/v1/charges`, `/v1/refunds`), as after a real outage. Events raised before it was turned
    /// on (held, waiting for a URL, or being retried) are not affected.
    pub drop_webhooks: bool,
}

/// Shared state behind every clone of [`Emulator`] and every server worker.
#[derive(Debug)]
pub(crate) struct Inner {
    pub secret: String,
    webhook_url: Mutex<Option<String>>,
    knobs: Mutex<Knobs>,
    base_url: Mutex<Option<String>>,
    pub store: Mutex<Store>,
    pub outbox: Outbox,
}

impl Inner {
    pub fn knobs(&self) -> Knobs {
        lock(&self.knobs).clone()
    }

    pub fn webhook_url(&self) -> Option<String> {
        lock(&self.webhook_url).clone()
    }
}

/// Locks a mutex, ignoring poisoning: state is only changed by short, non-panicking sections,
/// and one panicking test must not take the whole emulator down with it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The emulator: its state, its server and its webhook sender. Cheap to clone; clones share
/// everything.
#[derive(Clone, Debug)]
pub struct Emulator {
    inner: Arc<Inner>,
}

impl Emulator {
    pub fn new(config: Config) -> Self {
        Self {
            inner: Arc::new(Inner {
                secret: config.webhook_secret,
                webhook_url: Mutex::new(config.webhook_url.filter(|u| !u.is_empty())),
                knobs: Mutex::new(Knobs::default()),
                base_url: Mutex::new(None),
                store: Mutex::new(Store::default()),
                outbox: Outbox::new(),
            }),
        }
    }

    /// Serves the API and the hosted checkout pages on an already-bound listener. Like
    /// `HttpServer::run()`, the returned server must be awaited or spawned on an actix runtime.
    ///
    /// It runs one worker (the state sits behind one mutex anyway, and tests start many
    /// emulators) and installs no signal handlers, because it is usually embedded in a test or
    /// another program.
    pub fn server(&self, listener: TcpListener) -> std::io::Result<actix_web::dev::Server> {
        let addr = listener.local_addr()?;
        *lock(&self.inner.base_url) = Some(base_url_for(addr));
        let emulator = self.clone();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(emulator.clone()))
                .configure(routes::configure)
        })
        .workers(1)
        .disable_signals()
        .shutdown_timeout(1)
        .listen(listener)?
        .run();
        Ok(server)
    }

    /// `http://127.0.0.1:PORT` once [`Emulator::server`] was called (an unspecified bind address
    /// is reported as loopback); the empty string before.
    pub fn base_url(&self) -> String {
        lock(&self.inner.base_url).clone().unwrap_or_default()
    }

    /// Sets where events go, and sends the events that waited for a URL (unless `hold` is on).
    pub fn set_webhook_url(&self, url: &str) {
        *lock(&self.inner.webhook_url) = Some(url.to_string()).filter(|u| !u.is_empty());
        if !self.inner.knobs().hold {
            delivery::flush(&self.inner, false);
        }
    }

    /// Replaces all knobs. Turning `hold` off does not send held events: [`Emulator::release`]
    /// does.
    pub fn set_knobs(&self, knobs: Knobs) {
        *lock(&self.inner.knobs) = knobs;
    }

    pub fn knobs(&self) -> Knobs {
        self.inner.knobs()
    }

    /// The current `checkout.session` object (without `line_items`), or `None` for an unknown id.
    pub fn session(&self, id: &str) -> Option<serde_json::Value> {
        self.with_store(|store, _| {
            let session = store.session(id)?;
            Ok((objects::session_json(session, false), Vec::new()))
        })
        .ok()
    }

    /// Completes a session as if the customer paid by card (the page's Pay button):
    /// `checkout.session.completed` with `payment_status` "paid". A session that collects an
    /// address is paid from [`Emulator::default_country`] with no other details.
    ///
    /// A subscription-mode session ("Subscribe") creates the customer if it named none
    /// (`customer.created`), the subscription (`customer.subscription.created`) and its first
    /// invoice, paid (`invoice.created`, `invoice.finalized`, `invoice.paid`,
    /// `invoice.payment_succeeded`), then completes (`checkout.session.completed`), in that
    /// order.
    pub fn pay(&self, session_id: &str) -> Result<(), EmulatorError> {
        self.pay_with(session_id, &CustomerDetails::default())
    }

    /// [`Emulator::pay`] with what the customer entered on the page: with automatic tax, the
    /// country decides the tax, and the charge is the total. With `invoice_creation`, the
    /// invoice is created too (`invoice.created`, `invoice.finalized`, `invoice.paid`). Invalid
    /// details (a country that is not two letters, a malformed VAT number) are an
    /// [`EmulatorError::InvalidState`] naming the field, and the session stays open.
    pub fn pay_with(
        &self,
        session_id: &str,
        details: &CustomerDetails,
    ) -> Result<(), EmulatorError> {
        self.with_store(|store, now| store.pay(session_id, Payment::Card, details, now))
    }

    /// Completes a session with a delayed payment method (the page's "Pay later" button):
    /// `checkout.session.completed` with `payment_status` "unpaid" now, then after
    /// `async_delay_ms` either `checkout.session.async_payment_succeeded` (and "paid") or
    /// `checkout.session.async_payment_failed`.
    pub fn pay_async(&self, session_id: &str, succeed: bool) -> Result<(), EmulatorError> {
        self.pay_async_with(session_id, succeed, &CustomerDetails::default())
    }

    /// [`Emulator::pay_async`] with the customer's details (see [`Emulator::pay_with`]). The
    /// invoice, if asked for, is created when the payment succeeds.
    pub fn pay_async_with(
        &self,
        session_id: &str,
        succeed: bool,
        details: &CustomerDetails,
    ) -> Result<(), EmulatorError> {
        self.with_store(|store, now| store.pay(session_id, Payment::Delayed, details, now))?;
        let delay = match self.knobs().async_delay_ms {
            0 => 1000,
            ms => ms,
        };
        let guard = BusyGuard::new(&self.inner);
        let emulator = self.clone();
        let session_id = session_id.to_string();
        delivery::spawn(async move {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if let Err(err) =
                emulator.with_store(|store, now| store.settle_delayed(&session_id, succeed, now))
            {
                tracing::warn!(%err, "delayed payment could not settle");
            }
            drop(guard);
        });
        Ok(())
    }

    /// Expires an open session (`checkout.session.expired`), like
    /// `POST /v1/checkout/sessions/{id}/expire`.
    pub fn expire(&self, session_id: &str) -> Result<(), EmulatorError> {
        self.with_store(|store, _| store.expire(session_id, &Cause::default()))
            .map(|_| ())
    }

    /// The `invoice` object (as `GET /v1/invoices/{id}` shows it), or `None` for an unknown id.
    pub fn invoice(&self, id: &str) -> Option<serde_json::Value> {
        lock(&self.inner.store).invoice_json(id).ok()
    }

    /// The payment intent of an invoice (what `POST /v1/refunds` takes as `payment_intent`; over
    /// HTTP, `GET /v1/invoices/{id}?expand[]=payments` shows it at
    /// `payments.data[0].payment.payment_intent`). `None` for an unknown invoice or a draft.
    pub fn invoice_payment_intent(&self, invoice_id: &str) -> Option<String> {
        lock(&self.inner.store)
            .invoice(invoice_id)
            .ok()
            .and_then(|inv| inv.payment_intent.clone())
    }

    /// The `customer` object, or `None` for an unknown id.
    pub fn customer(&self, id: &str) -> Option<serde_json::Value> {
        lock(&self.inner.store).customer_json(id).ok()
    }

    /// The `subscription` object (`latest_invoice` as an id), or `None` for an unknown id.
    pub fn subscription(&self, id: &str) -> Option<serde_json::Value> {
        lock(&self.inner.store).subscription_json(id).ok()
    }

    /// A customer's subscriptions, canceled ones included, newest first.
    pub fn subscriptions_of(&self, customer: &str) -> Vec<serde_json::Value> {
        let store = lock(&self.inner.store);
        store
            .subscriptions_filtered(Some(customer), StatusFilter::All)
            .into_iter()
            .map(billing::subscription_json)
            .collect()
    }

    /// A subscription's invoices, newest first.
    pub fn subscription_invoices(&self, subscription: &str) -> Vec<serde_json::Value> {
        let store = lock(&self.inner.store);
        store
            .invoices_filtered(None, Some(subscription), None)
            .into_iter()
            .map(invoice::invoice_json)
            .collect()
    }

    /// Moves a subscription on, as `POST /_emulator/subscriptions/{id}/advance` does (see
    /// [`Advance`] for each action and its events), and returns the subscription.
    ///
    /// `at` is when it happened, in Unix seconds, now if `None`: for [`Advance::Renew`] and
    /// [`Advance::Fail`] the moment the current period ended, which becomes the start of the
    /// next one (and the `created` of its invoice), so a test can say "the renewal failed four
    /// days ago", even right after subscribing (the period that ended is then recorded as
    /// ending at `at`, before it began; lists keep the order things were made in). It may be in
    /// the past, not in the future: the application compares these times with its own clock. An unknown subscription is [`EmulatorError::NotFound`]; an
    /// action that does not apply in the subscription's state (renewing a canceled one,
    /// recovering an active one) is [`EmulatorError::InvalidState`].
    pub fn advance_subscription(
        &self,
        id: &str,
        action: Advance,
        at: Option<i64>,
    ) -> Result<serde_json::Value, EmulatorError> {
        self.with_store(|store, now| {
            let at = match at {
                None => now,
                Some(t) if t > now => {
                    return Err(EmulatorError::state_with(
                        format!("`at` ({t}) is in the future (now is {now}): the emulator has no clock of its own, so what happens must have happened by now."),
                        "parameter_invalid_integer",
                        Some("at"),
                    ))
                }
                Some(t) if t <= 0 => {
                    return Err(EmulatorError::state_with(
                        format!("`at` ({t}) must be a Unix time in seconds."),
                        "parameter_invalid_integer",
                        Some("at"),
                    ))
                }
                Some(t) => t,
            };
            store.advance(id, action, at, &Cause::default())
        })
    }

    /// Replaces the tax rates: basis points (1900 = 19 %) per ISO 3166-1 alpha-2 country code.
    /// Codes are upper-cased; a code that is not two letters, or a rate over 10000, is refused
    /// and nothing changes. Countries without a rate are taxed at 0. Applies to payments from
    /// now on; [`default_tax_rates`] lists the initial table.
    pub fn set_tax_rates(&self, rates: HashMap<String, u32>) -> Result<(), EmulatorError> {
        lock(&self.inner.store).tax.set_rates(rates)
    }

    pub fn tax_rates(&self) -> HashMap<String, u32> {
        lock(&self.inner.store)
            .tax
            .rates
            .iter()
            .map(|(country, rate)| (country.clone(), *rate))
            .collect()
    }

    /// Sets the country used when a payment gives none ([`Emulator::pay`], or a page form without
    /// `country`) and preselected on the page; initially [`DEFAULT_COUNTRY`] ("DE").
    pub fn set_default_country(&self, country: &str) -> Result<(), EmulatorError> {
        let code = tax::country_code(country, "country")?;
        lock(&self.inner.store).tax.default_country = code;
        Ok(())
    }

    pub fn default_country(&self) -> String {
        lock(&self.inner.store).tax.default_country.clone()
    }

    /// A refund made on Stripe's side (its dashboard, support, another integration), not by the
    /// application: exactly what `POST /v1/refunds` with `payment_intent` (and `amount`, if
    /// given; `None` refunds all that remains) does, `charge.refunded` included, without a
    /// `request` on the event. Returns the refund's id (`re_...`). The errors are those of the
    /// API (an unknown payment intent, one without a charge, an amount over what remains) as
    /// [`EmulatorError::InvalidState`] with Stripe's `code`.
    pub fn refund(
        &self,
        payment_intent: &str,
        amount: Option<i64>,
    ) -> Result<String, EmulatorError> {
        let request = RefundRequest {
            payment_intent: Some(payment_intent.to_string()),
            charge: None,
            amount,
            metadata: serde_json::Map::new(),
            reason: None,
        };
        let refund = self.with_store(|store, now| store.refund(request, &Cause::default(), now))?;
        Ok(refund["id"].as_str().unwrap_or_default().to_string())
    }

    /// The cardholder disputes the charge of a paid payment intent: `charge.dispute.created`.
    pub fn create_dispute(&self, payment_intent: &str) -> Result<String, EmulatorError> {
        self.with_store(|store, now| store.create_dispute(payment_intent, now))
    }

    /// Closes an open dispute as won or lost: `charge.dispute.closed`.
    pub fn close_dispute(&self, dispute_id: &str, won: bool) -> Result<(), EmulatorError> {
        self.with_store(|store, _| store.close_dispute(dispute_id, won))
    }

    /// Delivers the events queued while `knobs.hold` was on, one after the other, optionally in
    /// reverse order. Events stay queued while there is no webhook URL.
    pub fn release(&self, reverse: bool) {
        delivery::flush(&self.inner, reverse);
    }

    /// Waits until no delivery is in flight (delays and retries included) and no delayed payment
    /// is waiting to settle, up to `timeout`. Held events do not count: they wait for
    /// [`Emulator::release`]. Returns whether it became idle.
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        self.inner.outbox.wait_idle(timeout).await
    }

    /// Every delivery attempt so far, in the order they finished.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.inner.outbox.deliveries()
    }

    /// Delivery attempts from the `from`-th on, in order.
    pub fn deliveries_since(&self, from: usize) -> Vec<Delivery> {
        self.inner.outbox.deliveries_since(from)
    }

    /// Every event raised so far, in order, as sent.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.inner.outbox.events()
    }

    /// Runs an operation on the state, then raises the events it produced (after releasing the
    /// lock). Sessions past their `expires_at` are expired first, as Stripe would have.
    pub(crate) fn with_store<T>(
        &self,
        op: impl FnOnce(&mut Store, i64) -> Result<(T, Vec<EventDraft>), EmulatorError>,
    ) -> Result<T, EmulatorError> {
        let now = chrono::Utc::now().timestamp();
        let (result, drafts) = {
            let mut store = lock(&self.inner.store);
            let mut drafts = store.expire_due(now);
            match op(&mut store, now) {
                Ok((value, more)) => {
                    drafts.extend(more);
                    (Ok(value), drafts)
                }
                Err(err) => (Err(err), drafts),
            }
        };
        for draft in drafts {
            self.raise(draft, now);
        }
        result
    }

    fn raise(&self, draft: EventDraft, created: i64) {
        let id = new_id("evt_");
        let json = event_json(&id, created, &draft);
        let event = Outgoing {
            id,
            kind: draft.kind.to_string(),
            body: json.to_string().into(),
        };
        delivery::raise(&self.inner, event, json);
    }

    pub(crate) fn inner(&self) -> &Arc<Inner> {
        &self.inner
    }
}

fn base_url_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        std::net::IpAddr::V4(v4) if v4.is_unspecified() => std::net::Ipv4Addr::LOCALHOST.into(),
        std::net::IpAddr::V6(v6) if v6.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

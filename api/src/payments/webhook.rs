//! Stripe webhook signatures and the few event fields Folio reads.
//!
//! The signature is checked on the raw body before anything is parsed: HMAC-SHA256 over
//! `"{t}.{body}"`, compared in constant time against every `v1` in the header, with each
//! configured secret (several during a rotation), and `t` within 300 s of now.
//! Events are then read with serde into minimal structs rather than async-stripe's typed
//! `Event`: a webhook endpoint receives events in the account's API version, which Folio does not
//! control, and a strict typed parse would turn a version difference into lost payments.

use std::collections::HashMap;

use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

use crate::config::Secret;

pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the Stripe-Signature header is missing")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("no signature matches")]
    NoMatch,
    #[error("the signature timestamp is outside the tolerance")]
    Expired,
}

/// Checks `header` against `body` with any of `secrets`.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp: Option<&str> = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        let (key, value) = part
            .trim()
            .split_once('=')
            .ok_or(SignatureError::Malformed)?;
        match key {
            "t" if timestamp.is_none() => timestamp = Some(value),
            "t" => return Err(SignatureError::Malformed),
            "v1" => {
                if let Ok(bytes) = hex::decode(value) {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let t_text = timestamp.ok_or(SignatureError::Malformed)?;
    let t: i64 = t_text.parse().map_err(|_| SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::NoMatch);
    }
    let matched = secrets.iter().any(|secret| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose()) else {
            return false;
        };
        mac.update(t_text.as_bytes());
        mac.update(b".");
        mac.update(body);
        // verify_slice compares in constant time.
        candidates
            .iter()
            .any(|c| mac.clone().verify_slice(c).is_ok())
    });
    if !matched {
        return Err(SignatureError::NoMatch);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Expired);
    }
    Ok(())
}

/// A Stripe object reference: an id, or the expanded object.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Ref {
    Id(String),
    Object { id: String },
}

impl Ref {
    pub fn id(&self) -> &str {
        match self {
            Ref::Id(id) | Ref::Object { id } => id,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct Envelope {
    pub id: String,
    #[serde(rename = "type")]
    pub type_: String,
    pub data: EnvelopeData,
}

#[derive(Debug, Deserialize)]
pub struct EnvelopeData {
    pub object: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub struct SessionObject {
    pub id: String,
    pub client_reference_id: Option<String>,
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
    pub payment_status: stripe_shared::CheckoutSessionPaymentStatus,
    pub payment_intent: Option<Ref>,
    #[serde(default)]
    pub amount_subtotal: Option<i64>,
    #[serde(default)]
    pub amount_total: Option<i64>,
    #[serde(default)]
    pub total_details: Option<TotalDetails>,
    #[serde(default)]
    pub invoice: Option<Ref>,
}

#[derive(Debug, Deserialize)]
pub struct TotalDetails {
    pub amount_tax: i64,
}

impl SessionObject {
    pub fn into_info(self) -> super::gateway::SessionInfo {
        super::gateway::SessionInfo {
            order_id: self
                .client_reference_id
                .or_else(|| self.metadata.and_then(|mut m| m.remove("order_id")))
                .and_then(|id| shared_types::OrderId::parse(&id).ok()),
            paid: matches!(
                self.payment_status,
                stripe_shared::CheckoutSessionPaymentStatus::Paid
                    | stripe_shared::CheckoutSessionPaymentStatus::NoPaymentRequired
            ),
            payment_intent: self.payment_intent.map(|p| p.id().to_owned()),
            url: None,
            amount_subtotal: self.amount_subtotal,
            amount_tax: self.total_details.map(|t| t.amount_tax),
            amount_total: self.amount_total,
            invoice: self.invoice.map(|i| i.id().to_owned()),
            id: self.id,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct ChargeObject {
    pub amount: i64,
    pub amount_refunded: i64,
    pub payment_intent: Option<Ref>,
}

#[derive(Debug, Deserialize)]
pub struct DisputeObject {
    pub status: stripe_shared::DisputeStatus,
    pub payment_intent: Option<Ref>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, t: i64, body: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{t}.{body}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn secrets(list: &[&str]) -> Vec<Secret> {
        list.iter()
            .map(|s| Secret::new(s.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn any_v1_with_any_secret_within_tolerance_passes() {
        let body = r#"{"id":"evt_1"}"#;
        let now = 1_700_000_000;
        let good = sign("whsec_new", now, body);
        let header = format!("t={now},v1={},v1={good},v0=ignored", "00".repeat(32));
        assert_eq!(
            verify(
                Some(&header),
                body.as_bytes(),
                &secrets(&["whsec_old", "whsec_new"]),
                now
            ),
            Ok(())
        );
        assert_eq!(
            verify(
                Some(&header),
                body.as_bytes(),
                &secrets(&["whsec_other"]),
                now
            ),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(
                Some(&header),
                b"{\"id\":\"evt_2\"}",
                &secrets(&["whsec_new"]),
                now
            ),
            Err(SignatureError::NoMatch)
        );
        assert_eq!(
            verify(
                Some(&header),
                body.as_bytes(),
                &secrets(&["whsec_new"]),
                now + 301
            ),
            Err(SignatureError::Expired)
        );
        assert_eq!(
            verify(
                Some(&header),
                body.as_bytes(),
                &secrets(&["whsec_new"]),
                now - 300
            ),
            Ok(())
        );
    }

    #[test]
    fn malformed_headers_are_refused() {
        let s = secrets(&["whsec"]);
        assert_eq!(verify(None, b"{}", &s, 0), Err(SignatureError::Missing));
        for bad in ["", "garbage", "v1=abc", "t=abc,v1=00", "t=1,t=2,v1=00"] {
            assert_eq!(
                verify(Some(bad), b"{}", &s, 1),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            verify(Some("t=1"), b"{}", &s, 1),
            Err(SignatureError::NoMatch)
        );
    }
}

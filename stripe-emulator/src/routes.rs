//! The HTTP surface: `/v1` (the Stripe API, behind the key check and the outage knob),
//! `/_emulator` (knobs and test controls), `/pay` (the hosted checkout page), `/invoices`
//! (hosted invoice pages), `/portal` (the billing portal) and `/dashboard` (the emulator's
//! dashboard, with test clocks).

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::{from_fn, Next};
use actix_web::{web, HttpMessage};

use crate::error::ApiError;
use crate::objects::{new_id, API_VERSION};
use crate::{api, control, dashboard, invoice_page, pages, portal, Emulator};

/// The `Request-Id` of a `/v1` call, for the response header and for the events it raises.
#[derive(Debug, Clone)]
pub(crate) struct RequestId(pub String);

pub(crate) fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .wrap(from_fn(gate))
            .configure(api::configure)
            .default_service(web::to(api::unrecognized)),
    )
    .service(web::scope("/_emulator").configure(control::configure))
    .configure(pages::configure)
    .configure(invoice_page::configure)
    .configure(portal::configure)
    .configure(dashboard::configure);
}

/// In front of every `/v1` call: the outage knob, then the API key, like Stripe's edge. Also
/// stamps `Request-Id` and `Stripe-Version` on the response, as Stripe does.
async fn gate(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let request_id = new_id("req_");
    let version = req
        .headers()
        .get("stripe-version")
        .cloned()
        .unwrap_or_else(|| HeaderValue::from_static(API_VERSION));
    let outage = req
        .app_data::<web::Data<Emulator>>()
        .is_some_and(|em| em.knobs().api_outage);
    let rejection = if outage {
        Some(ApiError::outage())
    } else {
        check_key(req.headers()).err()
    };
    let mut res = match rejection {
        Some(err) => req.error_response(err).map_into_right_body(),
        None => {
            req.extensions_mut().insert(RequestId(request_id.clone()));
            next.call(req).await?.map_into_left_body()
        }
    };
    let headers = res.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        headers.insert(HeaderName::from_static("request-id"), value);
    }
    headers.insert(HeaderName::from_static("stripe-version"), version);
    Ok(res)
}

/// Accepts test-mode secret keys only: `Authorization: Bearer sk_test_...`, or HTTP Basic with
/// the key as user name (what `curl -u sk_test_...:` sends).
fn check_key(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get("authorization") else {
        return Err(ApiError::unauthorized(
            "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
        ));
    };
    let value = value.to_str().unwrap_or_default().trim();
    let key = if let Some(token) = value.strip_prefix("Bearer ") {
        token.trim().to_string()
    } else if let Some(encoded) = value.strip_prefix("Basic ") {
        decode_basic_user(encoded.trim()).unwrap_or_default()
    } else {
        return Err(ApiError::unauthorized(
            "Invalid API Key provided: the Authorization header must use Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
        ));
    };
    match key.strip_prefix("sk_test_") {
        Some(rest) if !rest.is_empty() => Ok(()),
        _ => Err(ApiError::unauthorized(format!(
            "Invalid API Key provided: {}",
            mask_key(&key)
        ))),
    }
}

/// Stripe shows only the key's prefix and last four characters.
fn mask_key(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return key.to_string();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 12))
}

/// The user name of an HTTP Basic credential (standard base64 of `user:password`).
fn decode_basic_user(encoded: &str) -> Option<String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits: u32 = 0;
    let mut nbits = 0;
    let mut out = Vec::new();
    for c in encoded.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | v;
        nbits += 6;
        if nbits >= 8 {
            nbits -= 8;
            out.push((bits >> nbits) as u8);
            bits &= (1 << nbits) - 1;
        }
    }
    let text = String::from_utf8(out).ok()?;
    Some(text.split(':').next().unwrap_or_default().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_user() {
        // base64("sk_test_abc:")
        assert_eq!(
            decode_basic_user("c2tfdGVzdF9hYmM6").as_deref(),
            Some("sk_test_abc")
        );
        assert_eq!(decode_basic_user("!!"), None);
    }

    #[test]
    fn masking() {
        assert_eq!(mask_key("sk_live_1234567890abcd"), "sk_live_**********abcd");
        assert_eq!(mask_key("short"), "short");
    }
}

//! Signed tokens: access JWTs for the API and download JWTs for one file, each with its own
//! audience so that neither can stand in for the other. HS256 only.

use chrono::{DateTime, Utc};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use shared_types::{EntitlementId, FileId, ProductId, Role, UserId};

use crate::config::Settings;

pub const ISSUER: &str = "folio";
pub const ACCESS_AUDIENCE: &str = "folio-api";
pub const DOWNLOAD_AUDIENCE: &str = "folio-download";
pub const GUEST_AUDIENCE: &str = "folio-guest";
pub const UNSUBSCRIBE_AUDIENCE: &str = "folio-unsubscribe";
/// How long the unsubscribe link of an update notice works.
const UNSUBSCRIBE_TTL_SECS: i64 = 366 * 24 * 3600;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: UserId,
    pub role: Role,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DownloadClaims {
    /// The user the link was issued to.
    pub sub: UserId,
    /// The product id.
    pub prd: ProductId,
    /// The file, or none for all of them (one ZIP).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fil: Option<FileId>,
    /// The version the link was issued for: the file version's id, or for all files a digest
    /// of their version ids. A newer upload makes the link stale.
    pub ver: String,
    /// The link's own id: it counts once against a download limit however often it is used.
    pub jti: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// What an unsubscribe link stands for: one buyer's update notices of one product.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UnsubscribeClaims {
    pub sub: EntitlementId,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// What a download link is for.
pub struct DownloadSubject<'a> {
    pub user: &'a UserId,
    pub product: &'a ProductId,
    pub file: Option<&'a FileId>,
    pub version: &'a str,
}

/// A guest's claim on the checkout it started: kept by that browser (an HttpOnly cookie), it
/// lets the success page follow that one session to its file for a while.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GuestClaims {
    /// The account the order belongs to.
    pub sub: UserId,
    /// The Checkout Session.
    pub sid: String,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Debug, PartialEq, Eq)]
pub enum TokenError {
    Expired,
    Invalid,
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    access_ttl_secs: i64,
    download_ttl_secs: i64,
}

impl Keys {
    pub fn new(settings: &Settings) -> Self {
        let secret = settings.jwt_secret.expose();
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            access_ttl_secs: settings.access_token_ttl_secs,
            download_ttl_secs: settings.download_token_ttl_secs,
        }
    }

    pub fn access_ttl_secs(&self) -> i64 {
        self.access_ttl_secs
    }

    pub fn issue_access(&self, user_id: &UserId, role: Role) -> String {
        let now = Utc::now().timestamp();
        let claims = AccessClaims {
            sub: user_id.to_owned(),
            role,
            iss: ISSUER.into(),
            aud: ACCESS_AUDIENCE.into(),
            iat: now,
            exp: now + self.access_ttl_secs,
        };
        self.sign(&claims)
    }

    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        self.verify(token, ACCESS_AUDIENCE)
    }

    pub fn issue_download(&self, subject: DownloadSubject<'_>) -> (String, DateTime<Utc>) {
        let now = Utc::now().timestamp();
        let exp = now + self.download_ttl_secs;
        let claims = DownloadClaims {
            sub: subject.user.to_owned(),
            prd: subject.product.to_owned(),
            fil: subject.file.cloned(),
            ver: subject.version.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iss: ISSUER.into(),
            aud: DOWNLOAD_AUDIENCE.into(),
            iat: now,
            exp,
        };
        let expires_at =
            DateTime::from_timestamp(exp, 0).expect("a near-future timestamp is valid");
        (self.sign(&claims), expires_at)
    }

    pub fn verify_download(&self, token: &str) -> Result<DownloadClaims, TokenError> {
        self.verify(token, DOWNLOAD_AUDIENCE)
    }

    pub fn issue_unsubscribe(&self, entitlement: &EntitlementId) -> String {
        let now = Utc::now().timestamp();
        self.sign(&UnsubscribeClaims {
            sub: entitlement.clone(),
            iss: ISSUER.into(),
            aud: UNSUBSCRIBE_AUDIENCE.into(),
            iat: now,
            exp: now + UNSUBSCRIBE_TTL_SECS,
        })
    }

    pub fn verify_unsubscribe(&self, token: &str) -> Result<UnsubscribeClaims, TokenError> {
        self.verify(token, UNSUBSCRIBE_AUDIENCE)
    }

    pub fn issue_guest(&self, user: &UserId, session_id: &str, ttl_secs: i64) -> String {
        let now = Utc::now().timestamp();
        self.sign(&GuestClaims {
            sub: user.clone(),
            sid: session_id.to_owned(),
            iss: ISSUER.into(),
            aud: GUEST_AUDIENCE.into(),
            iat: now,
            exp: now + ttl_secs,
        })
    }

    pub fn verify_guest(&self, token: &str) -> Result<GuestClaims, TokenError> {
        self.verify(token, GUEST_AUDIENCE)
    }

    fn sign<T: Serialize>(&self, claims: &T) -> String {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .expect("HS256 signing of plain claims cannot fail")
    }

    fn verify<T: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<T, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_audience(&[audience]);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => TokenError::Expired,
                _ => TokenError::Invalid,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> Keys {
        let settings = Settings::from_lookup(|k| match k {
            "FOLIO_JWT_SECRET" => Some("k".repeat(40)),
            _ => None,
        })
        .unwrap();
        Keys::new(&settings)
    }

    #[test]
    fn access_and_download_tokens_are_not_interchangeable() {
        let keys = keys();
        let (user, product) = (UserId::generate(), ProductId::generate());
        let access = keys.issue_access(&user, Role::Customer);
        let (download, _) = keys.issue_download(DownloadSubject {
            user: &user,
            product: &product,
            file: None,
            version: "abc",
        });
        assert_eq!(keys.verify_access(&access).unwrap().sub, user);
        assert_eq!(keys.verify_download(&download).unwrap().prd, product);
        assert_eq!(
            keys.verify_access(&download).unwrap_err(),
            TokenError::Invalid
        );
        assert_eq!(
            keys.verify_download(&access).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn alg_none_and_tampered_tokens_are_invalid() {
        use base64::Engine;
        let keys = keys();
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = Utc::now().timestamp();
        let header = b64.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let body = b64.encode(format!(
            r#"{{"sub":"u1","role":"admin","iss":"folio","aud":"folio-api","iat":{now},"exp":{}}}"#,
            now + 600
        ));
        assert_eq!(
            keys.verify_access(&format!("{header}.{body}."))
                .unwrap_err(),
            TokenError::Invalid
        );
        let good = keys.issue_access(&UserId::generate(), Role::Customer);
        let mut parts: Vec<&str> = good.split('.').collect();
        parts[1] = &body;
        assert_eq!(
            keys.verify_access(&parts.join(".")).unwrap_err(),
            TokenError::Invalid
        );
    }
}

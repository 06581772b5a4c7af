//! Signed tokens: access JWTs for the API and download JWTs for one file, each with its own
//! audience so that neither can stand in for the other. HS256 only.

use chrono::{DateTime, Utc};
use jsonwebtoken::{errors::ErrorKind, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use shared_types::{ProductId, Role, UserId};

use crate::config::Settings;

pub const ISSUER: &str = "folio";
pub const ACCESS_AUDIENCE: &str = "folio-api";
pub const DOWNLOAD_AUDIENCE: &str = "folio-download";

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
    /// sha256 of the file version the link was issued for.
    pub ver: String,
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

    pub fn issue_download(
        &self,
        user_id: &UserId,
        product_id: &ProductId,
        version: &str,
    ) -> (String, DateTime<Utc>) {
        let now = Utc::now().timestamp();
        let exp = now + self.download_ttl_secs;
        let claims = DownloadClaims {
            sub: user_id.to_owned(),
            prd: product_id.to_owned(),
            ver: version.to_owned(),
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
        let (download, _) = keys.issue_download(&user, &product, "abc");
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

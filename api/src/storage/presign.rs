//! Presigned GET URLs with the response headers S3 sets from the query
//! (`response-content-disposition`, `response-content-type`): AWS Signature Version 4 in the
//! query string, as S3's "Authenticating Requests: Using Query Parameters" describes it.
//!
//! `object_store` signs a URL for a path but cannot sign extra query parameters, and a
//! parameter added after signing breaks the signature. Objects are content-addressed (two
//! products' identical files are one object) and a file can be renamed after its upload, so the
//! name a browser saves must travel with each URL, not with the object.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// What signs: the key pair (and an STS session token) and the bucket's region.
pub struct Credentials<'a> {
    pub key_id: &'a str,
    pub secret: &'a str,
    pub token: Option<&'a str>,
    pub region: &'a str,
}

/// `object` (an unsigned object URL: scheme, host, port and encoded path) signed for a GET
/// until `expires_in_secs` after `now`, with `extra` (name, value) pairs in its query.
pub fn presign_get(
    object: &url::Url,
    credentials: &Credentials<'_>,
    now: DateTime<Utc>,
    expires_in_secs: u64,
    extra: &[(&str, &str)],
) -> url::Url {
    let date = now.format("%Y%m%d").to_string();
    let stamp = now.format("%Y%m%dT%H%M%SZ").to_string();
    let scope = format!("{date}/{}/s3/aws4_request", credentials.region);
    let mut query: Vec<(String, String)> = vec![
        ("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()),
        (
            "X-Amz-Credential".into(),
            format!("{}/{scope}", credentials.key_id),
        ),
        ("X-Amz-Date".into(), stamp.clone()),
        ("X-Amz-Expires".into(), expires_in_secs.to_string()),
        ("X-Amz-SignedHeaders".into(), "host".into()),
    ];
    if let Some(token) = credentials.token {
        query.push(("X-Amz-Security-Token".into(), token.into()));
    }
    query.extend(
        extra
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let mut encoded: Vec<(String, String)> =
        query.iter().map(|(k, v)| (encode(k), encode(v))).collect();
    encoded.sort();
    let canonical_query = encoded
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");

    let host = match object.port() {
        Some(port) => format!("{}:{port}", object.host_str().unwrap_or_default()),
        None => object.host_str().unwrap_or_default().to_owned(),
    };
    let canonical_request = format!(
        "GET\n{}\n{canonical_query}\nhost:{host}\n\nhost\nUNSIGNED-PAYLOAD",
        object.path()
    );
    let string_to_sign = format!(
        "AWS4-HMAC-SHA256\n{stamp}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request.as_bytes()))
    );
    let mut key = hmac(
        format!("AWS4{}", credentials.secret).as_bytes(),
        date.as_bytes(),
    );
    for part in [credentials.region, "s3", "aws4_request"] {
        key = hmac(&key, part.as_bytes());
    }
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));

    let mut url = object.clone();
    url.set_query(Some(&format!(
        "{canonical_query}&X-Amz-Signature={signature}"
    )));
    url
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// SigV4's URI encoding: every byte but the unreserved `A-Z a-z 0-9 - _ . ~` as `%XX`.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_aws_documents_it() {
        // The example of S3's "Authenticating Requests: Using Query Parameters".
        let url = presign_get(
            &url::Url::parse("https://examplebucket.s3.amazonaws.com/test.txt").unwrap(),
            &Credentials {
                key_id: "AKIAIOSFODNN7EXAMPLE",
                secret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                token: None,
                region: "us-east-1",
            },
            "2013-05-24T00:00:00Z".parse().unwrap(),
            86400,
            &[],
        );
        assert!(
            url.as_str().ends_with(
                "X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
            ),
            "{url}"
        );
    }

    #[test]
    fn extra_parameters_are_signed_in_order_and_encoded() {
        let credentials = Credentials {
            key_id: "id",
            secret: "secret",
            token: Some("tok/en+="),
            region: "eu-west-1",
        };
        let object = url::Url::parse("http://127.0.0.1:8333/bucket/files/abc").unwrap();
        let now = "2026-12-02T06:00:00Z".parse().unwrap();
        let disposition = "attachment; filename=\"Tide Tables.pdf\"";
        let url = presign_get(
            &object,
            &credentials,
            now,
            60,
            &[("response-content-disposition", disposition)],
        );
        let query = url.query().unwrap();
        // Sorted by name, upper case before lower, the signature last.
        let names: Vec<&str> = query
            .split('&')
            .map(|p| p.split('=').next().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "X-Amz-Algorithm",
                "X-Amz-Credential",
                "X-Amz-Date",
                "X-Amz-Expires",
                "X-Amz-Security-Token",
                "X-Amz-SignedHeaders",
                "response-content-disposition",
                "X-Amz-Signature"
            ]
        );
        assert!(query.contains(
            "response-content-disposition=attachment%3B%20filename%3D%22Tide%20Tables.pdf%22"
        ));
        assert!(query.contains("X-Amz-Security-Token=tok%2Fen%2B%3D"));
        let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
        assert!(pairs.contains(&("response-content-disposition".into(), disposition.into())));
        // Another name, another signature.
        let other = presign_get(
            &object,
            &credentials,
            now,
            60,
            &[("response-content-disposition", "attachment")],
        );
        let signature = |u: &url::Url| {
            u.query_pairs()
                .find(|(k, _)| k == "X-Amz-Signature")
                .unwrap()
                .1
                .into_owned()
        };
        assert_ne!(signature(&url), signature(&other));
    }

    #[actix_web::test]
    async fn agrees_with_object_store_where_both_can_sign() {
        use object_store::signer::Signer;
        let s3 = object_store::aws::AmazonS3Builder::new()
            .with_bucket_name("bucket")
            .with_region("eu-west-1")
            .with_endpoint("http://127.0.0.1:8333")
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_access_key_id("id")
            .with_secret_access_key("secret")
            .build()
            .unwrap();
        let theirs = s3
            .signed_url(
                http::Method::GET,
                &object_store::path::Path::from("files/abc"),
                std::time::Duration::from_secs(60),
            )
            .await
            .unwrap();
        let pairs = |u: &url::Url| {
            let mut p: Vec<(String, String)> = u.query_pairs().into_owned().collect();
            p.sort();
            p
        };
        let date = pairs(&theirs)
            .into_iter()
            .find(|(k, _)| k == "X-Amz-Date")
            .unwrap()
            .1;
        let now = chrono::NaiveDateTime::parse_from_str(&date, "%Y%m%dT%H%M%SZ")
            .unwrap()
            .and_utc();
        let mut object = theirs.clone();
        object.set_query(None);
        let ours = presign_get(
            &object,
            &Credentials {
                key_id: "id",
                secret: "secret",
                token: None,
                region: "eu-west-1",
            },
            now,
            60,
            &[],
        );
        assert_eq!(pairs(&ours), pairs(&theirs));
        assert_eq!(ours.path(), theirs.path());
    }
}

//! What depends on where files are kept: readiness of the object store, and downloads handed to
//! an S3 bucket as presigned URLs. `cargo xtask test` runs this whole suite a second time with
//! every test's files in SeaweedFS (`FOLIO_TEST_STORAGE_URL`); the bucket-only tests here run in
//! that pass (and fail if it has no bucket), and say loudly that they skipped otherwise.

use folio_tests::*;
use serde_json::Value;

backend_tests!(ready_means_the_database_and_the_object_store_answer);
backend_tests_with!(
    &[
        ("FOLIO_STORAGE_URL", "s3://folio-down/x"),
        // Nothing listens on port 9 of loopback.
        ("FOLIO_S3_ENDPOINT", "http://127.0.0.1:9"),
        ("AWS_ACCESS_KEY_ID", "k"),
        ("AWS_SECRET_ACCESS_KEY", "s"),
    ] => an_unreachable_object_store_is_not_ready,
);

async fn ready_means_the_database_and_the_object_store_answer(app: TestApp) {
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["storage"], "ok");
}

async fn an_unreachable_object_store_is_not_ready(app: TestApp) {
    let res = app.get("/readyz", None).await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["storage"], "unavailable");
    // The shop still answers what needs no file.
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK);
    assert_eq!(
        app.get("/api/v1/products", None).await.status(),
        StatusCode::OK
    );
    // An upload is refused with a reason to wait, and leaves no product behind.
    let admin = app.admin().await;
    let res = app
        .create_product(&admin, product_form("Lost", "0", pdf("lost"), None))
        .await;
    assert_eq!(res.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = problem(res).await;
    assert_eq!(body["code"], "storage_unavailable");
    assert!(
        body["detail"].as_str().unwrap().contains("try again"),
        "{body}"
    );
    assert_eq!(app.count("products").await, 0);
}

/// A server whose files are in the test bucket, or None (said loudly) when this run has none;
/// `FOLIO_TEST_REQUIRE_S3` (set by `cargo xtask test` in its S3 pass) makes that a failure.
async fn in_a_bucket(backend: Backend, settings: &[(&str, &str)]) -> Option<TestApp> {
    if std::env::var_os("FOLIO_TEST_STORAGE_URL").is_none() {
        if std::env::var_os("FOLIO_TEST_REQUIRE_S3").is_some() {
            panic!("FOLIO_TEST_REQUIRE_S3 is set but FOLIO_TEST_STORAGE_URL names no bucket");
        }
        eprintln!("\n!!! SKIPPED: no FOLIO_TEST_STORAGE_URL (cargo xtask test runs this against SeaweedFS). !!!\n");
        return None;
    }
    TestApp::builder(backend).settings(settings).spawn().await
}

macro_rules! bucket_tests {
    ($settings:expr => $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    if let Some(app) = super::in_a_bucket(folio_tests::Backend::Sqlite, $settings).await {
                        super::$name(app).await;
                    }
                }
                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) = super::in_a_bucket(folio_tests::Backend::Postgres, $settings).await {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

bucket_tests!(
    &[("FOLIO_DOWNLOAD_REDIRECT", "presigned"), ("FOLIO_DOWNLOAD_TOKEN_TTL_SECS", "120")] =>
    presigned_downloads_are_checked_and_recorded_then_sent_by_the_bucket,
);
bucket_tests!(
    // Past the first 5 MiB part: the upload is refused after a part went to the bucket.
    &[("FOLIO_MAX_FILE_BYTES", "7000000")] =>
    an_upload_refused_halfway_aborts_its_multipart_upload,
);

/// The bucket's unfinished multipart uploads under this test's prefix, as S3 lists them
/// (`GET /bucket?uploads`, signed by curl), which object_store cannot list.
fn unfinished_uploads(app: &TestApp) -> Vec<String> {
    let folio_api::config::StorageLocation::S3(s3) = &app.state.settings.storage else {
        panic!("a bucket test without a bucket");
    };
    let endpoint = s3
        .endpoint
        .as_ref()
        .expect("the test bucket has an endpoint");
    let secret =
        String::from_utf8_lossy(s3.secret_access_key.as_ref().unwrap().expose()).into_owned();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail", "--aws-sigv4"])
        .arg(format!("aws:amz:{}:s3", s3.region))
        .arg("--user")
        .arg(format!("{}:{secret}", s3.access_key_id.as_deref().unwrap()))
        // curl signs the query as written: sorted, and encoded as SigV4 encodes it.
        .arg(format!(
            "{}{}?prefix={}%2F&uploads=",
            endpoint,
            s3.bucket,
            s3.prefix.replace('/', "%2F")
        ))
        .output()
        .expect("curl");
    assert!(out.status.success(), "listing uploads: {:?}", out);
    let xml = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(xml.contains("ListMultipartUploadsResult"), "{xml}");
    xml.split("<Key>")
        .skip(1)
        .map(|k| k.split('<').next().unwrap().to_owned())
        .collect()
}

async fn an_upload_refused_halfway_aborts_its_multipart_upload(app: TestApp) {
    let admin = app.admin().await;
    let res = app
        .create_product(
            &admin,
            product_form("Too Big", "0", big_pdf(9_000_000), None),
        )
        .await;
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(problem(res).await["code"], "payload_too_large");
    assert_eq!(app.count("products").await, 0);
    assert!(app.objects().await.is_empty(), "{:?}", app.objects().await);
    assert!(
        unfinished_uploads(&app).is_empty(),
        "{:?}",
        unfinished_uploads(&app)
    );
    // A file that fits goes up whole, and leaves no upload open either.
    app.product(&admin, "Fits", "0", big_pdf(6_500_000)).await;
    assert!(
        unfinished_uploads(&app).is_empty(),
        "{:?}",
        unfinished_uploads(&app)
    );
}

async fn presigned_downloads_are_checked_and_recorded_then_sent_by_the_bucket(app: TestApp) {
    let admin = app.admin().await;
    // Over two multipart parts (5 MiB each): the upload streams in parts.
    let file = big_pdf(11 * 1024 * 1024 + 123);
    let guide = app.product(&admin, "Bucket Guide", "0", file.clone()).await;
    app.product(&admin, "Paid Guide", "9.00", pdf("paid")).await;
    let user = app.customer("ada@example.com").await.access_token;

    // Not bought: refused before any URL exists.
    let refused = app.download_token(&user, "paid-guide").await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let res = app.download_token(&user, "bucket-guide").await;
    assert_eq!(res.status(), StatusCode::OK);
    let link: Value = res.json().await.unwrap();
    let path = link["url"].as_str().unwrap().replace(&app.address, "");
    assert_eq!(app.count("download_events").await, 0);
    let res = app.get(&path, None).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert_eq!(res.headers()["cache-control"], "private, no-store");
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    // Checked and recorded before the redirect, as a streamed download is.
    assert_eq!(app.count("download_events").await, 1);

    let url = url::Url::parse(&location).unwrap();
    let expires: u64 = url
        .query_pairs()
        .find(|(k, _)| k == "X-Amz-Expires")
        .map(|(_, v)| v.parse().unwrap())
        .expect("a presigned URL says when it expires");
    assert!(
        (1..=120).contains(&expires),
        "the URL lives no longer than the link: {expires}"
    );
    assert!(
        !location.contains("folio-dev-secret"),
        "no secret in the URL"
    );

    // No credentials, no cookies: the URL alone fetches the file, under its uploaded name.
    let bucket = reqwest::Client::new();
    let got = bucket.get(&location).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    let disposition = got.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment;") && disposition.contains("guide.pdf"),
        "{disposition}"
    );
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert_eq!(got.bytes().await.unwrap().as_ref(), file.as_slice());
    // The bucket serves ranges itself.
    let part = bucket
        .get(&location)
        .header("range", "bytes=5242870-5242889")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.bytes().await.unwrap().as_ref(),
        &file[5_242_870..5_242_890]
    );
    // A URL tampered with is refused by the bucket.
    let tampered = location.replace("X-Amz-Expires=", "X-Amz-Expires=9");
    assert_eq!(
        bucket.get(&tampered).send().await.unwrap().status(),
        StatusCode::FORBIDDEN
    );

    // The name travels in the signed URL, not with the object (one object can be two products'
    // files under two names): a file renamed after its upload is saved under its new name, with
    // the headers a streamed download has.
    let res = app
        .bare_client()
        .patch(app.url(&format!(
            "/api/v1/admin/products/{}/files/{}",
            guide["id"].as_str().unwrap(),
            guide["files"][0]["id"].as_str().unwrap()
        )))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"name": "Tide Tables"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "{}",
        res.text().await.unwrap()
    );
    let (url, _) = app.download_link(&user, "bucket-guide").await;
    let res = app.get(&url.replace(&app.address, ""), None).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let got = bucket.get(&location).send().await.unwrap();
    assert_eq!(got.status(), StatusCode::OK);
    assert_eq!(
        got.headers()["content-disposition"].to_str().unwrap(),
        folio_api::downloads::routes::content_disposition("Tide Tables.pdf")
    );
    assert_eq!(got.headers()["content-type"], "application/pdf");
    assert_eq!(got.bytes().await.unwrap().len(), file.len());
}

//! Test harness: the real Folio server on port 0 against a database of its own, with its own
//! storage and Stripe emulator ([`app`]); files and forms to send ([`fixtures`]); and the scan
//! of every server's logs for secrets ([`logs`]).
//!
//! `backend_tests!` runs one async test body on both backends. PostgreSQL is found through
//! `FOLIO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`); when it is
//! unreachable the PostgreSQL variant fails if `CI` is set and is skipped loudly otherwise.

pub mod app;
pub mod fixtures;
pub mod logs;
pub mod smtp;

pub use app::{send, Backend, StatusCode, TestApp, TestAppBuilder};
pub use fixtures::*;
pub use logs::{capture_logs, captured_logs, find_leaks, remember_secret};
pub use smtp::{Received, SmtpSink};

pub const JWT_SECRET: &str = "test-secret-test-secret-test-secret-0123";
pub const PASSWORD: &str = "correct horse battery";
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const WEBHOOK_SECRET: &str = "whsec_test_secret_for_folio_tests";

/// Runs each listed `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {
        $crate::backend_tests_with!(&[] => $($name),*);
    };
}

/// Like `backend_tests!` for bodies that need their own settings.
#[macro_export]
macro_rules! backend_tests_with {
    ($settings:expr => $($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[actix_web::test]
                async fn sqlite() {
                    let app = $crate::TestApp::builder($crate::Backend::Sqlite)
                        .settings($settings)
                        .spawn()
                        .await
                        .expect("SQLite is embedded");
                    super::$name(app).await;
                }
                #[actix_web::test]
                async fn postgres() {
                    if let Some(app) = $crate::TestApp::builder($crate::Backend::Postgres)
                        .settings($settings)
                        .spawn()
                        .await
                    {
                        super::$name(app).await;
                    }
                }
            }
        )*
    };
}

//! Integration tests, in one binary so the async-stripe types are linked once.

mod compat;
mod dashboard;
mod http;
mod lists;
mod schema;
mod subscriptions;
mod support;
mod tax;
mod validator;
mod webhooks;

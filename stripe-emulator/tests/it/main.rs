//! Integration tests, in one binary so the async-stripe types are linked once.

mod compat;
mod http;
mod schema;
mod support;
mod tax;
mod validator;
mod webhooks;

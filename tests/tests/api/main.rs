//! The API's end-to-end tests, one binary: every module starts real servers ([`folio_tests`]),
//! each on a database of its own, on SQLite and on PostgreSQL.

mod auth;
mod catalog;
mod contract;
mod downloads;
mod faults;
mod files;
mod mail;
mod membership;
mod nodes;
mod payments;
mod pricing;
mod security;
mod seller;
mod seller_hooks;
mod storage;

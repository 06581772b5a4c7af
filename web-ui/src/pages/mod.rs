pub mod auth;
pub mod catalog;
pub mod checkout;
pub mod library;
pub mod links;
pub mod not_found;
pub mod orders;
pub mod product;

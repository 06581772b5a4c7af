//! The messages, each an HTML and a plain-text template checked when the server compiles
//! (askama; files under api/templates/mail).

use askama::Template;

#[derive(Template)]
#[template(path = "mail/receipt.html")]
pub struct ReceiptHtml<'a> {
    pub subject: &'a str,
    pub shop_url: &'a str,
    pub title: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub order_id: &'a str,
    pub date: &'a str,
    pub library_url: &'a str,
    pub sign_in_url: Option<&'a str>,
    pub sign_in_page: &'a str,
    pub link_minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/receipt.txt")]
pub struct ReceiptText<'a> {
    pub shop_url: &'a str,
    pub title: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub order_id: &'a str,
    pub date: &'a str,
    pub library_url: &'a str,
    pub sign_in_url: Option<&'a str>,
    pub sign_in_page: &'a str,
    pub link_minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/refund.html")]
pub struct RefundHtml<'a> {
    pub subject: &'a str,
    pub shop_url: &'a str,
    pub title: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub order_id: &'a str,
}

#[derive(Template)]
#[template(path = "mail/refund.txt")]
pub struct RefundText<'a> {
    pub shop_url: &'a str,
    pub title: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub order_id: &'a str,
}

/// A sign-in or password-reset link.
#[derive(Template)]
#[template(path = "mail/link.html")]
pub struct LinkHtml<'a> {
    pub subject: &'a str,
    pub shop_url: &'a str,
    pub intro: &'a str,
    pub button: &'a str,
    pub url: &'a str,
    pub link_minutes: i64,
}

#[derive(Template)]
#[template(path = "mail/link.txt")]
pub struct LinkText<'a> {
    pub shop_url: &'a str,
    pub intro: &'a str,
    pub url: &'a str,
    pub link_minutes: i64,
}

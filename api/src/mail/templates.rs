//! The messages, each an HTML and a plain-text template checked when the server compiles
//! (askama; files under api/templates/mail). A message's data is one struct; its two templates
//! are thin wrappers that read the data's fields through `Deref`, so a field is declared once.

use askama::Template;

/// Declares the two templates of a message over its data struct.
macro_rules! message {
    ($data:ident, $html:ident = $html_path:literal, $text:ident = $text_path:literal) => {
        #[derive(Template)]
        #[template(path = $html_path)]
        pub struct $html<'a>(&'a $data<'a>);

        #[derive(Template)]
        #[template(path = $text_path)]
        pub struct $text<'a>(&'a $data<'a>);

        impl<'a> std::ops::Deref for $html<'a> {
            type Target = $data<'a>;
            fn deref(&self) -> &Self::Target {
                self.0
            }
        }

        impl<'a> std::ops::Deref for $text<'a> {
            type Target = $data<'a>;
            fn deref(&self) -> &Self::Target {
                self.0
            }
        }

        impl $data<'_> {
            /// The message's HTML and plain-text parts.
            pub fn render(&self) -> askama::Result<(String, String)> {
                Ok(($html(self).render()?, $text(self).render()?))
            }
        }
    };
}

/// A receipt: what was bought, and the way to it.
pub struct Receipt<'a> {
    pub subject: &'a str,
    pub shop_url: &'a str,
    pub title: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub order_id: &'a str,
    pub date: &'a str,
    pub library_url: &'a str,
    /// A single-use sign-in link, for an account without a password.
    pub sign_in_url: Option<&'a str>,
    pub sign_in_page: &'a str,
    pub link_minutes: i64,
}
message!(
    Receipt,
    ReceiptHtml = "mail/receipt.html",
    ReceiptText = "mail/receipt.txt"
);

/// A refund notice.
pub struct Refund<'a> {
    pub subject: &'a str,
    pub shop_url: &'a str,
    pub title: &'a str,
    pub amount: &'a str,
    pub currency: &'a str,
    pub order_id: &'a str,
}
message!(
    Refund,
    RefundHtml = "mail/refund.html",
    RefundText = "mail/refund.txt"
);

/// A sign-in or password-reset link.
pub struct Link<'a> {
    pub subject: &'a str,
    pub shop_url: &'a str,
    pub intro: &'a str,
    pub button: &'a str,
    pub url: &'a str,
    pub link_minutes: i64,
}
message!(
    Link,
    LinkHtml = "mail/link.html",
    LinkText = "mail/link.txt"
);

/// A new version of a file a buyer owns.
pub struct Update<'a> {
    pub subject: &'a str,
    pub shop_url: &'a str,
    pub title: &'a str,
    pub file_name: &'a str,
    pub version: i32,
    pub date: &'a str,
    pub note: Option<&'a str>,
    pub library_url: &'a str,
    pub unsubscribe_url: &'a str,
}
message!(
    Update,
    UpdateHtml = "mail/update.html",
    UpdateText = "mail/update.txt"
);

/// A membership's news: welcome, renewal receipt, failed payment, or its end. One shape: a few
/// paragraphs and at most one button.
pub struct MembershipNotice<'a> {
    pub subject: &'a str,
    pub shop_url: &'a str,
    pub paragraphs: &'a [String],
    /// The button's label and where it goes.
    pub action: Option<(&'a str, &'a str)>,
}
message!(
    MembershipNotice,
    MembershipNoticeHtml = "mail/membership.html",
    MembershipNoticeText = "mail/membership.txt"
);

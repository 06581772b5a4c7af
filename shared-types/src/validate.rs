//! Parse, don't validate: each type here can only hold a valid value.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why an input was refused; the message is shown to people under the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ValidationError {
    pub message: String,
}

impl ValidationError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl $name {
            pub fn into_inner(self) -> String {
                self.0
            }
        }
    };
}

/// An email address, trimmed and lowercased (emails are unique case-insensitively).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);
string_newtype!(Email);

impl Email {
    pub const MAX_CHARS: usize = 254;
    /// A pattern every address of which `parse` accepts: ASCII dot-atoms of at most 50
    /// characters before the `@` (the limit is 64) and a domain of two to four labels. `parse`
    /// accepts more (surrounding spaces, longer parts, non-ASCII letters); the API document
    /// states this one.
    pub const PATTERN: &'static str = "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,16}(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,16}){0,2}@[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,30}[A-Za-z0-9])?){1,3}$";

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let email = input.trim().to_lowercase();
        let invalid = || ValidationError::new("enter a valid email address, like name@example.com");
        if email.is_empty() {
            return Err(ValidationError::new("email is required"));
        }
        if email.chars().count() > Self::MAX_CHARS {
            return Err(ValidationError::new("email must be at most 254 characters"));
        }
        let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.contains('@')
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        let domain_ok = domain.contains('.')
            && domain.split('.').all(|label| {
                !label.is_empty()
                    && !label.starts_with('-')
                    && !label.ends_with('-')
                    && label.chars().all(|c| c.is_alphanumeric() || c == '-')
            });
        let no_space = !email.chars().any(|c| c.is_whitespace() || c.is_control());
        if local_ok && domain_ok && no_space {
            Ok(Self(email))
        } else {
            Err(invalid())
        }
    }
}

impl TryFrom<String> for Email {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Email> for String {
    fn from(value: Email) -> Self {
        value.0
    }
}

/// A password of 8 to 128 characters. It never appears in `Debug` output.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let n = input.chars().count();
        if n < Self::MIN_CHARS {
            Err(ValidationError::new(format!(
                "password must be at least {} characters",
                Self::MIN_CHARS
            )))
        } else if n > Self::MAX_CHARS {
            Err(ValidationError::new(format!(
                "password must be at most {} characters",
                Self::MAX_CHARS
            )))
        } else {
            Ok(Self(input.to_owned()))
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A product title: 3 to 200 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Title(String);
string_newtype!(Title);

impl Title {
    pub const MIN_CHARS: usize = 3;
    pub const MAX_CHARS: usize = 200;
    /// Every title of which `parse` keeps every character: 3 to 200 characters, no control
    /// characters, none of Rust's white space at either end (`parse` trims it).
    pub const PATTERN: &'static str = "^[^\\u0000-\\u001F\\u007F-\\u009F \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000][^\\u0000-\\u001F\\u007F-\\u009F]{1,198}[^\\u0000-\\u001F\\u007F-\\u009F \\u00A0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000]$";

    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let t = input.trim();
        let n = t.chars().count();
        if n < Self::MIN_CHARS {
            Err(ValidationError::new("title must be at least 3 characters"))
        } else if n > Self::MAX_CHARS {
            Err(ValidationError::new("title must be at most 200 characters"))
        } else if t.chars().any(char::is_control) {
            Err(ValidationError::new(
                "title must not contain control characters",
            ))
        } else {
            Ok(Self(t.to_owned()))
        }
    }
}

/// A product description: at most 20,000 characters (may be empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);
string_newtype!(Description);

impl Description {
    pub const MAX_CHARS: usize = 20_000;

    /// The limit counts what was sent, spaces around it included: exactly the document's
    /// `maxLength`.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let d = input.trim();
        if input.chars().count() > Self::MAX_CHARS {
            Err(ValidationError::new(
                "description must be at most 20,000 characters",
            ))
        } else {
            Ok(Self(d.to_owned()))
        }
    }
}

/// A URL slug: lowercase ASCII letters, digits and single hyphens; never a `/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);
string_newtype!(Slug);

impl Slug {
    pub const MAX_LEN: usize = 80;

    #[cfg(feature = "slugify")]
    /// Derives a slug from a title, transliterating non-ASCII ("Café Ünïcode" → "cafe-unicode")
    /// and dropping what has no ASCII form.
    pub fn from_title(title: &str) -> Result<Self, ValidationError> {
        let ascii = deunicode::deunicode(title);
        let mut slug = String::with_capacity(ascii.len());
        for ch in ascii.chars() {
            if ch.is_ascii_alphanumeric() {
                slug.push(ch.to_ascii_lowercase());
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
        }
        slug.truncate(Self::MAX_LEN);
        let slug = slug.trim_end_matches('-').to_owned();
        if slug.is_empty() {
            Err(ValidationError::new(
                "title must contain at least one letter or digit",
            ))
        } else {
            Ok(Self(slug))
        }
    }

    /// Accepts an existing slug (from a URL) only when it has the slug shape.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let ok = !input.is_empty()
            && input.len() <= Self::MAX_LEN
            && input
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !input.starts_with('-')
            && !input.ends_with('-')
            && !input.contains("--");
        if ok {
            Ok(Self(input.to_owned()))
        } else {
            Err(ValidationError::new("not a valid slug"))
        }
    }
}

impl TryFrom<String> for Slug {
    type Error = ValidationError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(value: Slug) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_ref(),
            "ada@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "a da@example.com",
            "ada@exa mple.com",
            "ada@-example.com",
            ".ada@example.com",
            "ada..b@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn passwords_have_length_bounds_in_characters_and_hide_in_debug() {
        assert!(Password::parse("1234567").is_err());
        assert!(Password::parse("12345678").is_ok());
        assert!(Password::parse(&"é".repeat(128)).is_ok());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let p = Password::parse("hunter2hunter2").unwrap();
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn titles_have_length_bounds() {
        assert!(Title::parse("  ab ").is_err());
        assert_eq!(Title::parse(" abc ").unwrap().as_ref(), "abc");
        assert!(Title::parse(&"x".repeat(201)).is_err());
        assert!(Title::parse(&"x".repeat(200)).is_ok());
        assert!(Description::parse(&"x".repeat(20_001)).is_err());
        assert!(Description::parse("").is_ok());
    }

    #[cfg(feature = "slugify")]
    #[test]
    fn slugs_are_transliterated_and_never_contain_a_slash() {
        assert_eq!(
            Slug::from_title("Café Ünïcode Guide").unwrap().as_ref(),
            "cafe-unicode-guide"
        );
        assert_eq!(
            Slug::from_title("../../etc/passwd").unwrap().as_ref(),
            "etc-passwd"
        );
        assert_eq!(
            Slug::from_title("  Rust   & You!! ").unwrap().as_ref(),
            "rust-you"
        );
        assert!(Slug::from_title("!!!").is_err());
        let long = Slug::from_title(&"ab ".repeat(100)).unwrap();
        assert!(long.as_ref().len() <= Slug::MAX_LEN && !long.as_ref().ends_with('-'));
    }

    #[test]
    fn slug_parse_accepts_only_the_slug_shape() {
        assert!(Slug::parse("rust-you").is_ok());
        for bad in ["", "Rust", "a/b", "..", "-a", "a-", "a--b", "a b", "a%2fb"] {
            assert!(Slug::parse(bad).is_err(), "{bad:?}");
        }
    }
}

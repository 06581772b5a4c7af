//! Mail. lettre over SMTP (`FOLIO_SMTP_URL`, pooled connections) in production; without SMTP
//! settings (development only) each message is a file in the dev mailbox, `<data>/mail`, which
//! admins read in the web UI. Every message has a plain-text and an HTML part ([`templates`]),
//! links built from `FOLIO_PUBLIC_URL`, and a `Message-ID` its job gives it, so that a job run
//! again after a crash sends the same message (and the dev mailbox keeps one file).

pub mod mailbox;
pub mod routes;
pub mod templates;

use std::path::PathBuf;
use std::time::Duration;

use lettre::message::{header, Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailTransport, Settings};

/// One message to send.
pub struct Outgoing {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// `<…@…>`, stable for the job that sends it.
    pub message_id: String,
    /// For messages that are not transactional (update notices): the unsubscribe URL.
    pub list_unsubscribe: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The address or a header cannot make a message: sending again will not help.
    #[error("the message cannot be built: {0}")]
    Invalid(String),
    /// The server refused or could not be reached: worth another attempt.
    #[error("sending failed: {0}")]
    Transport(String),
}

impl From<MailError> for crate::jobs::worker::JobError {
    fn from(e: MailError) -> Self {
        match e {
            MailError::Invalid(m) => crate::jobs::worker::JobError::permanent(m),
            MailError::Transport(m) => crate::jobs::worker::JobError::retry(m),
        }
    }
}

enum Out {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Mailbox(PathBuf),
}

pub struct Mailer {
    from: Mailbox,
    out: Out,
    /// The public URL's host: the right-hand side of every Message-ID.
    host: String,
}

impl Mailer {
    pub fn new(settings: &Settings) -> anyhow::Result<Self> {
        let from: Mailbox = settings
            .mail
            .from
            .parse()
            .map_err(|e| anyhow::anyhow!("FOLIO_MAIL_FROM: {e}"))?;
        let out = match &settings.mail.transport {
            MailTransport::Smtp(url) => {
                let url = std::str::from_utf8(url.expose())?;
                // The URL holds the password: errors must not repeat it.
                let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map_err(|_| anyhow::anyhow!("FOLIO_SMTP_URL is not a URL lettre accepts"))?
                    .timeout(Some(Duration::from_secs(20)))
                    .build();
                Out::Smtp(transport)
            }
            MailTransport::Mailbox(dir) => Out::Mailbox(dir.clone()),
        };
        Ok(Self {
            from,
            out,
            host: settings
                .public_url
                .host_str()
                .unwrap_or("folio.invalid")
                .to_owned(),
        })
    }

    /// The dev mailbox's folder, when mail goes there.
    pub fn mailbox(&self) -> Option<&std::path::Path> {
        match &self.out {
            Out::Mailbox(dir) => Some(dir),
            Out::Smtp(_) => None,
        }
    }

    /// The Message-ID of what the job `job_id` sends.
    pub fn message_id(&self, job_id: &str) -> String {
        format!("<{job_id}@{}>", self.host)
    }

    fn build(&self, mail: &Outgoing) -> Result<Message, MailError> {
        let to: Mailbox = mail
            .to
            .parse()
            .map_err(|e| MailError::Invalid(format!("the address: {e}")))?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .message_id(Some(mail.message_id.clone()))
            .date_now();
        if let Some(url) = &mail.list_unsubscribe {
            builder = builder
                .header(ListUnsubscribe(format!("<{url}>")))
                .header(ListUnsubscribePost);
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| MailError::Invalid(e.to_string()))
    }

    #[tracing::instrument(skip_all, fields(message_id = %mail.message_id))]
    pub async fn send(&self, mail: Outgoing) -> Result<(), MailError> {
        let message = self.build(&mail)?;
        match &self.out {
            Out::Smtp(transport) => {
                transport
                    .send(message)
                    .await
                    .map_err(|e| MailError::Transport(e.to_string()))?;
                tracing::info!("mail sent");
                Ok(())
            }
            Out::Mailbox(dir) => {
                let dir = dir.clone();
                let raw = message.formatted();
                tokio::task::spawn_blocking(move || mailbox::store(&dir, &mail, &raw))
                    .await
                    .map_err(|e| MailError::Transport(e.to_string()))?
                    .map_err(|e| MailError::Transport(format!("the dev mailbox: {e}")))?;
                tracing::info!("mail kept in the dev mailbox");
                Ok(())
            }
        }
    }
}

/// `List-Unsubscribe-Post: List-Unsubscribe=One-Click` (RFC 8058): the URL unsubscribes on a
/// POST, without a page.
#[derive(Clone)]
struct ListUnsubscribePost;

impl header::Header for ListUnsubscribePost {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("List-Unsubscribe-Post")
    }

    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self)
    }

    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), "List-Unsubscribe=One-Click".to_owned())
    }
}

/// `List-Unsubscribe` (RFC 2369).
#[derive(Clone)]
struct ListUnsubscribe(String);

impl header::Header for ListUnsubscribe {
    fn name() -> header::HeaderName {
        header::HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(Self(s.to_owned()))
    }

    fn display(&self) -> header::HeaderValue {
        header::HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Amount, currency and date as people read them in a message.
pub fn day(at: chrono::NaiveDateTime) -> String {
    at.format("%-d %B %Y").to_string()
}

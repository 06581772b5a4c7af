//! The development mailbox: each message a pair of files named after its Message-ID (so a job
//! that runs again replaces its message rather than adding one): the message as sent (`.eml`)
//! and what the web UI shows of it (`.json`).

use std::path::Path;

use sha2::{Digest, Sha256};
use shared_types::MailboxMessage;

use super::Outgoing;

fn stem(message_id: &str) -> String {
    hex::encode(&Sha256::digest(message_id.as_bytes())[..12])
}

pub fn store(dir: &Path, mail: &Outgoing, raw: &[u8]) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let stem = stem(&mail.message_id);
    let record = MailboxMessage {
        id: stem.clone(),
        message_id: mail.message_id.clone(),
        to: mail.to.clone(),
        subject: mail.subject.clone(),
        date: chrono::Utc::now(),
        text: mail.text.clone(),
        html: mail.html.clone(),
    };
    // Written whole, then moved into place: a reader never sees half a message.
    for (ext, bytes) in [
        ("eml", raw.to_vec()),
        (
            "json",
            serde_json::to_vec_pretty(&record).map_err(std::io::Error::other)?,
        ),
    ] {
        let tmp = dir.join(format!(".{stem}.{ext}.tmp"));
        std::fs::write(&tmp, bytes)?;
        std::fs::rename(&tmp, dir.join(format!("{stem}.{ext}")))?;
    }
    Ok(())
}

/// Every message, newest first.
pub fn list(dir: &Path) -> std::io::Result<Vec<MailboxMessage>> {
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            if let Ok(message) = serde_json::from_slice::<MailboxMessage>(&std::fs::read(&path)?) {
                out.push(message);
            }
        }
    }
    out.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.id.cmp(&b.id)));
    Ok(out)
}

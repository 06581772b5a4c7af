//! argon2id password hashing. Both functions are CPU-heavy: call them from the blocking pool.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

/// Password hashing runs on its own threads, one per core, fed by a queue.
///
/// Each argon2id hash allocates 19 MiB. On actix's large blocking pool every thread that ever
/// hashed kept that block in its malloc arena (glibc raises its mmap threshold after the first
/// free), and a login flood grew the process to 3 GB (measured with `cargo xtask bench`). A few
/// long-lived threads bound the work in flight, and excess logins wait in the queue; `folio`'s
/// `main` also fixes glibc's mmap threshold so that the blocks go back to the OS when freed.
fn hashers() -> &'static Mutex<mpsc::Sender<Job>> {
    static POOL: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(move || loop {
                    let job = rx.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => break,
                    }
                })
                .expect("spawning a hashing thread");
        }
        Mutex::new(tx)
    })
}

/// Runs a hashing job on the hashing threads and waits for it without blocking the executor.
pub async fn run_hashing<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    hashers()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .send(Box::new(move || {
            let _ = tx.send(job());
        }))
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("the hashing threads are gone")))?;
    rx.await
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("a hashing job was dropped")))
}

pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
}

/// True when `password` matches `stored`. A malformed stored hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Spends the same work as a real verification, so an unknown email takes as long to refuse as a
/// wrong password and response times do not reveal which emails are registered.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| hash("not-a-real-password").expect("hashing a constant"));
    let _ = verify(password, stored);
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("correct horse", "garbage"));
    }
}

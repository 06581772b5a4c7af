//! argon2id password hashing. Both functions are CPU-heavy: call them from the blocking pool.

use argon2::password_hash::{rand_core::OsRng, Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::Duration;

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

/// A hashing thread keeps argon2's working memory while logins keep coming and frees it after
/// this long without work.
const KEEP_MEMORY_IDLE: Duration = Duration::from_secs(1);

thread_local! {
    /// argon2's 19 MiB of working memory, reused from one hash to the next on the hashing threads
    /// (`None` on every other thread: those allocate per hash and free at once).
    static MEMORY: RefCell<Option<Vec<Block>>> = const { RefCell::new(None) };
}

/// The jobs waiting for a hashing thread.
struct Queue {
    jobs: Mutex<VecDeque<Job>>,
    ready: Condvar,
}

/// Password hashing runs on its own threads, one per core, fed by a queue.
///
/// Each argon2id hash needs 19 MiB of working memory. On actix's large blocking pool every thread
/// that ever hashed kept that block in its malloc arena, and a login flood grew the process by
/// gigabytes (bench/NOTES.md). A few long-lived threads bound the work in flight and excess logins
/// wait in the queue. Each thread reuses its block from one hash to the next: allocating it
/// afresh (page faults and zeroing of 19 MiB, since `folio`'s `main` makes glibc map blocks that
/// large on their own) was a large share of a login's time, and is done again only after the
/// thread has been idle for [`KEEP_MEMORY_IDLE`].
fn hashers() -> &'static Queue {
    static QUEUE: OnceLock<Queue> = OnceLock::new();
    QUEUE.get_or_init(|| {
        for i in 0..std::thread::available_parallelism().map_or(2, |n| n.get()) {
            std::thread::Builder::new()
                .name(format!("argon2-{i}"))
                .spawn(hashing_thread)
                .expect("spawning a hashing thread");
        }
        Queue {
            jobs: Mutex::new(VecDeque::new()),
            ready: Condvar::new(),
        }
    })
}

fn hashing_thread() {
    let queue = hashers();
    MEMORY.with(|m| *m.borrow_mut() = Some(Vec::new()));
    let mut jobs = queue.jobs.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if let Some(job) = jobs.pop_front() {
            drop(jobs);
            job();
            jobs = queue.jobs.lock().unwrap_or_else(|p| p.into_inner());
            continue;
        }
        let (guard, wait) = queue
            .ready
            .wait_timeout(jobs, KEEP_MEMORY_IDLE)
            .unwrap_or_else(|p| p.into_inner());
        jobs = guard;
        if wait.timed_out() && jobs.is_empty() {
            MEMORY.with(|m| *m.borrow_mut() = Some(Vec::new()));
            jobs = queue
                .ready
                .wait_while(jobs, |j| j.is_empty())
                .unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// Runs a hashing job on the hashing threads and waits for it without blocking the executor.
pub async fn run_hashing<T: Send + 'static>(
    job: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let queue = hashers();
    queue
        .jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .push_back(Box::new(move || {
            let _ = tx.send(job());
        }));
    queue.ready.notify_one();
    rx.await
        .map_err(|_| ApiError::Internal(anyhow::anyhow!("a hashing job was dropped")))
}

/// argon2 of `password` and `salt` into `out`, in this thread's kept memory when it has some.
fn argon2_into(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> argon2::Result<()> {
    let blocks = argon.params().block_count();
    MEMORY.with(|kept| match kept.borrow_mut().as_mut() {
        Some(memory) => {
            if memory.len() < blocks {
                memory.resize(blocks, Block::default());
            }
            argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
        }
        None => argon.hash_password_into(password, salt, out),
    })
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) with argon2's default parameters.
pub fn hash(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|e| anyhow::anyhow!("decoding a salt: {e}"))?;
    let argon = Argon2::default();
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2_into(&argon, password.as_bytes(), salt_bytes, out)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))?;
    let phc = PasswordHash {
        algorithm: Algorithm::default().ident(),
        version: Some(Version::default().into()),
        params: argon
            .params()
            .try_into()
            .map_err(|e| anyhow::anyhow!("encoding the parameters: {e}"))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// True when `password` matches `stored`, with the parameters `stored` names. A malformed stored
/// hash never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    let matches = || -> Option<bool> {
        let parsed = PasswordHash::new(stored).ok()?;
        let (salt, expected) = (parsed.salt?, parsed.hash?);
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        let mut salt_bytes = [0u8; 64];
        let salt_bytes = salt.decode_b64(&mut salt_bytes).ok()?;
        let argon = Argon2::new(algorithm, version, params);
        let computed = Output::init_with(expected.len(), |out| {
            argon2_into(&argon, password.as_bytes(), salt_bytes, out)
                .map_err(|_| argon2::password_hash::Error::Crypto)
        })
        .ok()?;
        // `Output`'s equality is constant-time.
        Some(computed == expected)
    };
    matches().unwrap_or(false)
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
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("correct horse", "garbage"));
    }

    /// Ours verifies with the argon2 crate's own verifier, and a hash it made with other
    /// parameters (another memory size, argon2i, a shorter output) verifies with ours.
    #[test]
    fn hashes_interoperate_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let ours = super::hash("pw").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"pw", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"px", &parsed).is_err());

        let params = Params::new(8192, 3, 1, Some(24)).unwrap();
        let theirs = Argon2::new(Algorithm::Argon2i, Version::V0x13, params)
            .hash_password(b"pw", &SaltString::generate(&mut OsRng))
            .unwrap()
            .to_string();
        assert!(theirs.starts_with("$argon2i$v=19$m=8192,t=3,p=1$"));
        assert!(super::verify("pw", &theirs));
        assert!(!super::verify("px", &theirs));
    }

    /// On a hashing thread the memory is kept and reused, also when the parameters change from
    /// one hash to the next (a smaller one runs in a slice of the kept block).
    #[test]
    fn kept_memory_serves_hashes_of_any_size() {
        use argon2::password_hash::PasswordHasher;
        let small = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1024, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
        super::MEMORY.with(|m| *m.borrow_mut() = Some(Vec::new()));
        let big = super::hash("pw").unwrap();
        let kept = || super::MEMORY.with(|m| m.borrow().as_ref().map(Vec::len));
        assert_eq!(kept(), Some(19 * 1024));
        assert!(super::verify("pw", &small));
        assert!(super::verify("pw", &big));
        assert!(!super::verify("px", &small));
        assert!(!super::verify("px", &big));
        assert_eq!(kept(), Some(19 * 1024));
    }
}

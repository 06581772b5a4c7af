//! PostgreSQL for tests and xtask: databases made for one run (dropped with their handle), and
//! templates that tests clone instead of migrating a database each.
//!
//! Everything goes through `psql` (PostgreSQL's client, installed with the server): no database
//! crate, so xtask builds as fast as before. The server is found through
//! `FOLIO_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`), an
//! administrative connection that may create databases.

use std::process::{Command, Stdio};

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The administrative connection URL.
pub fn admin_url() -> String {
    std::env::var("FOLIO_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned())
}

/// `url` with its database replaced by `database` (any `?query` kept).
pub fn with_database(url: &str, database: &str) -> String {
    let (main, query) = match url.split_once('?') {
        Some((m, q)) => (m, format!("?{q}")),
        None => (url, String::new()),
    };
    let authority_start = main.find("://").map(|i| i + 3).unwrap_or(0);
    let host_end = main[authority_start..]
        .find('/')
        .map(|i| authority_start + i)
        .unwrap_or(main.len());
    format!("{}/{database}{query}", &main[..host_end])
}

/// Runs one SQL statement on the server `url` names.
pub fn execute(url: &str, sql: &str) -> Result<(), String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running psql (PostgreSQL's client): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The rows of a one-column query, as text.
pub fn query(url: &str, sql: &str) -> Result<Vec<String>, String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running psql (PostgreSQL's client): {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect())
}

/// Whether the server answers at `admin`, with why not.
pub fn reachable(admin: &str) -> Result<(), String> {
    query(admin, "SELECT 1").map(drop)
}

/// A database made for one run, dropped (with any connections still open to it) on drop.
pub struct Database {
    name: String,
    admin: String,
    pub url: String,
}

impl Database {
    /// Creates `name` on the server of `admin`, as a copy of `template` when given.
    pub fn create(admin: &str, name: &str, template: Option<&str>) -> Result<Self, String> {
        check_name(name)?;
        let sql = match template {
            Some(t) => {
                check_name(t)?;
                format!("CREATE DATABASE {name} TEMPLATE {t}")
            }
            None => format!("CREATE DATABASE {name}"),
        };
        execute(admin, &sql)?;
        Ok(Self {
            name: name.to_owned(),
            admin: admin.to_owned(),
            url: with_database(admin, name),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = execute(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Makes the template `name` unless it exists: `init` gets the URL of a new database to
/// prepare (migrate), which then becomes the template under that name in one rename, so that
/// several processes racing to make it end with one, complete template.
pub fn ensure_template(
    admin: &str,
    name: &str,
    init: impl FnOnce(&str) -> Result<(), String>,
) -> Result<(), String> {
    check_name(name)?;
    if exists(admin, name)? {
        return Ok(());
    }
    let scratch = format!("{name}_new_{}", std::process::id());
    execute(
        admin,
        &format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"),
    )?;
    execute(admin, &format!("CREATE DATABASE {scratch}"))?;
    let made = init(&with_database(admin, &scratch)).and_then(|()| {
        // A database cannot be renamed or copied while something is connected to it.
        execute(
            admin,
            &format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{scratch}'"
            ),
        )?;
        execute(admin, &format!("ALTER DATABASE {scratch} RENAME TO {name}"))
    });
    match made {
        Ok(()) => execute(
            admin,
            &format!("ALTER DATABASE {name} WITH IS_TEMPLATE true"),
        ),
        // Another process made it first: use theirs.
        Err(_) if exists(admin, name)? => {
            let _ = execute(
                admin,
                &format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"),
            );
            Ok(())
        }
        Err(e) => {
            let _ = execute(
                admin,
                &format!("DROP DATABASE IF EXISTS {scratch} WITH (FORCE)"),
            );
            Err(e)
        }
    }
}

fn exists(admin: &str, name: &str) -> Result<bool, String> {
    Ok(!query(
        admin,
        &format!("SELECT 1 FROM pg_database WHERE datname = '{name}'"),
    )?
    .is_empty())
}

/// Database names are written into SQL: only lowercase letters, digits and `_`.
fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!("`{name}` is not a database name this kit writes"))
    }
}

/// A short, stable fingerprint of some bytes (FNV-1a, 64 bits, hex): names a template after the
/// migrations it holds.
pub fn fingerprint(parts: &[&[u8]]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(b"\0") {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_get_another_database_and_keep_their_query() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@db/postgres?sslmode=disable", "x"),
            "postgres://u:p@db/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://db:5433", "x"),
            "postgres://db:5433/x"
        );
    }

    #[test]
    fn only_plain_names_reach_sql() {
        assert!(check_name("folio_test_0a1b").is_ok());
        for bad in ["", "x; DROP DATABASE y", "Upper", "a-b", &"a".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn fingerprints_change_with_their_parts() {
        assert_eq!(fingerprint(&[b"a", b"b"]), fingerprint(&[b"a", b"b"]));
        assert_ne!(fingerprint(&[b"a", b"b"]), fingerprint(&[b"ab"]));
    }
}

-- Accounts without a password (guest buyers, sign-in links) and a verified email. SQLite cannot
-- drop a NOT NULL: the table is rebuilt (sqlite.org/lang_altertable.html, "other kinds of table
-- schema changes"), with foreign keys off so that the tables pointing at users keep their rows.
PRAGMA foreign_keys = OFF;
BEGIN;
CREATE TABLE users_new (
    id                TEXT PRIMARY KEY,
    email             TEXT NOT NULL UNIQUE,
    password_hash     TEXT,
    role              TEXT NOT NULL CHECK (role IN ('customer', 'admin')),
    created_at        TIMESTAMP NOT NULL,
    updated_at        TIMESTAMP NOT NULL,
    email_verified_at TIMESTAMP
);
INSERT INTO users_new (id, email, password_hash, role, created_at, updated_at)
    SELECT id, email, password_hash, role, created_at, updated_at FROM users;
DROP TABLE users;
ALTER TABLE users_new RENAME TO users;

-- The one job queue: everything that happens after a request (mail today; notices, outbound
-- webhooks and reconciliation later). A job is enqueued in the transaction whose commit it
-- follows; a worker leases it (lease_until), runs it, and marks it done, or schedules it again
-- with backoff, or marks it failed after max_attempts. dedupe_key makes an enqueue idempotent
-- (one receipt per order however many deliveries of its payment race).
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    dedupe_key   TEXT UNIQUE,
    run_at       TIMESTAMP NOT NULL,
    attempts     INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    last_error   TEXT,
    lease_until  TIMESTAMP,
    done_at      TIMESTAMP,
    failed_at    TIMESTAMP,
    created_at   TIMESTAMP NOT NULL,
    updated_at   TIMESTAMP NOT NULL
);
-- What a worker looks for: due, neither done nor failed.
CREATE INDEX jobs_due_idx ON jobs (run_at) WHERE done_at IS NULL AND failed_at IS NULL;
-- The admin list, newest first.
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);

-- Sign-in links and password resets: random tokens, stored hashed, single-use, short-lived.
CREATE TABLE one_time_tokens (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL CHECK (purpose IN ('sign_in', 'password_reset')),
    token_hash  TEXT NOT NULL UNIQUE,
    created_at  TIMESTAMP NOT NULL,
    expires_at  TIMESTAMP NOT NULL,
    used_at     TIMESTAMP
);
CREATE INDEX one_time_tokens_user_idx ON one_time_tokens (user_id, purpose);
COMMIT;
PRAGMA foreign_keys = ON;

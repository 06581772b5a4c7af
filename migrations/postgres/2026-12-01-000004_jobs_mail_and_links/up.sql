-- Accounts without a password (guest buyers, sign-in links) and a verified email.
ALTER TABLE users ALTER COLUMN password_hash DROP NOT NULL;
ALTER TABLE users ADD COLUMN email_verified_at TIMESTAMP;

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

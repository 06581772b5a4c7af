DROP TABLE one_time_tokens;
DROP TABLE jobs;
ALTER TABLE users DROP COLUMN email_verified_at;
-- Accounts without a password keep their rows (orders point at them); no password matches ''.
UPDATE users SET password_hash = '' WHERE password_hash IS NULL;
ALTER TABLE users ALTER COLUMN password_hash SET NOT NULL;

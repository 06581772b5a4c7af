-- password_hash stays nullable: making it NOT NULL again would need the rebuild once more.
DROP TABLE one_time_tokens;
DROP TABLE jobs;
ALTER TABLE users DROP COLUMN email_verified_at;

-- eservice/1: the e-service's accounts, sessions, credential deliveries
-- and form nonces.
CREATE TABLE IF NOT EXISTS eservice_users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    email         TEXT NOT NULL UNIQUE COLLATE NOCASE,
    name          TEXT NOT NULL DEFAULT '',
    customer_id   TEXT NOT NULL DEFAULT '',
    operator      INTEGER NOT NULL DEFAULT 0,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    disabled      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS eservice_users_customer ON eservice_users(customer_id);
CREATE TABLE IF NOT EXISTS eservice_sessions (
    id_hash    BLOB PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES eservice_users(id),
    csrf       TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS eservice_deliveries (
    id_hash       BLOB PRIMARY KEY,
    customer_id   TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    language      TEXT NOT NULL,
    salt          BLOB NOT NULL,
    nonce         BLOB NOT NULL,
    sealed        BLOB,
    created_at    INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    state         TEXT NOT NULL,
    opened_at     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS eservice_form_nonces (
    nonce      TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL
);

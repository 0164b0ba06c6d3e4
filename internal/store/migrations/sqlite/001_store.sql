-- store/1: organisations, orders, certificates, the audit log.
CREATE TABLE orgs (
    customer_id   TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    contact_email TEXT NOT NULL,
    language      TEXT NOT NULL DEFAULT 'fi',
    created_at    INTEGER NOT NULL
);
CREATE TABLE orders (
    transfer_id        TEXT PRIMARY KEY,
    customer_id        TEXT NOT NULL REFERENCES orgs(customer_id),
    environment        TEXT NOT NULL,
    password_hash      BLOB NOT NULL,
    password_salt      BLOB NOT NULL,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    validity_seconds   INTEGER NOT NULL DEFAULT 0,
    failed_attempts    INTEGER NOT NULL DEFAULT 0,
    status             TEXT NOT NULL,
    used_at            INTEGER NOT NULL DEFAULT 0,
    certificate_serial TEXT NOT NULL DEFAULT '',
    purpose            TEXT NOT NULL DEFAULT '',
    description        TEXT NOT NULL DEFAULT '',
    contact_name       TEXT NOT NULL DEFAULT '',
    contact_email      TEXT NOT NULL DEFAULT '',
    contact_phone      TEXT NOT NULL DEFAULT '',
    contact_language   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX orders_customer ON orders(customer_id);
CREATE TABLE certificates (
    serial           TEXT PRIMARY KEY,
    customer_id      TEXT NOT NULL REFERENCES orgs(customer_id),
    environment      TEXT NOT NULL,
    not_before       INTEGER NOT NULL,
    not_after        INTEGER NOT NULL,
    der              BLOB NOT NULL,
    key_fingerprint  TEXT NOT NULL UNIQUE,
    status           TEXT NOT NULL,
    revoked_at       INTEGER NOT NULL DEFAULT 0,
    revoke_reason    TEXT NOT NULL DEFAULT '',
    predecessor      TEXT NOT NULL DEFAULT '',
    order_id         TEXT NOT NULL DEFAULT '',
    request_hash     TEXT NOT NULL DEFAULT '',
    retrieval_id     TEXT NOT NULL UNIQUE,
    retrieved_at     INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    contact_name     TEXT NOT NULL DEFAULT '',
    contact_email    TEXT NOT NULL DEFAULT '',
    contact_language TEXT NOT NULL DEFAULT '',
    purpose          TEXT NOT NULL DEFAULT '',
    description      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX certificates_customer ON certificates(customer_id);
CREATE INDEX certificates_not_after ON certificates(not_after);
-- at most one live successor per certificate
CREATE UNIQUE INDEX certificates_one_successor ON certificates(predecessor)
    WHERE predecessor != '' AND status != 'superseded';
CREATE TABLE audit (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    customer_id TEXT NOT NULL DEFAULT '',
    serial      TEXT NOT NULL DEFAULT '',
    outcome     TEXT NOT NULL,
    code        TEXT NOT NULL DEFAULT '',
    detail      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX audit_customer ON audit(customer_id, id);

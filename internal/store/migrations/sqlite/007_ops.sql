-- ops/1: the ID of the HTTP request that wrote each audit entry (the one
-- in the access log and error log lines); an index on the time for
-- irpkid audit --since and the retention of anonymous refusals; and the
-- one-row table that /readyz writes to prove the database takes writes.
ALTER TABLE audit ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
CREATE INDEX audit_at ON audit(at);
CREATE TABLE readiness (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL
);

-- store/2: failed sign-in and PIN attempts, counted per subject (an
-- account, a client address) in the store, so that every replica counts
-- the same failures against one limit.
CREATE TABLE attempts (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    at      INTEGER NOT NULL
);
CREATE INDEX attempts_subject ON attempts(subject, at);

-- notify/1: the reminders, one row per (certificate, reminder kind): the
-- unique key makes a reminder claimable by exactly one sender.
CREATE TABLE IF NOT EXISTS reminders (
    serial        TEXT NOT NULL,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL,
    owner         TEXT NOT NULL DEFAULT '',
    recipient     TEXT NOT NULL DEFAULT '',
    language      TEXT NOT NULL DEFAULT '',
    attempts      INTEGER NOT NULL DEFAULT 0,
    claimed_at    INTEGER NOT NULL DEFAULT 0,
    lease_until   INTEGER NOT NULL DEFAULT 0,
    next_attempt  INTEGER NOT NULL DEFAULT 0,
    sent_at       INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (serial, kind)
);
CREATE INDEX IF NOT EXISTS reminders_state ON reminders(state, next_attempt);

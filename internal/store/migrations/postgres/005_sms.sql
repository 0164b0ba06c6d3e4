-- sms/1: the SMS queue: one row per text message to send (a credential
-- delivery's PIN). The text is kept only until the gateway has accepted
-- it, or the message is given up; then it is erased.
CREATE TABLE IF NOT EXISTS sms_queue (
    id           TEXT PRIMARY KEY,
    customer_id  TEXT NOT NULL DEFAULT '',
    recipient    TEXT NOT NULL,
    body         TEXT NOT NULL,
    state        TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    next_attempt BIGINT NOT NULL DEFAULT 0,
    lease_until  BIGINT NOT NULL DEFAULT 0,
    owner        TEXT NOT NULL DEFAULT '',
    sent_at      BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS sms_queue_due ON sms_queue(state, next_attempt);

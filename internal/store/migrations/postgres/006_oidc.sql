-- oidc/1: OpenID Connect sign-in: the sign-ins under way (the state,
-- nonce and PKCE verifier of each, used once), and what the provider said
-- of the person at sign-in for each e-service session made that way (the
-- organisations and the operator role, never kept beyond the session).
CREATE TABLE IF NOT EXISTS eservice_oidc_logins (
    state_hash BYTEA PRIMARY KEY,
    nonce      TEXT NOT NULL,
    verifier   TEXT NOT NULL,
    next       TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS eservice_oidc_sessions (
    id_hash    BYTEA PRIMARY KEY,
    person     TEXT NOT NULL,
    orgs       TEXT NOT NULL,
    active     TEXT NOT NULL DEFAULT '',
    operator   BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

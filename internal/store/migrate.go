package store

import (
	"context"
	"fmt"
)

// Migration is one schema change, known by a name that never changes
// (package/number, e.g. "store/1"): the store records names, not positions,
// so a migration added to one package never renumbers another's.
type Migration struct {
	Name string
	SQL  string
}

// migrations are applied in order, each once, each in its own transaction.
// Never edit one that has shipped: append a new one with the next name.
var migrations = []Migration{
	{Name: "store/1", SQL: `CREATE TABLE orgs (
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
	CREATE INDEX audit_customer ON audit(customer_id, id);`},
	// The reminder job's table: one row per (certificate, reminder kind),
	// the unique key that makes a reminder claimable by exactly one sender.
	{Name: "notify/1", SQL: `CREATE TABLE IF NOT EXISTS reminders (
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
	CREATE INDEX IF NOT EXISTS reminders_state ON reminders(state, next_attempt);`},
	// The e-service's accounts, sessions, credential deliveries and form
	// nonces.
	{Name: "eservice/1", SQL: `CREATE TABLE IF NOT EXISTS eservice_users (
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
	);`},
}

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for _, m := range migrations {
		err := s.Update(ctx, func(tx *Tx) error {
			var n int
			if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, m.Name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, strftime('%s','now'))`, m.Name)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// Applied returns the names of the applied migrations, in name order.
func (s *DB) Applied(ctx context.Context) ([]string, error) {
	var out []string
	err := s.View(ctx, func(tx *Tx) error {
		rows, err := tx.query(ctx, `SELECT name FROM schema_migrations ORDER BY name`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				return err
			}
			out = append(out, n)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return out, nil
}

package store

import (
	"context"
	"fmt"
)

// migrations are applied in order, each once, each in its own transaction.
// Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: the certificate service.
	`CREATE TABLE orgs (
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
	CREATE INDEX audit_customer ON audit(customer_id, id);`,
}

// RegisterMigration appends a migration; packages that own tables of their
// own (the e-service, the reminder job) call it from an init function. The
// order of registration is the order of application, so it must not vary.
func RegisterMigration(sql string) { migrations = append(migrations, sql) }

func (s *DB) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	for i, m := range migrations {
		v := i + 1
		err := s.Update(ctx, func(tx *Tx) error {
			var n int
			if err := tx.tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = ?`, v).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if _, err := tx.tx.ExecContext(ctx, m); err != nil {
				return err
			}
			_, err := tx.tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, strftime('%s','now'))`, v)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: migration %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion returns the number of applied migrations.
func (s *DB) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

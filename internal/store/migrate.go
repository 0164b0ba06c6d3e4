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
}

// RegisterMigration appends a migration; packages that own tables of their
// own (the e-service, the reminder job) call it from an init function. Names
// must be unique; a duplicate is a programming error and panics.
func RegisterMigration(name, sql string) {
	for _, m := range migrations {
		if m.Name == name {
			panic("store: migration " + name + " registered twice")
		}
	}
	migrations = append(migrations, Migration{Name: name, SQL: sql})
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

package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Migration is one schema change, known by a name that never changes
// ("store/2"): the store records the names it applied. Each migration has
// its SQL for both backends, in migrations/sqlite/File and
// migrations/postgres/File.
type Migration struct {
	Name     string
	File     string
	SQLite   string
	Postgres string
}

//go:embed migrations
var migrationFiles embed.FS

// migrations are applied in order, each once, each in its own transaction.
// Never edit one that has shipped: add a new one with the next name and
// file. (The first three names are those of the packages that once owned
// the tables, as databases already record them.)
var migrations = loadMigrations([]Migration{
	{Name: "store/1", File: "001_store.sql"},
	{Name: "notify/1", File: "002_reminders.sql"},
	{Name: "eservice/1", File: "003_eservice.sql"},
	{Name: "store/2", File: "004_attempts.sql"},
	{Name: "sms/1", File: "005_sms.sql"},
	{Name: "oidc/1", File: "006_oidc.sql"},
	{Name: "ops/1", File: "007_ops.sql"},
	{Name: "orders/1", File: "008_orders.sql"},
})

func loadMigrations(ms []Migration) []Migration {
	for i := range ms {
		for _, d := range []struct {
			dir string
			sql *string
		}{{"sqlite", &ms[i].SQLite}, {"postgres", &ms[i].Postgres}} {
			b, err := migrationFiles.ReadFile("migrations/" + d.dir + "/" + ms[i].File)
			if err != nil {
				panic("store: migration " + ms[i].Name + ": " + err.Error())
			}
			*d.sql = string(b)
		}
	}
	return ms
}

// ErrUnknownMigrations is returned by Open for a database that a newer
// irpkid has migrated: this binary does not know its schema.
var ErrUnknownMigrations = errors.New("the database has migrations this irpkid does not know")

// checkKnown refuses a database with applied migrations this binary does
// not have.
func checkKnown(applied []string) error {
	var unknown []string
	for _, a := range applied {
		if !slices.ContainsFunc(migrations, func(m Migration) bool { return m.Name == a }) {
			unknown = append(unknown, a)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("store: %w (%s): a newer version has upgraded it; run that version (or newer), or restore a backup taken before the upgrade",
			ErrUnknownMigrations, strings.Join(unknown, ", "))
	}
	return nil
}

const createMigrationsTable = `CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)`

// migrate applies the migrations the database lacks. On PostgreSQL the
// whole run holds a session advisory lock, so that replicas starting at
// once migrate exactly once: the others wait, then find nothing to do. On
// SQLite each migration's write transaction is exclusive anyway.
func (s *DB) migrate(ctx context.Context) error {
	unlock := func() {}
	if s.conn == nil {
		var err error
		if unlock, err = s.lockMigrations(ctx); err != nil {
			return err
		}
	} else if _, err := s.conn.ExecContext(ctx, createMigrationsTable); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer unlock()
	applied, err := s.Applied(ctx)
	if err != nil {
		return err
	}
	if err := checkKnown(applied); err != nil {
		return err
	}
	for _, m := range migrations {
		if slices.Contains(applied, m.Name) {
			continue
		}
		err := s.Update(ctx, func(tx *Tx) error {
			var n int
			if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, m.Name).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				return nil // another process applied it meanwhile
			}
			q := m.SQLite
			if s.conn == nil {
				q = m.Postgres
			}
			// Run as it is: a migration is several statements, and it
			// has no placeholders to rebind.
			if _, err := tx.q.ExecContext(context.WithoutCancel(ctx), q); err != nil {
				return err
			}
			_, err := tx.exec(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, `+s.d.nowSeconds+`)`, m.Name)
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
		var err error
		out, err = queryAll(ctx, tx, "migrations", func(sc scanner) (n string, err error) { return n, sc.Scan(&n) },
			`SELECT name FROM schema_migrations ORDER BY name`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return out, nil
}

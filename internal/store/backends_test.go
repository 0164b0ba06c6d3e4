package store

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/irpki/irpki/internal/pgtest"
)

// The conformance suite: each behaviour of the store is one test function
// that runs on both backends through eachBackend, SQLite and PostgreSQL
// (a throwaway server, or the one IRPKI_TEST_POSTGRES names; see pgtest).
// Tests of what only one backend has (SQLite's file, its one connection,
// its query plans) say so in their names.

func TestMain(m *testing.M) { pgtest.Main(m) }

// backend is one empty database a conformance test runs on.
type backend struct {
	name string // "sqlite" or "postgres"
	dsn  string // what Open takes: a SQLite path or a PostgreSQL URL
}

// open opens a store on the backend's database, closed when t ends. Each
// call opens another instance, as another process (a replica, an operator
// command) would.
func (b backend) open(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), b.dsn)
	if err != nil {
		t.Fatal(err)
	}
	if db.Backend() != b.name {
		t.Fatalf("Open(%s) gave a %s store", b.dsn, db.Backend())
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// eachBackend runs test on SQLite and on PostgreSQL, each on a fresh
// database.
func eachBackend(t *testing.T, test func(t *testing.T, b backend)) {
	t.Run("sqlite", func(t *testing.T) { test(t, backend{name: "sqlite", dsn: filepath.Join(t.TempDir(), "irpki.db")}) })
	t.Run("postgres", func(t *testing.T) { test(t, backend{name: "postgres", dsn: pgtest.URL(t)}) })
}

package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// DB is the store.
type DB struct {
	db *sql.DB
	// stmts holds the statements of the hot paths, prepared once at Open
	// and reused by every transaction; read-only after Open.
	stmts map[string]*sql.Stmt
}

// Open opens (creating if needed) the SQLite database at path and migrates
// it to the current schema.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	// The database holds password hashes and contacts. SQLite gives its WAL
	// and shared-memory files the database file's mode, so the file is made
	// 0600 before SQLite first opens it, not after.
	if err := restrict(path, true); err != nil {
		return nil, err
	}
	q := url.Values{}
	for _, p := range []string{"busy_timeout(15000)", "journal_mode(WAL)", "synchronous(FULL)", "foreign_keys(1)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// One connection: SQLite has one writer anyway, and this keeps
	// in-process writers queued in Go instead of spinning on busy_timeout.
	db.SetMaxOpenConns(1)
	s := &DB{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// Files left by an older version or another umask.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := restrict(p, false); err != nil {
			db.Close()
			return nil, err
		}
	}
	return s, nil
}

// restrict makes the file at p mode 0600, creating it if create is true
// and ignoring its absence otherwise.
func restrict(p string, create bool) error {
	if create {
		f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("store: %w", err)
		}
		f.Close()
	}
	if err := os.Chmod(p, 0o600); err != nil && !(errors.Is(err, os.ErrNotExist) && !create) {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Close closes the database.
func (s *DB) Close() error { return s.db.Close() }

// Checkpoint copies every committed transaction from the write-ahead log
// into the database file and empties the log. SQLite also does this by
// itself as the log grows; this is for after a bulk load, before a backup
// or at shutdown.
func (s *DB) Checkpoint(ctx context.Context) error {
	var busy, logPages, done int
	if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("store: checkpoint: the database is busy (%d of %d pages copied)", done, logPages)
	}
	return nil
}

// Ping checks the database answers.
func (s *DB) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Update runs fn in a write transaction and commits if fn returns nil.
func (s *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, fn)
}

// View runs fn in a transaction that is always rolled back.
func (s *DB) View(ctx context.Context, fn func(*Tx) error) error {
	return s.run(ctx, func(tx *Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errReadOnly
	})
}

var errReadOnly = errors.New("read-only")

func (s *DB) run(ctx context.Context, fn func(*Tx) error) error {
	sqlTx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	tx := &Tx{tx: sqlTx, stmts: s.stmts}
	// A panic in fn must not leave the transaction open on the store's one
	// connection, which would stall every later transaction. (After the
	// Rollback or Commit below this is a no-op.)
	defer sqlTx.Rollback()
	if err := fn(tx); err != nil {
		sqlTx.Rollback()
		if errors.Is(err, errReadOnly) {
			return nil
		}
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// Tx is a transaction; its methods are the store's operations.
type Tx struct {
	tx    *sql.Tx
	stmts map[string]*sql.Stmt
}

// prepare prepares the statements of preparedQueries.
func (s *DB) prepare(ctx context.Context) error {
	s.stmts = make(map[string]*sql.Stmt, len(preparedQueries))
	for _, q := range preparedQueries {
		st, err := s.db.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// exec runs a statement, prepared once if it is one of preparedQueries.
func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st, ok := t.stmts[q]; ok {
		return t.tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, q, args...)
}

// queryRow runs a one-row query, prepared once if it is one of
// preparedQueries.
func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st, ok := t.stmts[q]; ok {
		return t.tx.StmtContext(ctx, st).QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, q, args...)
}

// Exec runs a statement; for migrations of other packages' tables.
func (t *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return t.tx.ExecContext(ctx, query, args...)
}

// Query runs a query; for other packages' tables.
func (t *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRow runs a query returning one row; for other packages' tables.
func (t *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, query, args...)
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

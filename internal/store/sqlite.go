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

// DB is the store, on SQLite or on PostgreSQL (see Open).
//
// On SQLite it holds one connection for its lifetime and runs one
// transaction at a time on it: SQLite has one writer anyway, and in-process
// writers queue here instead of spinning on busy_timeout. Transactions are
// begun and ended with plain BEGIN/COMMIT on that connection rather than
// through database/sql's Tx, which watches every transaction and every
// query with a goroutine of its own (five per renewal, each waking a
// thread).
//
// On PostgreSQL it holds a pool of connections (postgres.go).
type DB struct {
	d  *dialect
	db *sql.DB
	// path is the SQLite database file; "" on PostgreSQL.
	path string
	conn *sql.Conn
	// sem, of capacity one, is held while conn is in use.
	sem chan struct{}
	// stmts holds the statements of the hot paths, prepared on conn once
	// at Open and reused by every transaction; read-only after Open.
	stmts map[string]*sql.Stmt
}

// Open opens the store named by database and migrates it to the current
// schema: a postgres:// or postgresql:// URL is a PostgreSQL database
// (see OpenPostgres), anything else the path of a SQLite database file,
// created if needed.
func Open(ctx context.Context, database string) (*DB, error) {
	if IsPostgresURL(database) {
		return OpenPostgres(ctx, database)
	}
	return OpenSQLite(ctx, database)
}

// IsPostgresURL reports whether database names a PostgreSQL server rather
// than a SQLite file.
func IsPostgresURL(database string) bool {
	return strings.HasPrefix(database, "postgres://") || strings.HasPrefix(database, "postgresql://")
}

// OpenSQLite opens (creating if needed) the SQLite database at path and
// migrates it to the current schema.
func OpenSQLite(ctx context.Context, path string) (*DB, error) {
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
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s := &DB{d: sqliteDialect, db: db, path: path, conn: conn, sem: make(chan struct{}, 1)}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if err := s.prepare(ctx); err != nil {
		s.Close()
		return nil, err
	}
	// Files left by an older version or another umask.
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := restrict(p, false); err != nil {
			s.Close()
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
func (s *DB) Close() error {
	if s.conn == nil {
		return s.db.Close()
	}
	for _, st := range s.stmts {
		st.Close()
	}
	return errors.Join(s.conn.Close(), s.db.Close())
}

// Backend names the database behind the store: "sqlite" or "postgres".
func (s *DB) Backend() string { return s.d.name }

// Path is the SQLite database file; "" on PostgreSQL.
func (s *DB) Path() string { return s.path }

// acquire waits for the connection, or for ctx to end.
func (s *DB) acquire(ctx context.Context) error {
	select {
	case s.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("store: %w", ctx.Err())
	}
}

func (s *DB) release() { <-s.sem }

// Checkpoint copies every committed transaction from the write-ahead log
// into the database file and empties the log. SQLite also does this by
// itself as the log grows; this is for after a bulk load, before a backup
// or at shutdown.
func (s *DB) Checkpoint(ctx context.Context) error {
	if s.conn == nil {
		return nil // PostgreSQL checkpoints by itself
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	var busy, logPages, done int
	if err := s.conn.QueryRowContext(context.WithoutCancel(ctx), `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &done); err != nil {
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	if busy != 0 {
		return fmt.Errorf("store: checkpoint: the database is busy (%d of %d pages copied)", done, logPages)
	}
	return nil
}

// Ping checks the database answers.
func (s *DB) Ping(ctx context.Context) error {
	if s.conn == nil {
		return s.db.PingContext(ctx)
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	return s.conn.PingContext(ctx)
}

// Update runs fn in a write transaction and commits if fn returns nil.
func (s *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if s.conn == nil {
		return s.runPostgres(ctx, true, fn)
	}
	// IMMEDIATE takes the write lock at once, so that the transaction
	// never fails half-way because another process wrote meanwhile.
	return s.run(ctx, "BEGIN IMMEDIATE", fn)
}

// View runs fn in a transaction that is always rolled back.
func (s *DB) View(ctx context.Context, fn func(*Tx) error) error {
	if s.conn == nil {
		return s.runPostgres(ctx, false, fn)
	}
	return s.run(ctx, "BEGIN", func(tx *Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errReadOnly
	})
}

var errReadOnly = errors.New("read-only")

// run runs fn in a transaction begun with begin. ctx bounds the wait for
// the connection; once that is taken, the transaction runs to its end
// whatever happens to ctx, so that a client that hangs up never leaves half
// a decision behind.
func (s *DB) run(ctx context.Context, begin string, fn func(*Tx) error) error {
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	// BEGIN too runs without ctx's cancellation: the driver reports a
	// context that ended while a statement ran as that statement's error,
	// even when BEGIN had succeeded, which would leave the one connection
	// inside a transaction holding the write lock (found in review). Its
	// wait for another process's lock is bounded by busy_timeout.
	bg := context.WithoutCancel(ctx)
	if _, err := s.conn.ExecContext(bg, begin); err != nil {
		s.conn.ExecContext(bg, "ROLLBACK") // in case; fails harmlessly without a transaction
		return fmt.Errorf("store: begin: %w", err)
	}
	open := true
	// A panic in fn must not leave the transaction open on the store's one
	// connection, which would stall every later transaction.
	defer func() {
		if open {
			s.conn.ExecContext(bg, "ROLLBACK")
		}
	}()
	if err := fn(&Tx{q: s.conn, stmts: s.stmts, d: sqliteDialect}); err != nil {
		open = false
		if _, rerr := s.conn.ExecContext(bg, "ROLLBACK"); rerr != nil && !errors.Is(err, errReadOnly) {
			return errors.Join(err, fmt.Errorf("store: rollback: %w", rerr))
		}
		if errors.Is(err, errReadOnly) {
			return nil
		}
		return err
	}
	if _, err := s.conn.ExecContext(bg, "COMMIT"); err != nil {
		// A COMMIT that failed may leave the transaction open (SQLITE_BUSY).
		return fmt.Errorf("store: commit: %w", err)
	}
	open = false
	return nil
}

// Tx is a transaction; its methods are the store's operations. Its
// statements run to their end once started: they get their context without
// its cancellation (see DB.run).
type Tx struct {
	q     querier
	stmts map[string]*sql.Stmt // SQLite's prepared hot-path statements
	d     *dialect
}

// querier is where a transaction's statements go: the SQLite store's one
// connection, or a PostgreSQL transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// prepare prepares the statements of preparedQueries.
func (s *DB) prepare(ctx context.Context) error {
	s.stmts = make(map[string]*sql.Stmt, len(preparedQueries))
	for _, q := range preparedQueries {
		st, err := s.conn.PrepareContext(ctx, q)
		if err != nil {
			return fmt.Errorf("store: prepare: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// exec runs a statement, prepared once if it is one of preparedQueries.
func (t *Tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	ctx = context.WithoutCancel(ctx)
	if st, ok := t.stmts[q]; ok {
		return st.ExecContext(ctx, args...)
	}
	return t.q.ExecContext(ctx, t.d.rebind(q), args...)
}

// queryRow runs a one-row query, prepared once if it is one of
// preparedQueries.
func (t *Tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	ctx = context.WithoutCancel(ctx)
	if st, ok := t.stmts[q]; ok {
		return st.QueryRowContext(ctx, args...)
	}
	return t.q.QueryRowContext(ctx, t.d.rebind(q), args...)
}

// query runs a query.
func (t *Tx) query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.q.QueryContext(context.WithoutCancel(ctx), t.d.rebind(q), args...)
}

// ErrNotSQLite is returned by what only a SQLite store does.
var ErrNotSQLite = errors.New("the store is on PostgreSQL: back it up with PostgreSQL's tools (pg_dump, or continuous archiving for point-in-time recovery)")

// BackupTo writes a consistent copy of the SQLite database to path, which
// must not exist, while the database stays in use: one read transaction's
// snapshot (VACUUM INTO), so writers elsewhere neither wait for it nor
// tear it. The copy is a complete database file with no write-ahead log,
// mode 0600 once written: write it inside a directory only its owner may
// enter (irpkid backup's is 0700).
func (s *DB) BackupTo(ctx context.Context, path string) error {
	if s.conn == nil {
		return ErrNotSQLite
	}
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("store: backup: %s exists", path)
	}
	if err := s.acquire(ctx); err != nil {
		return err
	}
	defer s.release()
	if _, err := s.conn.ExecContext(context.WithoutCancel(ctx), `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("store: backup: %w", err)
	}
	return restrict(path, false)
}

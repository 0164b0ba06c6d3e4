package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// On PostgreSQL every write transaction first takes one transaction-scoped
// advisory lock, writeLock, and holds it until it commits or rolls back.
// Write transactions thus run one at a time across every replica on the
// database, exactly as SQLite's one writer runs them in one process: each
// check-then-act rule of the service ("this order is unused, so use it",
// "this certificate has no successor yet, so issue one", "this reminder is
// unclaimed, so claim it", "this address has fewer than N failures, so
// count one more") has one winner however many replicas race, with no
// rule needing a lock of its own. Reads run beside them on snapshots.
//
// The hot paths (SignNewCertificate, RenewCertificate, GetCertificate and
// refusals' audit lines) would queue on that one lock, each holding it
// through its commit's fsync: the application would serialise what
// PostgreSQL runs side by side and commits in groups. They use
// UpdateKeyed instead: the transaction takes writeLock shared, so that it
// still waits for (and holds off) every Update, and then locks the keys of
// its own rules (Tx.Lock: the order, the predecessor, the key
// fingerprint), so that only transactions about the same order,
// certificate or key wait for each other. The unique indexes (one key per
// certificate, one live successor) stand behind the locks.
//
// The keys are arbitrary constants ("irpk" and "irpm"), distinct from each
// other; another application sharing the database would have to avoid them.
const (
	writeLock   = 0x6972706b
	migrateLock = 0x6972706d
)

// postgresPool is the number of connections a store holds open at most.
const postgresPool = 16

// OpenPostgres connects to the PostgreSQL database at url (postgres://… or
// postgresql://…, with libpq's parameters) and migrates it to the current
// schema. A statement waiting for a lock gives up after lock_timeout
// (15 seconds unless the URL sets it), as SQLite's busy_timeout does.
func OpenPostgres(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("store: database URL: %s", redactURL(url, err))
	}
	if _, ok := cfg.RuntimeParams["lock_timeout"]; !ok {
		cfg.RuntimeParams["lock_timeout"] = "15s"
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "irpkid"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(postgresPool)
	db.SetMaxIdleConns(postgresPool)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect to PostgreSQL at %s: %w", cfg.Host, err)
	}
	s := &DB{d: postgresDialect, db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// redactURL describes a URL that did not parse without repeating it: it
// may hold a password.
func redactURL(raw string, err error) string {
	if u, perr := url.Parse(raw); perr == nil && u.User != nil {
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return fmt.Sprintf("%s does not parse", u.Redacted())
		}
	}
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		return "it does not parse (postgres://user@host:port/database?sslmode=…)"
	}
	return err.Error()
}

// lockMigrations takes the session advisory lock that makes one process at
// a time migrate, on a connection kept until unlock.
func (s *DB) lockMigrations(ctx context.Context) (unlock func(), err error) {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	// Wait as long as ctx allows (lock_timeout would end the wait while
	// another replica runs a long migration).
	if _, err := conn.ExecContext(ctx, `SET lock_timeout = 0`); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		conn.Close()
		return nil, fmt.Errorf("store: wait for the migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, createMigrationsTable); err != nil {
		conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, migrateLock)
		conn.Close()
		return nil, fmt.Errorf("store: migrate: %w", err)
	}
	return func() {
		bg := context.WithoutCancel(ctx)
		conn.ExecContext(bg, `SELECT pg_advisory_unlock($1)`, migrateLock)
		conn.ExecContext(bg, `RESET lock_timeout`)
		conn.Close()
	}, nil
}

// Transaction modes on PostgreSQL.
type txMode int

const (
	modeRead      txMode = iota // a snapshot, rolled back
	modeExclusive               // holds writeLock
	modeKeyed                   // holds writeLock shared, and the keys it locks
)

// runPostgres runs fn in a transaction of mode: a write transaction
// committed if fn returns nil, or a read transaction on one snapshot,
// always rolled back. A transaction that failed before fn ran
// (a connection the server had closed, as after its restart) is begun again
// on another connection; one that fn began is never repeated.
func (s *DB) runPostgres(ctx context.Context, mode txMode, fn func(*Tx) error) error {
	var err error
	// Every pooled connection may have died with the server: each attempt
	// discards one.
	for attempt := 0; attempt <= postgresPool; attempt++ {
		var started bool
		started, err = s.runPostgresOnce(ctx, mode, fn)
		if started || err == nil || ctx.Err() != nil {
			return err
		}
		if attempt >= 2 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("store: %w", ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return err
}

func (s *DB) runPostgresOnce(ctx context.Context, mode txMode, fn func(*Tx) error) (started bool, err error) {
	write := mode != modeRead
	// The transaction runs to its end once begun, whatever happens to ctx
	// (see run); ctx bounds the wait for a connection and for the lock.
	bg := context.WithoutCancel(ctx)
	opts := &sql.TxOptions{Isolation: sql.LevelReadCommitted}
	if !write {
		opts.Isolation = sql.LevelRepeatableRead
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return false, fmt.Errorf("store: %w", err)
	}
	defer conn.Close()
	tx, err := conn.BeginTx(bg, opts)
	if err != nil {
		return false, fmt.Errorf("store: begin: %w", err)
	}
	open := true
	defer func() {
		if open {
			tx.Rollback()
		}
	}()
	if write {
		lock := `SELECT pg_advisory_xact_lock($1)`
		if mode == modeKeyed {
			lock = `SELECT pg_advisory_xact_lock_shared($1)`
		}
		if _, err := tx.ExecContext(ctx, lock, writeLock); err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			// lock_timeout ran out: the server is alive and the lock busy,
			// so beginning again on another connection (meant for
			// connections a restarted server closed) would only wait
			// lock_timeout again, up to once per pooled connection.
			return lockTimedOut(err), fmt.Errorf("store: wait for the write lock: %w", err)
		}
	}
	if err := fn(&Tx{q: tx, d: postgresDialect, keyed: mode == modeKeyed}); err != nil {
		open = false
		tx.Rollback()
		if errors.Is(err, errReadOnly) {
			return true, nil
		}
		return true, err
	}
	if !write {
		return true, nil // the deferred rollback ends it
	}
	open = false
	if err := tx.Commit(); err != nil {
		return true, fmt.Errorf("store: commit: %w", err)
	}
	return true, nil
}

// Lock takes a transaction-scoped lock on key, waiting for any other
// UpdateKeyed transaction holding it, in a transaction of UpdateKeyed on
// PostgreSQL; anywhere else it does nothing, for there the transaction
// already runs alone among writers. Take the locks before reading what
// they guard, and in one order everywhere (the order or certificate, then
// the public key), lest two transactions wait for each other.
func (t *Tx) Lock(ctx context.Context, key string) error {
	if !t.keyed {
		return nil
	}
	// Two 32-bit keys, a space apart from writeLock's one 64-bit key.
	if _, err := t.q.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(writeLock), key); err != nil {
		return fmt.Errorf("store: lock: %w", err)
	}
	return nil
}

// Concurrent reports whether other write transactions may run beside this
// one (an UpdateKeyed transaction on PostgreSQL), so that what it read
// before taking a lock with Lock may have changed since. Elsewhere Lock
// does nothing, and what the transaction read stays as it was until its
// end but for its own changes.
func (t *Tx) Concurrent() bool { return t.keyed }

// lockTimedOut reports whether err is PostgreSQL's lock_not_available
// (SQLSTATE 55P03), which lock_timeout raises.
func lockTimedOut(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "55P03"
}

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
	"sync/atomic"
	"time"

	"modernc.org/sqlite" // also registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"
)

// DB is the store, on SQLite or on PostgreSQL (see Open).
//
// On SQLite one connection writes and a few others read. Write
// transactions are committed in groups (group commit): the writer takes
// every transaction waiting for it, runs each in a savepoint of one SQLite
// transaction, and commits them together, so that they share one fsync
// instead of paying one each; a transaction whose function fails is rolled
// back to its savepoint and leaves the others' changes in. Update returns
// only after the commit that holds its changes is durable (WAL,
// synchronous=FULL), and a transaction that saw another's changes of the
// same group returns no sooner than they are durable too. Readers see only
// committed data: SQLite makes a WAL commit visible to other connections
// after it is synced. Transactions are begun and ended with plain
// BEGIN/COMMIT on the connections rather than through database/sql's Tx,
// which watches every transaction and every query with a goroutine of its
// own (five per renewal, each waking a thread).
//
// On PostgreSQL it holds a pool of connections (postgres.go).
type DB struct {
	d  *dialect
	db *sql.DB
	// path is the SQLite database file; "" on PostgreSQL.
	path string
	// conn is SQLite's writing connection.
	conn *sql.Conn
	// sem, of capacity one, is held while conn is in use.
	sem chan struct{}
	// stmts holds the statements of the hot paths, prepared on conn once
	// at Open and reused by every transaction; read-only after Open.
	stmts map[string]*sql.Stmt
	// ctl holds the writer's transaction control statements.
	ctl *control
	// writes takes write transactions to the group committer.
	writes chan *write
	// waiting counts the Updates waiting for the group committer.
	waiting atomic.Int64
	// commits and committed count the SQLite commits and the write
	// transactions they held.
	commits, committed atomic.Int64
	quit, done         chan struct{}
	// readers are SQLite's reading connections, with their own prepared
	// statements; rdb is their pool.
	readers chan *reader
	rdb     *sql.DB
}

// reader is a reading connection.
type reader struct {
	conn  *sql.Conn
	stmts map[string]*sql.Stmt
	ctl   *control
}

// control holds a connection's transaction control statements, prepared
// once: each would otherwise be parsed, compiled and finalised again at
// every use, several times a transaction. A reader uses begin and
// rollback only.
type control struct {
	begin, beginImmediate, commit, rollback, savepoint, release, rollbackTo *sql.Stmt
}

// statements lists c's statements with their SQL: the one list that
// prepareControl fills and close empties.
func (c *control) statements() []controlStmt {
	return []controlStmt{
		{&c.begin, "BEGIN"}, {&c.beginImmediate, "BEGIN IMMEDIATE"}, {&c.commit, "COMMIT"}, {&c.rollback, "ROLLBACK"},
		{&c.savepoint, "SAVEPOINT w"}, {&c.release, "RELEASE w"}, {&c.rollbackTo, "ROLLBACK TO w"},
	}
}

type controlStmt struct {
	st **sql.Stmt
	q  string
}

// prepareControl prepares the transaction control statements on conn.
func prepareControl(ctx context.Context, conn *sql.Conn) (*control, error) {
	c := &control{}
	for _, p := range c.statements() {
		st, err := conn.PrepareContext(ctx, p.q)
		if err != nil {
			c.close()
			return nil, fmt.Errorf("store: prepare %s: %w", p.q, err)
		}
		*p.st = st
	}
	return c, nil
}

func (c *control) close() {
	for _, p := range c.statements() {
		if *p.st != nil {
			(*p.st).Close()
		}
	}
}

// run runs one of c's statements; they run to their end once started.
func run(st *sql.Stmt) error {
	_, err := st.ExecContext(context.Background())
	return err
}

// write is a write transaction waiting for the group committer.
type write struct {
	fn   func(*Tx) error
	err  error
	pan  any // what fn panicked with
	done chan struct{}
}

// maxGroup bounds the write transactions of one commit: the first of a
// group waits for the others to run before its commit.
const maxGroup = 64

// sqliteReaders is the number of SQLite's reading connections.
const sqliteReaders = 4

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
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	conn, err := connectWriter(ctx, db)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	ctl, err := prepareControl(ctx, conn)
	if err != nil {
		conn.Close()
		db.Close()
		return nil, err
	}
	s := &DB{d: sqliteDialect, db: db, path: path, conn: conn, ctl: ctl, sem: make(chan struct{}, 1),
		writes: make(chan *write), quit: make(chan struct{}), done: make(chan struct{})}
	go s.commitLoop()
	// Readers: after the writer has made the file a WAL database.
	rq := url.Values{}
	for _, p := range []string{"busy_timeout(15000)", "query_only(1)"} {
		rq.Add("_pragma", p)
	}
	if s.rdb, err = sql.Open("sqlite", "file:"+path+"?"+rq.Encode()); err != nil {
		s.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	s.rdb.SetMaxOpenConns(sqliteReaders)
	s.rdb.SetMaxIdleConns(sqliteReaders)
	s.readers = make(chan *reader, sqliteReaders)
	for range sqliteReaders {
		c, err := s.rdb.Conn(ctx)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
		ctl, err := prepareControl(ctx, c)
		if err != nil {
			c.Close()
			s.Close()
			return nil, err
		}
		s.readers <- &reader{conn: c, ctl: ctl}
	}
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

// connectWriter opens the writing connection, whose PRAGMA
// journal_mode=WAL makes a new database a WAL database: SQLite reads the
// file's header, then writes it. Two processes opening a new database at
// once both read it, and the one that does not get to write gets
// SQLITE_BUSY at once, not after busy_timeout's wait (SQLite never waits to
// turn a read into a write, lest two such wait for each other). That is
// tried again, for about as long as busy_timeout would wait; by then the
// other process has made the file a WAL database, which there is no need
// to write again.
func connectWriter(ctx context.Context, db *sql.DB) (*sql.Conn, error) {
	for attempt := 0; ; attempt++ {
		conn, err := db.Conn(ctx)
		var se *sqlite.Error
		if err == nil || !errors.As(err, &se) || se.Code()&0xff != sqlite3.SQLITE_BUSY || attempt >= 300 {
			return conn, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
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

// Close closes the database. Transactions still running finish first.
func (s *DB) Close() error {
	if s.conn == nil {
		return s.db.Close()
	}
	select {
	case <-s.quit:
		return errClosed // closed before
	default:
	}
	close(s.quit)
	<-s.done
	var errs []error
	if s.readers != nil {
		for range cap(s.readers) {
			select {
			case r := <-s.readers:
				for _, st := range r.stmts {
					st.Close()
				}
				r.ctl.close()
				errs = append(errs, r.conn.Close())
			default:
			}
		}
	}
	if s.rdb != nil {
		errs = append(errs, s.rdb.Close())
	}
	for _, st := range s.stmts {
		st.Close()
	}
	s.ctl.close()
	return errors.Join(append(errs, s.conn.Close(), s.db.Close())...)
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
// On PostgreSQL it holds the write lock (postgres.go): it excludes every
// other write transaction.
func (s *DB) Update(ctx context.Context, fn func(*Tx) error) error {
	if s.conn == nil {
		return s.runPostgres(ctx, modeExclusive, fn)
	}
	return s.groupCommit(ctx, fn)
}

// UpdateKeyed is Update for a transaction whose check-then-act rules are
// guarded by the keys fn locks with Tx.Lock before it reads what they
// guard. On PostgreSQL such transactions run beside each other unless they
// lock the same key, and one at a time with Update's; on SQLite, whose one
// writer runs every write transaction alone, it is Update.
func (s *DB) UpdateKeyed(ctx context.Context, fn func(*Tx) error) error {
	if s.conn == nil {
		return s.runPostgres(ctx, modeKeyed, fn)
	}
	return s.groupCommit(ctx, fn)
}

// View runs fn in a transaction that is always rolled back. It sees only
// committed (on SQLite: durably committed) data.
func (s *DB) View(ctx context.Context, fn func(*Tx) error) error {
	if s.conn == nil {
		return s.runPostgres(ctx, modeRead, fn)
	}
	var r *reader
	select {
	case r = <-s.readers:
	case <-ctx.Done():
		return fmt.Errorf("store: %w", ctx.Err())
	}
	defer func() { s.readers <- r }()
	if err := run(r.ctl.begin); err != nil {
		run(r.ctl.rollback) // in case; fails harmlessly without a transaction
		return fmt.Errorf("store: begin: %w", err)
	}
	defer run(r.ctl.rollback)
	return fn(&Tx{q: r.conn, stmts: r.stmts, d: sqliteDialect})
}

var errReadOnly = errors.New("read-only")

var errClosed = errors.New("store: closed")

// groupCommit hands fn to the group committer and waits for the commit
// that holds its changes. ctx bounds the wait for the writer; once the
// writer has taken fn, it runs to its end whatever happens to ctx, so
// that a client that hangs up never leaves half a decision behind.
func (s *DB) groupCommit(ctx context.Context, fn func(*Tx) error) error {
	w := &write{fn: fn, done: make(chan struct{})}
	s.waiting.Add(1)
	select {
	case s.writes <- w:
		s.waiting.Add(-1)
	case <-ctx.Done():
		s.waiting.Add(-1)
		return fmt.Errorf("store: %w", ctx.Err())
	case <-s.quit:
		s.waiting.Add(-1)
		return errClosed
	}
	<-w.done
	if w.pan != nil {
		panic(w.pan)
	}
	return w.err
}

// CommitStats returns how many SQLite commits the store has made and how
// many write transactions they held; on PostgreSQL, zeros.
func (s *DB) CommitStats() (commits, transactions int64) {
	return s.commits.Load(), s.committed.Load()
}

// commitLoop is the group committer: it runs the waiting write
// transactions in groups until the store closes.
func (s *DB) commitLoop() {
	defer close(s.done)
	for {
		select {
		case w := <-s.writes:
			s.sem <- struct{}{}
			s.commitGroup(w)
			<-s.sem
		case <-s.quit:
			return
		}
	}
}

// commitGroup begins a transaction, runs first and every write waiting
// meanwhile (up to maxGroup) each in a savepoint, commits and then
// answers them all. A failure of the transaction itself (BEGIN, a
// savepoint, COMMIT) fails every write of the group: none of their
// changes is kept.
func (s *DB) commitGroup(first *write) {
	group := []*write{first}
	defer func() {
		for _, w := range group {
			close(w.done)
		}
	}()
	// IMMEDIATE takes the write lock at once, so that the transaction
	// never fails half-way because another process wrote meanwhile; its
	// wait for another process's lock is bounded by busy_timeout.
	if err := run(s.ctl.beginImmediate); err != nil {
		run(s.ctl.rollback) // in case; fails harmlessly without a transaction
		first.err = fmt.Errorf("store: begin: %w", err)
		return
	}
	err := s.runSavepoint(first)
fill:
	for err == nil && len(group) < maxGroup {
		select {
		case w := <-s.writes:
			group = append(group, w)
			err = s.runSavepoint(w)
		default:
			break fill
		}
	}
	if err == nil {
		if cerr := run(s.ctl.commit); cerr != nil {
			err = fmt.Errorf("store: commit: %w", cerr)
		}
	}
	if err != nil {
		// A COMMIT that failed may leave the transaction open (SQLITE_BUSY).
		run(s.ctl.rollback)
		for _, w := range group {
			w.err = errors.Join(w.err, err)
		}
		return
	}
	s.commits.Add(1)
	s.committed.Add(int64(len(group)))
}

// runSavepoint runs w's function in a savepoint of the open transaction,
// releasing it if the function succeeds and rolling back to it if the
// function fails or panics. It returns an error only if the transaction
// itself failed.
func (s *DB) runSavepoint(w *write) (err error) {
	if err := run(s.ctl.savepoint); err != nil {
		return fmt.Errorf("store: savepoint: %w", err)
	}
	func() {
		defer func() {
			if p := recover(); p != nil {
				w.pan = p
			}
		}()
		w.err = w.fn(&Tx{q: s.conn, stmts: s.stmts, d: sqliteDialect})
	}()
	if w.err != nil || w.pan != nil {
		// A failed statement may have ended the whole transaction (as
		// SQLITE_FULL does): then ROLLBACK TO fails and so does the group.
		if err := run(s.ctl.rollbackTo); err != nil {
			return fmt.Errorf("store: rollback to savepoint: %w", err)
		}
	}
	if err := run(s.ctl.release); err != nil {
		return fmt.Errorf("store: release savepoint: %w", err)
	}
	return nil
}

// Tx is a transaction; its methods are the store's operations. Its
// statements run to their end once started: they get their context without
// its cancellation (see DB.run).
type Tx struct {
	q     querier
	stmts map[string]*sql.Stmt // SQLite's prepared hot-path statements
	d     *dialect
	keyed bool // an UpdateKeyed transaction on PostgreSQL: Lock locks
}

// querier is where a transaction's statements go: the SQLite store's one
// connection, or a PostgreSQL transaction.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// prepare prepares the statements of preparedQueries on the writer and on
// every reader.
func (s *DB) prepare(ctx context.Context) error {
	var err error
	if s.stmts, err = prepareOn(ctx, s.conn); err != nil {
		return err
	}
	for range cap(s.readers) {
		r := <-s.readers
		r.stmts, err = prepareOn(ctx, r.conn)
		s.readers <- r
		if err != nil {
			return err
		}
	}
	return nil
}

func prepareOn(ctx context.Context, conn *sql.Conn) (map[string]*sql.Stmt, error) {
	stmts := make(map[string]*sql.Stmt, len(preparedQueries))
	for _, q := range preparedQueries {
		st, err := conn.PrepareContext(ctx, q)
		if err != nil {
			return stmts, fmt.Errorf("store: prepare: %w", err)
		}
		stmts[q] = st
	}
	return stmts, nil
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

// HoldWriteLock takes SQLite's write lock on the database file at path
// from a connection of its own, as another process would, and holds it
// until release is called: for tests of what the service does while it
// cannot write (readiness, busy timeouts).
func HoldWriteLock(ctx context.Context, path string) (release func(), err error) {
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return nil, err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		conn.Close()
		db.Close()
		return nil, err
	}
	return func() {
		conn.ExecContext(context.WithoutCancel(ctx), "ROLLBACK")
		conn.Close()
		db.Close()
	}, nil
}

package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/pgtest"
)

var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func open(t *testing.T, path string) *DB {
	t.Helper()
	return backend{name: "sqlite", dsn: path}.open(t)
}

// TestMigrationAddedLaterRuns is the reason migrations have names: a
// migration added after a database was created (by a newer binary) is
// applied on the next open, and the others are not rerun.
func TestMigrationAddedLaterRuns(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		b.open(t).Close()
		saved := migrations
		t.Cleanup(func() { migrations = saved })
		migrations = append(append([]Migration{}, saved...), Migration{Name: "storetest/1", SQLite: `CREATE TABLE later (x INTEGER)`, Postgres: `CREATE TABLE later (x INTEGER)`})
		db := b.open(t)
		if err := db.Update(ctx, func(tx *Tx) error { _, err := tx.exec(ctx, `INSERT INTO later (x) VALUES (1)`); return err }); err != nil {
			t.Fatalf("the later migration did not run: %v", err)
		}
		// A binary that does not know it refuses the database.
		migrations = saved
		db.Close()
		_, err := Open(ctx, b.dsn)
		if !errors.Is(err, ErrUnknownMigrations) || !strings.Contains(err.Error(), "storetest/1") || !strings.Contains(err.Error(), "newer version") {
			t.Fatalf("an older binary opened a newer database: %v", err)
		}
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		if b.name == "sqlite" {
			b.dsn = filepath.Join(filepath.Dir(b.dsn), "sub", "irpki.db")
		}
		testMigrationsIdempotent(t, b)
	})
}

func testMigrationsIdempotent(t *testing.T, b backend) {
	ctx := context.Background()
	path := b.dsn
	db := b.open(t)
	v, err := db.Applied(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(v) != len(migrations) || !slices.Contains(v, "store/1") || !slices.Contains(v, "eservice/1") || !slices.Contains(v, "notify/1") {
		t.Fatalf("applied %v, want all %d migrations", v, len(migrations))
	}
	if err := db.migrate(ctx); err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	mustOrg(t, db, "1234567-1")
	db.Close()

	db2 := b.open(t) // reopening migrates again: nothing to do, data kept
	if v2, err := db2.Applied(ctx); err != nil || strings.Join(v2, ",") != strings.Join(v, ",") {
		t.Fatalf("after reopen: applied %v, %v; want %v", v2, err, v)
	}
	var n int
	if err := db2.View(ctx, func(tx *Tx) error { return tx.queryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&n) }); err != nil || n != len(migrations) {
		t.Fatalf("schema_migrations rows %d, %v", n, err)
	}
	if err := db2.View(ctx, func(tx *Tx) error { _, err := tx.Org(ctx, "1234567-1"); return err }); err != nil {
		t.Fatalf("org lost on reopen: %v", err)
	}
	if b.name != "sqlite" {
		return
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("database mode %v, want 0600", st.Mode().Perm())
	}
}

func mustOrg(t *testing.T, db *DB, id string) {
	t.Helper()
	err := db.Update(context.Background(), func(tx *Tx) error {
		return tx.InsertOrg(context.Background(), Org{CustomerID: id, Name: "Acme Oy", ContactEmail: "a@example.fi", Language: "fi", CreatedAt: t0})
	})
	if err != nil {
		t.Fatal(err)
	}
}

func cert(serial, key, rid, pred string) Certificate {
	return Certificate{
		Serial: serial, CustomerID: "1234567-1", Environment: "TEST", NotBefore: t0, NotAfter: t0.AddDate(2, 0, 0),
		DER: []byte{1, 2, 3}, KeyFingerprint: key, Status: CertValid, Predecessor: pred, RetrievalID: rid, CreatedAt: t0,
	}
}

func insert(db *DB, c Certificate) error {
	return db.Update(context.Background(), func(tx *Tx) error { return tx.InsertCertificate(context.Background(), c) })
}

func TestUniqueConstraints(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		mustOrg(t, db, "1234567-1")
		if err := insert(db, cert("a1", "k1", "r1", "")); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name string
			c    Certificate
		}{
			{"key reuse", cert("a2", "k1", "r2", "")},
			{"serial reuse", cert("a1", "k2", "r2", "")},
			{"RetrievalId reuse", cert("a2", "k2", "r1", "")},
		} {
			if err := insert(db, tc.c); !errors.Is(err, ErrExists) {
				t.Errorf("%s: %v, want ErrExists", tc.name, err)
			}
		}
		if err := db.Update(ctx, func(tx *Tx) error {
			return tx.InsertOrg(ctx, Org{CustomerID: "1234567-1", Name: "x", ContactEmail: "x@example.fi", CreatedAt: t0})
		}); !errors.Is(err, ErrExists) {
			t.Errorf("duplicate org: %v, want ErrExists", err)
		}

		// One live successor per certificate.
		if err := insert(db, cert("b1", "k3", "r3", "a1")); err != nil {
			t.Fatal(err)
		}
		if err := insert(db, cert("b2", "k4", "r4", "a1")); !errors.Is(err, ErrExists) {
			t.Fatalf("second live successor: %v, want ErrExists", err)
		}
		// Once the first is superseded, a new successor may take its place,
		// and the superseded one stays on record.
		if err := db.Update(ctx, func(tx *Tx) error { return tx.SetCertificateStatus(ctx, "b1", CertSuperseded, t0, "test") }); err != nil {
			t.Fatal(err)
		}
		if err := insert(db, cert("b2", "k4", "r4", "a1")); err != nil {
			t.Fatalf("successor after supersession: %v", err)
		}
		err := db.View(ctx, func(tx *Tx) error {
			s, err := tx.Successor(ctx, "a1")
			if err != nil {
				return err
			}
			if s.Serial != "b2" {
				t.Errorf("Successor = %s, want b2", s.Serial)
			}
			old, err := tx.Certificate(ctx, "b1")
			if err != nil {
				return err
			}
			if old.Status != CertSuperseded {
				t.Errorf("b1 status %s", old.Status)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		// The failed inserts left nothing behind.
		err = db.View(ctx, func(tx *Tx) error {
			cs, err := tx.Certificates(ctx, CertFilter{})
			if len(cs) != 3 {
				t.Errorf("%d certificates, want 3", len(cs))
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestTransactions(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		mustOrg(t, db, "1234567-1")
		boom := errors.New("boom")
		err := db.Update(ctx, func(tx *Tx) error {
			if err := tx.InsertCertificate(ctx, cert("a1", "k1", "r1", "")); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("Update = %v, want the function's error", err)
		}
		// View always rolls back; on SQLite its connections are read-only
		// and the write fails at once.
		err = db.View(ctx, func(tx *Tx) error { return tx.InsertCertificate(ctx, cert("a2", "k2", "r2", "")) })
		if err != nil && b.name != "sqlite" {
			t.Fatal(err)
		}
		err = db.View(ctx, func(tx *Tx) error {
			for _, s := range []string{"a1", "a2"} {
				if _, err := tx.Certificate(ctx, s); !errors.Is(err, ErrNotFound) {
					t.Errorf("certificate %s: %v, want ErrNotFound (rolled back)", s, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func TestRecordsRoundTrip(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		db := b.open(t)
		mustOrg(t, db, "1234567-1")
		o := Order{TransferID: "T1", CustomerID: "1234567-1", Environment: "TEST", PasswordHash: []byte{1}, PasswordSalt: []byte{2},
			CreatedAt: t0, ExpiresAt: t0.Add(14 * 24 * time.Hour), Validity: 50 * 24 * time.Hour, Status: OrderOpen, Purpose: "payroll"}
		c := cert("a1", "k1", "r1", "")
		err := db.Update(ctx, func(tx *Tx) error {
			if err := tx.InsertOrder(ctx, o); err != nil {
				return err
			}
			if err := tx.InsertOrder(ctx, o); !errors.Is(err, ErrExists) {
				t.Errorf("duplicate order: %v", err)
			}
			if err := tx.InsertCertificate(ctx, c); err != nil {
				return err
			}
			o.FailedAttempts, o.Status, o.UsedAt, o.CertificateSerial = 2, OrderUsed, t0.Add(time.Hour), "a1"
			if err := tx.UpdateOrderState(ctx, o); err != nil {
				return err
			}
			if err := tx.MarkRetrieved(ctx, "a1", t0.Add(time.Hour)); err != nil {
				return err
			}
			if err := tx.MarkRetrieved(ctx, "a1", t0.Add(2*time.Hour)); err != nil { // first retrieval wins
				return err
			}
			return tx.Audit(ctx, AuditEntry{At: t0, Actor: "soap", Action: "sign_new", CustomerID: "1234567-1", Serial: "a1", Outcome: "ok"})
		})
		if err != nil {
			t.Fatal(err)
		}
		err = db.View(ctx, func(tx *Tx) error {
			got, err := tx.Order(ctx, "T1")
			if err != nil {
				return err
			}
			if got.Status != OrderUsed || got.FailedAttempts != 2 || !got.UsedAt.Equal(t0.Add(time.Hour)) || got.CertificateSerial != "a1" ||
				got.Validity != o.Validity || !got.ExpiresAt.Equal(o.ExpiresAt) || got.Purpose != "payroll" {
				t.Errorf("order = %+v", got)
			}
			gc, err := tx.CertificateByRetrievalID(ctx, "r1")
			if err != nil {
				return err
			}
			if !gc.RetrievedAt.Equal(t0.Add(time.Hour)) || !gc.NotAfter.Equal(c.NotAfter) || string(gc.DER) != string(c.DER) {
				t.Errorf("certificate = %+v", gc)
			}
			if _, err := tx.CertificateByKey(ctx, "k1"); err != nil {
				return err
			}
			if _, err := tx.Order(ctx, "nope"); !errors.Is(err, ErrNotFound) {
				t.Errorf("missing order: %v", err)
			}
			log, err := tx.AuditLog(ctx, "1234567-1", 10)
			if err != nil {
				return err
			}
			if len(log) != 1 || log[0].Action != "sign_new" {
				t.Errorf("audit = %+v", log)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// The hot-path lookups search an index; none scans the certificates table
// (the successor lookup once did, on every renewal).
func TestSQLiteHotQueriesUseIndexes(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "irpki.db"))
	type hot struct {
		name, q string
		args    []any
	}
	var queries []hot
	for _, where := range []string{whereSerial, whereRetrievalID, whereKey, whereSuccessor} {
		queries = append(queries, hot{"WHERE " + where, qCertWhere + where, []any{"x"}})
	}
	queries = append(queries, hot{"RenewalState", qRenewalState, []any{[]byte("der"), "fp", "x"}}, hot{"KeyCertified", qKeyCertified, []any{"fp"}})
	for _, h := range queries {
		rows, err := db.conn.QueryContext(ctx, `EXPLAIN QUERY PLAN `+h.q, h.args...)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		if len(plan) == 0 {
			t.Errorf("%s: no plan", h.name)
		}
		for _, p := range plan {
			// Subqueries (EXISTS) and a SELECT without a table are plan
			// lines of their own; every table read must be an index
			// search.
			if !strings.HasPrefix(p, "SEARCH") && !strings.Contains(p, "SUBQUERY") && p != "SCAN CONSTANT ROW" {
				t.Errorf("%s: plan %q, want index searches only", h.name, plan)
			}
		}
	}
	if len(db.stmts) != len(preparedQueries) {
		t.Errorf("%d prepared statements, want %d", len(db.stmts), len(preparedQueries))
	}
}

// A transaction whose function panics is rolled back: the store has one
// connection, and a transaction left open on it would stall every later
// request of the process (net/http recovers a handler's panic and goes on).
func TestPanicInTransactionRollsBack(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		db := b.open(t)
		func() {
			defer func() {
				if recover() == nil {
					t.Fatal("the panic did not reach the caller")
				}
			}()
			db.Update(context.Background(), func(tx *Tx) error {
				if err := tx.InsertOrg(context.Background(), Org{CustomerID: "1234567-1", Name: "A", ContactEmail: "a@b.fi", Language: "fi", CreatedAt: t0}); err != nil {
					return err
				}
				panic("bug")
			})
		}()
		// A guard, not a timing assertion: without the rollback the next
		// transaction waits for the connection forever.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := db.View(ctx, func(tx *Tx) error {
			_, err := tx.Org(ctx, "1234567-1")
			return err
		})
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("after a panicking transaction: %v, want the insert rolled back (not found)", err)
		}
	})
}

// TestCheckpoint: after a checkpoint the write-ahead log is empty and the
// database file alone holds the data, as a fresh open shows.
func TestSQLiteCheckpoint(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "irpki.db")
	db := open(t, path)
	mustOrg(t, db, "1234567-1")
	if err := db.Update(ctx, func(tx *Tx) error { return tx.InsertCertificate(ctx, cert("a1", "k1", "r1", "")) }); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() == 0 {
		t.Fatalf("before: WAL %v, %v; want a non-empty log", fi, err)
	}
	if err := db.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path + "-wal"); err != nil || fi.Size() != 0 {
		t.Fatalf("after: WAL %v, %v; want an empty log", fi, err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2 := open(t, path)
	if err := db2.View(ctx, func(tx *Tx) error { _, err := tx.Certificate(ctx, "a1"); return err }); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}

// TestTransactionLifecycle: a caller that gives up while another
// transaction runs gets its context's error; a transaction whose context
// ends after it began still commits.
func TestSQLiteTransactionLifecycle(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "irpki.db"))
	mustOrg(t, db, "1234567-1")

	started, finish, finished := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		db.Update(ctx, func(tx *Tx) error {
			if err := tx.InsertCertificate(ctx, cert("u1", "uk1", "ur1", "")); err != nil {
				t.Error(err)
			}
			close(started)
			<-finish
			return nil
		})
	}()
	<-started
	waitCtx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err := db.Update(waitCtx, func(*Tx) error { return nil })
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("waiting behind a running transaction: %v, want DeadlineExceeded", err)
	}
	// Readers do not wait for the writer, and see only what is committed.
	if err := db.View(ctx, func(tx *Tx) error { _, err := tx.Certificate(ctx, "u1"); return err }); !errors.Is(err, ErrNotFound) {
		t.Errorf("a read beside an uncommitted insert: %v, want ErrNotFound", err)
	}
	close(finish)
	<-finished
	if err := db.View(ctx, func(tx *Tx) error { _, err := tx.Certificate(ctx, "u1"); return err }); err != nil {
		t.Errorf("after its commit: %v", err)
	}

	runCtx, stop := context.WithCancel(ctx)
	err = db.Update(runCtx, func(tx *Tx) error {
		stop()
		return tx.InsertCertificate(runCtx, cert("c1", "ck1", "cr1", ""))
	})
	if err != nil {
		t.Fatalf("a transaction whose context ended after BEGIN: %v", err)
	}
	if err := db.View(ctx, func(tx *Tx) error { _, err := tx.Certificate(ctx, "c1"); return err }); err != nil {
		t.Errorf("its insert: %v, want committed", err)
	}
}

// TestCancelledCallersNeverStallTheStore: callers whose contexts end at
// any moment (a client hanging up) never leave the store's one connection
// inside a transaction. In review, a context that ended while BEGIN ran
// made the driver report an error for a BEGIN that had succeeded, and every
// later transaction failed; the reviewer's loop hit it within 1300
// iterations.
func TestCancelledCallersNeverStallTheStore(t *testing.T) {
	eachBackend(t, func(t *testing.T, b backend) {
		n := 10000
		if b.name == "postgres" {
			n = 200 // each cancelled query costs a connection there
		}
		testCancelledCallers(t, b.open(t), n)
	})
}

func testCancelledCallers(t *testing.T, db *DB, n int) {
	bg := context.Background()
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithCancel(bg)
		d := time.Duration(rand.Intn(40000)) * time.Nanosecond
		go func() { time.Sleep(d); cancel() }()
		begin := db.Update
		if i%2 == 1 {
			begin = db.View
		}
		first := begin(ctx, func(*Tx) error { return nil })
		cancel()
		if err := db.Update(bg, func(*Tx) error { return nil }); err != nil {
			t.Fatalf("iteration %d (its own result %v): the next transaction fails: %v", i, first, err)
		}
	}
}

// TestSQLiteGroupCommit: write transactions that wait while another runs
// are committed together, in one SQLite commit (one fsync), each in its
// own savepoint: one whose function fails or panics leaves nothing behind
// and the others' changes in, and every Update returns after the commit.
func TestSQLiteGroupCommit(t *testing.T) {
	ctx := context.Background()
	db := open(t, filepath.Join(t.TempDir(), "irpki.db"))
	mustOrg(t, db, "1234567-1")
	const n = 32
	boom := errors.New("boom")
	started, release := make(chan struct{}), make(chan struct{})
	errs := make([]error, n)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		errs[0] = db.Update(ctx, func(tx *Tx) error {
			close(started)
			<-release
			return tx.InsertCertificate(ctx, cert("g0", "gk0", "gr0", ""))
		})
	}()
	<-started
	c0, t0 := db.CommitStats()
	for i := 1; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() {
				if p := recover(); p != nil {
					errs[i] = fmt.Errorf("panicked: %v", p)
				}
			}()
			errs[i] = db.Update(ctx, func(tx *Tx) error {
				if err := tx.InsertCertificate(ctx, cert(fmt.Sprint("g", i), fmt.Sprint("gk", i), fmt.Sprint("gr", i), "")); err != nil {
					return err
				}
				switch i % 10 {
				case 3:
					return boom
				case 7:
					panic("in a group")
				}
				return nil
			})
		}()
	}
	// Wait (no timing involved) until all of them wait for the writer.
	for db.waiting.Load() != n-1 {
		runtime.Gosched()
	}
	close(release)
	wg.Wait()
	c1, t1 := db.CommitStats()
	if c1-c0 != 1 || t1-t0 != n {
		t.Errorf("%d commits held %d transactions, want 1 commit of %d", c1-c0, t1-t0, n)
	}
	err := db.View(ctx, func(tx *Tx) error {
		for i := range n {
			_, err := tx.Certificate(ctx, fmt.Sprint("g", i))
			switch i % 10 {
			case 3, 7:
				if !errors.Is(err, ErrNotFound) {
					t.Errorf("transaction %d failed (%v) but its insert: %v", i, errs[i], err)
				}
				if errs[i] == nil {
					t.Errorf("transaction %d: no error", i)
				}
			default:
				if err != nil || errs[i] != nil {
					t.Errorf("transaction %d: %v, its insert: %v", i, errs[i], err)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPostgresKeyedTransactionsRunSideBySide: on PostgreSQL, UpdateKeyed
// transactions that lock different keys commit while each other are open
// (the application does not serialise them); one that locks the same key
// waits for the holder's end, and so does an Update, which excludes every
// keyed transaction.
func TestPostgresKeyedTransactionsRunSideBySide(t *testing.T) {
	db := backend{name: "postgres", dsn: pgtest.URL(t)}.open(t)
	ctx := context.Background()
	mustOrg(t, db, "1234567-1")
	holding, release := make(chan struct{}), make(chan struct{})
	var released atomic.Bool
	aDone := make(chan error, 1)
	go func() {
		aDone <- db.UpdateKeyed(ctx, func(tx *Tx) error {
			if err := tx.Lock(ctx, "a"); err != nil {
				return err
			}
			close(holding)
			<-release
			released.Store(true)
			return tx.InsertCertificate(ctx, cert("ka", "kka", "kra", ""))
		})
	}()
	<-holding
	// Another key: commits while a is open.
	if err := db.UpdateKeyed(ctx, func(tx *Tx) error {
		if err := tx.Lock(ctx, "b"); err != nil {
			return err
		}
		return tx.InsertCertificate(ctx, cert("kb", "kkb", "krb", ""))
	}); err != nil {
		t.Fatal(err)
	}
	if released.Load() {
		t.Fatal("the transaction on key b waited for the one on key a")
	}
	// The same key, and an exclusive Update: both wait for a's end.
	same, excl := make(chan bool, 1), make(chan bool, 1)
	go func() {
		db.UpdateKeyed(ctx, func(tx *Tx) error {
			err := tx.Lock(ctx, "a")
			same <- released.Load()
			return err
		})
	}()
	go func() {
		db.Update(ctx, func(tx *Tx) error {
			excl <- released.Load()
			return nil
		})
	}()
	close(release)
	if err := <-aDone; err != nil {
		t.Fatal(err)
	}
	if !<-same {
		t.Error("a transaction locking key a ran while another held it")
	}
	if !<-excl {
		t.Error("an exclusive Update ran beside a keyed transaction")
	}
}

// TestPostgresLockTimeoutNotRetried: when lock_timeout runs out while an
// Update waits for the write lock, the store gives up with PostgreSQL's
// lock_not_available instead of beginning again on another connection
// (meant for connections a restarted server closed), which waited
// lock_timeout once per pooled connection.
func TestPostgresLockTimeoutNotRetried(t *testing.T) {
	dsn := pgtest.URL(t)
	holder := backend{name: "postgres", dsn: dsn}.open(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	waiter := backend{name: "postgres", dsn: dsn + sep + "lock_timeout=100ms"}.open(t)
	ctx := context.Background()
	holding, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- holder.Update(ctx, func(tx *Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	// Count the transactions that wait for the write lock: each attempt
	// of the waiter is a transaction of its own in pg_locks.
	waits := map[string]bool{}
	stop, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for {
			rows, err := holder.db.QueryContext(ctx, `SELECT virtualtransaction FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)
			if err == nil {
				for rows.Next() {
					var vt string
					if rows.Scan(&vt) == nil {
						waits[vt] = true
					}
				}
				rows.Close()
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	ran := 0
	err := waiter.Update(ctx, func(tx *Tx) error { ran++; return nil })
	close(stop)
	<-watched
	close(release)
	if herr := <-done; herr != nil {
		t.Fatal(herr)
	}
	if err == nil || !lockTimedOut(err) || ran != 0 {
		t.Fatalf("Update behind a held write lock: %v (ran %d times), want lock_not_available and no run", err, ran)
	}
	if len(waits) != 1 {
		t.Fatalf("%d transactions waited for the write lock, want 1 (no retry after lock_timeout)", len(waits))
	}
}

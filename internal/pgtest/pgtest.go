// Package pgtest gives tests a PostgreSQL database: on the server named by
// IRPKI_TEST_POSTGRES (a postgres:// URL of a role that may create
// databases), or else on a throwaway server it starts from the system's
// PostgreSQL binaries (Debian's /usr/lib/postgresql/*/bin, or initdb and
// pg_ctl on PATH) in a temporary directory, listening only on a Unix socket
// there, and stops at the end. PostgreSQL refuses to run as root: under
// root the server runs as the postgres user.
//
// Without PostgreSQL a test is skipped, except under CI=true, where it
// fails: CI must run every backend.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/testenv"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
)

// EnvServer names an existing server to use instead of a throwaway one.
const EnvServer = "IRPKI_TEST_POSTGRES"

// Server is a running PostgreSQL server.
type Server struct {
	// URL is the server's address with the maintenance database
	// ("postgres"); NewDatabase makes URLs of fresh databases.
	URL  string
	dir  string // the throwaway server's directory; "" for EnvServer
	bin  string
	cred *syscall.Credential
}

var (
	shared     *Server
	sharedErr  error
	sharedOnce sync.Once
)

// URL returns the URL of a fresh, empty database on the shared server of
// this test binary, dropped when t ends. Packages that call it stop the
// shared server in TestMain with Main.
func URL(t testing.TB) string {
	t.Helper()
	sharedOnce.Do(func() {
		if u := os.Getenv(EnvServer); u != "" {
			shared = &Server{URL: u}
			return
		}
		shared, sharedErr = start()
	})
	if sharedErr != nil {
		unavailable(t, sharedErr)
	}
	return shared.NewDatabase(t)
}

// Main runs the tests of a package and then stops the shared server.
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared server, if URL started one; for a TestMain
// that does more than Main.
func StopShared() {
	if shared != nil {
		shared.Stop()
	}
}

// Start starts a throwaway server of the test's own (one it may restart),
// stopped when t ends. IRPKI_TEST_POSTGRES does not apply.
func Start(t testing.TB) *Server {
	t.Helper()
	s, err := start()
	if err != nil {
		unavailable(t, err)
	}
	t.Cleanup(s.Stop)
	return s
}

func unavailable(t testing.TB, err error) {
	t.Helper()
	testenv.Missing(t, "PostgreSQL: %v", err)
}

// binDir finds the directory of initdb and pg_ctl: the newest of Debian's
// /usr/lib/postgresql/N/bin, or PATH.
func binDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("no initdb in /usr/lib/postgresql/*/bin or on PATH: install Debian's postgresql package (apt-get install -y postgresql), or set " + EnvServer + " to a server's URL")
}

func start() (*Server, error) {
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	reapOrphans(bin)
	dir, err := os.MkdirTemp("", "irpki-pg-")
	if err != nil {
		return nil, err
	}
	// The owner's pid: a test binary killed before its cleanup leaves its
	// server running, and the next start stops it (reapOrphans).
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{dir: dir, bin: bin}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user to run as: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		s.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	if out, err := s.run("initdb", "-D", s.data(), "-U", "irpki", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	if err := s.pgCtl("start"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.URL = "postgres://irpki@/postgres?host=" + url.QueryEscape(dir)
	return s, nil
}

// reapOrphans stops the throwaway servers whose test binary has died
// without stopping them (killed, or timed out), and removes their
// directories. Servers of live test binaries are left alone.
func reapOrphans(bin string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), "irpki-pg-*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 || syscall.Kill(pid, 0) == nil || !errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) {
			continue // alive (or not ours to judge)
		}
		orphan := &Server{dir: d, bin: bin}
		if st, err := os.Stat(d); err == nil {
			if sys, ok := st.Sys().(*syscall.Stat_t); ok && os.Geteuid() == 0 && sys.Uid != 0 {
				orphan.cred = &syscall.Credential{Uid: sys.Uid, Gid: sys.Gid}
			}
		}
		orphan.Stop()
	}
}

func (s *Server) data() string { return filepath.Join(s.dir, "data") }

// run runs one of the server's programs, as the postgres user under root.
func (s *Server) run(name string, args ...string) ([]byte, error) {
	cmd := exec.Command(filepath.Join(s.bin, name), args...)
	cmd.Dir = s.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd.CombinedOutput()
}

// pgCtl runs pg_ctl start, stop or restart (the last two in immediate
// mode: a crash, as far as the server's data can tell).
func (s *Server) pgCtl(action string) error {
	args := []string{action, "-D", s.data(), "-w", "-t", "60", "-l", filepath.Join(s.dir, "log")}
	if action != "start" {
		args = append(args, "-m", "immediate")
	}
	if action != "stop" {
		// No TCP: a socket in the directory; no fsync: a test server's
		// data need not outlive the machine (a crash of the server
		// itself, pg_ctl -m immediate, loses nothing committed).
		args = append(args, "-o", "-c listen_addresses='' -k "+s.dir+" -F -c max_connections=200")
	}
	if out, err := s.run("pg_ctl", args...); err != nil {
		log, _ := os.ReadFile(filepath.Join(s.dir, "log"))
		return fmt.Errorf("pg_ctl %s: %v\n%s\n%s", action, err, out, log)
	}
	return nil
}

// Restart restarts the server in immediate mode, as after a crash.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	if s.dir == "" {
		t.Fatal("pgtest: cannot restart a server named by " + EnvServer)
	}
	if err := s.pgCtl("restart"); err != nil {
		t.Fatal(err)
	}
}

// PID is the throwaway server's postmaster process id (0 if unknown).
func (s *Server) PID() int {
	b, err := os.ReadFile(filepath.Join(s.data(), "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// Stop stops a throwaway server and removes its directory.
func (s *Server) Stop() {
	if s.dir == "" {
		return
	}
	s.pgCtl("stop")
	os.RemoveAll(s.dir)
	s.dir = ""
}

// NewDatabase creates an empty database and returns its URL; it is
// dropped when t ends.
func (s *Server) NewDatabase(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	rand.Read(b)
	name := "irpki_test_" + hex.EncodeToString(b)
	if err := s.admin("CREATE DATABASE " + name); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() { s.admin("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatalf("pgtest: %s: %v", EnvServer, err)
	}
	u.Path = "/" + name
	return u.String()
}

func (s *Server) admin(stmt string) error {
	db, err := sql.Open("pgx", s.URL)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("%s: %w", strings.Fields(stmt)[0]+" "+strings.Fields(stmt)[1], err)
	}
	return nil
}

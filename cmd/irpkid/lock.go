package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// lockDataDir takes the data directory for this serve process: a second
// irpkid serve on a SQLite data directory would be a second server beside
// the first, with its own in-memory state and no warning. The lock is an
// flock(2) on serve.lock, which the kernel releases when the process ends
// however it ends; the file names the holder for the refusal's message.
// The operator commands take no lock: they run beside the server.
func lockDataDir(dir string, now time.Time) (release func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "serve.lock")
	l := flock.New(path, flock.SetPermissions(0o600))
	ok, err := l.TryLock()
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if !ok {
		holder := "another process"
		if b, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(b))) > 0 {
			holder = strings.TrimSpace(string(b))
		}
		return nil, fmt.Errorf("the data directory %s is in use by another irpkid serve (%s): stop it first, or give this one another --data-dir; "+
			"several servers on one database need PostgreSQL (--database, see docs/operations.md); the operator commands work beside the running server", dir, holder)
	}
	host, _ := os.Hostname()
	// The lock is on the file, not its content: rewriting it is safe.
	if f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0o600); err == nil {
		fmt.Fprintf(f, "pid %d on %s, started %s\n", os.Getpid(), host, now.UTC().Format(time.RFC3339))
		f.Close()
	}
	return func() { l.Unlock() }, nil
}

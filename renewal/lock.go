package renewal

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gofrs/flock"
)

// lockPoll is how often a waiting Manager tries the lock again.
const lockPoll = 250 * time.Millisecond

// dirLock is an exclusive lock on DIR/lock: flock(2) on Unix, LockFileEx
// on Windows (github.com/gofrs/flock). The operating system drops it when
// the holder exits, however it exits, so a killed renewer never leaves a
// stale lock behind.
type dirLock struct{ fl *flock.Flock }

// lock takes the directory lock, waiting up to m.opt.LockWait (0: not at
// all).
func (m *Manager) lock(ctx context.Context) (*dirLock, error) {
	path := filepath.Join(m.dir, lockFile)
	if err := m.checkFile(lockFile); err != nil {
		return nil, err
	}
	fl := flock.New(path, flock.SetFlag(os.O_RDWR|os.O_CREATE), flock.SetPermissions(0o600))
	tries := int(m.opt.LockWait / lockPoll)
	for i := 0; ; i++ {
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if ok {
			break
		}
		if i >= tries {
			return nil, fmt.Errorf("%w%s: %s; try again when it has finished", ErrLocked, lockHolder(path), m.dir)
		}
		if i == 0 {
			m.progress(Event{Kind: EventLockWait, Message: fmt.Sprintf("waiting up to %v for another irpki to finish in %s", m.opt.LockWait, m.dir)})
		}
		if err := m.opt.Sleep(ctx, lockPoll); err != nil {
			return nil, err
		}
	}
	// The holder's pid, for the message above; informational only (on
	// Windows the locked file cannot be written or read through another
	// handle, and the message names no process).
	if f, err := os.OpenFile(path, os.O_WRONLY, 0); err == nil {
		if err := f.Truncate(0); err == nil {
			_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
		}
		f.Close()
	}
	return &dirLock{fl: fl}, nil
}

// lockHolder names the process holding the lock file at path, if it wrote
// its pid there: " (process N)", or "". Nothing else of the file is shown.
func lockHolder(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) > 32 {
		return ""
	}
	if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
		return fmt.Sprintf(" (process %d)", pid)
	}
	return ""
}

func (l *dirLock) unlock() { _ = l.fl.Unlock() }

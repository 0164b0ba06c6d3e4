package renewal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrLocked is returned when another process (or Manager) holds the state
// directory's lock and the wait for it ran out.
var ErrLocked = errors.New("another irpki is enrolling or renewing in this directory")

// lockPoll is how often a waiting Manager tries the lock again.
const lockPoll = 250 * time.Millisecond

// dirLock is an exclusive flock(2) on DIR/lock. The kernel drops it when the
// holder exits, however it exits, so a killed renewer never leaves a stale
// lock behind.
type dirLock struct{ f *os.File }

// lock takes the directory lock, waiting up to wait (0: not at all).
func (m *Manager) lock(ctx context.Context) (*dirLock, error) {
	path := filepath.Join(m.dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	tries := int(m.opt.LockWait / lockPoll)
	for i := 0; ; i++ {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, unix.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if i >= tries {
			holder := ""
			if b, rerr := os.ReadFile(path); rerr == nil {
				if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil && pid > 0 {
					holder = fmt.Sprintf(" (process %d)", pid)
				}
			}
			f.Close()
			return nil, fmt.Errorf("%w%s: %s; try again when it has finished", ErrLocked, holder, m.dir)
		}
		if i == 0 {
			m.progress(Event{Kind: EventLockWait, Message: fmt.Sprintf("waiting up to %v for another irpki to finish in %s", m.opt.LockWait, m.dir)})
		}
		if err := m.opt.Sleep(ctx, lockPoll); err != nil {
			f.Close()
			return nil, err
		}
	}
	// The holder's pid, for the message above; informational only.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &dirLock{f: f}, nil
}

func (l *dirLock) unlock() {
	_ = unix.Flock(int(l.f.Fd()), unix.LOCK_UN)
	l.f.Close()
}

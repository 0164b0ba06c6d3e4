// Package clock is the one place where the time comes from. Everything that
// applies a validity or window rule takes a Clock, so that tests can move time
// (two years, sixty days) without waiting.
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// System is the wall clock.
type System struct{}

// Now returns time.Now().
func (System) Now() time.Time { return time.Now() }

// Fixed is a settable clock for tests and simulations. Its zero value reads
// as the zero time; it is safe for concurrent use.
type Fixed struct {
	mu sync.Mutex
	t  time.Time
}

// NewFixed returns a Fixed clock showing t.
func NewFixed(t time.Time) *Fixed { return &Fixed{t: t} }

// Now returns the time the clock is set to.
func (f *Fixed) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Set moves the clock to t.
func (f *Fixed) Set(t time.Time) {
	f.mu.Lock()
	f.t = t
	f.mu.Unlock()
}

// Advance moves the clock forward by d.
func (f *Fixed) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.mu.Unlock()
}

var (
	_ Clock = System{}
	_ Clock = (*Fixed)(nil)
)

// Sleep waits d or until ctx is done, whichever comes first; it returns
// ctx.Err() when ctx ended the wait. It is the default sleeper of the
// client's polling, the renewal manager and irpki watch; each of them takes
// a sleeper of its own so that tests can move time without waiting.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

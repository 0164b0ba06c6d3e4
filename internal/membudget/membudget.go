// Package membudget holds a process's Go memory limit at a fixed budget,
// raised for as long as a known large allocation is in use.
//
// irpkid serve runs its garbage collector to a budget rather than to a
// multiple of the live heap (GOGC off, the memory limit at the budget): the
// heap may fill the budget with garbage before a collection, whatever the
// load, so resident memory is about the budget at one client and at many,
// and more clients or an overload cannot grow it (cmd/irpkid/gc.go).
//
// A few operations need much more memory than serving does, for a moment: an
// e-service password check (argon2id) holds 64 MiB. Under a fixed limit the
// collector would run again and again while one runs, finding nothing to
// free. Such an operation takes a reservation of what it needs first
// (Budget.Reserve); the limit is the budget plus what the reservations in
// force hold, and comes back down when they are released.
//
// The memory limit is process-wide (runtime/debug.SetMemoryLimit): one
// Budget per process sets it, and nothing else should.
package membudget

import (
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
)

// Budget is a memory limit made of a fixed budget and the reservations in
// force. Its methods are safe for concurrent use; a nil *Budget reserves
// nothing.
type Budget struct {
	mu       sync.Mutex
	budget   int64
	reserved int64
	setLimit func(int64) int64
}

// New returns a Budget of size bytes that sets the process's Go memory
// limit (runtime/debug.SetMemoryLimit). It sets nothing until Apply.
func New(size int64) *Budget { return newBudget(size, debug.SetMemoryLimit) }

func newBudget(size int64, setLimit func(int64) int64) *Budget {
	return &Budget{budget: size, setLimit: setLimit}
}

// Size is the budget, without reservations.
func (b *Budget) Size() int64 { return b.budget }

// Apply sets the memory limit to the budget plus the reservations in force.
func (b *Budget) Apply() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.setLocked()
}

// setLocked sets the limit, b.mu held: under the lock, so that the limits
// set follow the changes to reserved in their order.
func (b *Budget) setLocked() {
	limit := b.budget + b.reserved
	if limit < b.budget { // overflow: no one reserves that much, but never wrap
		limit = math.MaxInt64
	}
	b.setLimit(limit)
}

// Reserve raises the limit by n bytes until release is called. Take it
// before allocating what it is for, and release it when that memory is no
// longer used: then the limit falls back, and the next collection frees
// the memory and gives it back to the system. Calling release again does
// nothing. A nil Budget, or n <= 0, reserves nothing.
func (b *Budget) Reserve(n int64) (release func()) {
	if b == nil || n <= 0 {
		return func() {}
	}
	b.mu.Lock()
	b.reserved += n
	b.setLocked()
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			b.reserved -= n
			b.setLocked()
			b.mu.Unlock()
		})
	}
}

// Reserved is what the reservations in force hold.
func (b *Budget) Reserved() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.reserved
}

// ParseSize reads a size as GOMEMLIMIT writes it: a whole number of bytes,
// optionally followed by one of the units B, KiB, MiB, GiB, TiB (powers of
// 1024), e.g. 64MiB. Negative sizes are an error.
func ParseSize(s string) (int64, error) {
	num, unit := s, ""
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		num, unit = s[:i], s[i:]
	}
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("a size must not be negative")
	}
	shift, known := uint(0), unit == "" || unit == "B"
	for _, u := range units {
		if unit == u.name {
			shift, known = u.shift, true
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if !known || err != nil || num == "" {
		return 0, fmt.Errorf("size %q: give a whole number of bytes, or one followed by B, KiB, MiB, GiB or TiB (e.g. 64MiB)", s)
	}
	if n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n << shift, nil
}

// units are the units of ParseSize and FormatSize above a byte, largest
// first.
var units = []struct {
	shift uint
	name  string
}{{40, "TiB"}, {30, "GiB"}, {20, "MiB"}, {10, "KiB"}}

// FormatSize writes n bytes in the largest unit of ParseSize that divides
// it (64MiB, 1536KiB, 100B).
func FormatSize(n int64) string {
	for _, u := range units {
		if n != 0 && n%(1<<u.shift) == 0 {
			return strconv.FormatInt(n>>u.shift, 10) + u.name
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}

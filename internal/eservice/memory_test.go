package eservice_test

import (
	"net/http"
	"net/url"
	"runtime/metrics"
	"sync"
	"testing"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/eservice"
)

// reservations records the e-service's calls of Config.ReserveMemory:
// what each reserved, the bytes the process allocated between the
// reservation and its release (the hash's memory must be among them), and
// how many are in force.
type reservations struct {
	mu        sync.Mutex
	sizes     []int64
	allocated []uint64
	inForce   int
	released  int
}

func heapAllocs() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func (r *reservations) reserve(n int64) func() {
	r.mu.Lock()
	r.sizes = append(r.sizes, n)
	r.inForce++
	r.mu.Unlock()
	before := heapAllocs()
	return func() {
		during := heapAllocs() - before
		r.mu.Lock()
		defer r.mu.Unlock()
		r.allocated = append(r.allocated, during)
		r.inForce--
		r.released++
	}
}

// TestPasswordChecksReserveTheirMemory: each argon2id hash the e-service
// computes (the dummy hash at start, a sign-in's check of a known account
// against its stored hash, of an unknown one against the dummy, an
// operator's new representative's password) is made
// under a reservation of its memory, released once, after the hash: the
// hash's memory was allocated between the two.
func TestPasswordChecksReserveTheirMemory(t *testing.T) {
	var r reservations
	newHashes := eservice.Argon2Params{Memory: 8 << 10, Time: 1, Threads: 1} // 8 MiB, the dummy's too
	e := start(t, envOptions{Mutate: func(c *eservice.Config) {
		c.Argon2 = newHashes
		c.ReserveMemory = r.reserve
	}})
	const storedHash = 1 << 20 // start adds the accounts with cheap (1 MiB) hashes
	if cheap.MemoryBytes() != storedHash {
		t.Fatalf("cheap hashes hold %d bytes, the test expects %d", cheap.MemoryBytes(), storedHash)
	}
	e.signIn(t, e.client(t), repEmail, repPassword)
	c := e.client(t)
	_, page := get(t, c, e.URL+"signin")
	if resp, _ := post(t, c, e.URL+"signin", url.Values{"csrf": {csrfOf(t, page)}, "email": {"nobody@palkat.test"}, "password": {"some password 123"}}); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("sign-in as no one: %d, want 401", resp.StatusCode)
	}
	// An operator adding a representative hashes the new password with
	// the configured parameters.
	op := e.client(t)
	csrf := e.signIn(t, op, opEmail, opPassword) // the operator's stored hash: cheap
	if resp, _ := post(t, op, e.URL+"admin/orgs/"+customer+"/users", url.Values{"csrf": {csrf}, "email": {"second@palkat.test"}, "name": {"Toinen"}, "password": {"long enough pass"}, "password2": {"long enough pass"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("add user: %d", resp.StatusCode)
	}
	// A password that is not an argon2id hash is refused without hashing
	// and reserves nothing.
	if got := accounts.CheckMemory("plain text"); got != 0 {
		t.Errorf("CheckMemory of no hash = %d, want 0", got)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	// New's dummy, the representative's check, the dummy again for no one,
	// the operator's check, the new representative's hash.
	want := []int64{newHashes.MemoryBytes(), storedHash, newHashes.MemoryBytes(), storedHash, newHashes.MemoryBytes()}
	if len(r.sizes) != len(want) {
		t.Fatalf("reservations %v, want %v", r.sizes, want)
	}
	for i, n := range want {
		if r.sizes[i] != n {
			t.Errorf("reservation %d: %d bytes, want %d", i, r.sizes[i], n)
		}
		if r.allocated[i] < uint64(n) {
			t.Errorf("reservation %d: %d bytes allocated while it was in force, fewer than the hash's %d: it was not held around the hash", i, r.allocated[i], n)
		}
	}
	if r.inForce != 0 || r.released != len(want) {
		t.Errorf("%d reservations still in force, %d releases for %d reservations", r.inForce, r.released, len(want))
	}
}

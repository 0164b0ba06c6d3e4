package eservice

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"sync"
)

// Password checks (argon2id) are made expensive on purpose, so that a
// stolen hash is slow to guess; the same cost lets anyone who can reach the
// sign-in form queue work for the server. The queue of checks is bounded:
// a few run at once, a few more may wait, and each client may have only a
// few in it. A sign-in beyond that is refused at once (503 when the queue is
// full, 429 when that client already has its share), instead of waiting
// behind an attacker's guesses.

var (
	// errHashBusy: the queue of password checks is full.
	errHashBusy = errors.New("eservice: too many sign-ins being checked at once")
	// errClientBusy: this client already has its share of the queue.
	errClientBusy = errors.New("eservice: this client already has sign-ins being checked")
)

// hashQueue bounds the password checks running and waiting, in all and
// per client.
type hashQueue struct {
	run          chan struct{} // one token per check running
	mu           sync.Mutex
	queued       int            // running and waiting
	perClient    map[string]int // the same per client key
	maxQueued    int
	maxPerClient int
}

func newHashQueue(workers, waiting, perClient int) *hashQueue {
	return &hashQueue{run: make(chan struct{}, workers), perClient: map[string]int{},
		maxQueued: workers + waiting, maxPerClient: perClient}
}

// do runs fn as one of the checks, once a worker is free, unless the queue
// or the client's share of it is full (errHashBusy, errClientBusy) or ctx
// ends while it waits.
func (q *hashQueue) do(ctx context.Context, client string, fn func()) error {
	q.mu.Lock()
	switch {
	case q.perClient[client] >= q.maxPerClient:
		q.mu.Unlock()
		return errClientBusy
	case q.queued >= q.maxQueued:
		q.mu.Unlock()
		return errHashBusy
	}
	q.queued++
	q.perClient[client]++
	q.mu.Unlock()
	defer func() {
		q.mu.Lock()
		q.queued--
		if q.perClient[client]--; q.perClient[client] == 0 {
			delete(q.perClient, client)
		}
		q.mu.Unlock()
	}()
	select {
	case q.run <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-q.run }()
	fn()
	return nil
}

// clientKey is what the per-client limits count a request against: its
// client's IPv4 address, or the /64 of its IPv6 address, since one
// subscriber usually holds a whole /64 and can use any address in it.
func (h *Handler) clientKey(r *http.Request) string {
	ip := h.clientIP(r)
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is6() {
		return netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return a.String()
}

// Package admit bounds expensive work in flight: a few tasks run at once,
// a few more may wait, each client may hold only a share, and work beyond
// that is refused at once (ErrBusy, ErrClientBusy) instead of queueing
// without bound. A refused caller answers "busy, try again shortly" (HTTP
// 503 or 429 with Retry-After); an admitted one waits at most for the
// tasks ahead of it, so overload neither makes admitted work slower than
// the bound implies nor grows memory.
//
// The e-service bounds its password checks (argon2id) with it, and the
// SOAP endpoint its requests, each of which costs up to three RSA
// signatures.
package admit

import (
	"context"
	"errors"
	"sync"
)

var (
	// ErrBusy: as many tasks as the queue holds are running and waiting.
	ErrBusy = errors.New("admit: too much work in flight")
	// ErrClientBusy: this client already has its share of the queue.
	ErrClientBusy = errors.New("admit: this client already has its share of the work in flight")
)

// Queue bounds the tasks running and waiting, in all and per client.
type Queue struct {
	run          chan struct{} // one token per task running
	mu           sync.Mutex
	queued       int            // running and waiting
	perClient    map[string]int // the same per client key
	maxQueued    int
	maxPerClient int
}

// New returns a queue where workers tasks run at once and waiting more may
// wait; perClient bounds one client's tasks running and waiting (0: no
// bound per client).
func New(workers, waiting, perClient int) *Queue {
	return &Queue{run: make(chan struct{}, max(workers, 1)), perClient: map[string]int{},
		maxQueued: max(workers, 1) + max(waiting, 0), maxPerClient: perClient}
}

// Enter waits for a worker and returns the function that gives it back,
// unless the queue or client's share of it is full (ErrBusy,
// ErrClientBusy: at once, without waiting) or ctx ends while it waits.
func (q *Queue) Enter(ctx context.Context, client string) (release func(), err error) {
	q.mu.Lock()
	switch {
	case q.maxPerClient > 0 && q.perClient[client] >= q.maxPerClient:
		q.mu.Unlock()
		return nil, ErrClientBusy
	case q.queued >= q.maxQueued:
		q.mu.Unlock()
		return nil, ErrBusy
	}
	q.queued++
	if q.maxPerClient > 0 {
		q.perClient[client]++
	}
	q.mu.Unlock()
	leave := func() {
		q.mu.Lock()
		q.queued--
		if q.maxPerClient > 0 {
			if q.perClient[client]--; q.perClient[client] == 0 {
				delete(q.perClient, client)
			}
		}
		q.mu.Unlock()
	}
	select {
	case q.run <- struct{}{}:
	case <-ctx.Done():
		leave()
		return nil, ctx.Err()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			<-q.run
			leave()
		})
	}, nil
}

// Do runs fn as one of the tasks (see Enter).
func (q *Queue) Do(ctx context.Context, client string, fn func()) error {
	release, err := q.Enter(ctx, client)
	if err != nil {
		return err
	}
	defer release()
	fn()
	return nil
}

// Queued returns the tasks running and waiting, in all and of client.
func (q *Queue) Queued(client string) (all, ofClient int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.queued, q.perClient[client]
}

// Running returns the tasks running.
func (q *Queue) Running() int { return len(q.run) }

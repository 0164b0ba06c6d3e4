package eservice

import (
	"context"
	"sync"
)

// HoldHashWorker makes client take a place in the queue of password checks
// and, once a worker is free, hold it until release is called; it returns
// when the place is taken (with the check running, or waiting if wait).
func (h *Handler) HoldHashWorker(client string, wait bool) (release func(), err error) {
	started, done := make(chan error, 1), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(done) }) }
	go func() {
		err := h.hashes.Do(context.Background(), client, func() {
			if !wait {
				started <- nil
			}
			<-done
		})
		started <- err
	}()
	if wait {
		// Wait until it is queued: the queue counts it before it waits.
		for {
			_, n := h.hashes.Queued(client)
			if n > 0 {
				return release, nil
			}
			select {
			case err := <-started:
				return nil, err
			default:
			}
		}
	}
	if err := <-started; err != nil {
		return nil, err
	}
	return release, nil
}

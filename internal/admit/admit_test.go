package admit

import (
	"context"
	"errors"
	"testing"
)

func TestQueueBounds(t *testing.T) {
	ctx := context.Background()
	q := New(1, 1, 2)
	r1, err := q.Enter(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	// The second of a waits for the worker; ctx ends the wait.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := q.Enter(cctx, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a waiting Enter whose ctx ended: %v", err)
	}
	if all, ofA := q.Queued("a"); all != 1 || ofA != 1 {
		t.Fatalf("after a cancelled wait: %d queued, %d of a; want 1, 1", all, ofA)
	}
	done := make(chan func())
	go func() {
		r, err := q.Enter(ctx, "b")
		if err != nil {
			t.Error(err)
		}
		done <- r
	}()
	for all, _ := q.Queued(""); all != 2; all, _ = q.Queued("") {
	}
	if _, err := q.Enter(ctx, "c"); !errors.Is(err, ErrBusy) {
		t.Fatalf("beyond the queue: %v, want ErrBusy", err)
	}
	r1()
	r1() // a second release gives nothing back twice
	r2 := <-done
	if q.Running() != 1 {
		t.Fatalf("%d running, want 1", q.Running())
	}
	r2()
	if all, _ := q.Queued(""); all != 0 || q.Running() != 0 {
		t.Fatalf("after all released: %d queued, %d running", all, q.Running())
	}
	q = New(4, 4, 1)
	r, _ := q.Enter(ctx, "a")
	if _, err := q.Enter(ctx, "a"); !errors.Is(err, ErrClientBusy) {
		t.Fatalf("a client beyond its share: %v, want ErrClientBusy", err)
	}
	r()
}

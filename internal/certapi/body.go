package certapi

import (
	"errors"
	"io"
	"net/http"
	"sync/atomic"
)

// errBusy: reading the body would take the bodies in flight over their
// budget.
var errBusy = errors.New("request bodies in flight are over their memory budget")

// budget counts bytes against a maximum, safe for concurrent use.
type budget struct {
	max  int64
	used atomic.Int64
}

// take reserves n bytes, or reports false without reserving any.
func (b *budget) take(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.max {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *budget) give(n int64) {
	if n != 0 {
		b.used.Add(-n)
	}
}

// firstChunk is the buffer a body starts in; bodies of valid requests
// mostly fit.
const firstChunk = 16 << 10

// readBody reads the request body under the size limit, holding for each
// byte of buffer it allocates a byte of the budget of bodies in flight, so
// that slow or stalled bodies on many connections cannot together take more
// memory than the budget. The buffer grows only as bytes arrive (a declared
// Content-Length reserves nothing that was not sent) and never beyond the
// declared length. It returns the bytes held, to be given back once the
// request is answered, also on error.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, int64, error) {
	limit := int64(h.limits.MaxBytes)
	if r.ContentLength > limit {
		return nil, 0, &http.MaxBytesError{Limit: limit}
	}
	want := limit + 1 // one more, to tell a body over the limit
	if r.ContentLength >= 0 {
		want = r.ContentLength
	}
	body := http.MaxBytesReader(w, r.Body, limit)
	var buf []byte
	var held int64
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) >= want {
				// All that was declared has arrived; anything more is
				// an error the next read reports.
				var one [1]byte
				n, err := body.Read(one[:])
				if n > 0 {
					return nil, held, &http.MaxBytesError{Limit: limit}
				}
				if err == io.EOF {
					return buf, held, nil
				}
				if err != nil {
					return nil, held, err
				}
				continue
			}
			size := min(max(2*int64(cap(buf)), firstChunk), want)
			if !h.bodies.take(size - held) {
				return nil, held, errBusy
			}
			next := make([]byte, len(buf), size)
			copy(next, buf)
			buf, held = next, size
		}
		n, err := body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, held, nil
		}
		if err != nil {
			return nil, held, err
		}
	}
}

// Package reqid gives every HTTP request irpkid serves an ID, and carries it
// to where the request leaves traces: the access log line written for it,
// every log record made with its context, and the audit entries it writes.
// With it, an operator goes from an audit entry or an error to the request
// that caused it.
//
// Middleware assigns the ID (echoed to the client as X-Request-Id); With and
// From carry it in a context; Handler adds it to slog records.
package reqid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

type key struct{}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, key{}, id)
}

// From returns the request ID ctx carries, or "".
func From(ctx context.Context) string {
	id, _ := ctx.Value(key{}).(string)
	return id
}

// New returns a fresh random request ID: 16 hex digits.
func New() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Header is the response header that tells the client its request's ID.
const Header = "X-Request-Id"

// Handler wraps a slog.Handler to add request_id to every record whose
// context carries one.
type Handler struct{ slog.Handler }

// NewHandler wraps h.
func NewHandler(h slog.Handler) *Handler { return &Handler{h} }

// Handle adds the request ID.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper.
func (h *Handler) WithAttrs(as []slog.Attr) slog.Handler { return &Handler{h.Handler.WithAttrs(as)} }

// WithGroup keeps the wrapper.
func (h *Handler) WithGroup(name string) slog.Handler { return &Handler{h.Handler.WithGroup(name)} }

// Middleware gives each request an ID (in its context and the X-Request-Id
// response header; a client's own X-Request-Id is not trusted) and writes
// one access log line when it is done: method, path (with redact applied:
// paths may hold one-time tokens), status, bytes, duration, remote address
// and the ID. The clock is read only for the duration.
func Middleware(log *slog.Logger, now func() time.Time, redact func(string) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := New()
		ctx := With(r.Context(), id)
		r = r.WithContext(ctx)
		w.Header().Set(Header, id)
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		start := now()
		next.ServeHTTP(sw, r)
		path := r.URL.Path
		if redact != nil {
			path = redact(path)
		}
		query := ""
		// The query is left out (it may hold anything), but for the two
		// that name what was served.
		if q := r.URL.RawQuery; strings.EqualFold(q, "wsdl") || strings.EqualFold(q, "xsd") {
			query = "?" + q
		}
		log.LogAttrs(ctx, slog.LevelInfo, "http request",
			slog.String("method", r.Method), slog.String("path", path+query), slog.Int("status", sw.status),
			slog.Int64("bytes", sw.bytes), slog.Duration("duration", now().Sub(start)), slog.String("remote", r.RemoteAddr))
	})
}

type statusWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wroteHeader {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

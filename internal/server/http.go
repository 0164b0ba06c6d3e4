package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/irpki/irpki/internal/certapi"
)

// Serve serves Handler on ln until ctx ends, then shuts down gracefully
// (requests in flight get up to ShutdownTimeout) and folds SQLite's
// write-ahead log into the database file. An error from the listener ends
// it at once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: certapi.ReadHeaderTimeout,
		ReadTimeout:       certapi.ReadTimeout,
		WriteTimeout:      certapi.WriteTimeout,
		IdleTimeout:       certapi.IdleTimeout,
		MaxHeaderBytes:    32 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.Log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	// Leave the data in the database file alone, ready to back up. Not
	// fatal: the log is as durable, and the next start reads it.
	if err := s.DB.Checkpoint(sctx); err != nil {
		s.Log.Warn("could not fold the write-ahead log into the database at shutdown", "err", err)
	}
	s.Log.Info("stopped")
	return nil
}

// ShutdownTimeout is how long Serve waits for requests in flight when it
// stops.
const ShutdownTimeout = 20 * time.Second

// ServeMetrics serves /metrics, /healthz and /readyz (and with withPprof
// Go's profiler at /debug/pprof/) on ln until Close. The server must have
// Metrics.
func (s *Server) ServeMetrics(ln net.Listener, withPprof bool) error {
	if s.Metrics == nil {
		ln.Close()
		return fmt.Errorf("server: no metrics to serve")
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", s.Metrics.Handler())
	s.API.RegisterHealth(mux)
	writeTimeout := certapi.WriteTimeout
	if withPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
		writeTimeout = 0 // a CPU profile or trace takes ?seconds= to answer
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: certapi.ReadHeaderTimeout, ReadTimeout: certapi.ReadTimeout, WriteTimeout: writeTimeout}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	// Close returns once the metrics server's goroutine has.
	s.onClose(func() {
		srv.Close()
		<-done
	})
	s.Log.Info("serving metrics", "url", "http://"+ln.Addr().String()+"/metrics")
	return nil
}

// ready is /readyz: the database takes a write and every online key signs.
func (s *Server) ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	if err := s.DB.ProbeWrite(ctx, s.Clock.Now()); err != nil {
		return fmt.Errorf("the database does not take writes: %w", err)
	}
	return s.Signers.Hierarchy().CheckKeys(rand.Reader)
}

// readyTimeout bounds the readiness probe: a database that waits on a lock
// longer than this is not ready.
const readyTimeout = 3 * time.Second

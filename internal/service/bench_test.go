//go:build unix

package service

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"io"
	"log/slog"
	"math/big"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

// BenchmarkRenewGet runs the store side of a renew+get cycle as the
// SOAP handlers do after their checks: issueRenewal (the read-only
// pre-check, the certificate signed outside the lock, the write
// transaction that decides again and records it) and get (the
// GetCertificate transaction that marks it retrieved), on SQLite in a
// temporary directory, every commit durable. Each goroutine renews its
// own chain: every cycle renews the certificate the previous one got.
// The CA's signature of each certificate is in the figures, made with an
// RSA-1024 issuing key so that the store's part stands out of it (an
// RSA-2048 signature alone costs more than the store's whole part); the
// XML of the requests and answers is not.
//
//	go test ./internal/service -run XXX -bench RenewGet -benchtime 2000x
//	TMPDIR=/dev/shm … for the same with fsync free
func BenchmarkRenewGet(b *testing.B) {
	b.Run("sequential", func(b *testing.B) { benchRenewGet(b, false) })
	b.Run("parallel16", func(b *testing.B) { b.SetParallelism(8); benchRenewGet(b, true) })
}

func benchRenewGet(b *testing.B, parallel bool) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(b.TempDir(), "irpki.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	clk := clock.NewFixed(epoch)
	s, err := New(DefaultConfig(wire.EnvTest), benchCA(b), db, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	org := store.Org{CustomerID: "1234567-1", Name: "Acme Oy", ContactEmail: "it@acme.example"}
	if err := s.AddOrg(ctx, org, "test"); err != nil {
		b.Fatal(err)
	}
	// newChain records a first certificate and returns a renewal of it.
	newChain := func() renewal {
		csr, fp := benchKey(b)
		pre, err := s.sign(org, csr, fp, epoch, 0, store.Certificate{}, "")
		if err != nil {
			b.Fatal(err)
		}
		if err := db.Update(ctx, func(tx *store.Tx) error { return record(ctx, tx, pre) }); err != nil {
			b.Fatal(err)
		}
		return benchRenewal(b, pre.cert.DER, org.CustomerID)
	}
	// cycle renews q's signer and gets the successor; it returns the
	// renewal of that successor.
	cycle := func(q renewal) renewal {
		q.csr, q.fp = benchKey(b)
		q.reqHash = q.fp
		rid, _, _, err := s.issueRenewal(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		der, _, err := s.get(ctx, &wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: q.customer, RetrievalID: rid})
		if err != nil {
			b.Fatal(err)
		}
		return benchRenewal(b, der, q.customer)
	}
	commits, txs := db.CommitStats()
	defer func() {
		c, t := db.CommitStats()
		b.ReportMetric(float64(t-txs)/float64(c-commits), "tx/commit")
	}()
	if !parallel {
		q := newChain()
		commits, txs = db.CommitStats()
		cpu := startCPU(b)
		for range b.N {
			q = cycle(q)
		}
		cpu()
		return
	}
	// One chain for each goroutine RunParallel starts (parallelism ×
	// GOMAXPROCS), made before the clock starts.
	chains := make(chan renewal, 8*runtime.GOMAXPROCS(0))
	for range cap(chains) {
		chains <- newChain()
	}
	commits, txs = db.CommitStats()
	cpu := startCPU(b)
	b.RunParallel(func(pb *testing.PB) {
		q := <-chains
		for pb.Next() {
			q = cycle(q)
		}
	})
	cpu()
}

var benchHierarchy *ca.Hierarchy

// benchCA is a TEST hierarchy whose issuing CAs have RSA-1024 keys.
func benchCA(b *testing.B) *ca.Hierarchy {
	if benchHierarchy == nil {
		opt := catest.Options()
		opt.IssuingBits = 1024
		h, _, err := ca.Create(wire.EnvTest, epoch.AddDate(-1, 0, 0), opt)
		if err != nil {
			b.Fatal(err)
		}
		benchHierarchy = h
	}
	return benchHierarchy
}

// startCPU resets the benchmark's timer and returns a function that
// reports the process's CPU time (user and system, all threads) since,
// per op, as cpu-ms/op: what a cycle costs the machine, where ns/op is
// mostly the wait for fsync when cycles run one at a time.
func startCPU(b *testing.B) func() {
	b.ResetTimer()
	start := cpuTime(b)
	return func() {
		b.StopTimer()
		b.ReportMetric(float64(cpuTime(b)-start)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
	}
}

func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRenewal is a renewal request signed with the certificate der, as
// checkRenew makes it, without its CSR.
func benchRenewal(b *testing.B, der []byte, customer string) renewal {
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	return renewal{signer: cert, customer: customer, signerSerial: SerialHex(cert), now: epoch}
}

// benchKey is a CSR for a distinct RSA-2048 public key and its
// fingerprint. The CA only writes the public key into the certificate, so
// the modulus is a random odd number, not a product of primes: making it
// costs nothing beside the cycle.
func benchKey(b *testing.B) (*x509.CertificateRequest, string) {
	buf := make([]byte, 256)
	if _, err := rand.Read(buf); err != nil {
		b.Fatal(err)
	}
	buf[0] |= 0x80
	buf[255] |= 1
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(buf), E: 65537}
	fp, err := ca.KeyFingerprint(pub)
	if err != nil {
		b.Fatal(err)
	}
	return &x509.CertificateRequest{PublicKey: pub}, fp
}

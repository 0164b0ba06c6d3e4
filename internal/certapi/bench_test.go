//go:build unix

package certapi_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/certapi"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
	"golang.org/x/sys/unix"
)

// benchKeys hands out distinct RSA-2048 keys for benchmark setup. Each key
// is the product of two primes from a pool of 32, every pair used once: 496
// keys for 32 prime searches instead of 992, so that hundreds of keys cost
// seconds, not minutes. They are ordinary RSA-2048 keys to sign and verify
// with; only their making is cheaper.
type benchKeys struct {
	mu     sync.Mutex
	primes []*big.Int
	i, j   int
}

var theBenchKeys = &benchKeys{}

func (k *benchKeys) next(tb testing.TB) *rsa.PrivateKey {
	tb.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		if k.primes == nil || k.i >= len(k.primes)-1 {
			k.primes, k.i, k.j = newPrimes(tb, 32), 0, 0
		}
		k.j++
		if k.j >= len(k.primes) {
			k.i++
			k.j = k.i
			continue
		}
		p, q := k.primes[k.i], k.primes[k.j]
		n := new(big.Int).Mul(p, q)
		if n.BitLen() != 2048 {
			continue
		}
		phi := new(big.Int).Mul(new(big.Int).Sub(p, big.NewInt(1)), new(big.Int).Sub(q, big.NewInt(1)))
		d := new(big.Int).ModInverse(big.NewInt(65537), phi)
		if d == nil {
			continue
		}
		key := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: n, E: 65537}, D: d, Primes: []*big.Int{p, q}}
		key.Precompute()
		if err := key.Validate(); err != nil {
			tb.Fatal(err)
		}
		return key
	}
}

// newPrimes returns n random 1024-bit primes p with gcd(p-1, 65537) = 1,
// searched on all cores.
func newPrimes(tb testing.TB, n int) []*big.Int {
	ps := make([]*big.Int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for x := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				p, err := rand.Prime(rand.Reader, 1024)
				if err != nil {
					errs[x] = err
					return
				}
				if new(big.Int).Mod(p, big.NewInt(65537)).Cmp(big.NewInt(1)) != 0 {
					ps[x] = p
					return
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			tb.Fatal(err)
		}
	}
	return ps
}

// renewBench is a service with n predecessor certificates inside their
// renewal window and, for each, a signed RenewCertificateRequest for a
// fresh key, ready to post.
type renewBench struct {
	svc     *service.Service
	handler http.Handler
	bodies  [][]byte
}

func newRenewBench(b *testing.B, n int) *renewBench {
	b.Helper()
	s := irpkidtest.Start(b, irpkidtest.Config{})
	s.AddOrg(b, customer, "Acme Oy")
	quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
	svc, err := service.New(s.Service.Config(), s.CA, s.DB, s.Clock, quiet)
	if err != nil {
		b.Fatal(err)
	}
	signer, err := wire.NewSigner(s.CA.SigningKey, s.CA.SigningChain())
	if err != nil {
		b.Fatal(err)
	}
	issued := irpkidtest.Epoch
	s.Clock.Set(issued.AddDate(2, 0, -30)) // thirty days before the predecessors expire
	rb := &renewBench{svc: svc, handler: certapi.New(svc, signer, certapi.Config{Limits: wire.DefaultLimits, Log: quiet})}
	ctx := context.Background()
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			key := theBenchKeys.next(b)
			cert, err := s.CA.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: customer, Name: "Acme Oy"}, issued, time.Time{})
			if err != nil {
				return err
			}
			fp, err := ca.KeyFingerprint(&key.PublicKey)
			if err != nil {
				return err
			}
			rid := make([]byte, 16)
			rand.Read(rid)
			err = tx.InsertCertificate(ctx, store.Certificate{
				Serial: service.SerialHex(cert), CustomerID: customer, Environment: wire.EnvTest,
				NotBefore: cert.NotBefore, NotAfter: cert.NotAfter, DER: cert.Raw, KeyFingerprint: fp,
				Status: store.CertValid, RetrievalID: hex.EncodeToString(rid), RetrievedAt: issued, CreatedAt: issued,
			})
			if err != nil {
				return err
			}
			signed, err := client.SignRenewRequest(wire.EnvTest, customer, "", irpkidtest.CSR(b, theBenchKeys.next(b), customer), key, cert)
			if err != nil {
				return err
			}
			rb.bodies = append(rb.bodies, wire.Envelope(signed))
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	// The setup's own writes are copied into the database file now, not by
	// a checkpoint during the measured requests.
	if err := s.DB.Checkpoint(ctx); err != nil {
		b.Fatal(err)
	}
	return rb
}

func (rb *renewBench) post(b *testing.B, i int) {
	req := httptest.NewRequest(http.MethodPost, certapi.Path, strings.NewReader(string(rb.bodies[i])))
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"renewCertificate"`)
	w := httptest.NewRecorder()
	rb.handler.ServeHTTP(w, req)
	if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "<Status>OK</Status>") {
		b.Fatalf("request %d: HTTP %d\n%s", i, w.Code, w.Body.String())
	}
}

// cpuTime is the process's CPU time so far, all threads, user and system.
// clock_gettime, not getrusage: getrusage leaves out what a running thread
// has used since the scheduler last accounted for it (up to a tick, 4 ms),
// which is more than a signature.
func cpuTime(b *testing.B) time.Duration { return clockTime(b, unix.CLOCK_PROCESS_CPUTIME_ID) }

// threadCPUTime is the calling OS thread's CPU time so far.
func threadCPUTime(b *testing.B) time.Duration { return clockTime(b, unix.CLOCK_THREAD_CPUTIME_ID) }

func clockTime(b *testing.B, clock int32) time.Duration {
	var ts unix.Timespec
	if err := unix.ClockGettime(clock, &ts); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ts.Nano())
}

// BenchmarkRenewRoundTrip is one RenewCertificate through the real HTTP
// handler with SQLite in a temporary directory: read and parse the envelope,
// check the signature profile, find the signer in the store, verify, check
// the CSR, issue (one RSA-2048 signature by the issuing CA), record it with
// its audit entry (a durable commit), and sign the response (one RSA-2048
// signature by the service key). Each iteration renews another certificate
// with another fresh key.
//
// It reports cpu-ns/op, the process CPU time (all threads, so garbage
// collection too) per request, and sig-share: two signatures' cost over a
// request's (issue #2 asks for ≥ 0.75). The unit signature is measured in
// the same run, interleaved: after every 16 requests the timer stops and 8
// RSA-2048 signatures with the service key are timed on their own thread,
// so that the machine's speed, which drifts on a shared host, is the same
// for both sides of the ratio. Whatever other threads do meanwhile (the
// collector finishing the requests' garbage) is charged to the requests.
func BenchmarkRenewRoundTrip(b *testing.B) {
	rb := newRenewBench(b, b.N)
	key := irpkidtest.Hierarchy(b, wire.EnvTest).SigningKey.(*rsa.PrivateKey)
	sum := sha256.Sum256([]byte("irpki"))
	const block, sigsPerBlock = 16, 8
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var reqCPU, sigCPU time.Duration
	sigs := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; {
		c0 := cpuTime(b)
		for end := min(i+block, b.N); i < end; i++ {
			rb.post(b, i)
		}
		reqCPU += cpuTime(b) - c0
		b.StopTimer()
		p0, t0 := cpuTime(b), threadCPUTime(b)
		for range sigsPerBlock {
			if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
				b.Fatal(err)
			}
		}
		t1 := threadCPUTime(b)
		p1 := cpuTime(b)
		sigCPU += t1 - t0
		reqCPU += (p1 - p0) - (t1 - t0)
		sigs += sigsPerBlock
		b.StartTimer()
	}
	perReq := reqCPU / time.Duration(b.N)
	sig := sigCPU / time.Duration(sigs)
	b.ReportMetric(float64(perReq.Nanoseconds()), "cpu-ns/op")
	b.ReportMetric(float64(2*sig)/float64(perReq), "sig-share")
	b.ReportMetric(float64(sig.Nanoseconds()), "sign-cpu-ns")
}

// BenchmarkRSA2048Sign is one RSA-2048 PKCS #1 v1.5 signature over a
// SHA-256 digest with the service's own key type, the unit of the ratio.
func BenchmarkRSA2048Sign(b *testing.B) {
	key := irpkidtest.Hierarchy(b, wire.EnvTest).SigningKey.(*rsa.PrivateKey)
	sum := sha256.Sum256([]byte("irpki"))
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := 0; i < b.N; i++ {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((cpuTime(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkRenewParts measures the pieces of BenchmarkRenewRoundTrip alone,
// to show where a request's CPU time goes (docs/benchmark.md): parsing,
// verifying the signature, checking the CSR, the store's transaction,
// issuing (one signature) and the signed response (one signature). Each
// reports cpu-ns/op; what the round trip costs beyond their sum is HTTP,
// logging and the garbage collector.
func BenchmarkRenewParts(b *testing.B) {
	cpuMetric := func(b *testing.B, f func(i int)) {
		b.ReportAllocs()
		b.ResetTimer()
		c0 := cpuTime(b)
		for i := 0; i < b.N; i++ {
			f(i)
		}
		b.ReportMetric(float64((cpuTime(b)-c0).Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	s := irpkidtest.Start(b, irpkidtest.Config{})
	s.AddOrg(b, customer, "Acme Oy")
	ctx := context.Background()
	key := theBenchKeys.next(b)
	cert, err := s.CA.Issue(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: customer, Name: "Acme Oy"}, irpkidtest.Epoch, time.Time{})
	if err != nil {
		b.Fatal(err)
	}
	signed, err := client.SignRenewRequest(wire.EnvTest, customer, "", irpkidtest.CSR(b, theBenchKeys.next(b), customer), key, cert)
	if err != nil {
		b.Fatal(err)
	}
	body := wire.Envelope(signed)

	el, err := wire.ParseEnvelope(body, wire.DefaultLimits)
	if err != nil {
		b.Fatal(err)
	}
	st := wire.Detach(el)
	b.Run("parse", func(b *testing.B) {
		// The envelope, the operation, the standalone request and its
		// schema, as the handler does before the service sees it.
		cpuMetric(b, func(int) {
			el, err := wire.ParseEnvelope(body, wire.DefaultLimits)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := wire.RequestOperation(el); err != nil {
				b.Fatal(err)
			}
			if _, err := wire.DecodeRenew(wire.Detach(el), true); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("verify", func(b *testing.B) {
		// The signature's profile and certificate, the XML-DSig
		// verification (one RSA verification), the verified request and
		// its digest.
		cpuMetric(b, func(int) {
			sg, err := wire.ParseSigned(st)
			if err != nil {
				b.Fatal(err)
			}
			if !s.CA.NamesUsAsIssuer(sg.Cert) {
				b.Fatal("not ours")
			}
			v, err := sg.Verify(irpkidtest.Epoch)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := wire.DecodeRenew(v, false); err != nil {
				b.Fatal(err)
			}
			if _, err := wire.SignedDigest(st); err != nil {
				b.Fatal(err)
			}
		})
	})
	req, err := wire.DecodeRenew(st, true)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("csr", func(b *testing.B) {
		// Proof of possession (one RSA verification), the key's limits and
		// fingerprint.
		cpuMetric(b, func(int) {
			csr, err := ca.DefaultProfile.CheckCSR(req.CertificateRequest)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ca.KeyFingerprint(csr.PublicKey); err != nil {
				b.Fatal(err)
			}
		})
	})

	serial := service.SerialHex(cert)
	err = s.DB.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertCertificate(ctx, store.Certificate{Serial: serial, CustomerID: customer, Environment: wire.EnvTest, DER: cert.Raw,
			KeyFingerprint: "k", Status: store.CertValid, RetrievalID: "r", CreatedAt: irpkidtest.Epoch})
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("store", func(b *testing.B) {
		// The renewal's transaction: the signer, its successor, the key,
		// the organisation, the new certificate and its audit entry (a
		// durable commit).
		cpuMetric(b, func(i int) {
			id := fmt.Sprintf("%d-%d", time.Now().UnixNano(), i)
			err := s.DB.Update(ctx, func(tx *store.Tx) error {
				if _, err := tx.Certificate(ctx, serial); err != nil {
					return err
				}
				tx.Successor(ctx, serial)
				tx.CertificateByKey(ctx, id)
				if _, err := tx.Org(ctx, customer); err != nil {
					return err
				}
				if err := tx.InsertCertificate(ctx, store.Certificate{Serial: id, CustomerID: customer, Environment: wire.EnvTest, DER: cert.Raw,
					KeyFingerprint: id, Status: store.CertValid, RetrievalID: id, CreatedAt: irpkidtest.Epoch}); err != nil {
					return err
				}
				return tx.Audit(ctx, store.AuditEntry{At: irpkidtest.Epoch, Actor: "soap", Action: "renew", CustomerID: customer, Serial: id, Outcome: "ok"})
			})
			if err != nil {
				b.Fatal(err)
			}
		})
	})

	b.Run("issue", func(b *testing.B) {
		cpuMetric(b, func(int) {
			if _, err := s.CA.IssueDER(nil, ca.DefaultProfile, &key.PublicKey, ca.Subject{CustomerID: customer, Name: "Acme Oy"}, irpkidtest.Epoch, time.Time{}); err != nil {
				b.Fatal(err)
			}
		})
	})

	signer, err := wire.NewSigner(s.CA.SigningKey, s.CA.SigningChain())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("respond", func(b *testing.B) {
		cpuMetric(b, func(int) {
			out, err := signer.Sign(wire.EncodeResponse(&wire.Response{Operation: wire.OpRenew, RetrievalID: "0123456789abcdef0123456789abcdef", Result: wire.Result{Status: wire.StatusOK}}))
			if err != nil {
				b.Fatal(err)
			}
			_ = wire.Envelope(out)
		})
	})
}

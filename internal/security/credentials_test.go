package security_test

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

func signNewBody(t testing.TB, customer, tid, pw string, csr []byte) []byte {
	return wire.Envelope(ser(t, wire.EncodeSignNew(&wire.SignNewCertificateRequest{
		Environment: wire.EnvTest, CustomerID: customer, TransferID: tid, TransferPassword: pw, CertificateRequest: csr,
	})))
}

// wrongPassword returns a password of the right shape that is not pw.
func wrongPassword(pw string, i int) string {
	w := []byte(pw)
	w[i%len(w)] = "ABCDEFGHJK"[(strings.IndexByte("ABCDEFGHJK", w[i%len(w)])+1+i)%10]
	if string(w) == pw {
		w[0] ^= 1
	}
	return string(w)
}

// TestTransferPasswordBruteForce: wrong TransferPasswords lock the order
// after 5 tries, and then even the right password gets TRANSFER_LOCKED; no
// certificate is issued.
func TestTransferPasswordBruteForce(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, custA, "Acme Oy")
	s.AddOrg(t, custB, "Beta Oy")
	cred := s.Order(t, custA, 0)
	csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), custA)
	max := s.Service.Config().MaxPasswordAttempts
	if max != 5 {
		t.Fatalf("MaxPasswordAttempts = %d, the seed says 5", max)
	}
	var msgInvalid string
	for i := 1; i <= max; i++ {
		cust := custA
		if i == 3 {
			cust = custB // the right password under another customer is a wrong try too
		}
		pw := wrongPassword(cred.TransferPassword, i)
		if cust == custB {
			pw = cred.TransferPassword
		}
		o := post(t, s.URL, "signNewCertificate", "text/xml; charset=utf-8", signNewBody(t, cust, cred.TransferID, pw, csr))
		want := wire.CodeTransferInvalid
		if i == max {
			want = wire.CodeTransferLocked
		}
		if o.Code() != want {
			t.Fatalf("try %d: %v, want %s", i, o, want)
		}
		if i == 1 {
			msgInvalid = o.Message()
		}
	}
	o := post(t, s.URL, "signNewCertificate", "text/xml; charset=utf-8", signNewBody(t, custA, cred.TransferID, cred.TransferPassword, csr))
	if o.Code() != wire.CodeTransferLocked {
		t.Fatalf("right password after the lock: %v, want %s", o, wire.CodeTransferLocked)
	}
	if n := certCount(t, s); n != 0 {
		t.Fatalf("%d certificates issued", n)
	}
	// An unknown TransferId answers exactly like a wrong password: guessing
	// ids learns nothing.
	o = post(t, s.URL, "signNewCertificate", "text/xml; charset=utf-8", signNewBody(t, custA, strings.Repeat("A", 32), cred.TransferPassword, csr))
	if o.Code() != wire.CodeTransferInvalid || o.Message() != msgInvalid {
		t.Fatalf("unknown TransferId: %v, want %s %q", o, wire.CodeTransferInvalid, msgInvalid)
	}
}

// TestTransferPasswordBruteForceConcurrent: guesses racing in parallel do
// not get more than the allowed tries: at most 4 answers say "wrong", the
// rest "locked", and the right password is refused afterwards.
func TestTransferPasswordBruteForceConcurrent(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, custA, "Acme Oy")
	cred := s.Order(t, custA, 0)
	csr := irpkidtest.CSR(t, irpkidtest.NewKey(t), custA)
	const guesses = 24
	codes := make([]wire.Code, guesses)
	errs := make([]error, guesses)
	var wg sync.WaitGroup
	for i := 0; i < guesses; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			o, err := tryPost(s.URL, "signNewCertificate", "text/xml; charset=utf-8", signNewBody(t, custA, cred.TransferID, wrongPassword(cred.TransferPassword, i), csr))
			codes[i], errs[i] = o.Code(), err
		}(i)
	}
	wg.Wait()
	count := map[wire.Code]int{}
	for i := range codes {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		count[codes[i]]++
	}
	if count[wire.CodeTransferInvalid] != 4 || count[wire.CodeTransferLocked] != guesses-4 {
		t.Fatalf("answers %v: want 4 %s and the rest %s", count, wire.CodeTransferInvalid, wire.CodeTransferLocked)
	}
	o := post(t, s.URL, "signNewCertificate", "text/xml; charset=utf-8", signNewBody(t, custA, cred.TransferID, cred.TransferPassword, csr))
	if o.Code() != wire.CodeTransferLocked {
		t.Fatalf("right password after the lock: %v", o)
	}
}

// TestRetrievalIdGuessing: unknown, foreign, malformed and expired
// RetrievalIds get the same code and the same message, so guesses learn
// nothing, and a foreign id does not mark the certificate retrieved.
func TestRetrievalIdGuessing(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, custA, "Acme Oy")
	s.AddOrg(t, custB, "Beta Oy")
	ctx := context.Background()
	c := s.Client(t)
	credB := s.Order(t, custB, 0)
	ridB, err := c.SignNewCertificate(ctx, custB, credB.TransferID, credB.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), custB))
	if err != nil {
		t.Fatal(err)
	}
	credA := s.Order(t, custA, 0)
	ridA, err := c.SignNewCertificate(ctx, custA, credA.TransferID, credA.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), custA))
	if err != nil {
		t.Fatal(err)
	}
	random := make([]byte, 16)
	rand.Read(random)
	ask := func(customer, rid string) outcome {
		return soap(t, s.URL, wire.OpGet, ser(t, wire.EncodeGet(&wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: customer, RetrievalID: rid})))
	}
	probes := []struct{ name, customer, rid string }{
		{"unknown", custA, hex.EncodeToString(random)},
		{"foreign (B's id asked as A)", custA, ridB},
		{"foreign in upper case", custA, strings.ToUpper(ridB)},
		{"short", custA, "1"},
		{"SQL-looking", custA, "' OR '1'='1"},
		{"wildcard-looking", custA, "%"},
		{"own id with one character changed", custA, ridA[:31] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", ridA[31])+1)%16])},
		{"unknown customer", "0000000-0", ridA},
	}
	var first outcome
	for i, p := range probes {
		o := ask(p.customer, p.rid)
		if i == 0 {
			first = o
			if o.Code() != wire.CodeRetrievalUnknown {
				t.Fatalf("%s: %v, want %s", p.name, o, wire.CodeRetrievalUnknown)
			}
		}
		if o.Code() != first.Code() || o.Message() != first.Message() || o.HTTP != first.HTTP {
			t.Errorf("%s: %v differs from the unknown id's %v", p.name, o, first)
		}
	}
	// The foreign probe did not mark B's certificate retrieved.
	err = s.DB.View(ctx, func(tx *store.Tx) error {
		cert, err := tx.CertificateByRetrievalID(ctx, ridB)
		if err == nil && !cert.RetrievedAt.IsZero() {
			return errors.New("B's certificate is marked retrieved by A's probe")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// After the retention time, the own id answers the same way too.
	if _, err := c.GetCertificate(ctx, custA, ridA); err != nil {
		t.Fatal(err)
	}
	s.Clock.Set(irpkidtest.Epoch.Add(s.Service.Config().RetrievalRetention + time.Hour))
	if o := ask(custA, ridA); o.Code() != first.Code() || o.Message() != first.Message() {
		t.Errorf("expired id: %v differs from the unknown id's %v", o, first)
	}
}

// TestNoSecretsInLogsOrAudit runs enrolment, retrieval, renewal and a series
// of failures (wrong passwords, a lock, a bad signature, a revocation) with
// captured logs, then scans every log line and audit record for the
// transfer passwords, their hashes and salts, and the private keys (PEM,
// base64 DER, hex). The SOAP faults and FAIL messages are scanned too.
func TestNoSecretsInLogsOrAudit(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	ctx := context.Background()
	s.AddOrg(t, custA, "Acme Oy")
	c := s.Client(t)
	var secrets []string
	var answers []string
	addKey := func(k any) {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), base64.StdEncoding.EncodeToString(der)[40:80], hex.EncodeToString(der)[80:160])
	}
	addKey(s.CA.IssuingKey)
	addKey(s.CA.SigningKey)

	// Enrolment, with failed attempts first.
	cred := s.Order(t, custA, shortValidity)
	secrets = append(secrets, cred.TransferPassword)
	k1 := irpkidtest.NewKey(t)
	addKey(k1)
	csr1 := irpkidtest.CSR(t, k1, custA)
	for i := 0; i < 2; i++ {
		_, err := c.SignNewCertificate(ctx, custA, cred.TransferID, wrongPassword(cred.TransferPassword, i), csr1)
		answers = append(answers, fmt.Sprint(err))
	}
	// A password of the wrong shape (too long) gets a schema fault; the
	// fault must not echo it.
	long := cred.TransferPassword + "X"
	secrets = append(secrets, long)
	_, err := c.SignNewCertificate(ctx, custA, cred.TransferID, long, csr1)
	answers = append(answers, fmt.Sprint(err))
	rid, err := c.SignNewCertificate(ctx, custA, cred.TransferID, cred.TransferPassword, csr1)
	if err != nil {
		t.Fatal(err)
	}
	cert1, err := c.GetCertificate(ctx, custA, rid)
	if err != nil {
		t.Fatal(err)
	}
	// A locked order.
	cred2 := s.Order(t, custA, 0)
	secrets = append(secrets, cred2.TransferPassword)
	for i := 0; i < 6; i++ {
		_, err := c.SignNewCertificate(ctx, custA, cred2.TransferID, wrongPassword(cred2.TransferPassword, i), csr1)
		answers = append(answers, fmt.Sprint(err))
	}
	// Renewal: a bad one, then a good one.
	k2 := irpkidtest.NewKey(t)
	addKey(k2)
	csr2 := irpkidtest.CSR(t, k2, custA)
	signed := signedRenew(t, wire.EnvTest, custA, csr2, k1, cert1)
	child(t, signed, "CustomerId").SetText(custB)
	answers = append(answers, soap(t, s.URL, wire.OpRenew, ser(t, signed)).String())
	rid2, err := c.RenewCertificate(ctx, custA, csr2, k1, cert1)
	if err != nil {
		t.Fatal(err)
	}
	cert2, err := c.GetCertificate(ctx, custA, rid2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Service.Revoke(ctx, fmtSerial(cert2), "key_compromise", "", "test", nil); err != nil {
		t.Fatal(err)
	}
	k3 := irpkidtest.NewKey(t)
	addKey(k3)
	_, err = c.RenewCertificate(ctx, custA, irpkidtest.CSR(t, k3, custA), k2, cert2)
	var se *client.ServiceError
	if !errors.As(err, &se) || se.Code != client.Code(wire.CodeSignerRevoked) {
		t.Fatalf("renew with a revoked certificate: %v", err)
	}
	answers = append(answers, err.Error())

	// The stored hashes and salts are secrets too.
	err = s.DB.View(ctx, func(tx *store.Tx) error {
		os, err := tx.Orders(ctx, custA)
		for _, o := range os {
			secrets = append(secrets, hex.EncodeToString(o.PasswordHash), hex.EncodeToString(o.PasswordSalt), base64.StdEncoding.EncodeToString(o.PasswordHash))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	audit, err := s.Service.AuditLog(ctx, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	if len(audit) < 10 {
		t.Fatalf("only %d audit records: the scan would prove little", len(audit))
	}
	logs := s.Logs.String()
	if strings.Count(logs, "\n") < 5 {
		t.Fatalf("only %d log lines: the scan would prove little", strings.Count(logs, "\n"))
	}
	var auditText strings.Builder
	for _, e := range audit {
		fmt.Fprintf(&auditText, "%+v\n", e)
	}
	for name, text := range map[string]string{"logs": logs, "audit": auditText.String(), "answers": strings.Join(answers, "\n")} {
		for _, sec := range secrets {
			if strings.Contains(text, sec) || strings.Contains(strings.ToLower(text), strings.ToLower(sec)) {
				t.Errorf("%s contain a secret (%.12s…)", name, sec)
			}
		}
		if strings.Contains(text, "PRIVATE KEY") {
			t.Errorf("%s contain private key material", name)
		}
	}
}

package renewal

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/client"
)

// bogusIssuerTrust writes a bundle of a CA that issued nothing: the wrong
// --issuer-trust.
func bogusIssuerTrust(t *testing.T) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Other CA"},
		NotBefore: time.Now().Add(-10 * 365 * 24 * time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bogus.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// abandoned lists archive/abandoned.
func (e *env) abandoned(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(e.dir, archiveDir, abandonedDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, en := range ents {
		names = append(names, en.Name())
	}
	return names
}

// TestIssuerUntrustedKeepsDeliveredCertificate: a successor refused for its
// chain (a wrong --issuer-trust) is not installed, but is kept in
// pending.json; a run with the right bundle long after the service stopped
// answering the RetrievalId (irpkid: 30 days) verifies and installs it,
// instead of abandoning the request on RETRIEVAL_ID and then the renewal on
// ALREADY_RENEWED (found in review).
func TestIssuerUntrustedKeepsDeliveredCertificate(t *testing.T) {
	e, old := renewWithWrongIssuerTrust(t)
	ctx := context.Background()
	if cur, err := e.manager(t).Current(); err != nil || cur.Serial() != old.Serial() {
		t.Fatalf("current after the refused certificate: %v, %v; want %s (it must not be installed)", cur, err, old.Serial())
	}
	p, err := e.manager(t).loadPending()
	if err != nil || p == nil {
		t.Fatalf("pending: %v, %v", p, err)
	}
	if p.CertPEM != "" || p.UnverifiedCertPEM == "" {
		t.Fatalf("pending.json: cert_pem %d bytes, unverified_cert_pem %d bytes; want the delivered certificate as unverified only", len(p.CertPEM), len(p.UnverifiedCertPEM))
	}
	delivered, err := client.ParseCertificates([]byte(p.UnverifiedCertPEM))
	if err != nil || len(delivered) != 1 {
		t.Fatalf("unverified_cert_pem: %v", err)
	}

	// The service no longer answers the RetrievalId when the bundle is
	// fixed.
	e.s.Clock.Advance(31 * 24 * time.Hour)
	if err := e.manager(t).SetIssuerTrust(ctx, e.trust); err != nil {
		t.Fatal(err)
	}
	res, err := e.manager(t).Renew(ctx, RenewOptions{})
	if err != nil {
		t.Fatalf("renew with the right issuer trust: %v (abandoned: %v)", err, e.abandoned(t))
	}
	if !res.Renewed || res.Installed.Serial() != serialHex(delivered[0]) {
		t.Fatalf("renewed %v, installed %v; want the delivered certificate %s", res.Renewed, res.Installed, serialHex(delivered[0]))
	}
	if cur, _ := e.manager(t).Current(); cur == nil || cur.Serial() != serialHex(delivered[0]) {
		t.Errorf("current = %v, want %s", cur, serialHex(delivered[0]))
	}
	if n := e.successors(t, old.Serial()); n != 1 {
		t.Errorf("%d successors of %s in the service, want 1", n, old.Serial())
	}
	if a := e.abandoned(t); len(a) != 0 {
		t.Errorf("abandoned: %v", a)
	}
	if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pending.json left behind: %v", err)
	}
}

// TestIssuerUntrustedEnrolmentKeepsDeliveredCertificate: the same for an
// enrolment: irpki enroll --dir DIR --issuer-trust FILE finishes it from the
// saved certificate, without the credentials or the RetrievalId.
func TestIssuerUntrustedEnrolmentKeepsDeliveredCertificate(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.settings()
	s.IssuerTrust = bogusIssuerTrust(t)
	cred := e.s.Order(t, customer, 0)
	if _, err := e.manager(t).Enroll(ctx, s, Credentials{cred.TransferID, cred.TransferPassword}); !errors.Is(err, client.ErrIssuerUntrusted) {
		t.Fatalf("enroll with a wrong issuer trust: %v, want ErrIssuerUntrusted", err)
	}
	if cur, err := e.manager(t).Current(); err != nil || cur != nil {
		t.Fatalf("current after the refused certificate: %v, %v; want none", cur, err)
	}
	e.s.Clock.Advance(31 * 24 * time.Hour)
	inst, err := e.manager(t).Enroll(ctx, e.settings(), Credentials{})
	if err != nil {
		t.Fatalf("enroll --dir with the right issuer trust: %v (abandoned: %v)", err, e.abandoned(t))
	}
	if inst.Cert.Subject.CommonName != customer {
		t.Errorf("installed CN %q", inst.Cert.Subject.CommonName)
	}
	if a := e.abandoned(t); len(a) != 0 {
		t.Errorf("abandoned: %v", a)
	}
}

// TestRetrievalRefusalKeepsDeliveredCertificate: a RETRIEVAL_ID refusal does
// not abandon a request whose certificate is saved: the certificate, not the
// RetrievalId, finishes it.
func TestRetrievalRefusalKeepsDeliveredCertificate(t *testing.T) {
	e := newEnv(t)
	m := e.manager(t)
	if err := os.MkdirAll(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &pending{Operation: opRenew, Created: e.s.Clock.Now(), CustomerID: customer, Predecessor: "01", KeyPEM: "k", CSR: []byte{1},
		RetrievalID: "r", UnverifiedCertPEM: "c"}
	if err := m.savePending(p); err != nil {
		t.Fatal(err)
	}
	rerr := &client.ServiceError{Operation: "GetCertificate", Code: "RETRIEVAL_ID", Message: "no certificate"}
	if !client.Definite(rerr) {
		t.Fatal("RETRIEVAL_ID is not definite: the test tests nothing")
	}
	if err := m.refused(p, rerr); !errors.Is(err, rerr) {
		t.Errorf("refused returned %v", err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, pendingFile)); err != nil {
		t.Errorf("pending.json with a saved certificate was abandoned: %v (abandoned: %v)", err, e.abandoned(t))
	}
	p.UnverifiedCertPEM = ""
	m.refused(p, rerr)
	if a := e.abandoned(t); len(a) != 1 {
		t.Errorf("without a saved certificate: abandoned %v, want the request", a)
	}
}

// TestDeliveredCertificateNotOursIsFetchedAgain: a saved certificate that
// fails verification for another reason than its chain (not our key) is
// never installed and is dropped, so that the next run asks the service
// again instead of verifying it for ever.
func TestDeliveredCertificateNotOursIsFetchedAgain(t *testing.T) {
	e, old := renewWithWrongIssuerTrust(t)
	ctx := context.Background()
	m := e.manager(t)
	p, err := m.loadPending()
	if err != nil || p == nil || p.UnverifiedCertPEM == "" {
		t.Fatalf("pending: %+v, %v; want a saved certificate", p, err)
	}
	// Another key in pending.json: the saved certificate is not for it.
	other, _, err := m.newKeyAndCSR(e.settings())
	if err != nil {
		t.Fatal(err)
	}
	p.KeyPEM = other
	if err := m.savePending(p); err != nil {
		t.Fatal(err)
	}
	if err := m.SetIssuerTrust(ctx, e.trust); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Renew(ctx, RenewOptions{}); err == nil || errors.Is(err, client.ErrIssuerUntrusted) {
		t.Fatalf("renew with a certificate for another key: %v, want a refusal for the key", err)
	}
	if cur, _ := m.Current(); cur == nil || cur.Serial() != old.Serial() {
		t.Errorf("current = %v, want %s still", cur, old.Serial())
	}
	if p, err := m.loadPending(); err != nil || p == nil || p.UnverifiedCertPEM != "" || p.CertPEM != "" {
		t.Errorf("pending after the refusal: %+v, %v; want kept, without the certificate", p, err)
	}
}

// renewWithWrongIssuerTrust enrols, sets an issuer trust bundle the
// successor does not chain to, and renews inside the window: the service
// delivers the successor, and the client refuses it for its chain.
func renewWithWrongIssuerTrust(t *testing.T) (*env, *Installed) {
	t.Helper()
	e := newEnv(t)
	old := e.enroll(t, 0)
	s := e.settings()
	s.IssuerTrust = bogusIssuerTrust(t)
	if err := writeJSON(filepath.Join(e.dir, settingsFile), s, 0o600); err != nil {
		t.Fatal(err)
	}
	e.s.Clock.Set(old.Cert.NotAfter.Add(-59 * 24 * time.Hour))
	if _, err := e.manager(t).Renew(context.Background(), RenewOptions{}); !errors.Is(err, client.ErrIssuerUntrusted) {
		t.Fatalf("renew with a wrong issuer trust: %v, want ErrIssuerUntrusted", err)
	}
	return e, old
}

// TestExpiredCurrentWithDeliveredSuccessor: once the current certificate
// has expired, a renewal whose successor was delivered and saved is still
// finished by irpki renew with the right trust: Status's message says so
// (and no new order), not "order a new certificate".
func TestExpiredCurrentWithDeliveredSuccessor(t *testing.T) {
	e, old := renewWithWrongIssuerTrust(t)
	e.s.Clock.Set(old.Cert.NotAfter.Add(24 * time.Hour))
	st, err := e.manager(t).Status()
	if err != nil || st.State != StateExpired {
		t.Fatalf("status: %+v, %v; want expired", st, err)
	}
	msg := st.Message()
	for _, want := range []string{"successor " + st.DeliveredUnverified, "fix --issuer-trust / --trust", "irpki renew --dir " + e.dir + " --issuer-trust FILE", "no new order is needed"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message does not say %q: %s", want, msg)
		}
	}
	if strings.Contains(msg, "order a new certificate") {
		t.Errorf("message says to order anew: %s", msg)
	}
	if err := writeJSON(filepath.Join(e.dir, settingsFile), e.settings(), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, err := e.manager(t).Renew(context.Background(), RenewOptions{}); err != nil || !r.Renewed || r.Installed.SerialText() != st.DeliveredUnverified {
		t.Fatalf("renew with the right trust: %+v, %v", r, err)
	}
}

// TestDeliveredSuccessorExpired: a saved delivered certificate that has
// expired itself can never be installed, whatever the trust bundle: Renew
// says so with ErrDeliveredExpired (not the issuer-trust hint) and names
// the way out, a new order and irpki enroll; Status says the same, and
// Abandon, even forced, refuses with it. Enrolling with a new order then
// works.
func TestDeliveredSuccessorExpired(t *testing.T) {
	e, old := renewWithWrongIssuerTrust(t)
	ctx := context.Background()
	p, _ := e.manager(t).loadPending()
	serial := p.unverifiedSerial()
	if err := writeJSON(filepath.Join(e.dir, settingsFile), e.settings(), 0o600); err != nil {
		t.Fatal(err)
	}
	e.s.Clock.Set(p.savedCert().NotAfter.Add(time.Hour))
	way := []string{"certificate " + serial, "can never be installed", "successor of certificate " + old.SerialText(), "order a new certificate", "irpki enroll --dir " + e.dir}
	_, err := e.manager(t).Renew(ctx, RenewOptions{})
	if !errors.Is(err, ErrDeliveredExpired) || errors.Is(err, client.ErrIssuerUntrusted) || strings.Contains(err.Error(), "--issuer-trust") {
		t.Fatalf("renew: %v; want ErrDeliveredExpired without the issuer-trust hint", err)
	}
	for _, want := range way {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("renew's error does not say %q: %v", want, err)
		}
	}
	st, err := e.manager(t).Status()
	if err != nil || !st.DeliveredExpired() || st.Delivered() != serial {
		t.Fatalf("status: %+v, %v; want the delivered certificate expired", st, err)
	}
	for _, want := range way {
		if !strings.Contains(st.Message(), want) {
			t.Errorf("status message does not say %q: %s", want, st.Message())
		}
	}
	if _, err := e.manager(t).Abandon(ctx, AbandonOptions{Force: true}); !errors.Is(err, ErrDeliveredExpired) || !errors.Is(err, ErrSuccessorDelivered) {
		t.Errorf("forced abandon: %v; want ErrSuccessorDelivered saying it has expired", err)
	}
	cred := e.s.Order(t, customer, 0)
	if inst, err := e.manager(t).Enroll(ctx, e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); err != nil || inst.SerialText() == serial {
		t.Fatalf("enroll with a new order: %v", err)
	}
}

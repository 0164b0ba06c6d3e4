package client_test

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// TestIssuerTrust: like the real service, whose responses are signed under
// the "IR Services" CA and whose organisation certificates come from the
// "Data Providers" CA, a trust bundle for the responses alone does not
// verify a delivered certificate; a separate issuer trust bundle does, and
// does not weaken the response check.
func TestIssuerTrust(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, "1234567-1", "Acme Oy")
	enr := s.Enroll(t, "1234567-1", 0)
	responses := []*x509.Certificate{s.CA.Root, s.CA.Signing} // no issuing CA
	newClient := func(issuers []*x509.Certificate) *client.Client {
		c, err := client.New(s.URL, client.Options{Environment: client.EnvTest, Trust: responses, IssuerTrust: issuers, Now: s.Clock.Now})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	err := newClient(nil).VerifyIssued(enr.Cert, enr.Key.Public(), "1234567-1")
	if !errors.Is(err, client.ErrIssuerUntrusted) || !strings.Contains(err.Error(), "the trust bundle") || !strings.Contains(err.Error(), s.CA.Issuing.Subject.CommonName) {
		t.Fatalf("without an issuer trust bundle: %v, want ErrIssuerUntrusted naming the trust bundle and the issuer", err)
	}
	err = newClient([]*x509.Certificate{s.CA.Signing}).VerifyIssued(enr.Cert, enr.Key.Public(), "1234567-1")
	if !errors.Is(err, client.ErrIssuerUntrusted) || !strings.Contains(err.Error(), "issuer trust bundle") {
		t.Fatalf("with a wrong issuer trust bundle: %v, want ErrIssuerUntrusted naming the issuer trust bundle", err)
	}
	c := newClient([]*x509.Certificate{s.CA.Issuing})
	chain, err := c.VerifyIssuedChain(enr.Cert, enr.Key.Public(), "1234567-1")
	if err != nil {
		t.Fatalf("with the issuing CA as issuer trust: %v", err)
	}
	if len(chain) == 0 || !chain[0].Equal(s.CA.Issuing) {
		t.Errorf("chain %v, want the issuing CA first", chain)
	}
	// Responses are still checked against Trust, not IssuerTrust.
	cred := s.Order(t, "1234567-1", 0)
	key := irpkidtest.NewKey(t)
	if _, err := c.SignNewCertificate(context.Background(), "1234567-1", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, "1234567-1")); err != nil {
		t.Fatalf("response under Trust: %v", err)
	}
	onlyIssuers, err := client.New(s.URL, client.Options{Environment: client.EnvTest, Trust: []*x509.Certificate{s.CA.Issuing}, IssuerTrust: []*x509.Certificate{s.CA.Issuing, s.CA.Root}, Now: s.Clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	cred = s.Order(t, "1234567-1", 0)
	if _, err := onlyIssuers.SignNewCertificate(context.Background(), "1234567-1", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, irpkidtest.NewKey(t), "1234567-1")); !errors.Is(err, client.ErrUntrustedResponse) {
		t.Fatalf("a response signer trusted only through IssuerTrust: %v, want ErrUntrustedResponse", err)
	}
}

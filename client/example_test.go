package client_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/irpki/irpki/client"
)

// Enrol with an order's transfer credentials against the real TEST service:
// the trust bundle is the Tax Administration's IR Services test CA chain.
func ExampleClient_SignNewCertificate() {
	pemData, err := os.ReadFile("IRServicesTestIssuingCAv1-chain.pem")
	if err != nil {
		log.Fatal(err)
	}
	trust, err := client.ParseTrustBundle(pemData)
	if err != nil {
		log.Fatal(err)
	}
	c, err := client.New(client.EndpointTest, client.Options{Environment: client.EnvTest, Trust: trust})
	if err != nil {
		log.Fatal(err)
	}
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	csr, _ := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "1234567-8", Organization: []string{"Acme Oy"}, Country: []string{"FI"}},
	}, key)
	ctx := context.Background()
	rid, err := c.SignNewCertificate(ctx, "1234567-8", "TRANSFER-ID", "transfer-password", csr)
	var se *client.ServiceError
	if errors.As(err, &se) {
		log.Fatalf("refused with %s: %s", se.Code, se.Message)
	} else if err != nil {
		log.Fatal(err)
	}
	// Poll with backoff until the certificate is ready or refused for good.
	cert, err := c.PollCertificate(ctx, "1234567-8", rid, client.PollOptions{
		Progress: func(attempt int, err error, wait time.Duration) {
			log.Printf("attempt %d: %v; next in %v", attempt, err, wait)
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := c.VerifyIssued(cert, &key.PublicKey, "1234567-8"); err != nil {
		log.Fatal(err)
	}
	fmt.Println("certificate", cert.SerialNumber, "valid until", cert.NotAfter)
}

// Whether asking again can change an answer.
func ExampleDefinite() {
	fmt.Println(client.Definite(&client.ServiceError{Operation: "GetCertificate", Code: client.CodeInternal}))
	fmt.Println(client.Definite(&client.ServiceError{Operation: "RenewCertificate", Code: client.CodeWindowNotOpen}))
	fmt.Println(client.Definite(fmt.Errorf("GetCertificate: %w", client.ErrUntrustedResponse)))
	// Output:
	// false
	// true
	// true
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// TestRevokeKeyCompromiseCascade: irpkid revoke of a renewed certificate
// for key compromise lists the successor it takes along and stops; with
// --yes it revokes both, the successor's GetCertificate answers
// CERT_REVOKED, and irpkid certs shows both revoked.
func TestRevokeKeyCompromiseCascade(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "data")
	addr := startServe(t, dataDir).Addr
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatalf("org add: %s", se)
	}
	out, se, code := irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--validity", "30d", "--json")
	if code != 0 {
		t.Fatalf("order: %s", se)
	}
	var cred struct {
		TransferID       string `json:"transfer_id"`
		TransferPassword string `json:"transfer_password"`
	}
	if err := json.Unmarshal([]byte(out), &cred); err != nil {
		t.Fatal(err)
	}
	trustPEM, _, _ := irpkid(t, nil, "trust", "--data-dir", dataDir)
	trust, err := client.ParseTrustBundle([]byte(trustPEM))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := irpkidtest.NewKey(t)
	rid, err := c.SignNewCertificate(ctx, "1234567-1", cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, "1234567-1"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, "1234567-1", rid)
	if err != nil {
		t.Fatal(err)
	}
	// Someone holding the key renews.
	rid2, err := c.RenewCertificate(ctx, "1234567-1", irpkidtest.CSR(t, irpkidtest.NewKey(t), "1234567-1"), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	pred := serial.Text(cert.SerialNumber)
	out, se, code = irpkid(t, nil, "revoke", "--data-dir", dataDir, "--serial", pred, "--reason", "keyCompromise")
	if code == 0 || !strings.Contains(se, "--yes") || !strings.Contains(out, pred) || !strings.Contains(out, "successor of "+pred) {
		t.Fatalf("revoke without --yes: exit %d\n%s\n%s", code, out, se)
	}
	certs := func() map[string]string {
		out, _, _ := irpkid(t, nil, "certs", "--data-dir", dataDir, "--json")
		var rows []struct{ Serial, Status string }
		if err := json.Unmarshal([]byte(out), &rows); err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, r := range rows {
			m[r.Serial] = r.Status
		}
		return m
	}
	if st := certs(); st[pred] == "revoked" {
		t.Fatal("revoke without --yes revoked")
	}
	out, se, code = irpkid(t, nil, "revoke", "--data-dir", dataDir, "--serial", pred, "--reason", "key_compromise", "--yes")
	if code != 0 || strings.Count(out, "revoked (key_compromise)") != 2 {
		t.Fatalf("revoke --yes: exit %d\n%s\n%s", code, out, se)
	}
	st := certs()
	if len(st) != 2 {
		t.Fatalf("certs: %v", st)
	}
	for serial, status := range st {
		if status != "revoked" {
			t.Errorf("%s is %s, want revoked", serial, status)
		}
	}
	_, err = c.GetCertificate(ctx, "1234567-1", rid2)
	var se2 *client.ServiceError
	if !errors.As(err, &se2) || se2.Code != "CERT_REVOKED" {
		t.Errorf("successor's GetCertificate: %v, want CERT_REVOKED", err)
	}
}

package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// The root key need not be online: irpkid ca init puts the whole hierarchy
// in an offline directory and only what serve needs in the data directory,
// and serve, enrolment, renewal and /readyz work without the root's, the
// intermediate's and the services CA's keys.
func TestServeWithoutRootKey(t *testing.T) {
	base := t.TempDir()
	dataDir, offline := filepath.Join(base, "data"), filepath.Join(base, "offline")
	out, se, code := irpkid(t, nil, "ca", "init", "--offline-dir", offline, "--data-dir", dataDir)
	if code != 0 {
		t.Fatalf("ca init: %d %s %s", code, out, se)
	}
	for _, k := range []string{"root.key", "intermediate.key", "services.key"} {
		if _, err := os.Stat(filepath.Join(offline, "ca", "TEST", k)); err != nil {
			t.Errorf("offline %s: %v", k, err)
		}
		if _, err := os.Stat(filepath.Join(dataDir, "ca", "TEST", k)); err == nil {
			t.Errorf("%s is in the data directory", k)
		}
	}
	if _, se, code := irpkid(t, nil, "ca", "init", "--offline-dir", offline+"2", "--data-dir", dataDir); code != 1 || !strings.Contains(se, "already holds") {
		t.Errorf("a second ca init on the data directory: %d %s", code, se)
	}

	addr := freePort(t)
	startServe(t, dataDir, addr)
	if code, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Errorf("/readyz without the offline keys: %d", code)
	}
	if _, se, code := irpkid(t, nil, "org", "add", "--data-dir", dataDir, "--customer-id", "1234567-1", "--name", "Acme Oy", "--contact-email", "it@acme.example"); code != 0 {
		t.Fatal(se)
	}
	out, se, code = irpkid(t, nil, "order", "--data-dir", dataDir, "--customer-id", "1234567-1", "--validity", "30d", "--json")
	if code != 0 {
		t.Fatal(se)
	}
	var cred struct {
		ID string `json:"transfer_id"`
		PW string `json:"transfer_password"`
	}
	if err := jsonUnmarshal(out, &cred); err != nil {
		t.Fatal(err)
	}
	bundle, _, _ := irpkid(t, nil, "trust", "--data-dir", dataDir)
	trust, err := client.ParseTrustBundle([]byte(bundle))
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New("http://"+addr+"/2017/10/CertificateServices", client.Options{Environment: "TEST", Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	key := irpkidtest.NewKey(t)
	rid, err := c.SignNewCertificate(ctx, "1234567-1", cred.ID, cred.PW, irpkidtest.CSR(t, key, "1234567-1"))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := c.GetCertificate(ctx, "1234567-1", rid)
	if err != nil {
		t.Fatal(err)
	}
	key2 := irpkidtest.NewKey(t)
	rid2, err := c.RenewCertificate(ctx, "1234567-1", irpkidtest.CSR(t, key2, "1234567-1"), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetCertificate(ctx, "1234567-1", rid2); err != nil {
		t.Fatal(err)
	}
}

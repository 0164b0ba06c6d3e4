package interop_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/hsm/softhsmtest"
	"github.com/irpki/irpki/internal/server/irpkidproc"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// A hierarchy whose issuing CAs' and response signer's keys live in a
// SoftHSM2 token (irpkid ca init --pkcs11-token, the offline keys
// passphrase-encrypted): the real irpkid binary serves from it; its
// responses, signed in the token, verify with xmlsec1 against the bundle
// irpkid trust prints; enrolments (several at once) and a renewal are
// issued by token keys; /readyz sees every token key sign; the token holds
// the keys sensitive and never extractable; no file of the data directory
// holds a private key; a second ca init cannot reuse the token's keys; and
// a binary built without cgo refuses the token keys saying why.
func TestSoftHSMHierarchy(t *testing.T) {
	tok := softhsmtest.New(t, "irpki")
	xmlsec := tool(t, "xmlsec1")
	p11tool := tool(t, "pkcs11-tool")
	bin := irpkidproc.Build(t, "./cmd/irpkid")
	base := t.TempDir()
	dataDir, offline := filepath.Join(base, "data"), filepath.Join(base, "offline")
	pf := writeFile(t, base, "passphrase", []byte("offline media passphrase\n"))

	out := irpkidproc.Run(t, bin, dataDir, "ca", "init", "--offline-dir", offline, "--pkcs11-token", tok.URI(), "--key-passphrase-file", pf)
	if !strings.Contains(string(out), `Keys in token "irpki": 5`) {
		t.Errorf("ca init:\n%s", out)
	}
	caDir := filepath.Join(dataDir, "ca", wire.EnvTest)
	for _, name := range []string{"signing", "issuing-reports_ws", "issuing-reports_sftp", "issuing-datause_ws", "issuing-datause_sftp"} {
		ref, err := os.ReadFile(filepath.Join(caDir, name+ca.KeyRefExt))
		if err != nil || !strings.HasPrefix(string(ref), "pkcs11:token=irpki;object=irpki-TEST-"+name+";id=") || strings.Contains(string(ref), tok.PIN) {
			t.Errorf("%s%s: %v %q", name, ca.KeyRefExt, err, ref)
		}
	}
	if keys, _ := filepath.Glob(filepath.Join(caDir, "*.key")); len(keys) != 0 {
		t.Errorf("key files in the data directory: %v", keys)
	}
	for _, k := range []string{"root.key", "intermediate.key", "services.key"} {
		b, err := os.ReadFile(filepath.Join(offline, "ca", wire.EnvTest, k))
		if err != nil || !ca.IsEncryptedKeyPEM(b) {
			t.Errorf("offline %s is not an encrypted key file: %v", k, err)
		}
	}
	// The token made them sensitive and never extractable.
	objs, err := exec.Command(p11tool, "--module", tok.Module, "--token-label", tok.Label, "--login", "--pin", tok.PIN, "--list-objects", "--type", "privkey").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v\n%s", err, objs)
	}
	if n := strings.Count(string(objs), "never extractable"); n != 5 || strings.Count(string(objs), "sensitive") < 5 {
		t.Errorf("%d private keys never extractable, want 5:\n%s", n, objs)
	}

	// A second hierarchy cannot take the token's keys for its own.
	if _, err := irpkidproc.RunErr(context.Background(), bin, filepath.Join(base, "data2"), "ca", "init", "--offline-dir", offline+"2", "--pkcs11-token", tok.URI()); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Errorf("ca init on a token that holds the keys already: %v", err)
	}
	if _, err := os.Stat(offline + "2"); err == nil {
		t.Error("a refused ca init left an offline directory")
	}
	// A pure-Go build (CGO_ENABLED=0) says that the token keys need cgo.
	pure := filepath.Join(base, "irpkid-nocgo")
	build := exec.Command("go", "build", "-o", pure, "./cmd/irpkid")
	build.Dir, build.Env = filepath.Join("..", ".."), append(os.Environ(), "CGO_ENABLED=0")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, b)
	}
	if _, err := irpkidproc.RunErr(context.Background(), pure, dataDir, "trust"); err == nil || !strings.Contains(err.Error(), "PKCS#11 (HSM) keys need an irpkid built with cgo") || !strings.Contains(err.Error(), ".pkcs11") {
		t.Errorf("a build without cgo on token keys: %v", err)
	}

	p := irpkidproc.Start(t, bin, dataDir, "")
	if resp, err := http.Get(p.Base + "/readyz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/readyz with token keys: %v %v", resp, err)
	}
	bundle := irpkidproc.Run(t, bin, dataDir, "trust")
	irpkidproc.Run(t, bin, dataDir, "org", "add", "--customer-id", customer, "--name", "Acme Oy", "--contact-email", "tech@example.fi")
	ctx := context.Background()
	trust, err := client.ParseTrustBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(p.Endpoint, client.Options{Environment: wire.EnvTest, Trust: trust})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	trusted, untrusted := bundleFiles(t, dir, bundle)
	xmlsecVerify := func(name string, env []byte) {
		t.Helper()
		f := writeFile(t, dir, name, soapBody(t, env))
		args := append([]string{"--verify", "--trusted-pem", trusted}, xmlsecUntrusted(t, untrusted)...)
		if _, err := run(t, xmlsec, append(args, "--enabled-key-data", "x509", f)...); err != nil {
			t.Errorf("xmlsec1 on %s: %v", name, err)
		}
	}

	// Enrolment over raw SOAP: the responses, signed in the token, verify
	// with xmlsec1.
	cred, err := irpkidproc.Order(ctx, bin, dataDir, customer, "30d")
	if err != nil {
		t.Fatal(err)
	}
	key := irpkidtest.NewKey(t)
	resp := post(t, p.Endpoint, "signNewCertificate", signNewBody(t, cred.TransferID, cred.TransferPassword, irpkidtest.CSR(t, key, customer)))
	xmlsecVerify("signnew.xml", resp)
	el, err := wire.ParseEnvelope(resp, wire.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	r, err := wire.DecodeResponse(wire.Detach(el), wire.OpSignNew, true)
	if err != nil || r.RetrievalID == "" {
		t.Fatalf("SignNewCertificate: %v\n%s", err, resp)
	}
	xmlsecVerify("get.xml", post(t, p.Endpoint, "getCertificate", getBody(t, r.RetrievalID)))
	cert, err := c.GetCertificate(ctx, customer, r.RetrievalID)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyIssued(cert, &key.PublicKey, customer); err != nil {
		t.Fatal(err)
	}
	key2 := irpkidtest.NewKey(t)
	rid2, err := c.RenewCertificate(ctx, customer, irpkidtest.CSR(t, key2, customer), key, cert)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := c.GetCertificate(ctx, customer, rid2)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.VerifyIssued(renewed, &key2.PublicKey, customer); err != nil {
		t.Fatal(err)
	}

	// Several enrolments at once: the token keys sign concurrently.
	const n = 4
	creds := make([]irpkidproc.Credentials, n)
	for i := range creds {
		if creds[i], err = irpkidproc.Order(ctx, bin, dataDir, customer, ""); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := irpkidtest.NewKey(t)
			rid, err := c.SignNewCertificate(ctx, customer, creds[i].TransferID, creds[i].TransferPassword, irpkidtest.CSR(t, k, customer))
			if err == nil {
				var got *x509.Certificate
				if got, err = c.GetCertificate(ctx, customer, rid); err == nil {
					err = c.VerifyIssued(got, &k.PublicKey, customer)
				}
			}
			if err != nil {
				t.Errorf("enrolment %d: %v", i, err)
			}
		}()
	}
	wg.Wait()

	// The revocation lists serve published at start are signed by the
	// issuing CAs' keys in the token.
	crls, _ := filepath.Glob(filepath.Join(dataDir, "crl", "*.crl"))
	if len(crls) != 4 {
		t.Errorf("%d CRLs published, want one per issuing CA (4)", len(crls))
	}
	for _, f := range crls {
		der, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		verified := false
		for _, c := range trust {
			if bytes.Equal(c.RawSubject, l.RawIssuer) {
				verified = l.CheckSignatureFrom(c) == nil
			}
		}
		if !verified {
			t.Errorf("%s does not verify against its issuing CA", f)
		}
	}

	// Nothing under the data directory is a private key, in PEM or DER.
	err = filepath.WalkDir(dataDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte("PRIVATE KEY")) {
			t.Errorf("%s holds a PEM private key", path)
		}
		if off := derPrivateKeyAt(b); off >= 0 {
			t.Errorf("%s holds a DER private key at byte %d", path, off)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	p.Stop(t)
	if logs := p.Logs(); !strings.Contains(logs, "msg=stopped") || strings.Contains(logs, "closing the PKCS#11 tokens") || strings.Contains(logs, tok.PIN) {
		t.Errorf("serve's log:\n%s", logs)
	}
}

// derPrivateKeyAt returns the offset of the first PKCS#8 or PKCS#1 private
// key in b, or -1.
func derPrivateKeyAt(b []byte) int {
	for i := 0; i+4 < len(b); i++ {
		if b[i] != 0x30 || b[i+1] != 0x82 {
			continue
		}
		n := int(b[i+2])<<8 | int(b[i+3])
		if i+4+n > len(b) || n < 600 {
			continue
		}
		der := b[i : i+4+n]
		if _, err := x509.ParsePKCS8PrivateKey(der); err == nil {
			return i
		}
		if _, err := x509.ParsePKCS1PrivateKey(der); err == nil {
			return i
		}
	}
	return -1
}

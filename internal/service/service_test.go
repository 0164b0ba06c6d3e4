package service

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/store"
	"github.com/irpki/irpki/internal/wire"
)

var epoch = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

var testCA = func() map[string]*ca.Hierarchy {
	m := map[string]*ca.Hierarchy{}
	for _, env := range []string{wire.EnvTest, wire.EnvProduction} {
		h, _, err := ca.Create(env, epoch.AddDate(-1, 0, 0), catest.Options())
		if err != nil {
			panic(err)
		}
		m[env] = h
	}
	return m
}()

func newService(t *testing.T, env string) (*Service, *store.DB, *clock.Fixed) {
	t.Helper()
	return newServiceIn(t, env, t.TempDir())
}

// newServiceIn is newService with its database in dir.
func newServiceIn(t *testing.T, env, dir string) (*Service, *store.DB, *clock.Fixed) {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dir, "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := clock.NewFixed(epoch)
	s, err := New(DefaultConfig(env), testCA[env], db, clk, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.AddOrg(context.Background(), store.Org{CustomerID: "1234567-1", Name: "Acme Oy", ContactEmail: "it@acme.example"}, "test"); err != nil {
		t.Fatal(err)
	}
	return s, db, clk
}

func TestNewRefusesMismatchedEnvironment(t *testing.T) {
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "irpki.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := New(DefaultConfig(wire.EnvProduction), testCA[wire.EnvTest], db, clock.System{}, slog.Default()); err == nil {
		t.Error("a PRODUCTION service accepted a TEST CA")
	}
	if _, err := New(DefaultConfig("STAGING"), testCA[wire.EnvTest], db, clock.System{}, slog.Default()); err == nil {
		t.Error("environment STAGING accepted")
	}
}

func TestAddOrgValidation(t *testing.T) {
	s, _, _ := newService(t, wire.EnvTest)
	ctx := context.Background()
	for _, tc := range []struct {
		org  store.Org
		want string
	}{
		{store.Org{CustomerID: "1234567-8", Name: "X", ContactEmail: "a@b.fi"}, "check digit"},
		{store.Org{CustomerID: "2345678-0", Name: "  ", ContactEmail: "a@b.fi"}, "name"},
		{store.Org{CustomerID: "2345678-0", Name: "X", ContactEmail: "Bob <a@b.fi>"}, "not an e-mail address"},
		{store.Org{CustomerID: "2345678-0", Name: "X", ContactEmail: "a@b.fi", Language: "de"}, "language"},
	} {
		err := s.AddOrg(ctx, tc.org, "test")
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want ErrInput mentioning %q", tc.org, err, tc.want)
		}
	}
	if err := s.AddOrg(ctx, store.Org{CustomerID: "1234567-1", Name: "Again", ContactEmail: "a@b.fi"}, "test"); !errors.Is(err, store.ErrExists) {
		t.Errorf("duplicate organisation: %v", err)
	}
}

func TestCreateOrderValidity(t *testing.T) {
	ctx := context.Background()
	test, _, _ := newService(t, wire.EnvTest)
	prod, _, _ := newService(t, wire.EnvProduction)
	twoYears := epoch.AddDate(2, 0, 0).Sub(epoch)
	for _, tc := range []struct {
		name     string
		s        *Service
		validity time.Duration
		want     string // "" for success
	}{
		{"default", prod, 0, ""},
		{"exactly two years in PRODUCTION", prod, twoYears, ""},
		{"short in PRODUCTION", prod, 50 * 24 * time.Hour, "only in the TEST environment"},
		{"short in TEST", test, 50 * 24 * time.Hour, ""},
		{"too short", test, time.Minute, "shorter than the TEST minimum, 10m0s"},
		{"longer than two years", test, twoYears + time.Hour, "longer than"},
		{"negative", test, -time.Hour, "positive"},
	} {
		cred, err := tc.s.CreateOrder(ctx, OrderRequest{CustomerID: "1234567-1", Validity: tc.validity}, "test")
		if tc.want == "" {
			if err != nil || len(cred.TransferID) != 32 || len(cred.TransferPassword) != 16 || !cred.Expires.Equal(epoch.Add(14*24*time.Hour)) {
				t.Errorf("%s: %+v %v", tc.name, cred, err)
			}
			continue
		}
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	if _, err := test.CreateOrder(ctx, OrderRequest{CustomerID: "2345678-0"}, "test"); !errors.Is(err, ErrInput) {
		t.Errorf("order for an unknown organisation: %v", err)
	}
	// The purpose is one of the codes the e-service offers, or none.
	for _, p := range append([]string{""}, Purposes...) {
		if _, err := test.CreateOrder(ctx, OrderRequest{CustomerID: "1234567-1", Purpose: p}, "test"); err != nil {
			t.Errorf("purpose %q: %v", p, err)
		}
	}
	for _, p := range []string{"payroll", "REPORTS_WS", "reports_ws "} {
		if _, err := test.CreateOrder(ctx, OrderRequest{CustomerID: "1234567-1", Purpose: p}, "test"); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "use one of") {
			t.Errorf("purpose %q: %v, want refused", p, err)
		}
	}
}

func TestOrderStoresOnlyAHash(t *testing.T) {
	dir := t.TempDir()
	s, db, _ := newServiceIn(t, wire.EnvTest, dir)
	ctx := context.Background()
	cred, err := s.CreateOrder(ctx, OrderRequest{CustomerID: "1234567-1"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	var o store.Order
	db.View(ctx, func(tx *store.Tx) error { o, err = tx.Order(ctx, transferKey(cred.TransferID)); return err })
	if err != nil {
		t.Fatalf("no order under the TransferId's hash: %v", err)
	}
	// Neither credential is anywhere in the database (found in review:
	// the TransferId was the orders' primary key in plain text).
	for _, f := range []string{"irpki.db", "irpki.db-wal"} {
		raw, _ := os.ReadFile(filepath.Join(dir, f))
		if bytes.Contains(raw, []byte(cred.TransferID)) || bytes.Contains(raw, []byte(cred.TransferPassword)) {
			t.Errorf("%s holds a transfer credential in plain text", f)
		}
	}
	if strings.Contains(string(o.PasswordHash), cred.TransferPassword) || !passwordMatches(o.PasswordSalt, o.PasswordHash, cred.TransferPassword) || passwordMatches(o.PasswordSalt, o.PasswordHash, cred.TransferPassword+"x") {
		t.Error("the stored hash does not check the password as it should")
	}
	for _, c := range cred.TransferPassword + cred.TransferID {
		if !strings.ContainsRune(passwordAlphabet, c) {
			t.Errorf("credential character %q outside the alphabet", c)
		}
	}
}

func TestViewStates(t *testing.T) {
	s, _, _ := newService(t, wire.EnvTest)
	na := epoch.AddDate(2, 0, 0)
	c := store.Certificate{NotBefore: epoch, NotAfter: na, Status: store.CertValid}
	for _, tc := range []struct {
		name    string
		c       store.Certificate
		renewed bool
		now     time.Time
		want    State
		days    int
	}{
		{"fresh (two calendar years span 29 February 2028)", c, false, epoch, StateValid, 731},
		{"one second before the window", c, false, na.Add(-60*24*time.Hour - time.Second), StateValid, 60},
		{"window opens", c, false, na.Add(-60 * 24 * time.Hour), StateWindowOpen, 60},
		{"renewed", c, true, na.Add(-30 * 24 * time.Hour), StateRenewed, 30},
		{"at expiry", c, false, na, StateExpired, 0},
		{"revoked", store.Certificate{NotAfter: na, Status: store.CertRevoked}, false, epoch, StateRevoked, 731},
		{"superseded", store.Certificate{NotAfter: na, Status: store.CertSuperseded}, false, epoch, StateSuperseded, 731},
	} {
		v := s.view(tc.c, tc.renewed, tc.now)
		if v.State != tc.want || v.DaysLeft != tc.days {
			t.Errorf("%s: state %s, %d days; want %s, %d", tc.name, v.State, v.DaysLeft, tc.want, tc.days)
		}
	}
}

func TestRenewalValidityKeepsShortTestLifetimes(t *testing.T) {
	test, _, _ := newService(t, wire.EnvTest)
	prod, _, _ := newService(t, wire.EnvProduction)
	short := store.Certificate{NotBefore: epoch.Add(-time.Minute), NotAfter: epoch.Add(30 * 24 * time.Hour)}
	if got := test.renewalValidity(short); got != 30*24*time.Hour {
		t.Errorf("TEST 30-day certificate renews for %v", got)
	}
	full := store.Certificate{NotBefore: epoch.Add(-time.Minute), NotAfter: epoch.AddDate(2, 0, 0)}
	if got := test.renewalValidity(full); got != 0 {
		t.Errorf("two-year certificate renews for %v, want the default", got)
	}
	if got := prod.renewalValidity(short); got != 0 {
		t.Errorf("PRODUCTION renews a short certificate for %v, want the default", got)
	}
}

func TestRevokeInput(t *testing.T) {
	s, _, _ := newService(t, wire.EnvTest)
	ctx := context.Background()
	if _, err := s.Revoke(ctx, "ab", "because", "", "test", nil); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "reason must be key_compromise (RFC 5280: keyCompromise)") {
		t.Errorf("bad reason: %v", err)
	}
	if _, err := s.Revoke(ctx, "AB:CD", ReasonNotNeeded, "", "test", nil); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "serial 0000000000000000000000000000abcd") {
		t.Errorf("unknown serial (normalised from AB:CD): %v", err)
	}
}

func TestCodeOf(t *testing.T) {
	if CodeOf(keyReused()) != wire.CodeKeyReused {
		t.Error("CodeOf lost the refusal's code")
	}
	if CodeOf(errors.New("disk on fire")) != wire.CodeInternal {
		t.Error("a plain error is not INTERNAL")
	}
}

// cancelAfterUpdate cancels the request's context once its first write
// transaction has committed, as a client that hangs up meanwhile does.
type cancelAfterUpdate struct {
	Store
	cancel context.CancelFunc
	n      int
}

func (c *cancelAfterUpdate) Update(ctx context.Context, fn func(*store.Tx) error) error {
	err := c.Store.Update(ctx, fn)
	if c.n++; c.n == 1 {
		c.cancel()
	}
	return err
}

func (c *cancelAfterUpdate) UpdateKeyed(ctx context.Context, fn func(*store.Tx) error) error {
	err := c.Store.UpdateKeyed(ctx, fn)
	if c.n++; c.n == 1 {
		c.cancel()
	}
	return err
}

// A refusal is audited even if the caller has gone by the time it is
// written: the wrong password was counted, so its audit line must exist.
func TestRefusalAuditedAfterCallerLeft(t *testing.T) {
	s, db, _ := newService(t, wire.EnvTest)
	bg := context.Background()
	cred, err := s.CreateOrder(bg, OrderRequest{CustomerID: "1234567-1"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	csr := newCSR(t)
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	s.db = &cancelAfterUpdate{Store: db, cancel: cancel}
	_, err = s.SignNew(ctx, &wire.SignNewCertificateRequest{Environment: wire.EnvTest, CustomerID: "1234567-1", TransferID: cred.TransferID, TransferPassword: "WRONGPASSWORD234", CertificateRequest: csr})
	if CodeOf(err) != wire.CodeTransferInvalid {
		t.Fatalf("SignNew with a wrong password: %v", err)
	}
	log, err := s.AuditLog(bg, "1234567-1", 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		if e.Action == "sign_new" && e.Outcome == "fail" && e.Code == string(wire.CodeTransferInvalid) {
			return
		}
	}
	t.Fatalf("no audit entry for the refused SignNew: %+v", log)
}

// serviceWithCert returns a TEST service whose store holds one valid
// certificate with this serial (the store's key).
func serviceWithCert(t *testing.T, serial string) (*Service, *store.DB) {
	t.Helper()
	s, db, _ := newService(t, wire.EnvTest)
	ctx := context.Background()
	err := db.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertCertificate(ctx, store.Certificate{Serial: serial, CustomerID: "1234567-1", Environment: wire.EnvTest, NotBefore: epoch,
			NotAfter: epoch.AddDate(2, 0, 0), DER: []byte{1}, KeyFingerprint: "fp", Status: store.CertValid, RetrievalID: "r", CreatedAt: epoch})
	})
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

// A serial written as other tools print it (openssl's "0A1B…" with a
// leading zero and upper case, or 0X…) finds the certificate that irpkid
// certs lists as "a1b…".
func TestRevokeSerialAsOtherToolsPrintIt(t *testing.T) {
	for _, in := range []string{"0A1B2C", "0X0A1B2C", "0a:1b:2c", " a1b2c "} {
		s, _ := serviceWithCert(t, "a1b2c")
		ctx := context.Background()
		if _, err := s.Revoke(ctx, in, ReasonNotNeeded, "", "test", nil); err != nil {
			t.Errorf("revoke %q: %v", in, err)
		}
	}
}

// The RFC 5280 names of the reasons are synonyms of ours, and ours may be
// written in any case and with hyphens; the store keeps our name.
func TestRevokeReasonSynonyms(t *testing.T) {
	for in, want := range map[string]string{"keyCompromise": ReasonKeyCompromise, "KEY-COMPROMISE": ReasonKeyCompromise, "key_compromise": ReasonKeyCompromise,
		"cessationOfOperation": ReasonNotNeeded, "superseded": ReasonNotNeeded, "No-Longer-Needed": ReasonNotNeeded,
		"affiliationChanged": ReasonMerged, " organisation_merged ": ReasonMerged} {
		s, db := serviceWithCert(t, "a1b2c")
		ctx := context.Background()
		if _, err := s.Revoke(ctx, "a1b2c", in, "", "test", nil); err != nil {
			t.Errorf("revoke with reason %q: %v", in, err)
			continue
		}
		var got string
		_ = db.View(ctx, func(tx *store.Tx) error {
			c, err := tx.Certificate(ctx, "a1b2c")
			got = c.RevokeReason
			return err
		})
		if got != want {
			t.Errorf("reason %q stored as %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "unspecified", "certificateHold", "removeFromCRL", "privilegeWithdrawn", "aACompromise", "key compromise", "keycompromise2"} {
		if r, ok := ParseRevocationReason(bad); ok {
			t.Errorf("reason %q accepted as %q", bad, r)
		}
	}
}

// The organisation name goes into every certificate's subject (O) and into
// mail: like the other one-line fields it may not hold line breaks or
// control characters.
func TestAddOrgNameIsOneLine(t *testing.T) {
	s, _, _ := newService(t, wire.EnvTest)
	for _, name := range []string{"Acme\nOy", "Acme\rOy", "Acme\x00Oy", "Acme\tOy\x1b[2J"} {
		err := s.AddOrg(context.Background(), store.Org{CustomerID: "2345678-0", Name: name, ContactEmail: "a@b.fi"}, "test")
		if !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "name") {
			t.Errorf("name %q: %v, want ErrInput about the name", name, err)
		}
	}
}

// Business IDs are public: a refused request that matched none of a
// customer's orders or certificates is anybody's claim and must not land
// in that customer's audit trail, where a flood of them would push the
// real entries out of the e-service's view (found in review). A refusal
// that did match (a wrong password for its order) is the customer's.
func TestUnmatchedRefusalsAreNotFiledUnderTheClaimedCustomer(t *testing.T) {
	s, _, _ := newService(t, wire.EnvTest)
	bg := context.Background()
	cred, err := s.CreateOrder(bg, OrderRequest{CustomerID: "1234567-1"}, "test")
	if err != nil {
		t.Fatal(err)
	}
	csr := newCSR(t)
	for range 3 {
		if _, err := s.Get(bg, &wire.GetCertificateRequest{Environment: wire.EnvTest, CustomerID: "1234567-1", RetrievalID: "made-up"}); CodeOf(err) != wire.CodeRetrievalUnknown {
			t.Fatalf("Get with a made-up RetrievalId: %v", err)
		}
	}
	if _, err := s.SignNew(bg, &wire.SignNewCertificateRequest{Environment: wire.EnvTest, CustomerID: "1234567-1", TransferID: "NOSUCHTRANSFERID", TransferPassword: "WRONGPASSWORD234", CertificateRequest: csr}); CodeOf(err) != wire.CodeTransferInvalid {
		t.Fatalf("SignNew with a made-up TransferId: %v", err)
	}
	if _, err := s.SignNew(bg, &wire.SignNewCertificateRequest{Environment: wire.EnvTest, CustomerID: "1234567-1", TransferID: cred.TransferID, TransferPassword: "WRONGPASSWORD234", CertificateRequest: csr}); CodeOf(err) != wire.CodeTransferInvalid {
		t.Fatalf("SignNew with a wrong password: %v", err)
	}
	mine, err := s.AuditLog(bg, "1234567-1", 100)
	if err != nil {
		t.Fatal(err)
	}
	var fails []string
	for _, e := range mine {
		if e.Outcome == "fail" {
			fails = append(fails, e.Action+" "+e.Code)
		}
	}
	if len(fails) != 1 || fails[0] != "sign_new TRANSFER_INVALID" {
		t.Errorf("the customer's audit trail holds the refusals %v, want only the wrong password for its order", fails)
	}
	all, err := s.AuditLog(bg, "", 100)
	if err != nil {
		t.Fatal(err)
	}
	unmatched := 0
	for _, e := range all {
		if e.Outcome == "fail" && e.CustomerID == "" {
			unmatched++
			if !strings.Contains(e.Detail, "claimed customer 1234567-1") {
				t.Errorf("unmatched refusal %+v does not name the claimed customer for the operator", e)
			}
		}
	}
	if unmatched != 4 {
		t.Errorf("%d unmatched refusals in the operator's audit log, want 4", unmatched)
	}
}

// Orders made before TransferIds were stored hashed are still found by
// their plain TransferId until they expire.
func TestOrderWithPlainTransferIDStillWorks(t *testing.T) {
	s, db, clk := newService(t, wire.EnvTest)
	ctx := context.Background()
	salt := []byte("0123456789abcdef")
	const tid, pw = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789", "PLAINOLDPASSWORD"
	err := db.Update(ctx, func(tx *store.Tx) error {
		return tx.InsertOrder(ctx, store.Order{TransferID: tid, CustomerID: "1234567-1", Environment: wire.EnvTest,
			PasswordHash: hashPassword(salt, pw), PasswordSalt: salt, CreatedAt: clk.Now(), ExpiresAt: clk.Now().Add(14 * 24 * time.Hour), Status: store.OrderOpen})
	})
	if err != nil {
		t.Fatal(err)
	}
	csr := newCSR(t)
	if rid, err := s.SignNew(ctx, &wire.SignNewCertificateRequest{Environment: wire.EnvTest, CustomerID: "1234567-1", TransferID: tid, TransferPassword: pw, CertificateRequest: csr}); err != nil || rid == "" {
		t.Fatalf("SignNew with an order stored the old way: %q, %v", rid, err)
	}
}

// newCSR is a CSR of customer 1234567-1 for a new RSA-2048 key.
func newCSR(t *testing.T) []byte {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "1234567-1"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// TestSigRefusal: wire's signature errors map to their codes; content that
// verified but is no request is SIG_INVALID with its own message.
func TestSigRefusal(t *testing.T) {
	for _, c := range []struct {
		err  error
		code wire.Code
		msg  string
	}{
		{fmt.Errorf("%w: none", wire.ErrSigMissing), wire.CodeSigMissing, "must be signed"},
		{fmt.Errorf("%w: sha1", wire.ErrSigAlgorithm), wire.CodeSigAlgorithm, "does not follow the profile"},
		{fmt.Errorf("%w: bad", wire.ErrSigInvalid), wire.CodeSigInvalid, "does not verify"},
		{fmt.Errorf("%w: %w", wire.ErrSignedContent, wire.ErrSchema), wire.CodeSigInvalid, "signed content is not a valid"},
	} {
		if e := sigRefusal(c.err); e.Code != c.code || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%v: %v, want %s (%q)", c.err, e, c.code, c.msg)
		}
	}
}

package renewal

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestAbandonMayHoldCertificate: which pending requests Abandon refuses
// without Force (the service may have issued a certificate for their key),
// and what it says finishes them instead.
func TestAbandonMayHoldCertificate(t *testing.T) {
	e := newEnv(t)
	cur := e.enroll(t, 0)
	ctx := context.Background()
	m := e.manager(t)
	curPEM := string(certPEM(cur.Cert))
	kb, err := os.ReadFile(filepath.Join(cur.Dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	curKey := string(kb)
	refused := time.Now()
	for _, tc := range []struct {
		name   string
		p      pending
		refuse []string // what the refusal names; nil: given up without Force
	}{
		{"refused enrolment", pending{Operation: opEnroll, TransferID: "T", Refused: refused, RefusedCode: "E2002", Refusals: 1}, nil},
		{"refused renewal", pending{Operation: opRenew, Predecessor: cur.Serial(), Refused: refused, RefusedCode: "E1001", Refusals: 2}, nil},
		{"installed enrolment left behind", pending{Operation: opEnroll, RetrievalID: "R1", CertPEM: curPEM}, nil},
		{"interrupted enrolment", pending{Operation: opEnroll, TransferID: "T"}, []string{"interrupted, not refused", "irpki enroll --dir " + e.dir + " with the order's TransferPassword"}},
		{"interrupted renewal", pending{Operation: opRenew, Predecessor: cur.Serial()}, []string{"interrupted, not refused", "irpki renew --dir " + e.dir + " sends it again"}},
		{"enrolment accepted", pending{Operation: opEnroll, RetrievalID: "R2"}, []string{"RetrievalId R2", "irpki enroll --dir " + e.dir + " fetches and installs it"}},
		{"renewal accepted", pending{Operation: opRenew, RetrievalID: "R3", Refusals: 1}, []string{"RetrievalId R3", "irpki renew --dir " + e.dir + " fetches and installs it"}},
		{"delivered, unverified", pending{Operation: opRenew, RetrievalID: "R4", UnverifiedCertPEM: curPEM}, []string{"certificate " + cur.SerialText() + ", delivered but not yet verified", "--issuer-trust"}},
		{"delivered, verified", pending{Operation: opEnroll, RetrievalID: "R5", CertPEM: string(certPEM(e.s.CA.Issuing))}, []string{"delivered and verified but not yet installed", "irpki enroll --dir " + e.dir + " installs it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.p
			key := "KEY " + tc.name
			if p.CertPEM == curPEM {
				key = curKey // installed: archive/<serial> holds it
			}
			p.Created, p.CustomerID, p.KeyPEM, p.CSR = time.Now(), customer, key, []byte{1}
			if err := m.savePending(&p); err != nil {
				t.Fatal(err)
			}
			before := e.abandoned(t)
			res, err := m.Abandon(ctx, AbandonOptions{})
			if tc.refuse == nil {
				if err != nil || res == nil || res.MayHoldCertificate != "" {
					t.Fatalf("Abandon: %+v, %v; want it given up, no certificate at stake", res, err)
				}
				if b, err := os.ReadFile(res.Path); err != nil || !strings.Contains(string(b), strings.ReplaceAll(key, "\n", "\\n")) {
					t.Errorf("%s: %v; want the pending file with its key", res.Path, err)
				}
				if _, err := os.Stat(m.path(pendingFile)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("pending.json still there: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrCertificateMayBeIssued) || res != nil {
				t.Fatalf("Abandon: %+v, %v; want ErrCertificateMayBeIssued", res, err)
			}
			for _, want := range append(tc.refuse, "irpki abandon --dir "+e.dir+" --force") {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the refusal does not say %q: %v", want, err)
				}
			}
			if got, err := m.loadPending(); err != nil || got == nil || got.KeyPEM != p.KeyPEM {
				t.Fatalf("pending.json after the refusal: %+v, %v; want it untouched", got, err)
			}
			if a := e.abandoned(t); len(a) != len(before) {
				t.Errorf("abandoned %v, want %v", a, before)
			}
			res, err = m.Abandon(ctx, AbandonOptions{Force: true})
			if err != nil || res == nil || !strings.Contains(res.MayHoldCertificate, tc.refuse[0]) {
				t.Fatalf("forced: %+v, %v; want it given up, saying why a certificate may be held", res, err)
			}
			if b, err := os.ReadFile(res.Path); err != nil || !strings.Contains(string(b), "KEY "+tc.name) || filepath.Dir(res.Path) != m.path(archiveDir, abandonedDir) {
				t.Errorf("%s: %v; want the pending file with its key in archive/abandoned", res.Path, err)
			}
		})
	}
	// Nothing pending.
	if res, err := m.Abandon(ctx, AbandonOptions{}); res != nil || err != nil {
		t.Errorf("Abandon with nothing pending: %+v, %v; want nil, nil", res, err)
	}
}

// TestAbandonLockAndDirectory: Abandon takes the directory lock, does not
// create the lock file of a directory with nothing pending, and reports a
// missing directory as such.
func TestAbandonLockAndDirectory(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if _, err := e.manager(t).Abandon(ctx, AbandonOptions{}); !errors.Is(err, ErrNoDirectory) {
		t.Fatalf("missing directory: %v, want ErrNoDirectory", err)
	}
	if err := os.Mkdir(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if res, err := e.manager(t).Abandon(ctx, AbandonOptions{}); res != nil || err != nil {
		t.Fatalf("empty directory: %+v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(e.dir, lockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Abandon created the lock file of an empty directory: %v", err)
	}
	m := e.manager(t)
	if err := m.savePending(&pending{Operation: opEnroll, Created: time.Now(), CustomerID: customer, KeyPEM: "k", CSR: []byte{1},
		Refused: time.Now(), RefusedCode: "E2002", Refusals: 1}); err != nil {
		t.Fatal(err)
	}
	lk, err := m.lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.manager(t).Abandon(ctx, AbandonOptions{}); !errors.Is(err, ErrLocked) {
		t.Errorf("Abandon while another holds the lock: %v, want ErrLocked", err)
	}
	lk.unlock()
	if _, err := os.Stat(m.path(pendingFile)); err != nil {
		t.Fatalf("pending.json after the locked attempt: %v", err)
	}
	if res, err := e.manager(t).Abandon(ctx, AbandonOptions{}); err != nil || res == nil {
		t.Errorf("after the lock was released: %+v, %v", res, err)
	}
}

// TestAbandonRefusesDeliveredSuccessor: a renewal of the current
// certificate whose successor was delivered, verified or not, is not given
// up even forced (the service would refuse every later renewal:
// ALREADY_RENEWED); the refusal says how to finish it, and it still can be.
func TestAbandonRefusesDeliveredSuccessor(t *testing.T) {
	ctx := context.Background()
	t.Run("unverified", func(t *testing.T) {
		e, _ := renewWithWrongIssuerTrust(t)
		m := e.manager(t)
		p, _ := m.loadPending()
		res, err := m.Abandon(ctx, AbandonOptions{Force: true})
		if !errors.Is(err, ErrSuccessorDelivered) || !errors.Is(err, ErrCertificateMayBeIssued) || res != nil {
			t.Fatalf("forced Abandon: %+v, %v; want ErrSuccessorDelivered", res, err)
		}
		for _, want := range []string{"certificate " + p.unverifiedSerial() + ", delivered but not yet verified", "ALREADY_RENEWED", "--issuer-trust", "irpki enroll --dir " + e.dir} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal does not say %q: %v", want, err)
			}
		}
		if got, err := m.loadPending(); err != nil || got == nil || got.UnverifiedCertPEM != p.UnverifiedCertPEM {
			t.Fatalf("pending.json after the refusal: %v; want it untouched", err)
		}
		if err := writeJSON(filepath.Join(e.dir, settingsFile), e.settings(), 0o600); err != nil {
			t.Fatal(err)
		}
		if r, err := e.manager(t).Renew(ctx, RenewOptions{}); err != nil || !r.Renewed || r.Installed.SerialText() != p.unverifiedSerial() {
			t.Fatalf("renew with the right trust: %+v, %v", r, err)
		}
	})
	t.Run("verified", func(t *testing.T) {
		e := newEnv(t)
		old := e.enroll(t, 0)
		e.s.Clock.Set(old.Cert.NotAfter.Add(-30 * 24 * time.Hour))
		m := e.manager(t)
		m.crash = func(s Step) bool { return s == StepCertSaved }
		if _, err := m.Renew(ctx, RenewOptions{}); !errors.Is(err, errCrash) {
			t.Fatalf("renew: %v, want the crash", err)
		}
		res, err := e.manager(t).Abandon(ctx, AbandonOptions{Force: true})
		if !errors.Is(err, ErrSuccessorDelivered) || !strings.Contains(err.Error(), "delivered and verified but not yet installed") {
			t.Fatalf("forced Abandon: %+v, %v; want ErrSuccessorDelivered", res, err)
		}
		if r, err := e.manager(t).Renew(ctx, RenewOptions{}); err != nil || !r.Renewed {
			t.Fatalf("renew: %+v, %v", r, err)
		}
	})
}

// TestAbandonFinishesSwappedInstall: an enrolment or renewal that died
// after making its certificate current and before linking cert.pem,
// key.pem, chain.pem and fullchain.pem through it (and recording the last
// renewal): Abandon, with nothing at stake, finishes those steps before it
// moves pending.json away, instead of leaving the directory without its
// files.
func TestAbandonFinishesSwappedInstall(t *testing.T) {
	for _, layout := range layouts {
		t.Run(layout.String(), func(t *testing.T) { abandonFinishesSwappedInstall(t, layout) })
	}
}

func abandonFinishesSwappedInstall(t *testing.T, layout Layout) {
	ctx := context.Background()
	for _, op := range []string{opEnroll, opRenew} {
		t.Run(op, func(t *testing.T) {
			e := newEnv(t)
			e.layout = layout
			m := e.manager(t)
			m.crash = func(s Step) bool { return s == StepSwapped }
			var err error
			if op == opEnroll {
				cred := e.s.Order(t, customer, 0)
				_, err = m.Enroll(ctx, e.settings(), Credentials{cred.TransferID, cred.TransferPassword})
			} else {
				old := e.enroll(t, 0)
				for _, n := range []string{CertFile, KeyFile, ChainFile, FullChainFile} {
					os.Remove(filepath.Join(e.dir, n)) // as if the enrolment had died at the same step
				}
				e.s.Clock.Set(old.Cert.NotAfter.Add(-30 * 24 * time.Hour))
				_, err = m.Renew(ctx, RenewOptions{})
			}
			if !errors.Is(err, errCrash) {
				t.Fatalf("%s: %v, want the crash", op, err)
			}
			before, _ := e.manager(t).loadState()
			res, err := e.manager(t).Abandon(ctx, AbandonOptions{})
			cur, _ := e.manager(t).Current()
			if err != nil || res == nil || res.Completed != cur.SerialText() {
				t.Fatalf("Abandon: %+v, %v; want the installation of %s finished", res, err, cur.Serial())
			}
			checkTopLevel(t, e.dir, layout, cur)
			if st, _ := e.manager(t).loadState(); !st.LastRenewal.After(before.LastRenewal) && !(before.LastRenewal.IsZero() && !st.LastRenewal.IsZero()) {
				t.Errorf("last_renewal %v, before %v; want it recorded", st.LastRenewal, before.LastRenewal)
			}
			if p, _ := e.manager(t).loadPending(); p != nil {
				t.Error("pending.json left")
			}
		})
	}
}

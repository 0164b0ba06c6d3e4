package security_test

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/businessid"
	"github.com/irpki/irpki/internal/server/irpkidproc"
)

// TestCrashClientRenew SIGKILLs `irpki renew` at random moments (before,
// during and after its requests), several times in a row, against a real
// irpkid process; then, unless a killed run already installed the successor,
// one more `irpki renew` runs to completion. The runs use --force because
// irpki's own window for a short TEST certificate is the last third of its
// life; the service's 60-day window is open for these 30-day certificates. Whatever the kill points, the
// old certificate ends up with exactly one successor in the service's store
// (no second certificate was minted by the interruptions), and it is the
// one installed in the state directory. IRPKI_LONG=1 (or -long) runs 12
// trials instead of 2.
func TestCrashClientRenew(t *testing.T) {
	trials, killsPerTrial := 2, 4
	if isLong() {
		trials = 12
	}
	irpkid := irpkidproc.Build(t, "./cmd/irpkid")
	irpki := irpkidproc.Build(t, "./cmd/irpki")
	base := t.TempDir()
	data := filepath.Join(base, "data")
	p := irpkidproc.Start(t, irpkid, data, "")
	trustFile := filepath.Join(base, "trust.pem")
	if err := os.WriteFile(trustFile, irpkidproc.Run(t, irpkid, data, "trust"), 0o644); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var outputs bytes.Buffer // everything irpki printed, scanned for secrets at the end
	var passwords []string
	kills, completedByKilled := 0, 0
	for trial := 0; trial < trials; trial++ {
		customer, err := businessid.Complete(fmt.Sprint(3000000 + trial*7))
		if err != nil {
			customer, _ = businessid.Complete(fmt.Sprint(3000001 + trial*7))
		}
		irpkidproc.Run(t, irpkid, data, "org", "add", "--customer-id", customer, "--name", "Client "+customer, "--contact-email", "c@example.fi")
		cred := order(t, irpkid, data, customer)
		passwords = append(passwords, cred.TransferPassword)
		dir := filepath.Join(base, "state", customer)
		pwFile := filepath.Join(base, customer+".pw")
		if err := os.WriteFile(pwFile, []byte(cred.TransferPassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		enrollStart := time.Now()
		outputs.Write(runIrpki(t, irpki, "enroll", "--dir", dir, "--customer-id", customer, "--transfer-id", cred.TransferID,
			"--transfer-password-file", pwFile, "--endpoint", p.Endpoint, "--environment", "TEST", "--trust", trustFile))
		first := installedSerial(t, dir)
		// A renewal does about the work of an enrolment: kill points are
		// drawn from the enrolment's duration.
		span := time.Since(enrollStart)

		for k := 0; k < killsPerTrial; k++ {
			cmd := exec.Command(irpki, "renew", "--dir", dir, "--force", "--lock-wait", "10s")
			cmd.Env = irpkidproc.CleanEnv()
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case err := <-done: // finished before the kill
				if err != nil {
					t.Fatalf("irpki renew: %v\n%s", err, out.String())
				}
				outputs.Write(out.Bytes())
			case <-time.After(time.Duration(rng.Int64N(int64(span) * 2 / 3))): // a random point of the run
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				kills++
				outputs.Write(out.Bytes())
			}
			if installedSerial(t, dir) != first {
				break // a run got to the end: renewing again would renew the successor
			}
		}
		if installedSerial(t, dir) == first {
			outputs.Write(runIrpki(t, irpki, "renew", "--dir", dir, "--force"))
		} else {
			completedByKilled++
		}
		installed := installedSerial(t, dir)
		var succ []string
		for _, c := range irpkidproc.Certs(t, irpkid, data) {
			if c.Predecessor == first {
				succ = append(succ, c.Serial+"/"+c.Status)
			}
		}
		if len(succ) != 1 || installed == first || succ[0] != installed+"/"+statusOf(t, irpkid, data, installed) {
			t.Fatalf("trial %d: %s has successors %v in the store; %s is installed", trial, first, succ, installed)
		}
	}
	// Keys and pending requests (which hold the new key) are 0600 in every
	// state directory, whatever the kills interrupted.
	keyFiles := 0
	err := filepath.WalkDir(filepath.Join(base, "state"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if !strings.Contains(name, "key") && !strings.Contains(name, "pending") {
			return nil
		}
		info, err := os.Stat(path) // through the symlinks
		if err != nil {
			return err
		}
		keyFiles++
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is %o, want 0600", path, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if keyFiles < 2*trials {
		t.Errorf("only %d key files found", keyFiles)
	}
	// Nothing irpki printed holds a password or a key.
	if bytes.Contains(outputs.Bytes(), []byte("PRIVATE KEY")) {
		t.Error("irpki printed private key material")
	}
	for _, pw := range passwords {
		if bytes.Contains(outputs.Bytes(), []byte(pw)) {
			t.Error("irpki printed a TransferPassword")
		}
	}
	if outputs.Len() == 0 {
		t.Error("irpki printed nothing: the scan proves nothing")
	}
	t.Logf("%d trials, %d kills of irpki renew (in %d trials one of the interrupted runs got to the end first), exactly one successor each", trials, kills, completedByKilled)
}

func order(t *testing.T, bin, data, customer string) irpkidproc.Credentials {
	t.Helper()
	c, err := irpkidproc.Order(t.Context(), bin, data, customer, "30d")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func runIrpki(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = irpkidproc.CleanEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("irpki %s: %v\n%s", args[0], err, out)
	}
	return out
}

// installedSerial is the serial of DIR/cert.pem, as irpkid prints serials.
func installedSerial(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s/cert.pem is not PEM", dir)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return fmtSerial(c)
}

func statusOf(t *testing.T, bin, data, serial string) string {
	for _, c := range irpkidproc.Certs(t, bin, data) {
		if c.Serial == serial {
			return c.Status
		}
	}
	return "absent"
}

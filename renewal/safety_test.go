package renewal

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/irpki/irpki/internal/server/irpkidtest"
)

// countingEnv is an enrolled env whose directory talks to the service
// through a proxy that counts the requests reaching it.
func countingEnv(t *testing.T) (*env, *Installed, *atomic.Int32) {
	t.Helper()
	e := newEnv(t)
	var n atomic.Int32
	e.url = irpkidtest.Proxy(t, e.s.URL, func(http.ResponseWriter, []byte) bool { n.Add(1); return false })
	inst := e.enroll(t, 30*24*time.Hour)
	n.Store(0)
	e.s.Clock.Set(inst.Cert.NotAfter.Add(-5 * 24 * time.Hour)) // renewal due
	return e, inst, &n
}

// refusedUnsafe checks that Renew and Status refuse the directory with
// ErrUnsafe, a message containing want and not secret, and that nothing
// reached the service.
func refusedUnsafe(t *testing.T, e *env, sent *atomic.Int32, want, secret string) {
	t.Helper()
	_, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if !errors.Is(err, ErrUnsafe) || !strings.Contains(err.Error(), want) {
		t.Fatalf("renew = %v; want ErrUnsafe saying %q", err, want)
	}
	if secret != "" && strings.Contains(err.Error(), secret) {
		t.Errorf("the refusal quotes the file: %v", err)
	}
	if _, err := e.manager(t).Status(); !errors.Is(err, ErrUnsafe) {
		t.Errorf("status = %v; want ErrUnsafe", err)
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d requests reached the service; want none", n)
	}
}

// TestGroupWritableDirectoryRefused: a state directory others can write
// into is refused, saying how to fix its modes; fixed, it works.
func TestGroupWritableDirectoryRefused(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("modes mean nothing on Windows; the owner check is TestForeignOwnerRefused")
	}
	e, inst, sent := countingEnv(t)
	if err := os.Chmod(e.dir, 0o770); err != nil {
		t.Fatal(err)
	}
	refusedUnsafe(t, e, sent, "chmod go-w "+e.dir, "")
	if err := os.Chmod(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	// A group-writable file inside is refused too.
	settings := filepath.Join(e.dir, settingsFile)
	if err := os.Chmod(settings, 0o620); err != nil {
		t.Fatal(err)
	}
	refusedUnsafe(t, e, sent, "chmod go-w "+settings, "")
	if err := os.Chmod(settings, 0o600); err != nil {
		t.Fatal(err)
	}
	res, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if err != nil || !res.Renewed || res.Previous.Serial() != inst.Serial() {
		t.Fatalf("renew once fixed: %+v, %v", res, err)
	}
}

// plantedPending is what someone who can write into the state directory
// plants: a renewal of the current certificate with their own key, which
// the organisation's next renewal would get certified and install.
func plantedPending(t *testing.T, e *env, cur *Installed) []byte {
	t.Helper()
	m := e.manager(t)
	s, err := m.Settings()
	if err != nil {
		t.Fatal(err)
	}
	keyPEM, csr, err := m.newKeyAndCSR(s)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(pending{Operation: opRenew, Created: e.s.Clock.Now(), CustomerID: customer, Predecessor: cur.Serial(), KeyPEM: keyPEM, CSR: csr})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPlantedPendingRefused: a pending.json planted by another user (the
// test runs setpriv as nobody, as root can) is refused, naming its owner
// and how to fix it, never quoting it, and nothing is sent: the
// organisation's key signs no request for the planted key.
func TestPlantedPendingRefused(t *testing.T) {
	nobody := asNobody(t)
	e, inst, sent := countingEnv(t)
	openUp(t, e.dir)
	planted := plantedPending(t, e, inst)
	if err := os.Chmod(e.dir, 0o777); err != nil {
		t.Fatal(err)
	}
	nobody(t, planted, "sh", "-c", "cat > "+filepath.Join(e.dir, pendingFile))
	if err := os.Chmod(e.dir, 0o700); err != nil {
		t.Fatal(err)
	}
	refusedUnsafe(t, e, sent, "is owned by nobody", "PRIVATE KEY")
	_, err := e.manager(t).Renew(context.Background(), RenewOptions{})
	if !strings.Contains(err.Error(), "move it out of the state directory") {
		t.Errorf("the refusal does not say to move the planted file away: %v", err)
	}
	if n := e.successors(t, inst.Serial()); n != 0 {
		t.Errorf("%d successors issued; want none", n)
	}
}

// TestForeignOwnerRefused: a state directory owned by another user is
// refused, naming the owner and the chown that fixes it.
func TestForeignOwnerRefused(t *testing.T) {
	nobody := asNobody(t)
	e, _, sent := countingEnv(t)
	openUp(t, e.dir)
	// nobody makes a state directory of its own beside it; root's irpki
	// is pointed at it.
	other := filepath.Join(filepath.Dir(e.dir), "other")
	if err := os.Chmod(filepath.Dir(other), 0o777); err != nil {
		t.Fatal(err)
	}
	nobody(t, nil, "mkdir", "-m", "0700", other)
	if err := os.Chmod(filepath.Dir(other), 0o711); err != nil {
		t.Fatal(err)
	}
	e.dir = other
	refusedUnsafe(t, e, sent, "chown root "+other, "")
	cred := e.s.Order(t, customer, 0)
	if _, err := e.manager(t).Enroll(context.Background(), e.settings(), Credentials{cred.TransferID, cred.TransferPassword}); !errors.Is(err, ErrUnsafe) {
		t.Errorf("enroll into a directory owned by nobody = %v; want ErrUnsafe", err)
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d requests reached the service; want none", n)
	}
}

// TestCurrentOutsideArchiveRefused: "current" must name a certificate of
// the archive, in either layout; one pointing elsewhere is refused without
// showing where it points.
func TestCurrentOutsideArchiveRefused(t *testing.T) {
	for _, layout := range layouts {
		t.Run(layout.String(), func(t *testing.T) {
			e, _, sent := countingEnv(t)
			elsewhere := t.TempDir()
			cur := filepath.Join(e.dir, currentLink)
			if err := os.Remove(cur); err != nil {
				t.Fatal(err)
			}
			target := filepath.Join("..", filepath.Base(elsewhere)+"-secret-target")
			if layout == LayoutSymlink {
				err := os.Symlink(target, cur)
				if err != nil {
					t.Fatal(err)
				}
			} else if err := os.WriteFile(cur, []byte("archive/../../"+filepath.Base(elsewhere)+"-secret-target\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			refusedUnsafe(t, e, sent, "does not name a certificate in "+filepath.Join(e.dir, archiveDir), "secret-target")
		})
	}
}

// TestSymlinkedFileRefused: a settings.json that is a symlink (to a file
// anywhere) is refused, not followed.
func TestSymlinkedFileRefused(t *testing.T) {
	e, _, sent := countingEnv(t)
	p := filepath.Join(e.dir, settingsFile)
	b, _ := os.ReadFile(p)
	elsewhere := filepath.Join(t.TempDir(), "settings.json")
	if err := os.WriteFile(elsewhere, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(elsewhere, p); err != nil {
		t.Fatal(err)
	}
	refusedUnsafe(t, e, sent, "not a regular file", "")
}

// TestUnreadableFileNotQuoted: a file irpki cannot read is named, with
// where it is wrong, but what it holds is never shown.
func TestUnreadableFileNotQuoted(t *testing.T) {
	e, _, sent := countingEnv(t)
	for _, content := range []string{`TOPSECRET-1 not json`, `{"TOPSECRET-2": 1}`, `{"last_result": ["TOPSECRET-3"]}`} {
		if err := os.WriteFile(filepath.Join(e.dir, stateFile), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := e.manager(t).Status()
		if err == nil || strings.Contains(err.Error(), "TOPSECRET") || !strings.Contains(err.Error(), stateFile) {
			t.Errorf("state.json %q: %v; want an error naming the file, not quoting it", content, err)
		}
	}
	if n := sent.Load(); n != 0 {
		t.Errorf("%d requests reached the service; want none", n)
	}
}

// TestLayoutsReadEachOther: a directory made with symlinks keeps working
// under the pointer-file layout (Windows' default) and back.
func TestLayoutsReadEachOther(t *testing.T) {
	e := newEnv(t)
	e.layout = LayoutSymlink
	old := e.enroll(t, 30*24*time.Hour)
	e.s.Clock.Set(old.Cert.NotAfter.Add(-5 * 24 * time.Hour))
	for i, layout := range []Layout{LayoutPointerFile, LayoutSymlink, LayoutPointerFile} {
		e.layout = layout
		m := e.manager(t)
		if cur, err := m.Current(); err != nil || cur == nil {
			t.Fatalf("step %d (%s): current: %v", i, layout, err)
		}
		res, err := m.Renew(context.Background(), RenewOptions{Force: true})
		if err != nil || !res.Renewed {
			t.Fatalf("step %d (%s): renew: %+v, %v", i, layout, res, err)
		}
		checkTopLevel(t, e.dir, layout, res.Installed)
		st, err := m.Status()
		if err != nil || st.Serial != res.Installed.SerialText() {
			t.Fatalf("step %d (%s): status %+v, %v", i, layout, st, err)
		}
		e.s.Clock.Set(res.Installed.Cert.NotAfter.Add(-5 * 24 * time.Hour))
	}
}

// asNobody returns a runner of commands as the user nobody (setpriv), for
// tests that need files of another user; it skips the test where that is
// impossible (not root), and fails it under CI, which runs as root.
func asNobody(t *testing.T) func(t *testing.T, stdin []byte, name string, args ...string) {
	t.Helper()
	setpriv, err := exec.LookPath("setpriv")
	if os.Geteuid() != 0 || err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI must run as root with setpriv (util-linux): euid %d, %v", os.Geteuid(), err)
		}
		t.Skip("needs root and setpriv to act as another user")
	}
	return func(t *testing.T, stdin []byte, name string, args ...string) {
		t.Helper()
		cmd := exec.Command(setpriv, append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--", name}, args...)...)
		cmd.Stdin = bytes.NewReader(stdin)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("as nobody: %s %v: %v\n%s", name, args, err, out)
		}
	}
}

// openUp lets nobody traverse the directories above dir (t.TempDir makes
// them 0700).
func openUp(t *testing.T, dir string) {
	t.Helper()
	for d := filepath.Dir(dir); d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, fi.Mode().Perm()|0o711); err != nil {
				t.Fatal(err)
			}
		}
	}
}

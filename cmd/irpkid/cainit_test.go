package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/ca"
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

	addr := startServe(t, dataDir).Addr
	if code, _ := get(t, "http://"+addr+"/readyz"); code != 200 {
		t.Errorf("/readyz without the offline keys: %d", code)
	}
	enrolAndRenew(t, nil, dataDir, addr)
}

// A ca init that fails part way (here: after the offline directory was
// written, the data directory cannot be made: /proc takes no new
// directory, not even from root) leaves no offline directory behind, so
// that it can simply be run again.
func TestCAInitAllOrNothing(t *testing.T) {
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs Linux's /proc")
	}
	offline := filepath.Join(t.TempDir(), "offline")
	dataDir := "/proc/irpki-no-such-dir/data"
	_, se, code := irpkid(t, nil, "ca", "init", "--offline-dir", offline, "--data-dir", dataDir)
	if code != 1 || !strings.Contains(se, "/proc/irpki-no-such-dir") {
		t.Fatalf("ca init onto a data directory that cannot be made: exit %d %s", code, se)
	}
	if _, err := os.Stat(offline); err == nil {
		t.Error("a failed ca init left its offline directory")
	}
}

// A ca init whose online part does not load once written leaves neither
// the offline directory nor the online one (data/ca/ENV) it wrote, so that
// no online CA without its offline root is left and a re-run works.
func TestCAInitOnlineLoadFailsLeavesNothing(t *testing.T) {
	defer func(f func(string, string, *ca.Keys) (*ca.Hierarchy, error)) { loadOnline = f }(loadOnline)
	loadOnline = func(string, string, *ca.Keys) (*ca.Hierarchy, error) {
		return nil, errors.New("injected load failure")
	}
	offline := filepath.Join(t.TempDir(), "offline")
	dataDir := t.TempDir()
	var so, se bytes.Buffer
	if code := run(context.Background(), []string{"ca", "init", "--offline-dir", offline, "--data-dir", dataDir}, &so, &se); code != 1 || !strings.Contains(se.String(), "injected load failure") {
		t.Fatalf("ca init with an online part that does not load: exit %d %s", code, se.String())
	}
	if _, err := os.Stat(offline); err == nil {
		t.Error("a failed ca init left its offline directory")
	}
	if left, _ := filepath.Glob(filepath.Join(dataDir, "ca", "*")); len(left) > 0 {
		t.Errorf("a failed ca init left the online directory it wrote: %v", left)
	}
	loadOnline = ca.Load
	if _, se, code := irpkid(t, nil, "ca", "init", "--offline-dir", offline, "--data-dir", dataDir); code != 0 {
		t.Fatalf("ca init run again: exit %d %s", code, se)
	}
}

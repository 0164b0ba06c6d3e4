package main

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/irpki/irpki/internal/testenv"
)

// maxExposure is the highest "systemd-analyze security" rating the shipped
// units may have (0 is locked down, 10 fully exposed; below 3.0 is rated OK).
const maxExposure = 3.0

// TestSystemdUnitsHardened rates every unit in contrib/systemd with
// systemd-analyze: the server's and the client's alike.
func TestSystemdUnitsHardened(t *testing.T) {
	tool := testenv.Tool(t, "systemd-analyze", "systemd")
	units, _ := filepath.Glob("../../contrib/systemd/*.service")
	if len(units) < 3 {
		t.Fatalf("found %d units in contrib/systemd, want irpkid.service, irpki-watch.service and irpki-renew.service", len(units))
	}
	rating := regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+) `)
	for _, u := range units {
		t.Run(filepath.Base(u), func(t *testing.T) {
			out, err := exec.Command(tool, "security", "--offline=yes", "--no-pager", u).CombinedOutput()
			if err != nil {
				t.Fatalf("systemd-analyze security %s: %v\n%s", u, err, out)
			}
			m := rating.FindSubmatch(out)
			if m == nil {
				t.Fatalf("no overall exposure level in:\n%s", out)
			}
			level, err := strconv.ParseFloat(string(m[1]), 64)
			if err != nil {
				t.Fatal(err)
			}
			if level >= maxExposure {
				t.Errorf("%s rates %.1f, want below %.1f:\n%s", filepath.Base(u), level, maxExposure, out)
			}
			t.Logf("%s: %.1f", filepath.Base(u), level)
		})
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeRefusesBadStartupSettingsBeforeCreatingAnything: settings that
// cannot work (a TLS key pair that cannot be read, reminder days out of
// range with an SMS-sending e-service, an SMTP user without a password)
// are refused before the data directory, its CA or its database is made,
// so that a typo leaves nothing behind.
func TestServeRefusesBadStartupSettingsBeforeCreatingAnything(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "/nonexistent/cert.pem", "--tls-key", "/nonexistent/key.pem"}, "TLS: "},
		{[]string{"--remind-days", "400"}, "--remind-days"},
		{[]string{"--smtp-host", "mail.example", "--smtp-user", "irpki"}, "--smtp-user needs a password"},
		{[]string{"--memory-budget", "12xyz"}, `--memory-budget: size "12xyz": give a whole number of bytes, or one followed by B, KiB, MiB, GiB or TiB`},
		{[]string{"--memory-budget=-64MiB"}, "--memory-budget: a size must not be negative"},
		{[]string{"--memory-budget", "16MiB"}, "--memory-budget 16MiB: at least 32MiB, or auto, or 0 for Go's own collector settings"},
		{[]string{"--memory-budget", "64"}, "a number without a unit is bytes"},
	} {
		dir := filepath.Join(t.TempDir(), "data")
		args := append([]string{"serve", "--data-dir", dir, "--listen", anyPort}, tc.args...)
		_, se, code := irpkid(t, nil, args...)
		if code == 0 || !strings.Contains(se, tc.want) {
			t.Errorf("%v: exit %d, %s", tc.args, code, se)
		}
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%v: the data directory was created before the refusal", tc.args)
		}
	}
}

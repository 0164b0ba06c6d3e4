package main

import (
	"strings"
	"testing"
)

// TestHelpToStdout: every command's --help goes to standard output (for a
// pager or grep) and exits 0; a wrong flag still goes to standard error,
// with the usage, exit 2.
func TestHelpToStdout(t *testing.T) {
	for _, cmd := range [][]string{
		{"serve"}, {"org", "add"}, {"orgs"}, {"order"}, {"certs"}, {"certs", "import"}, {"backup"}, {"revoke"},
		{"trust"}, {"user", "add"}, {"user", "disable"}, {"user", "enable"}, {"user", "password"}, {"users"}, {"audit"}, {"remind"},
		{"ca", "init"}, {"ca", "encrypt-keys"}, {"ca", "rotate-signer"},
	} {
		for _, h := range []string{"--help", "-h"} {
			so, se, code := irpkid(t, nil, append(cmd, h)...)
			if code != 0 || !strings.Contains(so, "Usage: irpkid "+strings.Join(cmd, " ")) || se != "" {
				t.Errorf("irpkid %s %s: exit %d\nstdout:\n%.200s\nstderr:\n%.200s", strings.Join(cmd, " "), h, code, so, se)
			}
		}
	}
	so, se, code := irpkid(t, nil, "orgs", "--no-such-flag")
	if code != 2 || so != "" || !strings.Contains(se, "no-such-flag") || !strings.Contains(se, "Usage: irpkid orgs") {
		t.Errorf("orgs --no-such-flag: exit %d\nstdout %q\nstderr %q", code, so, se)
	}
}

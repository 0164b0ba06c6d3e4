// Package testenv is test support for the tools and services tests start
// themselves (openssl, systemd-analyze, SoftHSM2, PostgreSQL, …): where
// one is missing the test is skipped on a developer's machine and fails
// under CI=true, which installs everything (.ci/run). Never a silent skip
// in CI.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// Missing skips t, or fails it under CI=true, saying what is missing.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true makes this a failure: .ci/run installs it)", msg)
	}
	t.Skip(msg)
}

// Tool returns the path of program name, or is Missing naming the Debian
// package that holds it.
func Tool(t testing.TB, name, debianPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "%s is not installed (Debian package %s)", name, debianPackage)
	}
	return p
}

// Package buildinfotest checks, for the tests of both commands, that a
// binary built with "go build" in this checkout names the build it is.
package buildinfotest

import (
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// CheckVersion builds the command in pkgDir with the VCS stamp (as "go
// build" does by default in a clone, whatever GOFLAGS says here), runs
// "version" and "--help" and asserts that both name the commit the go
// command recorded, which must be the checkout's HEAD (the pseudo-version
// v0.0.0-TIME-REVISION, +dirty with uncommitted changes), and the Go
// version. Where the go command
// records no commit (a source tarball; a git worktree, which it does not
// recognise as a repository) the version must read "unknown", never a
// made-up one.
func CheckVersion(t *testing.T, pkgDir, prog string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), prog)
	vcs := "-buildvcs=auto"
	if err := exec.Command("git", "rev-parse", "HEAD").Run(); err == nil {
		vcs = "-buildvcs=true"
	}
	if out, err := exec.Command("go", "build", vcs, "-o", bin, pkgDir).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", vcs, err, out)
	}
	meta, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "unknown ("
	if m := regexp.MustCompile(`(?m)^\s*build\s+vcs\.revision=(\S+)$`).FindSubmatch(meta); m != nil {
		head, err := exec.Command("git", "rev-parse", "HEAD").Output()
		if err != nil || strings.TrimSpace(string(head)) != string(m[1]) {
			t.Fatalf("go stamped revision %s, git says HEAD is %s (%v)", m[1], head, err)
		}
		// Go 1.24 and later derive a pseudo-version
		// (v0.0.0-TIME-REVISION[+dirty]) from the commit; a tagged commit
		// gets its tag.
		want = "devel-" + string(m[1][:12])
		if strings.Contains(string(meta), "vcs.modified=true") {
			want += "-dirty"
		}
		if mv := regexp.MustCompile(`(?m)^\s*mod\s+\S+\s+(\S+)`).FindSubmatch(meta); mv != nil && string(mv[1]) != "(devel)" {
			want = string(mv[1])
			if !strings.Contains(want, string(m[1][:12])) && !regexp.MustCompile(`^v\d+\.\d+\.\d+$`).MatchString(want) {
				t.Fatalf("module version %s names neither the revision %s nor a release", want, m[1])
			}
		}
		want += " (commit "
	} else {
		t.Logf("the go command recorded no VCS revision here (%s): expecting %q", vcs, want)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", prog, err, out)
	}
	line := strings.TrimSpace(string(out))
	if !strings.HasPrefix(line, prog+" "+want) || !strings.HasSuffix(line, runtime.Version()+")") {
		t.Errorf("%s version printed %q, want %q… ending in %s)", prog, line, prog+" "+want, runtime.Version())
	}
	help, _ := exec.Command(bin, "--help").CombinedOutput()
	if v := strings.TrimPrefix(line, prog+" "); !strings.Contains(string(help), "This is "+prog+" "+v+".") {
		t.Errorf("%s --help does not name the version %q:\n%s", prog, v, help)
	}
}

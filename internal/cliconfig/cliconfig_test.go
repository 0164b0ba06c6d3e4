package cliconfig

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrecedence(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"dir":"/file","key-size":4096,"endpoint":"file-ep"}`), 0o600)
	env := map[string]string{"IRPKI_DIR": "/env", "IRPKI_KEY_SIZE": "3072"}
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	dir := fs.String("dir", "", "")
	ks := fs.Int("key-size", 2048, "")
	ep := fs.String("endpoint", "", "")
	other := fs.String("other", "def", "")
	if err := fs.Parse([]string{"--dir", "/flag"}); err != nil {
		t.Fatal(err)
	}
	if err := Resolve(fs, cfg, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if *dir != "/flag" || *ks != 3072 || *ep != "file-ep" || *other != "def" {
		t.Errorf("dir=%s key-size=%d endpoint=%s other=%s", *dir, *ks, *ep, *other)
	}
}

func TestUnknownKey(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"dri":"/x"}`), 0o600)
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("dir", "", "")
	err := Resolve(fs, cfg, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), `unknown setting "dri"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestBadEnvValue(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int("key-size", 2048, "")
	err := Resolve(fs, "", func(k string) (string, bool) { return "big", k == "IRPKI_KEY_SIZE" })
	if err == nil || !strings.Contains(err.Error(), "IRPKI_KEY_SIZE") {
		t.Fatalf("err = %v", err)
	}
}

func TestSharedFileSkipsOtherCommandsSettings(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "c.json")
	os.WriteFile(cfg, []byte(`{"dir":"/x","listen":"127.0.0.1:1"}`), 0o600)
	noEnv := func(string) (string, bool) { return "", false }
	other := func(k string) bool { return k == "listen" }
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	dir := fs.String("dir", "", "")
	if err := ResolveShared(fs, cfg, noEnv, other); err != nil || *dir != "/x" {
		t.Fatalf("dir=%q err=%v", *dir, err)
	}
	os.WriteFile(cfg, []byte(`{"dir":"/x","lisen":"127.0.0.1:1"}`), 0o600)
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	fs.String("dir", "", "")
	if err := ResolveShared(fs, cfg, noEnv, other); err == nil || !strings.Contains(err.Error(), `unknown setting "lisen"`) {
		t.Fatalf("err = %v", err)
	}
}

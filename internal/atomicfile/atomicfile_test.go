package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteFileReplacesWithPerm(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.pem")
	if err := WriteFile(p, []byte("one"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("two"), 0o600); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("content %q, %v", b, err)
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestWriteFileFailureLeavesOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "cert.pem")
	if err := WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A directory where the file should go makes the rename fail.
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0o700)
	os.WriteFile(filepath.Join(sub, "x"), nil, 0o600)
	if err := WriteFile(sub, []byte("new"), 0o600); err == nil {
		t.Fatal("rename over a non-empty directory succeeded")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("old file changed: %q", b)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Errorf("temporary files left behind: %v", ents)
	}
}

func TestWriteDirAllOrNothing(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ca", "TEST")
	files := map[string][]byte{"a.key": []byte("A"), "b.crt": []byte("B")}
	if err := WriteDir(p, files, 0o600); err != nil {
		t.Fatal(err)
	}
	for n, want := range files {
		b, err := os.ReadFile(filepath.Join(p, n))
		st, _ := os.Stat(filepath.Join(p, n))
		if err != nil || string(b) != string(want) || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: %q %v %v", n, b, err, st.Mode())
		}
	}
	if err := WriteDir(p, files, 0o600); !errors.Is(err, os.ErrExist) {
		t.Errorf("second WriteDir: %v, want ErrExist", err)
	}
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Errorf("temporary directories left behind: %v", ents)
	}
}

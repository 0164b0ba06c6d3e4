package security_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the fuzz findings kept in testdata/fuzz")

// TestWriteFuzzFindings keeps the fuzzing findings in testdata/fuzz as
// regression seeds (they run with every go test). -update-seeds rewrites
// them; without it, the test checks they are present.
func TestWriteFuzzFindings(t *testing.T) {
	path := filepath.Join("testdata", "fuzz", "FuzzCheckCSR", "oversized-rsa-70000")
	if *updateSeeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", csrWithModulus(t, 70000))
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("fuzz finding missing: %v (run with -update-seeds)", err)
	}
}

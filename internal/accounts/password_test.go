package accounts

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	p := Argon2Params{Memory: 1024, Time: 1, Threads: 1}
	h1, _ := HashPassword(p, "correct horse")
	h2, _ := HashPassword(p, "correct horse")
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: no per-user salt")
	}
	if !strings.HasPrefix(h1, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Fatalf("hash %q", h1)
	}
	if !CheckPassword(h1, "correct horse") || CheckPassword(h1, "correct horsE") || CheckPassword("", "x") || CheckPassword("$argon2id$v=19$m=0,t=1,p=1$AA$AA", "x") {
		t.Fatal("checkPassword")
	}
}

// BenchmarkPasswordCheck measures one sign-in's password check with the
// production parameters (64 MiB, 3 passes, 2 lanes).
func BenchmarkPasswordCheck(b *testing.B) {
	h, err := HashPassword(DefaultArgon2, "a long enough password")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !CheckPassword(h, "a long enough password") {
			b.Fatal("mismatch")
		}
	}
}

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

func TestCheckMemory(t *testing.T) {
	p := Argon2Params{Memory: 2048, Time: 1, Threads: 1}
	h, err := HashPassword(p, "a password for the test")
	if err != nil {
		t.Fatal(err)
	}
	if got := CheckMemory(h); got != 2<<20 || p.MemoryBytes() != 2<<20 {
		t.Errorf("CheckMemory = %d, MemoryBytes = %d, want %d (the hash's m=2048 KiB)", got, p.MemoryBytes(), 2<<20)
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=2048,t=1,p=1$c2FsdA$a2V5", "$argon2id$v=19$m=0,t=1,p=1$c2FsdA$a2V5"} {
		if got := CheckMemory(bad); got != 0 {
			t.Errorf("CheckMemory(%q) = %d, want 0: CheckPassword refuses it without hashing", bad, got)
		}
	}
}

package accounts

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the argon2id cost parameters for new password hashes;
// verification reads the parameters stored with each hash.
type Argon2Params struct {
	Memory  uint32 // KiB
	Time    uint32
	Threads uint8
}

// DefaultArgon2 follows RFC 9106's second recommended option with fewer
// lanes: 64 MiB, 3 passes.
var DefaultArgon2 = Argon2Params{Memory: 64 * 1024, Time: 3, Threads: 2}

// MinPasswordLength is the shortest accepted password.
const MinPasswordLength = 12

const argonKeyLen = 32

// HashPassword returns a PHC-format argon2id hash of password with a fresh
// 16-byte salt. It applies no policy (newPasswordHash does).
func HashPassword(p Argon2Params, password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// CheckPassword compares password with a PHC argon2id hash in constant
// time. It is deliberately expensive: callers that let the public ask
// bound how many run at once (the e-service's queue of password checks).
func CheckPassword(encoded, password string) bool {
	parts, p, ok := parseHash(encoded)
	if !ok {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// parseHash splits a PHC argon2id hash into its $-separated parts and
// reads its cost parameters.
func parseHash(encoded string) (parts []string, p Argon2Params, ok bool) {
	parts = strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return nil, p, false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.Memory, &p.Time, &p.Threads); err != nil || p.Memory == 0 || p.Time == 0 || p.Threads == 0 {
		return nil, p, false
	}
	return parts, p, true
}

// MemoryBytes is the memory one hash or check with these parameters
// holds while it runs.
func (p Argon2Params) MemoryBytes() int64 { return int64(p.Memory) << 10 }

// CheckMemory is the memory CheckPassword holds while it checks a password
// against encoded (the hash's own cost parameter), 0 for what is not an
// argon2id hash (which it refuses without hashing).
func CheckMemory(encoded string) int64 {
	_, p, ok := parseHash(encoded)
	if !ok {
		return 0
	}
	return p.MemoryBytes()
}

// newPasswordHash checks a new password against the policy (at least
// MinPasswordLength characters, at most 256) and returns its hash.
func newPasswordHash(p Argon2Params, password string) (string, error) {
	if n := len([]rune(password)); n < MinPasswordLength || n > 256 {
		return "", fmt.Errorf("%w: the password must have at least %d characters (and at most 256)", ErrInput, MinPasswordLength)
	}
	if strings.TrimSpace(password) == "" {
		return "", fmt.Errorf("%w: the password must not be only spaces or other blanks", ErrInput)
	}
	return HashPassword(p, password)
}

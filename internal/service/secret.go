package service

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
)

// The transfer password alphabet: no 0/O, 1/l/I, so it can be read out and
// typed by a person. 16 characters of 32 symbols: 80 bits.
const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

func randomString(r io.Reader, n int, alphabet string) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	out := make([]byte, n)
	for i, v := range b {
		out[i] = alphabet[int(v)%len(alphabet)] // 256 is a multiple of 32: no bias
	}
	return string(out), nil
}

func randomHex(r io.Reader, nbytes int) (string, error) {
	b := make([]byte, nbytes)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", fmt.Errorf("random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// hashPassword hashes a transfer password. The password is 80 random bits
// made by the service, not a human choice, so a keyed SHA-256 is enough: a
// slow hash protects low-entropy secrets, and makes each guess slower for
// the server than for nobody.
func hashPassword(salt []byte, password string) []byte {
	m := hmac.New(sha256.New, salt)
	m.Write([]byte(password))
	return m.Sum(nil)
}

// transferKey is what the store keeps of a TransferId and finds its order
// by: its SHA-256, hex (64 characters). The spec keeps both transfer
// credentials only as hashes, so that whoever reads the database learns no
// TransferId (with which one could lock the order). A TransferId holds 160
// random bits, so an unsalted hash cannot be reversed by guessing.
func transferKey(transferID string) string {
	sum := sha256.Sum256([]byte("irpki transfer id\x00" + transferID))
	return hex.EncodeToString(sum[:])
}

func passwordMatches(salt, want []byte, password string) bool {
	return subtle.ConstantTimeCompare(hashPassword(salt, password), want) == 1
}

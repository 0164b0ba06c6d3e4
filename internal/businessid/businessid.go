// Package businessid validates Finnish business IDs (Y-tunnus, FO-nummer),
// the customer ids of the certificate service: seven digits, a hyphen and a
// check digit computed with the weights 7, 9, 10, 5, 8, 4, 2 modulo 11.
package businessid

import (
	"errors"
	"fmt"
)

// ErrInvalid is wrapped by every validation error.
var ErrInvalid = errors.New("invalid business ID")

var weights = [7]int{7, 9, 10, 5, 8, 4, 2}

// Validate reports whether id is a well-formed business ID with a correct
// check digit, such as "1234567-1" or "0245437-2".
func Validate(id string) error {
	if len(id) != 9 || id[7] != '-' {
		return fmt.Errorf("%w: %q is not of the form 1234567-8", ErrInvalid, id)
	}
	sum := 0
	for i := 0; i < 7; i++ {
		c := id[i]
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: %q has a non-digit", ErrInvalid, id)
		}
		sum += int(c-'0') * weights[i]
	}
	c := id[8]
	if c < '0' || c > '9' {
		return fmt.Errorf("%w: %q has a non-digit check character", ErrInvalid, id)
	}
	want, ok := CheckDigit(sum)
	if !ok {
		return fmt.Errorf("%w: %q: no business ID has this number (remainder 1)", ErrInvalid, id)
	}
	if int(c-'0') != want {
		return fmt.Errorf("%w: %q: check digit should be %d", ErrInvalid, id, want)
	}
	return nil
}

// CheckDigit returns the check digit for the weighted sum of the seven
// digits, and false when the remainder is 1 (no valid ID has that number).
func CheckDigit(weightedSum int) (int, bool) {
	r := weightedSum % 11
	switch r {
	case 0:
		return 0, true
	case 1:
		return 0, false
	default:
		return 11 - r, true
	}
}

// Complete appends the check digit to seven digits, for tests and tools that
// mint IDs. It returns an error if the number cannot be a business ID.
func Complete(digits string) (string, error) {
	if len(digits) != 7 {
		return "", fmt.Errorf("%w: need seven digits, got %q", ErrInvalid, digits)
	}
	sum := 0
	for i := 0; i < 7; i++ {
		c := digits[i]
		if c < '0' || c > '9' {
			return "", fmt.Errorf("%w: %q has a non-digit", ErrInvalid, digits)
		}
		sum += int(c-'0') * weights[i]
	}
	d, ok := CheckDigit(sum)
	if !ok {
		return "", fmt.Errorf("%w: %q has no valid check digit", ErrInvalid, digits)
	}
	return fmt.Sprintf("%s-%d", digits, d), nil
}

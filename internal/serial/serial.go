// Package serial writes certificate serial numbers the one way people see
// them everywhere (pages, mail, CLI output, JSON, logs): lower-case hex at a
// fixed width of Width digits, leading zeros kept, and reads them back from
// the ways people and tools write them.
//
// irpkid's serials are 128 random bits (ca.RandomSerial) whose leading hex
// digit may be 0: written without it, one serial in sixteen came out one
// digit short (31 digits) and did not line up with the rest. A serial wider
// than Width (another CA's, up to the 20 octets RFC 5280 allows) is written
// in full, two digits per octet.
//
// Text and Pad are for showing; Key is the form the store and the state
// directory key certificates by (no leading zeros), which is not changed so
// that existing data keeps working.
package serial

import (
	"math/big"
	"strings"
)

// Width is the number of hex digits a serial is shown with: 128 bits.
const Width = 32

// Text writes n at the fixed width.
func Text(n *big.Int) string { return Pad(n.Text(16)) }

// Pad writes a serial given as hex (a store key, say) at the fixed width:
// zeros in front up to Width digits, or up to an even number of digits for
// a wider one.
func Pad(hex string) string {
	w := Width
	if len(hex) > w {
		w = len(hex) + len(hex)%2
	}
	return strings.Repeat("0", w-len(hex)) + hex
}

// Key turns a serial as people and tools write it (this package's
// fixed width, openssl's upper case with a leading zero, 0x…,
// colon-separated) into the key the store and the state directory use:
// lower-case hex without leading zeros.
func Key(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s = strings.TrimPrefix(strings.ReplaceAll(s, ":", ""), "0x")
	if s == "" {
		return ""
	}
	if s = strings.TrimLeft(s, "0"); s == "" {
		return "0"
	}
	return s
}

// Same tells whether a and b, written in any of the ways Key reads, are the
// same serial.
func Same(a, b string) bool { return Key(a) == Key(b) }

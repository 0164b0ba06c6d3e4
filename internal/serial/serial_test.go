package serial

import (
	"math/big"
	"testing"
)

// Every serial is shown at the same width, leading zeros kept: a 124-bit
// serial (its first hex digit 0) was shown with 31 digits.
func TestFixedWidth(t *testing.T) {
	short, _ := new(big.Int).SetString("0a1b2c3d4e5f60718293a4b5c6d7e8f9", 16) // 124 bits
	full, _ := new(big.Int).SetString("fa1b2c3d4e5f60718293a4b5c6d7e8f9", 16)
	wide, _ := new(big.Int).SetString("1fa1b2c3d4e5f60718293a4b5c6d7e8f9", 16) // 129 bits: 33 digits
	for n, want := range map[*big.Int]string{
		short:           "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
		full:            "fa1b2c3d4e5f60718293a4b5c6d7e8f9",
		big.NewInt(1):   "00000000000000000000000000000001",
		big.NewInt(255): "000000000000000000000000000000ff",
		wide:            "01fa1b2c3d4e5f60718293a4b5c6d7e8f9",
	} {
		if got := Text(n); got != want {
			t.Errorf("Text(%x) = %s, want %s", n, got, want)
		}
	}
	if got := Pad("a1b2c"); len(got) != Width || got != "000000000000000000000000000a1b2c" {
		t.Errorf("Pad = %s", got)
	}
}

// Key reads what Text writes and what other tools print, back into the
// store's key.
func TestKey(t *testing.T) {
	for _, in := range []string{"0a1b2c", "0A1B2C", "0X0A1B2C", "0x0a1b2c", "0a:1b:2c", " a1b2c ", "000000000000000000000000000a1b2c"} {
		if got := Key(in); got != "a1b2c" {
			t.Errorf("Key(%q) = %q", in, got)
		}
	}
	if Key("0") != "0" || Key("00") != "0" {
		t.Errorf("zero: %q %q", Key("0"), Key("00"))
	}
	if !Same("0A:1B:2C", "000000000000000000000000000a1b2c") || Same("a1b2c", "a1b2d") {
		t.Error("Same")
	}
}

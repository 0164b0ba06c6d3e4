package businessid

import (
	"errors"
	"fmt"
	"testing"
)

func TestValidate(t *testing.T) {
	valid := []string{
		"1234567-1", // 153 % 11 = 10 → 1
		"0245437-2", // the Tax Administration's own business ID
		"0000000-0", // remainder 0 → check digit 0
		"1572860-0", // the Incomes Register unit's business ID
	}
	for _, id := range valid {
		if err := Validate(id); err != nil {
			t.Errorf("Validate(%q) = %v, want nil", id, err)
		}
	}
	invalid := []string{
		"", "1234567", "1234567-", "1234567-12", "123456-1", "12345678-1",
		"1234567 1", "1234567_1", "123456a-1", "1234567-a", "1234567-2",
		"1234567-0", " 234567-1", "1234567-1 ", "１234567-1", "0245437-3",
	}
	for _, id := range invalid {
		err := Validate(id)
		if err == nil || !errors.Is(err, ErrInvalid) {
			t.Errorf("Validate(%q) = %v, want ErrInvalid", id, err)
		}
	}
}

// Every wrong check digit is refused, the right one accepted, across a
// spread of numbers.
func TestValidateEveryCheckDigit(t *testing.T) {
	for n := 0; n < 10_000_000; n += 99_991 {
		digits := fmt.Sprintf("%07d", n)
		id, err := Complete(digits)
		if err != nil {
			continue // remainder 1: covered below
		}
		for d := 0; d <= 9; d++ {
			cand := fmt.Sprintf("%s-%d", digits, d)
			err := Validate(cand)
			if (cand == id) != (err == nil) {
				t.Fatalf("Validate(%q) = %v (complete form %q)", cand, err, id)
			}
		}
	}
}

// Numbers whose weighted sum leaves remainder 1 are no business ID with any
// check digit, and Complete refuses them.
func TestRemainderOne(t *testing.T) {
	found := 0
	for n := 0; n < 2000 && found < 5; n++ {
		digits := fmt.Sprintf("%07d", n)
		sum := 0
		for i := 0; i < 7; i++ {
			sum += int(digits[i]-'0') * weights[i]
		}
		if sum%11 != 1 {
			continue
		}
		found++
		if _, err := Complete(digits); !errors.Is(err, ErrInvalid) {
			t.Errorf("Complete(%q) = %v, want ErrInvalid", digits, err)
		}
		for d := 0; d <= 9; d++ {
			id := fmt.Sprintf("%s-%d", digits, d)
			if err := Validate(id); !errors.Is(err, ErrInvalid) {
				t.Errorf("Validate(%q) = %v, want ErrInvalid (remainder 1)", id, err)
			}
		}
	}
	if found == 0 {
		t.Fatal("no remainder-1 number found")
	}
}

func TestCheckDigit(t *testing.T) {
	for sum, want := range map[int]int{0: 0, 11: 0, 2: 9, 10: 1, 153: 1, 13: 9} {
		got, ok := CheckDigit(sum)
		if !ok || got != want {
			t.Errorf("CheckDigit(%d) = %d, %v; want %d", sum, got, ok, want)
		}
	}
	if _, ok := CheckDigit(12); ok {
		t.Error("CheckDigit(12): remainder 1 accepted")
	}
}

func TestComplete(t *testing.T) {
	if got, err := Complete("1234567"); err != nil || got != "1234567-1" {
		t.Errorf("Complete(1234567) = %q, %v", got, err)
	}
	for _, bad := range []string{"", "123456", "12345678", "12a4567"} {
		if _, err := Complete(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("Complete(%q) = %v, want ErrInvalid", bad, err)
		}
	}
}

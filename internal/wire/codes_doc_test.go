package wire_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/wire"
)

// docs/error-codes.md lists every code of the catalogue, each once, in the
// right table, and nothing else.
func TestErrorCodesDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/error-codes.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	faults, fails, ok := strings.Cut(doc, "## Result FAIL")
	if !ok {
		t.Fatal("docs/error-codes.md has no \"## Result FAIL\" section")
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Z_]+)` \\|")
	rows := func(s string) map[string]int {
		m := map[string]int{}
		for _, x := range row.FindAllStringSubmatch(s, -1) {
			m[x[1]]++
		}
		return m
	}
	check := func(section string, got map[string]int, want []wire.Code) {
		for _, c := range want {
			switch got[string(c)] {
			case 0:
				t.Errorf("%s: code %s of internal/wire/codes.go is not documented", section, c)
			case 1:
			default:
				t.Errorf("%s: code %s documented %d times", section, c, got[string(c)])
			}
			delete(got, string(c))
		}
		for c := range got {
			t.Errorf("%s: documented code %s is not in internal/wire/codes.go", section, c)
		}
	}
	check("SOAP Faults", rows(faults), wire.FaultCodes)
	check("Result FAIL", rows(fails), wire.FailCodes)
}

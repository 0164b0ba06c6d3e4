package lang_test

import (
	"testing"
	"time"

	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/service"
	"github.com/irpki/irpki/internal/wire"
)

func TestDatesInFinnishTime(t *testing.T) {
	// 22:30 UTC on 4 March is 00:30 on 5 March in Helsinki (UTC+2).
	at := time.Date(2026, 3, 4, 22, 30, 0, 0, time.UTC)
	for _, c := range []struct{ l, date, time, short, long string }{
		{"fi", "5.3.2026", "00.30", "5.3.2026 00.30", "5.3.2026 klo 00.30"},
		{"sv", "5 mars 2026", "00.30", "5 mars 2026 00.30", "5 mars 2026 kl. 00.30"},
		{"en", "5 March 2026", "00:30", "5 March 2026 00:30", "5 March 2026 at 00:30"},
	} {
		if got := lang.Date(c.l, at); got != c.date {
			t.Errorf("Date(%s) = %q, want %q", c.l, got, c.date)
		}
		if got := lang.Time(c.l, at); got != c.time {
			t.Errorf("Time(%s) = %q, want %q", c.l, got, c.time)
		}
		if got := lang.DateTime(c.l, at); got != c.short {
			t.Errorf("DateTime(%s) = %q, want %q", c.l, got, c.short)
		}
		if got := lang.DateAtTime(c.l, at); got != c.long {
			t.Errorf("DateAtTime(%s) = %q, want %q", c.l, got, c.long)
		}
	}
	// Summer time: UTC+3.
	if got := lang.Time("fi", time.Date(2026, 7, 1, 9, 5, 0, 0, time.UTC)); got != "12.05" {
		t.Errorf("summer time: %s", got)
	}
}

func TestLanguages(t *testing.T) {
	for _, l := range []string{"fi", "sv", "en"} {
		if !lang.Valid(l) || lang.Names[l] == "" {
			t.Errorf("%s: not a language, or nameless", l)
		}
	}
	for _, l := range []string{"", "de", "FI", "fi-FI"} {
		if lang.Valid(l) {
			t.Errorf("%q is taken for a language", l)
		}
	}
	if lang.All[0] != lang.Default {
		t.Errorf("the default %s is not first in %v", lang.Default, lang.All)
	}
}

// Every purpose of an order and every environment has a name in every
// language; an unknown code shows as itself.
func TestLabelsComplete(t *testing.T) {
	for _, l := range lang.All {
		for _, p := range service.Purposes {
			if got := lang.Purpose(l, p); got == p || got == "" {
				t.Errorf("purpose %s has no %s name", p, l)
			}
		}
		for _, env := range []string{wire.EnvTest, wire.EnvProduction} {
			if got := lang.Environment(l, env); got == "" {
				t.Errorf("environment %s has no %s name", env, l)
			}
		}
	}
	if lang.Purpose("en", "nonsense") != "nonsense" || lang.Environment("fi", "STAGING") != "STAGING" {
		t.Error("an unknown code is not shown as itself")
	}
	if lang.Purpose("sv", "datause_sftp") != "Användning av uppgifter – SFTP" || lang.Environment("fi", "PRODUCTION") != "TUOTANTO" {
		t.Error("names changed")
	}
}

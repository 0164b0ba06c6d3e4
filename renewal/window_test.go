package renewal

import (
	"math/big"
	"testing"
	"time"
)

func TestWindowEdges(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.AddDate(2, 0, 0)
	w := DefaultWindow
	opens := na.Add(-60 * 24 * time.Hour)
	if got := WindowOpens(na, w); !got.Equal(opens) {
		t.Fatalf("WindowOpens = %v, want %v", got, opens)
	}
	for _, tc := range []struct {
		name string
		now  time.Time
		want bool
	}{
		{"before notBefore", nb.Add(-time.Second), false},
		{"at notBefore", nb, false},
		{"a nanosecond before 60 days", opens.Add(-time.Nanosecond), false},
		{"exactly 60 days before expiry", opens, true},
		{"inside", opens.Add(24 * time.Hour), true},
		{"a nanosecond before expiry", na.Add(-time.Nanosecond), true},
		{"exactly at expiry", na, false},
		{"after expiry", na.Add(time.Hour), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := InWindow(nb, na, tc.now, w); got != tc.want {
				t.Errorf("InWindow(%v) = %v, want %v", tc.now, got, tc.want)
			}
		})
	}
}

func TestWindowShortLived(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// Two years: the service's 60 days.
	if got := EffectiveWindow(nb, nb.AddDate(2, 0, 0), DefaultWindow); got != DefaultWindow {
		t.Errorf("two-year window = %v", got)
	}
	// 30 days: the last third, 10 days.
	na := nb.Add(30 * 24 * time.Hour)
	w := EffectiveWindow(nb, na, DefaultWindow)
	if w != 10*24*time.Hour {
		t.Errorf("30-day window = %v", w)
	}
	if InWindow(nb, na, nb.Add(time.Hour), w) {
		t.Error("a fresh 30-day certificate must not be in its effective window")
	}
	if !InWindow(nb, na, na.Add(-9*24*time.Hour), w) {
		t.Error("9 days before expiry must be in the effective window")
	}
}

func TestRenewAtJitter(t *testing.T) {
	nb := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	na := nb.AddDate(2, 0, 0)
	opens := WindowOpens(na, DefaultWindow)
	seen := map[time.Time]bool{}
	for i := int64(1); i <= 50; i++ {
		at := RenewAt(nb, na, big.NewInt(i*7919), DefaultWindow)
		if at.Before(opens) || at.After(opens.Add(DefaultWindow/6)) {
			t.Fatalf("RenewAt = %v, want within the first sixth after %v", at, opens)
		}
		if !at.Equal(RenewAt(nb, na, big.NewInt(i*7919), DefaultWindow)) {
			t.Fatal("RenewAt is not stable for one serial")
		}
		seen[at] = true
	}
	if len(seen) < 45 {
		t.Errorf("only %d distinct renewal moments for 50 serials: no jitter", len(seen))
	}
}

package clock

import (
	"testing"
	"time"
)

func TestFixed(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewFixed(t0)
	if !c.Now().Equal(t0) {
		t.Fatal("NewFixed")
	}
	c.Advance(60 * 24 * time.Hour)
	if want := t0.Add(60 * 24 * time.Hour); !c.Now().Equal(want) {
		t.Errorf("Advance: %v, want %v", c.Now(), want)
	}
	c.Set(t0)
	if !c.Now().Equal(t0) {
		t.Error("Set")
	}
	if d := time.Since(System{}.Now()); d < 0 || d > time.Minute {
		t.Errorf("System clock is off by %v", d)
	}
}

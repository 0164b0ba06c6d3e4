package renewal_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/irpki/irpki/renewal"
)

func ExampleWindowOpens() {
	notAfter := time.Date(2028, 3, 2, 9, 0, 0, 0, time.UTC)
	fmt.Println(renewal.WindowOpens(notAfter, renewal.DefaultWindow).Format(time.RFC3339))
	// Output: 2028-01-02T09:00:00Z
}

func ExampleInWindow() {
	notBefore := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	notAfter := notBefore.AddDate(2, 0, 0)
	for _, now := range []time.Time{
		notAfter.Add(-61 * 24 * time.Hour), // too early
		notAfter.Add(-60 * 24 * time.Hour), // exactly 60 days before expiry: open
		notAfter.Add(-time.Minute),         // last minute
		notAfter,                           // exactly at expiry: expired
	} {
		fmt.Println(renewal.InWindow(notBefore, notAfter, now, renewal.DefaultWindow))
	}
	// Output:
	// false
	// true
	// true
	// false
}

func ExampleEffectiveWindow() {
	notBefore := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	fmt.Println(renewal.EffectiveWindow(notBefore, notBefore.AddDate(2, 0, 0), renewal.DefaultWindow))
	fmt.Println(renewal.EffectiveWindow(notBefore, notBefore.Add(30*time.Minute), renewal.DefaultWindow))
	// Output:
	// 1440h0m0s
	// 10m0s
}

// A renewer run from a timer: renew if the window is open, say when it
// opens otherwise, and tell apart the cases only a new order can fix.
func ExampleManager_Renew() {
	m, err := renewal.Open("/var/lib/irpki", renewal.Options{
		Progress: func(e renewal.Event) { log.Println(e.Message) },
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := m.Renew(context.Background(), renewal.RenewOptions{})
	switch {
	case errors.Is(err, renewal.ErrExpired), errors.Is(err, renewal.ErrRevoked):
		log.Fatal(err) // order a new certificate in the e-service, then enrol
	case err != nil:
		log.Fatal(err) // try again later: the next run resumes
	case res.Renewed:
		cert, key, _, _ := res.Installed.Files()
		fmt.Println("renewed:", cert, key)
	default:
		fmt.Println("nothing to do; the window opens", res.WindowOpens)
	}
}

func ExampleManager_Status() {
	m, err := renewal.Open("/var/lib/irpki", renewal.Options{})
	if err != nil {
		log.Fatal(err)
	}
	st, err := m.Status()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.State, st.Message())
}

// Package lang holds the languages the service speaks (Finnish, Swedish
// and English) and how each writes what the pages, the e-mails and the
// SMS messages share: dates and times (in Finnish time), the purposes of a
// certificate and the environments. The e-service and the mail (package
// notify) both use it, so that a date or a purpose reads the same on the
// page as in the mail.
package lang

import (
	"fmt"
	"slices"
	"time"
	_ "time/tzdata" // Europe/Helsinki without relying on the host's zoneinfo
)

// Default is the language when none is known: the service is Finnish.
const Default = "fi"

// All are the languages, in the order of the e-service's language switch.
var All = []string{"fi", "sv", "en"}

// Valid tells whether l is one of All.
func Valid(l string) bool { return slices.Contains(All, l) }

// Names are the languages' names in themselves, for the language switch.
var Names = map[string]string{"fi": "Suomeksi", "sv": "På svenska", "en": "In English"}

var helsinki = func() *time.Location {
	l, err := time.LoadLocation("Europe/Helsinki")
	if err != nil {
		panic(err) // embedded tzdata: cannot happen
	}
	return l
}()

// Finnish returns t in Finnish time, the time the Incomes Register speaks.
func Finnish(t time.Time) time.Time { return t.In(helsinki) }

var svMonths = [...]string{"januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september", "oktober", "november", "december"}

// Date writes a date the way l writes it, in Finnish time: 5.3.2026 (fi),
// 5 mars 2026 (sv), 5 March 2026 (en).
func Date(l string, t time.Time) string {
	t = Finnish(t)
	switch l {
	case "en":
		return t.Format("2 January 2006")
	case "sv":
		return fmt.Sprintf("%d %s %d", t.Day(), svMonths[t.Month()-1], t.Year())
	default:
		return t.Format("2.1.2006")
	}
}

// Time writes a clock time in Finnish time: 14.05 (fi, sv), 14:05 (en).
func Time(l string, t time.Time) string {
	t = Finnish(t)
	if l == "en" {
		return t.Format("15:04")
	}
	return t.Format("15.04")
}

// DateTime is the date and the time, short: "5.3.2026 14.05".
func DateTime(l string, t time.Time) string { return Date(l, t) + " " + Time(l, t) }

// DateAtTime is the date and the time as a sentence says it: "5.3.2026
// klo 14.05", "5 mars 2026 kl. 14.05", "5 March 2026 at 14:05".
func DateAtTime(l string, t time.Time) string {
	sep := " klo "
	switch l {
	case "sv":
		sep = " kl. "
	case "en":
		sep = " at "
	}
	return Date(l, t) + sep + Time(l, t)
}

// purposes name the purpose codes of an order (service.Purposes).
var purposes = map[string][3]string{
	"reports_ws":   {"Ilmoittaminen – Web Service -rajapinta", "Anmälan – Web Service-gränssnitt", "Reporting – Web Service interface"},
	"reports_sftp": {"Ilmoittaminen – SFTP", "Anmälan – SFTP", "Reporting – SFTP"},
	"datause_ws":   {"Tietojen käyttö – Web Service -rajapinta", "Användning av uppgifter – Web Service-gränssnitt", "Use of data – Web Service interface"},
	"datause_sftp": {"Tietojen käyttö – SFTP", "Användning av uppgifter – SFTP", "Use of data – SFTP"},
}

// Purpose is the name of purpose code p in l, or p itself if it is no
// purpose code.
func Purpose(l, p string) string { return label(purposes, l, p) }

// environments name the environments, as the e-service's header badge,
// its certificate page and the reminder mail show them.
var environments = map[string][3]string{
	"TEST":       {"TESTI", "TEST", "TEST"},
	"PRODUCTION": {"TUOTANTO", "PRODUKTION", "PRODUCTION"},
}

// Environment is the name of environment env (TEST or PRODUCTION) in l,
// or env itself if it is no environment.
func Environment(l, env string) string { return label(environments, l, env) }

// Funcs are the template functions of the mail and SMS texts, each taking
// the language first: date, time, purpose and env.
var Funcs = map[string]any{"date": Date, "time": Time, "purpose": Purpose, "env": Environment}

// label looks code up in one of the three-language tables.
func label(table map[string][3]string, l, code string) string {
	names, ok := table[code]
	if !ok {
		return code
	}
	switch l {
	case "fi":
		return names[0]
	case "sv":
		return names[1]
	}
	return names[2]
}

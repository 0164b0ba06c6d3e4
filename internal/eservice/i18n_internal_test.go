package eservice

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// Every text the templates and handlers use exists in all three languages,
// and the Finnish and Swedish texts are real translations, not copies of
// the English one.
func TestCatalogIsComplete(t *testing.T) {
	used := map[string]bool{}
	re := regexp.MustCompile(`\.T "([^"]+)"`)
	names, _ := fs.Glob(templateFS, "templates/*.html")
	for _, n := range names {
		b, _ := fs.ReadFile(templateFS, n)
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			used[m[1]] = true
		}
	}
	for _, k := range []string{"signin.failed", "signin.limited", "signin.missing", "error.csrf", "error.notFound", "error.internal",
		"error.operatorOnly", "form.badEmail", "form.fix", "form.invalid", "form.tooLong", "order.mailFailed", "revoke.noReason",
		"revoke.notValid", "delivery.wrongPIN", "delivery.limited", "admin.err.exists", "admin.err.mismatch", "mail.delivery.subject",
		"delivery.state.used", "delivery.state.locked", "delivery.state.expired", "delivery.state.missing"} {
		used[k] = true
	}
	for _, kinds := range [][]string{{"state", "valid", "renewal_window_open", "renewed", "expired", "revoked"}, append([]string{"purpose"}, Purposes...),
		{"reason", "key_compromise", "no_longer_needed", "organisation_merged"}, {"env", "TEST", "PRODUCTION"}, {"lang", "fi", "sv", "en"}, append([]string{"validity"}, TestValidities...),
		{"action", "order", "sign_new", "renew", "get", "revoke", "org_add", "user_add", "user_disable", "user_enable", "user_password", "contact_change", "reminder", "sign_in", "sign_out", "delivery_mail", "delivery_open"}} {
		for _, c := range kinds[1:] {
			used[kinds[0]+"."+c] = true
		}
	}
	for k := range used {
		if !hasKey(k) {
			t.Errorf("no text for %q", k)
		}
	}
	same := 0
	for _, e := range catalog {
		if e.fi == "" || e.sv == "" || e.en == "" {
			t.Errorf("%s: a translation is empty", e.key)
		}
		if strings.Count(e.fi, "%") != strings.Count(e.en, "%") || strings.Count(e.sv, "%") != strings.Count(e.en, "%") {
			t.Errorf("%s: the translations take different arguments", e.key)
		}
		if e.fi == e.en || e.sv == e.en {
			same++
		}
	}
	if same > 3 { // "TEST" and the like
		t.Errorf("%d texts are not translated", same)
	}
}

func TestNegotiate(t *testing.T) {
	// A header that names none of fi, sv and en gives Finnish, as does none.
	for hdr, want := range map[string]string{"": "fi", "fi": "fi", "sv-SE": "sv", "sv-FI": "sv", "en-US,en;q=0.9": "en", "de,sv;q=0.5,en;q=0.4": "sv",
		"fi;q=0.2,en;q=0.8": "en", "fr": "fi", "de": "fi", "*": "fi", "de-DE,fr;q=0.8,*;q=0.5": "fi", "ru, et;q=0.9": "fi", "da": "fi", "nb": "fi",
		"sv;q=0": "fi", "sv;q=0,en;q=0.1": "en", "garbage;;;": "fi", "FI-fi": "fi", "en-GB;q=0.9,sv;q=0.95": "sv"} {
		if got := negotiate(hdr); got != want {
			t.Errorf("negotiate(%q) = %s, want %s", hdr, got, want)
		}
	}
}

// Pages pass an argument to messages that may not use it (the sign-in
// error passes the retry time to every error); it must not show up as
// Go's %!(EXTRA …) in the page (found in review).
func TestMessagesWithoutVerbsIgnoreArguments(t *testing.T) {
	for _, e := range catalog {
		for _, lang := range []string{"fi", "sv", "en"} {
			if got := translate(lang, e.key, "x"); strings.Contains(got, "%!") && !strings.Contains(messages[lang][e.key], "%") {
				t.Errorf("%s/%s: %q", lang, e.key, got)
			}
		}
	}
	if got := translate("en", "signin.failed", ""); got != "The e-mail address or password is wrong." {
		t.Errorf("signin.failed with an argument: %q", got)
	}
}

// TestAuditDetailReadable: audit details are shown translated, as "label:
// value" with codes translated and serials at full width, never as raw
// key=value; free text stays as it is.
func TestAuditDetailReadable(t *testing.T) {
	for _, tc := range []struct{ lang, in, want string }{
		{"en", "reason=key_compromise", "Reason: The key was lost or leaked"},
		{"fi", "reason=no_longer_needed cascade_from=abc", "Syy: Varmennetta ei enää tarvita; Peruutettu avaimen vaarantumisen vuoksi edeltäjän myötä: 00000000000000000000000000000abc"},
		{"sv", "purpose=reports_ws validity=90d", "Användningsändamål: " + translate("sv", "purpose.reports_ws") + "; Giltighetstid: 90 dagar"},
		{"en", "from=a@x.fi to=b@x.fi language=sv", "From: a@x.fi; To: b@x.fi; Language: Swedish"},
		{"en", "predecessor=1f", "Predecessor: 0000000000000000000000000000001f"},
		{"en", "claimed customer 1234567-8, not verified", "claimed customer 1234567-8, not verified"},
		{"fi", "contact=c@x.fi attempt=2", "Yhteyshenkilö: c@x.fi; Yritys: 2"},
	} {
		got := page{Lang: tc.lang}.Detail(tc.in)
		if got != tc.want {
			t.Errorf("%s %q: %q, want %q", tc.lang, tc.in, got, tc.want)
		}
		if strings.Contains(tc.in, "=") && strings.Contains(got, "=") {
			t.Errorf("%s %q: raw key=value left in %q", tc.lang, tc.in, got)
		}
	}
}

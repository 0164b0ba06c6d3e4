package eservice

import (
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	xlanguage "golang.org/x/text/language"

	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/wire"
)

// language is the request's language: the remembered choice, else the
// best match of Accept-Language, else Finnish.
func language(r *http.Request) string {
	if c, err := r.Cookie(langCookie); err == nil && lang.Valid(c.Value) {
		return c.Value
	}
	return negotiate(r.Header.Get("Accept-Language"))
}

// matcher matches the browser's languages to ours, in the order of
// lang.All: Finnish comes first, so it is the answer when nothing matches.
var matcher = func() xlanguage.Matcher {
	var tags []xlanguage.Tag
	for _, l := range lang.All {
		tags = append(tags, xlanguage.MustParse(l))
	}
	return xlanguage.NewMatcher(tags)
}()

// negotiate picks fi, sv or en from an Accept-Language header with
// golang.org/x/text/language's matching (qualities, regions and scripts:
// sv-FI is Swedish, en-GB English). A header naming none of them ("de",
// "fr", "*"), an unreadable one and no header at all give Finnish: the
// service is Finnish.
func negotiate(header string) string {
	tags, _, err := xlanguage.ParseAcceptLanguage(header)
	if err != nil || len(tags) == 0 {
		return "fi"
	}
	_, i, conf := matcher.Match(tags...)
	if conf == xlanguage.No {
		return "fi"
	}
	return lang.All[i]
}

// setLanguage remembers the chosen language for a year and goes back.
func (h *Handler) setLanguage(w http.ResponseWriter, r *http.Request) {
	l := r.URL.Query().Get("set")
	if lang.Valid(l) {
		h.setCookie(w, r, langCookie, l, 365*24*time.Hour)
	}
	http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
}

var messages = func() map[string]map[string]string {
	m := map[string]map[string]string{"fi": {}, "sv": {}, "en": {}}
	for _, e := range append(catalog, signinCatalog...) {
		if _, dup := m["en"][e.key]; dup {
			panic("eservice: duplicate message " + e.key)
		}
		m["fi"][e.key], m["sv"][e.key], m["en"][e.key] = e.fi, e.sv, e.en
	}
	// The purposes' and environments' names are the reminder mail's (one
	// list of them).
	for l := range m {
		for _, p := range Purposes {
			m[l]["purpose."+p] = lang.Purpose(l, p)
		}
		for _, env := range []string{wire.EnvTest, wire.EnvProduction} {
			m[l]["env."+env] = lang.Environment(l, env)
		}
	}
	return m
}()

func hasKey(key string) bool { _, ok := messages["en"][key]; return ok }

// translate returns key's text in lang, formatted with args; an unknown key
// shows as itself, so that a missing text is visible and never a crash.
func translate(lang, key string, args ...any) string {
	s, ok := messages[lang][key]
	if !ok {
		return key
	}
	// A page may pass an argument that only some of the messages it can
	// show use (the sign-in error passes the retry time to every error).
	if len(args) > 0 && strings.Contains(s, "%") {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// Label translates a code of a kind (state, purpose, env, reason, lang,
// action, outcome, validity), showing an unknown code as itself.
func (p page) Label(kind string, code any) string {
	c := fmt.Sprint(code)
	if hasKey(kind + "." + c) {
		return translate(p.Lang, kind+"."+c)
	}
	return c
}

// Detail renders an audit entry's detail for people: its key=value parts
// as "label: value" with the label translated and the value too where it
// is a code (a reason, a purpose, a language, a reminder kind) or a serial
// (at full width); "; " between parts. Words that are no key=value (a
// user's e-mail, "claimed customer …, not verified") stay as they are.
func (p page) Detail(detail string) string {
	var parts []string
	for _, f := range strings.Fields(detail) {
		trail := ""
		if strings.HasSuffix(f, ";") {
			f, trail = strings.TrimSuffix(f, ";"), ";"
		}
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" || !hasKey("detail."+k) {
			if len(parts) > 0 && !strings.HasSuffix(parts[len(parts)-1], ";") {
				parts[len(parts)-1] += " " + f + trail
			} else {
				parts = append(parts, f+trail)
			}
			continue
		}
		switch k {
		case "reason", "purpose", "validity", "language", "kind":
			kind := map[string]string{"language": "lang", "kind": "remind"}[k]
			if kind == "" {
				kind = k
			}
			v = p.Label(kind, v)
		case "state":
			v = p.Label("orderState", v)
		case "cascade_from", "predecessor":
			v = serial.Pad(v)
		}
		parts = append(parts, translate(p.Lang, "detail."+k)+": "+v+trail)
	}
	out := strings.Join(parts, "; ")
	return strings.ReplaceAll(out, ";;", ";")
}

var funcs = template.FuncMap{
	"date": func(l string, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return lang.Date(l, t)
	},
	"datetime": func(l string, t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return lang.DateAtTime(l, t)
	},
	// serial shows a store key at full width (none for "").
	"serial": func(key string) string {
		if key == "" {
			return ""
		}
		return serial.Pad(key)
	},
	"pin": func(p string) string {
		if len(p) == 8 {
			return p[:4] + " " + p[4:]
		}
		return p
	},
}

type msg struct{ key, fi, sv, en string }

var catalog = []msg{
	{"app.name", "Tulorekisterin varmennepalvelu", "Inkomstregistrets certifikattjänst", "Incomes Register certificate service"},
	{"footer.text", "Tulorekisterin teknisen rajapinnan varmenteet. Varmenne on voimassa kaksi vuotta, ja se uusitaan organisaation omasta ohjelmistosta.", "Certifikat för inkomstregistrets tekniska gränssnitt. Ett certifikat är giltigt i två år och förnyas från organisationens egen programvara.", "Certificates for the Incomes Register's technical interface. A certificate is valid for two years and is renewed from the organisation's own software."},

	{"nav.orders", "Tilaukset", "Beställningar", "Orders"},
	{"orders.title", "Tilaukset", "Beställningar", "Orders"},
	{"orders.intro", "Organisaation varmennetilaukset ja niiden siirtotunnusten tila. Voit lähettää siirtotunnukset teknisen yhteyshenkilön käyttöön uudelleen tai perua käyttämättömän tilauksen.", "Organisationens certifikatbeställningar och läget för deras överföringskoder. Du kan skicka överföringskoderna till den tekniska kontaktpersonen på nytt eller annullera en oanvänd beställning.", "The organisation's certificate orders and the state of their transfer credentials. You can send the credentials to the technical contact again, or cancel an order that has not been used."},
	{"orders.caption", "Varmennetilaukset, uusin ensin", "Certifikatbeställningar, nyaste först", "Certificate orders, newest first"},
	{"orders.ordered", "Tilattu", "Beställd", "Ordered"},
	{"orders.expires", "Tunnukset voimassa", "Koderna gäller till", "Credentials valid until"},
	{"orders.actions", "Toiminnot", "Åtgärder", "Actions"},
	{"orders.none", "Organisaatiolla ei ole vielä tilauksia.", "Organisationen har inga beställningar ännu.", "The organisation has no orders yet."},
	{"orders.resend", "Lähetä uudelleen", "Skicka på nytt", "Resend"},
	{"orders.resendLabel", "Lähetä siirtotunnukset uudelleen (tilattu %s)", "Skicka överföringskoderna på nytt (beställd %s)", "Resend the credentials (ordered %s)"},
	{"orders.cancel", "Peru tilaus", "Annullera", "Cancel order"},
	{"orders.cancelLabel", "Peru tilaus (tilattu %s)", "Annullera beställningen (beställd %s)", "Cancel the order (ordered %s)"},
	{"orders.resendHint", "Siirtotunnuksista säilytetään vain tiiviste, joten uudelleenlähetys luo uudet tunnukset samoin tiedoin ja samaa kahta kanavaa pitkin; aiemmat tunnukset ja linkit lakkaavat toimimasta.", "Av överföringskoderna sparas bara ett hashvärde, så en ny sändning skapar nya koder med samma uppgifter och via samma två kanaler; de tidigare koderna och länkarna slutar fungera.", "Only a hash of the credentials is kept, so resending creates new credentials with the same details, over the same two channels; the earlier credentials and links stop working."},
	{"orders.resentTitle", "Siirtotunnukset lähetetty uudelleen", "Överföringskoderna har skickats på nytt", "Credentials sent again"},
	{"orders.err.notCancellable", "Tilausta ei voi enää perua: sen tunnukset on jo käytetty, ne ovat vanhentuneet tai tilaus on jo peruttu.", "Beställningen kan inte längre annulleras: koderna har redan använts, de har gått ut eller beställningen är redan annullerad.", "The order can no longer be cancelled: its credentials were used or have expired, or it was already cancelled."},
	{"orders.err.notResendable", "Tunnuksia ei voi lähettää uudelleen: ne on jo käytetty tai tilaus on peruttu.", "Koderna kan inte skickas på nytt: de har redan använts eller beställningen är annullerad.", "The credentials cannot be sent again: they were used, or the order was cancelled."},
	{"orders.err.noPhone", "Tilauksella ei ole yhteyshenkilön puhelinnumeroa, johon PIN-koodi lähetettäisiin tekstiviestinä. Tilaa uusi varmenne.", "Beställningen har inget telefonnummer till kontaktpersonen dit PIN-koden kan skickas per sms. Beställ ett nytt certifikat.", "The order has no phone number of the contact to send the PIN to by SMS. Order a new certificate."},
	{"orderState.ordered", "Tilattu", "Beställd", "Ordered"},
	{"orderState.opened", "Tunnukset avattu", "Koderna öppnade", "Credentials opened"},
	{"orderState.retrieved", "Varmenne noudettu", "Certifikatet hämtat", "Retrieved"},
	{"orderState.expired", "Vanhentunut", "Har gått ut", "Expired"},
	{"orderState.cancelled", "Peruttu", "Annullerad", "Cancelled"},
	{"orderState.locked", "Lukittu", "Låst", "Locked"},
	{"action.order_cancel", "Tilauksen peruutus", "Annullering av beställning", "Order cancelled"},
	{"action.order_resend", "Siirtotunnusten uudelleenlähetys", "Överföringskoder skickade på nytt", "Credentials sent again"},
	{"detail.order", "Tilaus", "Beställning", "Order"},
	{"detail.state", "Tila", "Läge", "State"},
	{"detail.new", "Uusi tilaus", "Ny beställning", "New order"},
	{"delivery.state.withdrawn", "Tämä linkki ei enää toimi: tilaus on peruttu tai siirtotunnukset on lähetetty uudelleen. Käytä uusinta linkkiä.", "Den här länken fungerar inte längre: beställningen har annullerats eller överföringskoderna har skickats på nytt. Använd den senaste länken.", "This link no longer works: the order was cancelled or its credentials were sent again. Use the latest link."},
	{"retrieve.title", "Nouda varmenne", "Hämta certifikat", "Retrieve the certificate"},
	{"retrieve.intro", "Liitä ohjelmistosi tekemä varmennepyyntö (CSR) ja anna siirtotunnukset, niin saat varmenteen ladattavaksi. Tämä vastaa rajapinnan SignNewCertificate-kutsua.", "Klistra in certifikatbegäran (CSR) som din programvara har skapat och ange överföringskoderna, så får du ladda ner certifikatet. Det motsvarar gränssnittets SignNewCertificate.", "Paste the certificate signing request (CSR) your software made and enter the transfer credentials to download the certificate. This is the same as the interface's SignNewCertificate."},
	{"retrieve.csr", "Varmennepyyntö (CSR)", "Certifikatbegäran (CSR)", "Certificate signing request (CSR)"},
	{"retrieve.csrHint", "PEM-muodossa (-----BEGIN CERTIFICATE REQUEST-----) tai base64-koodattuna DER-muotona. Avain: RSA 2048 bittiä.", "I PEM-form (-----BEGIN CERTIFICATE REQUEST-----) eller som base64-kodad DER. Nyckel: RSA 2048 bitar.", "As PEM (-----BEGIN CERTIFICATE REQUEST-----) or base64-encoded DER. Key: RSA 2048 bits."},
	{"retrieve.format", "Tiedostomuoto", "Filformat", "File format"},
	{"retrieve.submit", "Nouda varmenne", "Hämta certifikatet", "Retrieve certificate"},
	{"retrieve.once", "Siirtotunnukset toimivat kerran. Saman avaimen pyynnöllä saat saman varmenteen uudelleen, jos lataus katkesi.", "Överföringskoderna fungerar en gång. Med en begäran för samma nyckel får du samma certifikat igen om nedladdningen avbröts.", "The transfer credentials work once. A request for the same key gets the same certificate again if the download was interrupted."},
	{"retrieve.err.customer", "Anna Y-tunnus muodossa 1234567-8.", "Ange FO-numret i formen 1234567-8.", "Enter the business ID in the form 1234567-8."},
	{"retrieve.err.credentials", "Anna TransferId ja TransferPassword sellaisina kuin ne toimitettiin.", "Ange TransferId och TransferPassword så som de levererades.", "Enter the TransferId and TransferPassword as they were delivered."},
	{"retrieve.err.csr", "Varmennepyyntöä ei voitu lukea. Liitä se PEM-muodossa.", "Certifikatbegäran kunde inte läsas. Klistra in den i PEM-form.", "The CSR could not be read. Paste it as PEM."},
	{"retrieve.refused", "Varmennetta ei myönnetty.", "Certifikatet utfärdades inte.", "The certificate was not issued."},
	{"retrieve.notReady", "Varmenne ei ole vielä valmis. Lähetä sama pyyntö hetken kuluttua uudelleen.", "Certifikatet är inte klart ännu. Skicka samma begäran igen om en stund.", "The certificate is not ready yet. Send the same request again in a while."},
	{"delivery.retrieve", "Voit noutaa varmenteen myös täällä e-palvelussa: ", "Du kan också hämta certifikatet här i e-tjänsten: ", "You can also retrieve the certificate here in the e-service: "},
	{"nav.skip", "Siirry sisältöön", "Hoppa till innehållet", "Skip to content"},
	{"nav.language", "Kieli", "Språk", "Language"},
	{"nav.main", "Päävalikko", "Huvudmeny", "Main menu"},
	{"nav.certificates", "Varmenteet", "Certifikat", "Certificates"},
	{"nav.order", "Tilaa varmenne", "Beställ certifikat", "Order a certificate"},
	{"nav.audit", "Tapahtumaloki", "Händelselogg", "Audit trail"},
	{"nav.orgs", "Organisaatiot", "Organisationer", "Organisations"},
	{"nav.allCerts", "Kaikki varmenteet", "Alla certifikat", "All certificates"},
	{"nav.signout", "Kirjaudu ulos", "Logga ut", "Sign out"},
	{"role.operator", "ylläpitäjä", "administratör", "operator"},

	{"signin.title", "Kirjaudu sisään", "Logga in", "Sign in"},
	{"signin.intro", "Kirjaudu organisaatiosi edustajana hallinnoidaksesi tulorekisterin varmenteita.", "Logga in som företrädare för din organisation för att hantera inkomstregistrets certifikat.", "Sign in as your organisation's representative to manage its Incomes Register certificates."},
	{"signin.email", "Sähköpostiosoite", "E-postadress", "E-mail address"},
	{"signin.password", "Salasana", "Lösenord", "Password"},
	{"signin.submit", "Kirjaudu", "Logga in", "Sign in"},
	{"signin.help", "Tunnukset saat varmennepalvelun ylläpitäjältä.", "Du får inloggningsuppgifterna av certifikattjänstens administratör.", "Your account is created by the certificate service's operator."},
	{"signin.failed", "Sähköpostiosoite tai salasana on väärä.", "E-postadressen eller lösenordet är fel.", "The e-mail address or password is wrong."},
	{"signin.missing", "Anna sähköpostiosoite ja salasana.", "Ange e-postadress och lösenord.", "Enter your e-mail address and password."},
	{"signin.busy", "Palvelu tarkistaa juuri nyt liian monta kirjautumista. Yritä hetken kuluttua uudelleen.", "Tjänsten kontrollerar just nu för många inloggningar. Försök igen om en stund.", "The service is checking too many sign-ins right now. Try again in a moment."},
	{"signin.limited", "Liian monta epäonnistunutta kirjautumisyritystä. Yritä uudelleen %s jälkeen.", "För många misslyckade inloggningsförsök. Försök igen efter %s.", "Too many failed sign-in attempts. Try again after %s."},

	{"certs.title", "Varmenteet", "Certifikat", "Certificates"},
	{"certs.intro", "Organisaation %s varmenteet tulorekisterin tekniseen rajapintaan.", "Certifikat för inkomstregistrets tekniska gränssnitt som tillhör %s.", "Certificates of %s for the Incomes Register's technical interface."},
	{"certs.caption", "Organisaation varmenteet, voimassaoloajan mukaan uusin ensin", "Organisationens certifikat, det som gäller längst först", "The organisation's certificates, latest expiry first"},
	{"certs.orderNew", "Tilaa uusi varmenne", "Beställ ett nytt certifikat", "Order a new certificate"},
	{"certs.none", "Organisaatiolla ei ole vielä varmenteita. Tilaa ensimmäinen varmenne.", "Organisationen har ännu inga certifikat. Beställ det första certifikatet.", "The organisation has no certificates yet. Order the first one."},

	{"cert.title", "Varmenne", "Certifikat", "Certificate"},
	{"cert.back", "Kaikki varmenteet", "Alla certifikat", "All certificates"},
	{"cert.open", "Avaa varmenne %s", "Öppna certifikat %s", "Open certificate %s"},
	{"cert.urgentSoon", "Varmenne vanhenee %d päivän kuluessa. Uusi se nyt ohjelmistostasi (RenewCertificate); vanhentunutta varmennetta ei voi uusia.", "Certifikatet går ut inom %d dagar. Förnya det nu från er programvara (RenewCertificate); ett utgånget certifikat kan inte förnyas.", "The certificate expires within %d days. Renew it now from your software (RenewCertificate); an expired certificate cannot be renewed."},
	{"cert.urgentExpired", "Varmenne on vanhentunut eikä sitä voi enää uusia. Tilaa uusi varmenne.", "Certifikatet har gått ut och kan inte längre förnyas. Beställ ett nytt certifikat.", "The certificate has expired and can no longer be renewed. Order a new certificate."},
	{"cert.details", "Tiedot", "Uppgifter", "Details"},
	{"cert.serial", "Sarjanumero", "Serienummer", "Serial number"},
	{"cert.purpose", "Käyttötarkoitus ja kanava", "Användningsändamål och kanal", "Purpose and channel"},
	{"cert.description", "Kuvaus", "Beskrivning", "Description"},
	{"cert.contact", "Tekninen yhteyshenkilö", "Teknisk kontaktperson", "Technical contact"},
	{"cert.notBefore", "Voimassa alkaen", "Giltigt från", "Valid from"},
	{"cert.notAfter", "Voimassa asti", "Giltigt till", "Valid until"},
	{"cert.daysLeft", "Päiviä jäljellä", "Dagar kvar", "Days left"},
	{"cert.daysLeftN", "%d päivää jäljellä", "%d dagar kvar", "%d days left"},
	{"cert.state", "Tila", "Status", "State"},
	{"cert.windowOpens", "Uusittavissa alkaen", "Kan förnyas från", "Renewal possible from"},
	{"cert.environment", "Ympäristö", "Miljö", "Environment"},

	{"state.valid", "Voimassa", "Giltigt", "Valid"},
	{"state.renewal_window_open", "Uusittavissa", "Kan förnyas", "Renewal window open"},
	{"state.renewed", "Uusittu", "Förnyat", "Renewed"},
	{"state.expired", "Vanhentunut", "Har gått ut", "Expired"},
	{"state.revoked", "Peruutettu", "Återkallat", "Revoked"},

	{"reason.key_compromise", "Avain on kadonnut tai joutunut vääriin käsiin", "Nyckeln har förkommit eller röjts", "The key was lost or leaked"},
	{"reason.no_longer_needed", "Varmennetta ei enää tarvita", "Certifikatet behövs inte längre", "The certificate is no longer needed"},
	{"reason.organisation_merged", "Organisaatio on sulautunut", "Organisationen har fusionerats", "The organisation has merged"},

	{"lang.fi", "suomi", "finska", "Finnish"},
	{"lang.sv", "ruotsi", "svenska", "Swedish"},
	{"lang.en", "englanti", "engelska", "English"},

	{"validity.", "Normaali (2 vuotta)", "Normal (2 år)", "Standard (2 years)"},
	{"validity.90d", "90 päivää", "90 dagar", "90 days"},
	{"validity.30d", "30 päivää", "30 dagar", "30 days"},
	{"validity.7d", "7 päivää", "7 dagar", "7 days"},
	{"validity.1d", "1 päivä", "1 dag", "1 day"},
	{"validity.1h", "1 tunti", "1 timme", "1 hour"},

	{"renewal.title", "Näin varmenne uusitaan", "Så förnyas certifikatet", "How renewal works"},
	{"renewal.p1", "Varmenne on voimassa %d vuotta. Sen voi uusia aikaisintaan %d päivää ennen voimassaolon päättymistä; tekninen yhteyshenkilö saa silloin muistutuksen sähköpostiin.", "Ett certifikat är giltigt i %d år. Det kan förnyas tidigast %d dagar innan det går ut; den tekniska kontaktpersonen får då en påminnelse per e-post.", "A certificate is valid for %d years. It can be renewed at the earliest %d days before it expires; the technical contact then gets a reminder by e-mail."},
	{"renewal.p2", "Varmenne uusitaan organisaation omasta ohjelmistosta RenewCertificate-palvelukutsulla, joka allekirjoitetaan nykyisen varmenteen avaimella. Tässä palvelussa varmennetta ei voi uusia.", "Certifikatet förnyas från organisationens egen programvara med tjänsteanropet RenewCertificate, som undertecknas med nyckeln till det nuvarande certifikatet. Certifikat kan inte förnyas i den här tjänsten.", "A certificate is renewed from the organisation's own software with the RenewCertificate service call, signed with the key of the current certificate. Certificates cannot be renewed in this service."},
	{"renewal.p3", "Jos varmenne on jo vanhentunut tai ohjelmisto ei osaa uusia sitä, tilaa uusi varmenne täällä. Uusi varmenne noudetaan samalla tavalla kuin ensimmäinen, kertakäyttöisillä siirtotunnuksilla.", "Om certifikatet redan har gått ut eller programvaran inte kan förnya det, beställ ett nytt certifikat här. Det nya certifikatet hämtas på samma sätt som det första, med engångsöverföringskoder.", "If the certificate has expired, or your software cannot renew it, order a new certificate here. The new certificate is retrieved the same way as the first one, with one-time transfer credentials."},

	{"contact.title", "Tekninen yhteyshenkilö", "Teknisk kontaktperson", "Technical contact"},
	{"contact.intro", "Vanhenemismuistutus lähetetään tähän osoitteeseen. Pidä tieto ajan tasalla: seuraava muistutus menee uuteen osoitteeseen.", "Påminnelsen om att certifikatet går ut skickas till den här adressen. Håll uppgiften aktuell: nästa påminnelse går till den nya adressen.", "The expiry reminder is sent to this address. Keep it current: the next reminder goes to the new address."},
	{"contact.email", "Yhteyshenkilön sähköpostiosoite", "Kontaktpersonens e-postadress", "Contact's e-mail address"},
	{"contact.name", "Yhteyshenkilön nimi", "Kontaktpersonens namn", "Contact's name"},
	{"contact.phone", "Yhteyshenkilön puhelinnumero", "Kontaktpersonens telefonnummer", "Contact's phone number"},
	{"contact.language", "Viestien kieli", "Meddelandenas språk", "Language of messages"},
	{"contact.submit", "Tallenna yhteyshenkilö", "Spara kontaktperson", "Save contact"},

	{"revoke.heading", "Peruuta varmenne", "Återkalla certifikatet", "Revoke the certificate"},
	{"revoke.intro", "Peruutettua varmennetta ei voi enää käyttää eikä uusia. Peruuta varmenne, jos sen avain on kadonnut tai joutunut vääriin käsiin tai jos varmennetta ei enää tarvita.", "Ett återkallat certifikat kan inte längre användas eller förnyas. Återkalla certifikatet om dess nyckel har förkommit eller röjts eller om certifikatet inte längre behövs.", "A revoked certificate can no longer be used or renewed. Revoke a certificate if its key was lost or leaked, or if it is no longer needed."},
	{"revoke.reason", "Peruutuksen syy", "Orsak till återkallelsen", "Reason for revocation"},
	{"revoke.continue", "Jatka peruutukseen", "Fortsätt till återkallelsen", "Continue to revocation"},
	{"revoke.title", "Vahvista peruutus", "Bekräfta återkallelsen", "Confirm revocation"},
	{"revoke.warning", "Olet peruuttamassa alla olevan varmenteen. Peruutusta ei voi perua: ohjelmisto, joka käyttää varmennetta, lakkaa toimimasta rajapinnassa.", "Du håller på att återkalla certifikatet nedan. Återkallelsen kan inte ångras: programvara som använder certifikatet slutar fungera i gränssnittet.", "You are about to revoke the certificate below. This cannot be undone: software that uses the certificate stops working with the interface."},
	{"revoke.cascade", "Avain on vaarantunut, joten myös nämä varmenteet peruutetaan: ne on uusittu pyynnöllä, jonka tämän varmenteen avain (tai sen seuraajan avain) on allekirjoittanut, ja avaimen haltija on voinut tehdä ne.", "Nyckeln har röjts, så även dessa certifikat återkallas: de förnyades med en begäran som undertecknats med detta certifikats nyckel (eller dess efterföljares), och den som innehar nyckeln kan ha gjort dem.", "The key is compromised, so these certificates are revoked too: they were renewed with a request signed by this certificate's key (or a successor's), and whoever holds the key may have made them."},
	{"revoke.confirm", "Peruuta varmenne", "Återkalla certifikatet", "Revoke certificate"},
	{"revoke.cancel", "Älä peruuta", "Avbryt", "Cancel"},
	{"revoke.noReason", "Valitse peruutuksen syy.", "Välj orsak till återkallelsen.", "Choose a reason for the revocation."},
	{"revoke.notValid", "Varmennetta ei voi peruuttaa, koska se ei ole voimassa.", "Certifikatet kan inte återkallas eftersom det inte är giltigt.", "The certificate cannot be revoked because it is not valid."},

	{"order.title", "Tilaa varmenne", "Beställ certifikat", "Order a certificate"},
	{"order.intro", "Tilaa varmenne tulorekisterin tekniseen rajapintaan. Siirtotunnukset toimitetaan teknisen yhteyshenkilön käyttöön kahta kanavaa pitkin.", "Beställ ett certifikat för inkomstregistrets tekniska gränssnitt. Överföringskoderna levereras till den tekniska kontaktpersonen via två kanaler.", "Order a certificate for the Incomes Register's technical interface. The transfer credentials reach the technical contact over two channels."},
	{"order.certificate", "Varmenne", "Certifikat", "Certificate"},
	{"order.choose", "Valitse…", "Välj…", "Choose…"},
	{"order.descriptionHint", "Esimerkiksi järjestelmän nimi, jossa varmennetta käytetään.", "Till exempel namnet på systemet där certifikatet används.", "For example the name of the system that uses the certificate."},
	{"order.validity", "Voimassaoloaika (vain testiympäristö)", "Giltighetstid (endast testmiljön)", "Validity (TEST environment only)"},
	{"order.validityHint", "Lyhyellä voimassaololla voit kokeilla uusimista odottamatta kahta vuotta.", "Med kort giltighetstid kan du prova förnyelsen utan att vänta i två år.", "A short validity lets you try renewal without waiting two years."},
	{"order.contact", "Tekninen yhteyshenkilö", "Teknisk kontaktperson", "Technical contact"},
	{"order.contactHint", "Henkilö, joka asentaa varmenteen ohjelmistoon. Hän saa siirtotunnukset ja vanhenemismuistutukset.", "Personen som installerar certifikatet i programvaran. Hen får överföringskoderna och påminnelserna om att certifikatet går ut.", "The person who installs the certificate in the software. They receive the transfer credentials and the expiry reminders."},
	{"order.phoneHint", "Kerrot PIN-koodin yhteyshenkilölle puhelimitse.", "Du ger kontaktpersonen PIN-koden per telefon.", "You will tell the contact the PIN by phone."},
	{"order.deliveryTitle", "Kaksi kanavaa", "Två kanaler", "Two channels"},
	{"order.deliveryText", "Yhteyshenkilö saa sähköpostiin kertakäyttöisen linkin. Sinä näet tilauksen jälkeen PIN-koodin, jonka kerrot hänelle puhelimitse. Siirtotunnukset näkyvät vain, kun linkki avataan ja PIN-koodi syötetään: kumpikaan yksin ei riitä.", "Kontaktpersonen får en engångslänk per e-post. Efter beställningen ser du en PIN-kod som du ger hen per telefon. Överföringskoderna visas bara när länken öppnas och PIN-koden anges: det ena räcker inte utan det andra.", "The contact gets a one-time link by e-mail. After ordering you see a PIN, which you tell them by phone. The transfer credentials are shown only when the link is opened and the PIN entered: neither alone is enough."},
	{"order.submit", "Tilaa varmenne", "Beställ certifikatet", "Order certificate"},
	{"order.err.purpose", "Valitse käyttötarkoitus ja kanava.", "Välj användningsändamål och kanal.", "Choose the purpose and channel."},
	{"order.err.name", "Anna yhteyshenkilön nimi.", "Ange kontaktpersonens namn.", "Enter the contact's name."},
	{"order.err.phone", "Anna puhelinnumero numeroina, esimerkiksi +358 40 123 4567.", "Ange telefonnumret med siffror, till exempel +358 40 123 4567.", "Enter the phone number in digits, for example +358 40 123 4567."},
	{"order.err.language", "Valitse viestien kieli.", "Välj meddelandenas språk.", "Choose the language of messages."},
	{"order.err.validity", "Valitse voimassaoloaika listasta.", "Välj giltighetstid i listan.", "Choose a validity from the list."},
	{"order.mailFailed", "Sähköpostia yhteyshenkilölle ei voitu lähettää, joten tilausta ei voi toimittaa. Yritä hetken kuluttua uudelleen.", "E-postmeddelandet till kontaktpersonen kunde inte skickas, så beställningen kan inte levereras. Försök igen om en stund.", "The e-mail to the contact could not be sent, so the order cannot be delivered. Try again in a while."},

	{"order.resubmitted", "Tämä tilaus on jo lähetetty, eikä sitä tilattu uudelleen. PIN-koodi näytettiin vain kerran: jos se ei ole tallessa, tilaa uusi varmenne.", "Den här beställningen har redan skickats och beställdes inte på nytt. PIN-koden visades bara en gång: om du inte har den kvar, beställ ett nytt certifikat.", "This order has already been sent and was not ordered again. The PIN was shown only once: if you no longer have it, order a new certificate."},
	{"orderDone.title", "Varmenne tilattu", "Certifikatet har beställts", "Certificate ordered"},
	{"orderDone.sent", "Kertakäyttöinen linkki on lähetetty osoitteeseen %s.", "En engångslänk har skickats till %s.", "A one-time link has been sent to %s."},
	{"orderDone.pinTitle", "PIN-koodi yhteyshenkilölle", "PIN-kod till kontaktpersonen", "PIN for the contact"},
	{"orderDone.pinText", "Soita yhteyshenkilölle %s (%s) ja kerro tämä PIN-koodi. Hän tarvitsee sen avatakseen siirtotunnukset sähköpostin linkistä.", "Ring kontaktpersonen %s (%s) och ge hen den här PIN-koden. Hen behöver den för att öppna överföringskoderna via länken i e-postmeddelandet.", "Call the contact %s (%s) and tell them this PIN. They need it to open the transfer credentials from the link in the e-mail."},
	{"orderDone.pinLabel", "PIN-koodi", "PIN-kod", "PIN"},
	{"orderDone.once", "PIN-koodi näytetään vain nyt. Älä lähetä sitä sähköpostilla.", "PIN-koden visas bara nu. Skicka den inte per e-post.", "The PIN is shown only now. Do not send it by e-mail."},
	{"orderDone.expires", "Linkki ja siirtotunnukset ovat voimassa %s asti.", "Länken och överföringskoderna gäller till %s.", "The link and the transfer credentials are valid until %s."},
	{"orderDone.attempts", "Jos PIN-koodi syötetään väärin liian monta kertaa, linkki lukittuu ja varmenne on tilattava uudelleen.", "Om PIN-koden anges fel för många gånger låses länken och certifikatet måste beställas på nytt.", "If the PIN is entered wrongly too many times, the link locks and the certificate must be ordered again."},
	{"orderDone.back", "Takaisin varmenteisiin", "Tillbaka till certifikaten", "Back to certificates"},

	{"delivery.title", "Varmenteen siirtotunnukset", "Överföringskoder för certifikatet", "Certificate transfer credentials"},
	{"delivery.intro", "Syötä PIN-koodi, jonka varmenteen tilaaja kertoi sinulle puhelimessa. Siirtotunnukset näytetään sen jälkeen kerran.", "Ange PIN-koden som den som beställde certifikatet gav dig per telefon. Överföringskoderna visas därefter en gång.", "Enter the PIN that the person who ordered the certificate told you by phone. The transfer credentials are then shown once."},
	{"delivery.pin", "PIN-koodi", "PIN-kod", "PIN"},
	{"delivery.pinHint", "8 numeroa. Koodin voi syöttää väärin enintään %d kertaa.", "8 siffror. Koden kan anges fel högst %d gånger.", "8 digits. It can be entered wrongly at most %d times."},
	{"delivery.submit", "Näytä siirtotunnukset", "Visa överföringskoderna", "Show the credentials"},
	{"delivery.validUntil", "Linkki on voimassa %s asti.", "Länken gäller till %s.", "The link is valid until %s."},
	{"delivery.wrongPIN", "PIN-koodi on väärä. Yrityksiä jäljellä: %d.", "PIN-koden är fel. Återstående försök: %d.", "The PIN is wrong. Attempts left: %d."},
	{"delivery.limited", "Liian monta väärää PIN-koodia tästä osoitteesta. Yritä myöhemmin uudelleen.", "För många felaktiga PIN-koder från den här adressen. Försök igen senare.", "Too many wrong PINs from this address. Try again later."},
	{"delivery.state.used", "Tämä linkki on jo käytetty. Siirtotunnukset näytetään vain kerran.", "Den här länken har redan använts. Överföringskoderna visas bara en gång.", "This link has already been used. The credentials are shown only once."},
	{"delivery.state.locked", "Linkki on lukittu, koska PIN-koodi syötettiin väärin liian monta kertaa.", "Länken är låst eftersom PIN-koden angavs fel för många gånger.", "The link is locked because the PIN was entered wrongly too many times."},
	{"delivery.state.expired", "Linkki on vanhentunut.", "Länken har gått ut.", "The link has expired."},
	{"delivery.state.missing", "Linkkiä ei löydy. Tarkista, että kopioit koko osoitteen sähköpostista.", "Länken hittades inte. Kontrollera att du kopierade hela adressen från e-postmeddelandet.", "The link was not found. Check that you copied the whole address from the e-mail."},
	{"delivery.orderNew", "Pyydä organisaatiosi edustajaa tilaamaan uusi varmenne.", "Be din organisations företrädare att beställa ett nytt certifikat.", "Ask your organisation's representative to order a new certificate."},
	{"delivery.openTitle", "Siirtotunnuksesi", "Dina överföringskoder", "Your transfer credentials"},
	{"delivery.onlyNow", "Tunnukset näytetään vain nyt. Kopioi ne ohjelmistoosi ennen kuin suljet sivun.", "Koderna visas bara nu. Kopiera dem till programvaran innan du stänger sidan.", "The credentials are shown only now. Copy them into your software before you close this page."},
	{"delivery.customerId", "Asiakastunnus (Y-tunnus)", "Kundnummer (FO-nummer)", "Customer ID (business ID)"},
	{"delivery.expires", "Voimassa asti", "Giltiga till", "Valid until"},
	{"delivery.nextTitle", "Näin jatkat", "Så här fortsätter du", "What next"},
	{"delivery.step1", "Luo ohjelmistossa uusi avainpari ja varmennepyyntö.", "Skapa ett nytt nyckelpar och en certifikatbegäran i programvaran.", "Create a new key pair and certificate signing request in your software."},
	{"delivery.step2", "Lähetä pyyntö näillä tunnuksilla SignNewCertificate-kutsulla (esimerkiksi irpki enroll).", "Skicka begäran med de här koderna i anropet SignNewCertificate (till exempel irpki enroll).", "Send the request with these credentials in a SignNewCertificate call (for example irpki enroll)."},
	{"delivery.step3", "Nouda varmenne GetCertificate-kutsulla. Tunnukset toimivat vain kerran.", "Hämta certifikatet med anropet GetCertificate. Koderna fungerar bara en gång.", "Retrieve the certificate with GetCertificate. The credentials work only once."},
	{"mail.delivery.subject", "Tulorekisterin varmenteen siirtotunnukset", "Överföringskoder för inkomstregistrets certifikat", "Transfer credentials for an Incomes Register certificate"},

	{"audit.title", "Tapahtumaloki", "Händelselogg", "Audit trail"},
	{"audit.intro", "Organisaation varmenteisiin liittyvät tapahtumat, uusin ensin.", "Händelser som gäller organisationens certifikat, den senaste först.", "Events concerning the organisation's certificates, newest first."},
	{"audit.caption", "Viimeisimmät 200 tapahtumaa", "De senaste 200 händelserna", "The latest 200 events"},
	{"audit.time", "Aika", "Tid", "Time"},
	{"audit.actor", "Tekijä", "Utförare", "Actor"},
	{"audit.action", "Tapahtuma", "Händelse", "Action"},
	{"audit.outcome", "Tulos", "Resultat", "Outcome"},
	{"detail.reason", "Syy", "Orsak", "Reason"},
	{"detail.cascade_from", "Peruutettu avaimen vaarantumisen vuoksi edeltäjän myötä", "Återkallat med föregångaren, vars nyckel röjts", "Revoked with its predecessor, whose key was compromised"},
	{"detail.purpose", "Käyttötarkoitus", "Användningsändamål", "Purpose"},
	{"detail.validity", "Voimassaolo", "Giltighetstid", "Validity"},
	{"detail.contact", "Yhteyshenkilö", "Kontaktperson", "Contact"},
	{"detail.attempt", "Yritys", "Försök", "Attempt"},
	{"detail.from", "Aiempi", "Tidigare", "From"},
	{"detail.to", "Uusi", "Ny", "To"},
	{"detail.language", "Kieli", "Språk", "Language"},
	{"detail.kind", "Muistutus", "Påminnelse", "Reminder"},
	{"detail.predecessor", "Edeltäjä", "Föregångare", "Predecessor"},
	{"audit.detail", "Lisätiedot", "Detaljer", "Details"},
	{"audit.none", "Ei tapahtumia.", "Inga händelser.", "No events."},
	{"outcome.ok", "Onnistui", "Lyckades", "Succeeded"},
	{"outcome.fail", "Epäonnistui", "Misslyckades", "Failed"},
	{"action.order", "Varmenteen tilaus", "Beställning av certifikat", "Certificate ordered"},
	{"action.sign_new", "Uuden varmenteen myöntäminen", "Utfärdande av nytt certifikat", "New certificate issued"},
	{"action.renew", "Uusiminen", "Förnyelse", "Renewal"},
	{"action.get", "Varmenteen nouto", "Hämtning av certifikat", "Certificate retrieved"},
	{"action.revoke", "Peruutus", "Återkallelse", "Revocation"},
	{"action.org_add", "Organisaation lisäys", "Organisation tillagd", "Organisation added"},
	{"action.user_add", "Edustajan lisäys", "Företrädare tillagd", "Representative added"},
	{"action.user_disable", "Tunnuksen poisto käytöstä", "Konto spärrat", "Account disabled"},
	{"action.user_enable", "Tunnuksen palautus käyttöön", "Konto återaktiverat", "Account enabled again"},
	{"action.user_password", "Salasanan vaihto", "Lösenord bytt", "Password changed"},
	{"action.contact_change", "Yhteyshenkilön muutos", "Ändring av kontaktperson", "Contact changed"},
	{"action.reminder", "Vanhenemismuistutus", "Påminnelse om utgång", "Expiry reminder"},
	{"action.sign_in", "Kirjautuminen", "Inloggning", "Sign-in"},
	{"action.sign_out", "Uloskirjautuminen", "Utloggning", "Sign-out"},
	{"action.delivery_mail", "Siirtotunnuslinkin lähetys", "Länk till överföringskoder skickad", "Credential link mailed"},
	{"action.delivery_open", "Siirtotunnusten avaus", "Öppning av överföringskoder", "Credentials opened"},

	{"admin.orgs.title", "Organisaatiot", "Organisationer", "Organisations"},
	{"admin.orgs.caption", "Rekisteröidyt organisaatiot", "Registrerade organisationer", "Registered organisations"},
	{"admin.orgs.none", "Organisaatioita ei ole vielä lisätty.", "Inga organisationer har lagts till ännu.", "No organisations yet."},
	{"admin.org.title", "Organisaatio", "Organisation", "Organisation"},
	{"admin.customerId", "Y-tunnus", "FO-nummer", "Business ID"},
	{"admin.customerIdHint", "Muodossa 1234567-8; tarkiste tarkistetaan.", "I formen 1234567-8; kontrollsiffran kontrolleras.", "In the form 1234567-8; the check digit is verified."},
	{"admin.name", "Nimi", "Namn", "Name"},
	{"admin.contactEmail", "Oletusyhteyshenkilön sähköposti", "Standardkontaktpersonens e-post", "Default contact e-mail"},
	{"admin.representatives", "Edustajat", "Företrädare", "Representatives"},
	{"admin.addOrg", "Lisää organisaatio", "Lägg till organisation", "Add an organisation"},
	{"admin.addOrgSubmit", "Lisää organisaatio", "Lägg till organisationen", "Add organisation"},
	{"admin.back", "Kaikki organisaatiot", "Alla organisationer", "All organisations"},
	{"admin.noUsers", "Organisaatiolla ei ole vielä edustajia.", "Organisationen har ännu inga företrädare.", "The organisation has no representatives yet."},
	{"admin.addUser", "Lisää edustaja", "Lägg till företrädare", "Add a representative"},
	{"admin.addUserSubmit", "Lisää edustaja", "Lägg till företrädaren", "Add representative"},
	{"admin.personName", "Nimi", "Namn", "Name"},
	{"admin.password", "Alkusalasana", "Startlösenord", "Initial password"},
	{"admin.password2", "Alkusalasana uudelleen", "Startlösenordet igen", "Initial password again"},
	{"admin.passwordHint", "Vähintään 12 merkkiä. Toimita salasana edustajalle turvallisesti.", "Minst 12 tecken. Ge lösenordet till företrädaren på ett säkert sätt.", "At least 12 characters. Give it to the representative securely."},
	{"admin.certs.title", "Kaikki varmenteet", "Alla certifikat", "All certificates"},
	{"admin.certs.intro", "Kaikkien organisaatioiden varmenteet, pian vanhenevat ensin.", "Alla organisationers certifikat, de som går ut snart först.", "The certificates of every organisation, soonest expiry first."},
	{"admin.certs.caption", "Varmenteet (%d), voimassaolon päättymisen mukaan", "Certifikat (%d), efter utgångsdatum", "Certificates (%d), by expiry"},
	{"admin.certs.none", "Ei varmenteita valituilla ehdoilla.", "Inga certifikat med de valda villkoren.", "No certificates match the filter."},
	{"admin.certs.allStates", "Kaikki tilat", "Alla statusar", "All states"},
	{"admin.certs.filter", "Näytä", "Visa", "Show"},
	{"admin.orgCerts", "Organisaation varmenteet", "Organisationens certifikat", "The organisation's certificates"},
	{"admin.added", "Lisätty", "Tillagd", "Added"},
	{"admin.action", "Toiminto", "Åtgärd", "Action"},
	{"admin.account.active", "Käytössä", "Aktivt", "Active"},
	{"admin.account.disabled", "Poistettu käytöstä", "Spärrat", "Disabled"},
	{"admin.disable", "Poista käytöstä", "Spärra", "Disable"},
	{"admin.enable", "Ota käyttöön", "Aktivera", "Enable"},
	{"admin.disableWho", "Poista käytöstä tunnus %s", "Spärra kontot %s", "Disable the account %s"},
	{"admin.enableWho", "Ota käyttöön tunnus %s", "Aktivera kontot %s", "Enable the account %s"},
	{"admin.disableHint", "Käytöstä poistettu edustaja ei voi kirjautua, ja hänen avoimet istuntonsa päättyvät heti. Tunnuksen voi ottaa uudelleen käyttöön. Muutokset kirjataan tapahtumalokiin.", "En spärrad företrädare kan inte logga in, och hens öppna sessioner avslutas genast. Kontot kan aktiveras igen. Ändringarna förs in i händelseloggen.", "A disabled representative cannot sign in, and their open sessions end at once. The account can be enabled again. Changes are written to the audit trail."},
	{"admin.err.exists", "Organisaatio on jo rekisteröity.", "Organisationen är redan registrerad.", "The organisation is already registered."},
	{"admin.err.mismatch", "Salasanat eivät täsmää.", "Lösenorden stämmer inte överens.", "The passwords do not match."},

	{"form.optional", "(vapaaehtoinen)", "(frivillig)", "(optional)"},
	{"form.badEmail", "Anna sähköpostiosoite muodossa nimi@esimerkki.fi.", "Ange e-postadressen i formen namn@exempel.fi.", "Enter an e-mail address such as name@example.fi."},
	{"form.tooLong", "Teksti on liian pitkä (enintään 200 merkkiä).", "Texten är för lång (högst 200 tecken).", "The text is too long (at most 200 characters)."},
	{"form.fix", "Korjaa merkityt kentät.", "Rätta de markerade fälten.", "Correct the marked fields."},
	{"form.invalid", "Tiedoissa on virhe. Tarkista ne ja yritä uudelleen.", "Uppgifterna innehåller ett fel. Kontrollera dem och försök igen.", "The information has an error. Check it and try again."},

	{"done.orderCancelled", "Tilaus on peruttu. Sen siirtotunnukset eivät enää kelpaa.", "Beställningen har annullerats. Dess överföringskoder fungerar inte längre.", "The order has been cancelled. Its transfer credentials no longer work."},
	{"done.contact", "Yhteyshenkilö on päivitetty. Seuraava muistutus lähetetään uuteen osoitteeseen.", "Kontaktpersonen har uppdaterats. Nästa påminnelse skickas till den nya adressen.", "The contact has been updated. The next reminder goes to the new address."},
	{"done.revoked", "Varmenne on peruutettu.", "Certifikatet har återkallats.", "The certificate has been revoked."},
	{"done.signout", "Olet kirjautunut ulos.", "Du har loggat ut.", "You have signed out."},
	{"done.orgAdded", "Organisaatio on lisätty.", "Organisationen har lagts till.", "The organisation has been added."},
	{"done.userAdded", "Edustaja on lisätty.", "Företrädaren har lagts till.", "The representative has been added."},
	{"done.userDisabled", "Edustajan tunnus on poistettu käytöstä, ja hänen istuntonsa päättyivät.", "Företrädarens konto har spärrats, och hens sessioner har avslutats.", "The representative's account has been disabled, and their sessions have ended."},
	{"done.userEnabled", "Edustajan tunnus on otettu uudelleen käyttöön.", "Företrädarens konto har aktiverats igen.", "The representative's account has been enabled again."},

	{"error.title", "Toimintoa ei voitu suorittaa", "Åtgärden kunde inte utföras", "The action could not be completed"},
	{"error.csrf", "Lomakkeen turvatunniste puuttuu tai on vanhentunut. Palaa sivulle, lataa se uudelleen ja yritä uudestaan.", "Formulärets säkerhetskod saknas eller har gått ut. Gå tillbaka, ladda om sidan och försök igen.", "The form's security token is missing or out of date. Go back, reload the page and try again."},
	{"error.notFound", "Sivua tai varmennetta ei löydy.", "Sidan eller certifikatet hittades inte.", "The page or certificate was not found."},
	{"error.internal", "Palvelussa tapahtui virhe. Yritä hetken kuluttua uudelleen.", "Ett fel inträffade i tjänsten. Försök igen om en stund.", "The service ran into an error. Try again in a while."},
	{"error.operatorOnly", "Sivu on vain varmennepalvelun ylläpitäjille.", "Sidan är endast för certifikattjänstens administratörer.", "This page is for the certificate service's operators only."},
	{"error.home", "Etusivulle", "Till startsidan", "To the front page"},
}

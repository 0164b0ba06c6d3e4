package notify

import (
	"bytes"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/irpki/irpki/internal/lang"
	"github.com/irpki/irpki/internal/serial"
	"github.com/irpki/irpki/internal/store"
)

type mailData struct {
	Cert        store.Certificate
	Org         store.Org
	Days        int // the reminder kind
	DaysLeft    int
	WindowOpens time.Time // when the certificate can first be renewed (service.RenewableFrom)
	WindowDays  int       // the renewal window: days before expiry
	Now         time.Time
	EServiceURL string // the e-service's root, ending in /; "" if unknown
}

// Serial is the certificate's serial as people see it (serial.Pad).
func (d mailData) Serial() string { return serial.Pad(d.Cert.Serial) }

// CertURL is the certificate's page in the e-service, or "".
func (d mailData) CertURL() string {
	if d.EServiceURL == "" {
		return ""
	}
	return d.EServiceURL + "certificates/" + d.Serial()
}

func (d mailData) WindowOpen() bool { return !d.Now.Before(d.WindowOpens) }

type reminderText struct {
	subject string
	body    *template.Template
}

func mustText(name, s string) *template.Template {
	return template.Must(template.New(name).Funcs(lang.Funcs).Parse(strings.TrimLeft(s, "\n")))
}

var reminderTexts = map[string]reminderText{
	"fi": {subject: "Tulorekisterin varmenne vanhenee %s", body: mustText("fi", `
Hei{{with .Cert.ContactName}} {{.}}{{end}},

Organisaation {{.Org.Name}} ({{.Org.CustomerID}}) varmenne tulorekisterin tekniseen rajapintaan vanhenee {{date "fi" .Cert.NotAfter}} klo {{time "fi" .Cert.NotAfter}} (Suomen aikaa), {{if eq .DaysLeft 0}}alle vuorokauden kuluttua{{else}}{{.DaysLeft}} päivän kuluttua{{end}}.

Varmenne
  Sarjanumero:     {{.Serial}}
{{- with .Cert.Purpose}}
  Käyttötarkoitus: {{purpose "fi" .}}{{end}}
{{- with .Cert.Description}}
  Kuvaus:          {{.}}{{end}}
  Ympäristö:       {{env "fi" .Cert.Environment}}
  Voimassa asti:   {{date "fi" .Cert.NotAfter}} klo {{time "fi" .Cert.NotAfter}}
{{with .CertURL}}
Varmenteen tiedot ja tekninen yhteyshenkilö asiointipalvelussa:
{{.}}
{{end}}
Näin uusit varmenteen
Varmenne uusitaan organisaation omasta ohjelmistosta RenewCertificate-palvelukutsulla: ohjelmisto luo uuden avainparin, muodostaa varmennepyynnön, allekirjoittaa kutsun nykyisen, yhä voimassa olevan varmenteen avaimella ja lähettää sen varmennepalveluun. Varmenteen voi uusia aikaisintaan {{.WindowDays}} päivää ennen sen vanhenemista{{if .WindowOpen}}, joten uusiminen on mahdollista nyt{{else}}, eli {{date "fi" .WindowOpens}} alkaen{{end}}. Asiointipalvelussa varmennetta ei voi uusia. Jos ohjelmistosi ei osaa uusia varmennetta, käänny ohjelmiston toimittajan puoleen.

Jos varmenne on jo vanhentunut
Vanhentunutta varmennetta ei voi käyttää rajapinnassa eikä uusia. Tilaa silloin uusi varmenne asiointipalvelussa{{with .EServiceURL}} ({{.}}){{end}}. Uusi varmenne noudetaan samalla tavalla kuin ensimmäinen: kertakäyttöisillä siirtotunnuksilla (SignNewCertificate) ja sen jälkeen GetCertificate-kutsulla.

Saat tämän viestin, koska olet tämän varmenteen tekninen yhteyshenkilö. Jos yhteyshenkilö on vaihtunut, organisaation edustaja voi vaihtaa sähköpostiosoitteen asiointipalvelussa.

Tulorekisterin varmennepalvelu
Tämä on automaattinen viesti; siihen ei voi vastata.
`)},
	"sv": {subject: "Certifikatet för inkomstregistret går ut %s", body: mustText("sv", `
Hej{{with .Cert.ContactName}} {{.}}{{end}},

Certifikatet för inkomstregistrets tekniska gränssnitt som tillhör {{.Org.Name}} ({{.Org.CustomerID}}) går ut {{date "sv" .Cert.NotAfter}} kl. {{time "sv" .Cert.NotAfter}} (finsk tid), {{if eq .DaysLeft 0}}inom ett dygn{{else}}om {{.DaysLeft}} dagar{{end}}.

Certifikat
  Serienummer:         {{.Serial}}
{{- with .Cert.Purpose}}
  Användningsändamål:  {{purpose "sv" .}}{{end}}
{{- with .Cert.Description}}
  Beskrivning:         {{.}}{{end}}
  Miljö:               {{env "sv" .Cert.Environment}}
  Giltigt till:        {{date "sv" .Cert.NotAfter}} kl. {{time "sv" .Cert.NotAfter}}
{{with .CertURL}}
Certifikatets uppgifter och tekniska kontaktperson i e-tjänsten:
{{.}}
{{end}}
Så här förnyar du certifikatet
Certifikatet förnyas från organisationens egen programvara med tjänsteanropet RenewCertificate: programvaran skapar ett nytt nyckelpar, bildar en certifikatbegäran, undertecknar anropet med nyckeln till det nuvarande, fortfarande giltiga certifikatet och skickar det till certifikattjänsten. Certifikatet kan förnyas tidigast {{.WindowDays}} dagar innan det går ut{{if .WindowOpen}}, så det går att förnya det nu{{else}}, alltså från och med {{date "sv" .WindowOpens}}{{end}}. Certifikatet kan inte förnyas i e-tjänsten. Om din programvara inte kan förnya certifikat, kontakta programvaruleverantören.

Om certifikatet redan har gått ut
Ett certifikat som har gått ut kan inte användas i gränssnittet och inte heller förnyas. Beställ då ett nytt certifikat i e-tjänsten{{with .EServiceURL}} ({{.}}){{end}}. Det nya certifikatet hämtas på samma sätt som det första: med engångsöverföringskoderna (SignNewCertificate) och därefter med anropet GetCertificate.

Du får detta meddelande eftersom du är teknisk kontaktperson för certifikatet. Om kontaktpersonen har bytts kan organisationens företrädare ändra e-postadressen i e-tjänsten.

Inkomstregistrets certifikattjänst
Detta är ett automatiskt meddelande som inte går att svara på.
`)},
	"en": {subject: "Your Incomes Register certificate expires on %s", body: mustText("en", `
Hello{{with .Cert.ContactName}} {{.}}{{end}},

The certificate of {{.Org.Name}} ({{.Org.CustomerID}}) for the Incomes Register's technical interface expires on {{date "en" .Cert.NotAfter}} at {{time "en" .Cert.NotAfter}} (Finnish time), {{if eq .DaysLeft 0}}within a day{{else}}in {{.DaysLeft}} days{{end}}.

Certificate
  Serial number: {{.Serial}}
{{- with .Cert.Purpose}}
  Purpose:       {{purpose "en" .}}{{end}}
{{- with .Cert.Description}}
  Description:   {{.}}{{end}}
  Environment:   {{env "en" .Cert.Environment}}
  Valid until:   {{date "en" .Cert.NotAfter}} at {{time "en" .Cert.NotAfter}}
{{with .CertURL}}
The certificate and its technical contact in the e-service:
{{.}}
{{end}}
How to renew
The certificate is renewed from your organisation's own software with the RenewCertificate service call: the software creates a new key pair, forms a certificate signing request, signs the call with the key of the current, still valid certificate and sends it to the certificate service. A certificate can be renewed at the earliest {{.WindowDays}} days before it expires{{if .WindowOpen}}, so it can be renewed now{{else}}, that is from {{date "en" .WindowOpens}}{{end}}. Certificates cannot be renewed in the e-service. If your software cannot renew certificates, contact its vendor.

If the certificate has already expired
An expired certificate cannot be used with the interface or renewed. Order a new certificate in the e-service{{with .EServiceURL}} ({{.}}){{end}}. The new certificate is retrieved the same way as the first one: with one-time transfer credentials (SignNewCertificate) and then GetCertificate.

You receive this message because you are the technical contact of this certificate. If the contact has changed, the organisation's representative can change the e-mail address in the e-service.

The Incomes Register certificate service
This is an automatic message; replies are not read.
`)},
}

// reminderMessage renders the reminder in language (without recipient).
func reminderMessage(language string, d mailData) (Message, error) {
	t, ok := reminderTexts[language]
	if !ok {
		return Message{}, fmt.Errorf("notify: no reminder text in %q", language)
	}
	var b bytes.Buffer
	if err := t.body.Execute(&b, d); err != nil {
		return Message{}, fmt.Errorf("notify: reminder text: %w", err)
	}
	return Message{Subject: fmt.Sprintf(t.subject, lang.Date(language, d.Cert.NotAfter)), Text: b.String(), Language: language}, nil
}

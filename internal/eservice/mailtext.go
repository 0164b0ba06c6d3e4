package eservice

import (
	"strings"
	"text/template"

	"github.com/irpki/irpki/internal/lang"
)

func mailTemplate(name, s string) *template.Template {
	return template.Must(template.New(name).Funcs(lang.Funcs).Parse(strings.TrimLeft(s, "\n")))
}

// deliveryTexts are the credential-link e-mails. They carry the link, never
// the PIN or the credentials.
var deliveryTexts = map[string]*template.Template{
	"fi": mailTemplate("fi", `
Hei{{with .Name}} {{.}}{{end}},

Organisaation {{.Org}} ({{.CustomerID}}) edustaja ({{.Representative}}) on tilannut tulorekisterin teknisen rajapinnan varmenteen ja nimennyt sinut sen tekniseksi yhteyshenkilöksi.

Käyttötarkoitus: {{.Purpose}}{{with .Description}}
Kuvaus: {{.}}{{end}}

Avaa varmenteen siirtotunnukset (TransferId ja TransferPassword) tästä linkistä:

{{.Link}}

Sivulla tarvitset PIN-koodin, {{if .SMS}}joka lähetetään sinulle tekstiviestinä numeroon {{.Phone}}{{else}}jonka tilaaja kertoo sinulle puhelimitse{{end}}. PIN-koodia ei lähetetä sähköpostilla. Linkki toimii kerran ja on voimassa {{date "fi" .Expires}} klo {{time "fi" .Expires}} asti. Jos PIN-koodi syötetään väärin {{.Attempts}} kertaa, linkki lukittuu.

Älä välitä tätä viestiä eteenpäin. Jos et odottanut tätä viestiä, ilmoita siitä organisaatiosi edustajalle.

Tulorekisterin varmennepalvelu
`),
	"sv": mailTemplate("sv", `
Hej{{with .Name}} {{.}}{{end}},

En företrädare ({{.Representative}}) för {{.Org}} ({{.CustomerID}}) har beställt ett certifikat för inkomstregistrets tekniska gränssnitt och angett dig som teknisk kontaktperson.

Användningsändamål: {{.Purpose}}{{with .Description}}
Beskrivning: {{.}}{{end}}

Öppna certifikatets överföringskoder (TransferId och TransferPassword) via den här länken:

{{.Link}}

På sidan behöver du en PIN-kod, {{if .SMS}}som skickas till dig som sms till numret {{.Phone}}{{else}}som beställaren ger dig per telefon{{end}}. PIN-koden skickas inte per e-post. Länken fungerar en gång och gäller till {{date "sv" .Expires}} kl. {{time "sv" .Expires}}. Om PIN-koden anges fel {{.Attempts}} gånger låses länken.

Vidarebefordra inte detta meddelande. Om du inte väntade dig detta meddelande, meddela din organisations företrädare.

Inkomstregistrets certifikattjänst
`),
	"en": mailTemplate("en", `
Hello{{with .Name}} {{.}}{{end}},

A representative ({{.Representative}}) of {{.Org}} ({{.CustomerID}}) has ordered a certificate for the Incomes Register's technical interface and named you as its technical contact.

Purpose: {{.Purpose}}{{with .Description}}
Description: {{.}}{{end}}

Open the certificate's transfer credentials (TransferId and TransferPassword) from this link:

{{.Link}}

On the page you need a PIN, {{if .SMS}}which is sent to you by SMS at {{.Phone}}{{else}}which the person who ordered the certificate tells you by phone{{end}}. The PIN is never sent by e-mail. The link works once and is valid until {{date "en" .Expires}} at {{time "en" .Expires}}. If the PIN is entered wrongly {{.Attempts}} times, the link locks.

Do not forward this message. If you did not expect it, tell your organisation's representative.

The Incomes Register certificate service
`),
}

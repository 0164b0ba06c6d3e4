package eservice

// signinCatalog holds the texts of OpenID Connect sign-in, the choice of
// organisation and the PIN by SMS.
var signinCatalog = []msg{
	{"oidc.intro", "Kirjaudu vahvalla tunnistautumisella. Palvelu tarkistaa, minkä organisaatioiden puolesta voit asioida.", "Logga in med stark autentisering. Tjänsten kontrollerar vilka organisationer du får företräda.", "Sign in with strong authentication. The service checks which organisations you may act for."},
	{"oidc.signin", "Kirjaudu: %s", "Logga in: %s", "Sign in with %s"},
	{"signin.passwordTitle", "Kirjautuminen salasanalla", "Inloggning med lösenord", "Sign in with a password"},
	{"signin.passwordsOff", "Salasanalla kirjautuminen ei ole käytössä. Kirjaudu tunnistuspalvelun kautta.", "Inloggning med lösenord används inte. Logga in via identifieringstjänsten.", "Password sign-in is turned off. Sign in through the identity provider."},
	{"oidc.failed", "Kirjautuminen epäonnistui. Aloita kirjautuminen alusta.", "Inloggningen misslyckades. Börja om från början.", "Sign-in failed. Start the sign-in again."},
	{"oidc.refused", "Tunnistuspalvelu keskeytti kirjautumisen.", "Identifieringstjänsten avbröt inloggningen.", "The identity provider did not complete the sign-in."},
	{"oidc.noOrg", "Sinulla ei ole oikeutta asioida yhdenkään tähän palveluun rekisteröidyn organisaation puolesta.", "Du har inte rätt att företräda någon organisation som är registrerad i tjänsten.", "You may not act for any organisation registered in this service."},
	{"oidc.disabled", "Käyttäjätunnuksesi on poistettu käytöstä. Ota yhteyttä palvelun ylläpitäjään.", "Ditt konto har inaktiverats. Kontakta tjänstens administratör.", "Your account has been disabled. Contact the service's administrator."},
	{"oidc.unreachable", "Tunnistuspalveluun ei juuri nyt saada yhteyttä. Yritä hetken kuluttua uudelleen.", "Identifieringstjänsten kan inte nås just nu. Försök igen om en stund.", "The identity provider cannot be reached right now. Try again in a moment."},
	{"oidc.busy", "Kirjautumisia on juuri nyt kesken liian monta. Yritä hetken kuluttua uudelleen.", "För många inloggningar pågår just nu. Försök igen om en stund.", "Too many sign-ins are under way right now. Try again in a moment."},
	{"org.title", "Valitse organisaatio", "Välj organisation", "Choose the organisation"},
	{"org.intro", "Voit asioida usean organisaation puolesta. Valitse, minkä organisaation varmenteita hoidat nyt.", "Du får företräda flera organisationer. Välj vilken organisations certifikat du sköter nu.", "You may act for several organisations. Choose whose certificates you manage now."},
	{"org.active", "valittuna", "vald", "current"},
	{"org.switch", "Vaihda organisaatiota", "Byt organisation", "Switch organisation"},
	{"org.notListed", "Et voi asioida tämän organisaation puolesta.", "Du får inte företräda den här organisationen.", "You may not act for this organisation."},
	{"order.phoneHintSMS", "PIN-koodi lähetetään tähän numeroon tekstiviestinä. Suomalaisen numeron voi antaa ilman maatunnusta.", "PIN-koden skickas till det här numret som sms. Ett finskt nummer kan anges utan landsnummer.", "The PIN is sent to this number by SMS. A Finnish number may be given without the country code."},
	{"orderDone.pinSMS", "PIN-koodi lähetetään tekstiviestinä yhteyshenkilölle %s numeroon %s. Et näe PIN-koodia itse.", "PIN-koden skickas som sms till kontaktpersonen %s på numret %s. Du ser inte själv PIN-koden.", "The PIN goes by SMS to the contact %s at %s. You do not see the PIN yourself."},
	{"sms.pin", "Tulorekisterin varmenteen siirtotunnusten PIN-koodi: %s. Syötä se sähköpostilla saamasi linkin sivulle. Voimassa %s asti.", "PIN-kod för överföringskoderna till inkomstregistrets certifikat: %s. Ange den på sidan bakom länken i e-postmeddelandet. Gäller till %s.", "PIN for the Incomes Register certificate's transfer credentials: %s. Enter it on the page of the link you received by e-mail. Valid until %s."},
}

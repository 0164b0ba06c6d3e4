package ca

import "strings"

// The hierarchy irpkid creates for a new data directory has the shape of
// the real certificate service's published CA packages, per environment:
//
//	Verohallinto Root [Test ]CA v1                      root.crt        root.key
//	└─ Verohallinto Intermediate [Test ]CA v1           intermediate.crt intermediate.key
//	   ├─ Data Providers [Test ]Issuing CA v1            issuing-reports_ws.crt   (.key)
//	   ├─ Data Providers SFTP [Test ]Issuing CA v1       issuing-reports_sftp.crt (.key)
//	   ├─ IR Income Data Users [Test ]Issuing CA v1      issuing-datause_ws.crt   (.key)
//	   ├─ IR Income Data Users SFTP [Test ]Issuing CA v1 issuing-datause_sftp.crt (.key)
//	   └─ IR Services [Test ]Issuing CA v1               services.crt    services.key
//	      └─ IR Certificate Services [Test ]Signing v1   signing.crt     signing.key
//
// Each order's certificate comes from the issuing CA of its channel (the
// order's purpose code, reports_ws when it names none); the response
// signer comes from the services issuing CA, which certifies nothing
// else. "Test" is in the names of the TEST environment only, where the
// real service puts it. A name prefix (serve's --ca-name-prefix) brands
// the hierarchy instead: it replaces "Verohallinto", is put before the
// issuing CAs' names, and is the organisation (O) of every CA.
//
// Data directories made before this layout hold root → issuing CA for all
// organisation certificates, and root → signing certificate (root.crt,
// issuing.crt, signing.crt); they are loaded as they are and keep working.

// Channels are the purpose codes of an order, each with its own issuing CA:
// reports or data use, through the web service or SFTP.
var Channels = []string{ChannelReportsWS, ChannelReportsSFTP, ChannelDataUseWS, ChannelDataUseSFTP}

// Channel codes.
const (
	ChannelReportsWS   = "reports_ws"
	ChannelReportsSFTP = "reports_sftp"
	ChannelDataUseWS   = "datause_ws"
	ChannelDataUseSFTP = "datause_sftp"
	// DefaultChannel issues the certificate of an order that names no
	// channel.
	DefaultChannel = ChannelReportsWS
	// ServicesChannel is the Issuer.Channel of the services issuing CA.
	ServicesChannel = "services"
)

// issuerNames are the issuing CAs' names without the environment and
// version ("Data Providers" → "Data Providers Test Issuing CA v1"), and
// the stem of the real service's CA package names.
var issuerNames = map[string]struct{ name, pkg string }{
	ChannelReportsWS:   {"Data Providers", "DataProviders"},
	ChannelReportsSFTP: {"Data Providers SFTP", "DataProvidersSFTP"},
	ChannelDataUseWS:   {"IR Income Data Users", "IRIncomeDataUsers"},
	ChannelDataUseSFTP: {"IR Income Data Users SFTP", "IRIncomeDataUsersSFTP"},
	ServicesChannel:    {"IR Services", "IRServices"},
}

// naming makes the names of one environment's hierarchy.
type naming struct {
	env    string
	prefix string // "" for the real service's names
}

// test is " Test" in the TEST environment, where the real names carry it.
func (n naming) test() string {
	if n.env == "TEST" {
		return " Test"
	}
	return ""
}

// org is the organisation (O) of every CA certificate.
func (n naming) org() string {
	if n.prefix != "" {
		return n.prefix
	}
	return "Verohallinto"
}

func (n naming) root() string         { return n.org() + " Root" + n.test() + " CA v1" }
func (n naming) intermediate() string { return n.org() + " Intermediate" + n.test() + " CA v1" }

func (n naming) issuer(channel string) string {
	s := issuerNames[channel].name + n.test() + " Issuing CA v1"
	if n.prefix != "" {
		s = n.prefix + " " + s
	}
	return s
}

// pkg is the real service's name of the channel's CA package, e.g.
// DataProvidersTestIssuingCAv1; it names the bundle files irpkid trust
// writes, whatever the prefix.
func (n naming) pkg(channel string) string {
	return issuerNames[channel].pkg + strings.TrimPrefix(n.test(), " ") + "IssuingCAv1"
}

func (n naming) signing() string {
	s := "IR Certificate Services" + n.test() + " Signing v1"
	if n.prefix != "" {
		s = n.prefix + " " + s
	}
	return s
}

// MaxNamePrefix is the longest name prefix: the longest issuing CA name
// ("IR Income Data Users SFTP Test Issuing CA v1") with it stays within
// the 64 characters an X.509 common name may have.
const MaxNamePrefix = 19

// ValidNamePrefix reports whether p may brand a hierarchy: printable, one
// line, no surrounding spaces, at most MaxNamePrefix characters.
func ValidNamePrefix(p string) bool {
	if len([]rune(p)) > MaxNamePrefix || strings.TrimSpace(p) != p {
		return false
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

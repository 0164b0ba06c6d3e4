package certapi

import (
	_ "embed"
	"html/template"
	"net"
	"net/http"
	"strings"
	ttemplate "text/template"
)

//go:embed schema/CertificateServices.xsd
var xsd []byte

//go:embed schema/CertificateServices.wsdl
var wsdlText string

var wsdlTmpl = ttemplate.Must(ttemplate.New("wsdl").Parse(wsdlText))

// serveDescription answers GET ?wsdl and ?xsd with this server's address.
func (h *Handler) serveDescription(w http.ResponseWriter, r *http.Request) {
	q := r.URL.RawQuery
	switch {
	case strings.EqualFold(q, "wsdl"):
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		wsdlTmpl.Execute(w, template.HTMLEscapeString(h.endpointURL(r)))
	case strings.EqualFold(q, "xsd"):
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		w.Write(xsd)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte("irpki certificate service: POST SOAP 1.1 requests here; GET ?wsdl or ?xsd for the service description.\n"))
	}
}

// endpointURL is this endpoint's address: under the configured public URL,
// or else at the local address the connection arrived at. Never from the
// Host header: a client chooses it, and a cache shared by many clients
// would hand them a description that sends their requests elsewhere.
func (h *Handler) endpointURL(r *http.Request) string {
	if h.publicURL != "" {
		return h.publicURL + Path
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	host := "localhost"
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		host = a.String()
	}
	return scheme + "://" + host + Path
}

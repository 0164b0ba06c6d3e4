package wire

import (
	"fmt"
	"strings"

	"github.com/beevik/etree"
)

// FaultNamespace qualifies the irpki error code inside a fault's detail.
const FaultNamespace = "urn:irpki:fault"

// Fault is a SOAP 1.1 fault: the request could not be read as a request.
type Fault struct {
	Client bool   // faultcode Client (the sender's fault) or Server
	Code   Code   // irpki catalogue code, in detail
	String string // faultstring
}

func (f *Fault) Error() string { return fmt.Sprintf("SOAP fault %s: %s", f.Code, f.String) }

// EncodeFault renders f as a whole SOAP envelope.
func EncodeFault(f *Fault) []byte {
	fe := etree.NewElement("Fault")
	fe.Space = "SOAP-ENV"
	fe.CreateAttr("xmlns:SOAP-ENV", SOAPNamespace)
	who := "SOAP-ENV:Server"
	switch {
	case f.Code == CodeMustUnderstand:
		who = "SOAP-ENV:MustUnderstand"
	case f.Client:
		who = "SOAP-ENV:Client"
	}
	fe.CreateElement("faultcode").SetText(who)
	fe.CreateElement("faultstring").SetText(f.String)
	det := fe.CreateElement("detail")
	c := det.CreateElement("irpki:ErrorCode")
	c.CreateAttr("xmlns:irpki", FaultNamespace)
	c.SetText(string(f.Code))
	b, err := Serialize(fe)
	if err != nil { // cannot happen for this fixed shape
		b = []byte(`<SOAP-ENV:Fault xmlns:SOAP-ENV="` + SOAPNamespace + `"><faultcode>SOAP-ENV:Server</faultcode><faultstring>internal error</faultstring></SOAP-ENV:Fault>`)
	}
	return Envelope(b)
}

// DecodeFault reads a Fault element found in a response body.
func DecodeFault(el *etree.Element) (*Fault, error) {
	if el.Tag != "Fault" || el.NamespaceURI() != SOAPNamespace {
		return nil, ErrNotSOAPFault
	}
	f := &Fault{}
	if fc := el.SelectElement("faultcode"); fc != nil {
		// The sender's fault: Client, or MustUnderstand and VersionMismatch,
		// whatever prefix the envelope namespace has.
		code := strings.TrimSpace(fc.Text())
		if i := strings.LastIndexByte(code, ':'); i >= 0 {
			code = code[i+1:]
		}
		f.Client = code == "Client" || code == "MustUnderstand" || code == "VersionMismatch"
	}
	if fs := el.SelectElement("faultstring"); fs != nil {
		f.String = fs.Text()
	}
	if d := el.SelectElement("detail"); d != nil {
		for _, c := range d.ChildElements() {
			if c.Tag == "ErrorCode" {
				f.Code = Code(c.Text())
			}
		}
	}
	return f, nil
}

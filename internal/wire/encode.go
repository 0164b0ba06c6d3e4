package wire

import (
	"bytes"
	"encoding/base64"
	"fmt"

	"github.com/beevik/etree"
)

// prefix is the prefix this codec gives the service namespace.
const prefix = "cer"

func newOpElement(local string) *etree.Element {
	el := etree.NewElement(local)
	el.Space = prefix
	el.CreateAttr("xmlns:"+prefix, Namespace)
	return el
}

func addText(parent *etree.Element, name, value string) {
	parent.CreateElement(name).SetText(value)
}

func addCommon(el *etree.Element, env, cid, cname string) {
	addText(el, "Environment", env)
	addText(el, "CustomerId", cid)
	if cname != "" {
		addText(el, "CustomerName", cname)
	}
}

// EncodeSignNew builds a SignNewCertificateRequest element.
func EncodeSignNew(r *SignNewCertificateRequest) *etree.Element {
	el := newOpElement(OpSignNew.RequestElement())
	addCommon(el, r.Environment, r.CustomerID, r.CustomerName)
	addText(el, "TransferId", r.TransferID)
	addText(el, "TransferPassword", r.TransferPassword)
	addText(el, "CertificateRequest", base64.StdEncoding.EncodeToString(r.CertificateRequest))
	return el
}

// EncodeRenew builds an unsigned RenewCertificateRequest element, to be
// signed with Signer.Sign.
func EncodeRenew(r *RenewCertificateRequest) *etree.Element {
	el := newOpElement(OpRenew.RequestElement())
	addCommon(el, r.Environment, r.CustomerID, r.CustomerName)
	addText(el, "CertificateRequest", base64.StdEncoding.EncodeToString(r.CertificateRequest))
	return el
}

// EncodeGet builds a GetCertificateRequest element.
func EncodeGet(r *GetCertificateRequest) *etree.Element {
	el := newOpElement(OpGet.RequestElement())
	addCommon(el, r.Environment, r.CustomerID, r.CustomerName)
	addText(el, "RetrievalId", r.RetrievalID)
	return el
}

// EncodeResponse builds an unsigned response element.
func EncodeResponse(r *Response) *etree.Element {
	el := newOpElement(r.Operation.ResponseElement())
	if r.Result.OK() {
		if r.Operation == OpGet {
			addText(el, "Certificate", base64.StdEncoding.EncodeToString(r.Certificate))
		} else {
			addText(el, "RetrievalId", r.RetrievalID)
		}
	}
	res := el.CreateElement("Result")
	addText(res, "Status", r.Result.Status)
	for _, e := range r.Result.Errors {
		ei := res.CreateElement("ErrorInfo")
		addText(ei, "ErrorCode", string(e.Code))
		addText(ei, "ErrorMessage", e.Message)
	}
	return el
}

// Serialize writes el as it stands, without an XML declaration.
func Serialize(el *etree.Element) ([]byte, error) {
	doc := etree.NewDocument()
	doc.WriteSettings = etree.WriteSettings{CanonicalEndTags: true, CanonicalText: true, CanonicalAttrVal: true}
	doc.SetRoot(el)
	var buf bytes.Buffer
	if _, err := doc.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("serialize %s: %w", el.Tag, err)
	}
	return buf.Bytes(), nil
}

// Envelope wraps the bytes of one serialized (and usually signed) operation
// element into a SOAP 1.1 envelope with an empty header, without touching
// those bytes, so that the signature stays valid byte for byte.
func Envelope(element []byte) []byte {
	const head = `<?xml version="1.0" encoding="UTF-8"?>` +
		`<SOAP-ENV:Envelope xmlns:SOAP-ENV="` + SOAPNamespace + `"><SOAP-ENV:Header/><SOAP-ENV:Body>`
	const tail = `</SOAP-ENV:Body></SOAP-ENV:Envelope>`
	out := make([]byte, 0, len(head)+len(element)+len(tail))
	out = append(out, head...)
	out = append(out, element...)
	return append(out, tail...)
}

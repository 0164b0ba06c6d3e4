package wire

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// The one signature profile of protocol.md.
const (
	AlgExcC14N     = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgRSASHA256   = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgSHA256      = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgEnvelopedSg = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
)

// Signer makes enveloped signatures of the protocol's profile: exclusive
// c14n, RSA-SHA256, SHA-256 digest, one Reference with URI="", and the
// signer's certificate in KeyInfo.
type Signer struct {
	ctx *dsig.SigningContext
}

// NewSigner returns a Signer for key, whose certificate chain (leaf first,
// DER) goes into KeyInfo. Only RSA keys fit the profile.
func NewSigner(key crypto.Signer, chain [][]byte) (*Signer, error) {
	if _, ok := key.Public().(*rsa.PublicKey); !ok {
		return nil, fmt.Errorf("wire: signing key must be RSA, is %T", key.Public())
	}
	if len(chain) == 0 {
		return nil, fmt.Errorf("wire: signer needs its certificate")
	}
	ctx, err := dsig.NewSigningContext(key, chain)
	if err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	ctx.Prefix = "ds"
	// No element of this schema has an Id; an impossible attribute name keeps
	// the Reference at URI="".
	ctx.IdAttribute = "\x00"
	if err := ctx.SetSignatureMethod(AlgRSASHA256); err != nil {
		return nil, fmt.Errorf("wire: %w", err)
	}
	return &Signer{ctx: ctx}, nil
}

// Sign signs el as a standalone document and returns the serialized signed
// element, ready for Envelope. el is not modified.
func (s *Signer) Sign(el *etree.Element) ([]byte, error) {
	signed, err := s.ctx.SignEnveloped(el)
	if err != nil {
		return nil, fmt.Errorf("wire: sign %s: %w", el.Tag, err)
	}
	return Serialize(signed)
}

// Detach returns a copy of el that stands alone: it carries the namespace
// declarations it makes itself plus those of its ancestors that it or its
// descendants actually use, and no others. Verifying this copy is verifying
// the element as the document its signer signed, whatever envelope it
// arrived in.
func Detach(el *etree.Element) *etree.Element {
	cp := el.Copy()
	used := map[string]bool{}
	var walk func(e *etree.Element, declared map[string]bool)
	walk = func(e *etree.Element, declared map[string]bool) {
		local, copied := declared, false
		for _, a := range e.Attr {
			if a.Space == "xmlns" || (a.Space == "" && a.Key == "xmlns") {
				if !copied {
					copied = true
					local = make(map[string]bool, len(declared)+1)
					for k := range declared {
						local[k] = true
					}
				}
				if a.Space == "xmlns" {
					local[a.Key] = true
				} else {
					local[""] = true
				}
			}
		}
		if !local[e.Space] {
			used[e.Space] = true
		}
		for _, a := range e.Attr {
			if a.Space != "" && a.Space != "xmlns" && a.Space != "xml" && !local[a.Space] {
				used[a.Space] = true
			}
		}
		for _, c := range e.ChildElements() {
			walk(c, local)
		}
	}
	walk(cp, map[string]bool{})
	for p := range used {
		uri := lookupNS(el.Parent(), p)
		if p == "" {
			if uri != "" {
				cp.CreateAttr("xmlns", uri)
			}
			continue
		}
		if uri != "" {
			cp.CreateAttr("xmlns:"+p, uri)
		}
	}
	return cp
}

// lookupNS resolves prefix p (or the default namespace for "") from el up.
func lookupNS(el *etree.Element, p string) string {
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if p == "" && a.Space == "" && a.Key == "xmlns" {
				return a.Value
			}
			if p != "" && a.Space == "xmlns" && a.Key == p {
				return a.Value
			}
		}
	}
	return ""
}

// SignatureCertificate checks that the standalone element el carries exactly
// one signature of the protocol's profile, as its last child, and returns the
// (not yet trusted) certificate from its KeyInfo. Errors wrap ErrSigMissing,
// ErrSigAlgorithm or ErrSigInvalid.
func SignatureCertificate(el *etree.Element) (*x509.Certificate, error) {
	return signatureCertificate(el, false)
}

// ResponseSignatureCertificate is SignatureCertificate for responses, which
// may also be canonicalised with inclusive Canonical XML 1.0 (the real
// service may sign that way); everything else of the profile holds.
func ResponseSignatureCertificate(el *etree.Element) (*x509.Certificate, error) {
	return signatureCertificate(el, true)
}

// AlgC14N is inclusive Canonical XML 1.0, accepted in responses only.
const AlgC14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"

func signatureCertificate(el *etree.Element, inclusiveOK bool) (*x509.Certificate, error) {
	der, err := signatureProfile(el, inclusiveOK)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("%w: X509Certificate: %v", ErrSigInvalid, err)
	}
	return cert, nil
}

// signatureProfile checks the signature profile of el and returns the DER
// of the signer certificate in its KeyInfo, not yet parsed.
func signatureProfile(el *etree.Element, inclusiveOK bool) ([]byte, error) {
	var sigs []*etree.Element
	var find func(e *etree.Element)
	find = func(e *etree.Element) {
		for _, c := range e.ChildElements() {
			if isDSig(c, "Signature") {
				sigs = append(sigs, c)
			}
			find(c)
		}
	}
	find(el)
	switch {
	case len(sigs) == 0:
		return nil, fmt.Errorf("%w: no ds:Signature in %s", ErrSigMissing, el.Tag)
	case len(sigs) > 1:
		return nil, fmt.Errorf("%w: %d ds:Signature elements, exactly one is allowed", ErrSigInvalid, len(sigs))
	}
	sig := sigs[0]
	kids := el.ChildElements()
	if sig.Parent() != el || kids[len(kids)-1] != sig {
		return nil, fmt.Errorf("%w: ds:Signature must be the last child of %s", ErrSigInvalid, el.Tag)
	}
	parts, err := dsChildren(sig, "SignedInfo", "SignatureValue", "KeyInfo")
	if err != nil {
		return nil, err
	}
	si, ki := parts[0], parts[2]
	siKids := si.ChildElements()
	if len(siKids) < 3 || !isDSig(siKids[0], "CanonicalizationMethod") || !isDSig(siKids[1], "SignatureMethod") {
		return nil, fmt.Errorf("%w: SignedInfo must hold CanonicalizationMethod, SignatureMethod and one Reference", ErrSigInvalid)
	}
	if len(siKids) != 3 || !isDSig(siKids[2], "Reference") {
		return nil, fmt.Errorf("%w: exactly one Reference is allowed", ErrSigAlgorithm)
	}
	if a := siKids[0].SelectAttrValue("Algorithm", ""); !(a == AlgExcC14N || (inclusiveOK && a == AlgC14N)) || len(siKids[0].ChildElements()) != 0 {
		return nil, fmt.Errorf("%w: CanonicalizationMethod: only exclusive c14n is allowed", ErrSigAlgorithm)
	}
	if a := siKids[1].SelectAttrValue("Algorithm", ""); a != AlgRSASHA256 {
		return nil, fmt.Errorf("%w: SignatureMethod: only rsa-sha256 is allowed", ErrSigAlgorithm)
	}
	ref := siKids[2]
	for _, a := range ref.Attr {
		if a.Key != "URI" || a.Space != "" {
			return nil, fmt.Errorf("%w: Reference has an attribute other than URI", ErrSigAlgorithm)
		}
	}
	if uri := ref.SelectAttr("URI"); uri == nil || uri.Value != "" {
		return nil, fmt.Errorf("%w: Reference must have URI=\"\" (the whole request)", ErrSigAlgorithm)
	}
	rk, err := dsChildren(ref, "Transforms", "DigestMethod", "DigestValue")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSigAlgorithm, err)
	}
	var algs []string
	for _, t := range rk[0].ChildElements() {
		if !isDSig(t, "Transform") {
			return nil, fmt.Errorf("%w: unexpected %s in Transforms", ErrSigAlgorithm, nameOf(t))
		}
		algs = append(algs, t.SelectAttrValue("Algorithm", ""))
		for _, tc := range t.ChildElements() {
			if !(tc.Tag == "InclusiveNamespaces" && tc.NamespaceURI() == AlgExcC14N) {
				return nil, fmt.Errorf("%w: unexpected %s in Transform", ErrSigAlgorithm, nameOf(tc))
			}
		}
	}
	switch strings.Join(algs, " ") {
	case AlgEnvelopedSg, AlgEnvelopedSg + " " + AlgExcC14N:
	case AlgEnvelopedSg + " " + AlgC14N:
		if !inclusiveOK {
			return nil, fmt.Errorf("%w: Transforms: allowed are enveloped-signature then optionally exclusive c14n", ErrSigAlgorithm)
		}
	default:
		return nil, fmt.Errorf("%w: Transforms: allowed are enveloped-signature then optionally exclusive c14n", ErrSigAlgorithm)
	}
	if a := rk[1].SelectAttrValue("Algorithm", ""); a != AlgSHA256 {
		return nil, fmt.Errorf("%w: DigestMethod: only SHA-256 is allowed", ErrSigAlgorithm)
	}
	xd := ki.ChildElements()
	if len(xd) != 1 || !isDSig(xd[0], "X509Data") {
		return nil, fmt.Errorf("%w: KeyInfo must hold one X509Data", ErrSigInvalid)
	}
	certs := xd[0].ChildElements()
	if len(certs) == 0 || !isDSig(certs[0], "X509Certificate") {
		return nil, fmt.Errorf("%w: X509Data must start with the signer's X509Certificate", ErrSigInvalid)
	}
	for _, c := range certs {
		if !isDSig(c, "X509Certificate") {
			return nil, fmt.Errorf("%w: unexpected %s in X509Data", ErrSigInvalid, nameOf(c))
		}
	}
	txt, err := textOf(certs[0])
	if err != nil {
		return nil, fmt.Errorf("%w: X509Certificate: %v", ErrSigInvalid, err)
	}
	der, err := DecodeBase64(txt)
	if err != nil {
		return nil, fmt.Errorf("%w: X509Certificate: %v", ErrSigInvalid, err)
	}
	return der, nil
}

// SignedDigest returns the SHA-256 digest in the signature of the
// standalone element el (its Reference's DigestValue). After Verify has
// accepted el it is the digest of exactly the canonical bytes the signature
// covers, so two requests with the same signed content have the same one,
// however they were formatted; before that it is an unverified claim.
func SignedDigest(el *etree.Element) ([]byte, error) {
	kids := el.ChildElements()
	if len(kids) == 0 || !isDSig(kids[len(kids)-1], "Signature") {
		return nil, fmt.Errorf("%w: no ds:Signature in %s", ErrSigMissing, el.Tag)
	}
	dv := kids[len(kids)-1].FindElement("./SignedInfo/Reference/DigestValue")
	if dv == nil || !isDSig(dv, "DigestValue") {
		return nil, fmt.Errorf("%w: no DigestValue", ErrSigInvalid)
	}
	txt, err := textOf(dv)
	if err != nil {
		return nil, fmt.Errorf("%w: DigestValue: %v", ErrSigInvalid, err)
	}
	d, err := DecodeBase64(txt)
	if err != nil || len(d) != 32 {
		return nil, fmt.Errorf("%w: DigestValue is not a SHA-256 digest in base64", ErrSigInvalid)
	}
	return d, nil
}

// dsChildren checks that el's child elements are exactly the named ds
// elements in order and returns them.
func dsChildren(el *etree.Element, names ...string) ([]*etree.Element, error) {
	kids, err := elementChildren(el, false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSigInvalid, err)
	}
	if len(kids) != len(names) {
		return nil, fmt.Errorf("%w: %s must hold %s", ErrSigInvalid, el.Tag, strings.Join(names, ", "))
	}
	for i, n := range names {
		if !isDSig(kids[i], n) {
			return nil, fmt.Errorf("%w: %s must hold %s, found %s at %d", ErrSigInvalid, nameOf(el), strings.Join(names, ", "), nameOf(kids[i]), i+1)
		}
	}
	return kids, nil
}

// Signed is a standalone element whose signature follows the protocol's
// profile, with the signer's certificate from KeyInfo: parsed, not yet
// trusted and not yet verified.
type Signed struct {
	Cert *x509.Certificate
	el   *etree.Element
}

// ParseSigned is SignatureCertificate keeping what it found, so that
// Verify need not check the profile a second time.
func ParseSigned(el *etree.Element) (*Signed, error) {
	cert, err := signatureCertificate(el, false)
	if err != nil {
		return nil, err
	}
	return &Signed{Cert: cert, el: el}, nil
}

// Verify checks the signature with s.Cert, which the caller has decided to
// trust, and returns the element the signature covers, as Verify does. The
// element must not change between ParseSigned and Verify, nor be read by
// another goroutine during Verify.
func (s *Signed) Verify(now time.Time) (*etree.Element, error) {
	return validate(s.el, s.Cert, now)
}

// Verify checks the enveloped signature of the standalone element el with
// cert (already checked by SignatureCertificate and trusted by the caller)
// and returns the element that the signature covers, rebuilt from the
// verified canonical bytes and without its Signature. Callers take every
// value they use from the returned element, never from el.
func Verify(el *etree.Element, cert *x509.Certificate, now time.Time) (*etree.Element, error) {
	return verify(el, cert, now, false)
}

// VerifyResponse is Verify for responses (see ResponseSignatureCertificate).
func VerifyResponse(el *etree.Element, cert *x509.Certificate, now time.Time) (*etree.Element, error) {
	return verify(el, cert, now, true)
}

// verify checks the profile again (callers may have skipped
// SignatureCertificate), that cert is the one in KeyInfo, and the signature.
// The KeyInfo certificate is compared as bytes, not parsed a second time.
func verify(el *etree.Element, cert *x509.Certificate, now time.Time, inclusiveOK bool) (*etree.Element, error) {
	der, err := signatureProfile(el, inclusiveOK)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(der, cert.Raw) {
		return nil, fmt.Errorf("%w: the certificate given is not the one in KeyInfo", ErrSigInvalid)
	}
	return validate(el.Copy(), cert, now)
}

// validate has goxmldsig verify el, whose profile has been checked and
// whose KeyInfo holds cert, with cert.
//
// goxmldsig is given cert as its only root and el without KeyInfo, so it
// verifies with that certificate's key instead of decoding, parsing and
// comparing KeyInfo a second time. KeyInfo is outside what the signature
// covers (the enveloped-signature transform removes the whole Signature,
// and SignedInfo does not contain it), so removing it changes no signed
// byte. It is put back before validate returns; goxmldsig works on a copy.
func validate(el *etree.Element, cert *x509.Certificate, now time.Time) (*etree.Element, error) {
	kids := el.ChildElements()
	sigEl := kids[len(kids)-1]
	keyInfo := sigEl.ChildElements()[2]
	at := keyInfo.Index()
	sigEl.RemoveChildAt(at)
	defer sigEl.InsertChildAt(at, keyInfo)
	vctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vctx.Clock = dsig.NewFakeClockAt(now)
	vctx.IdAttribute = "\x00"
	out, err := vctx.Validate(el)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSigInvalid, err)
	}
	if out.Tag != el.Tag || out.NamespaceURI() != el.NamespaceURI() {
		return nil, fmt.Errorf("%w: signed element is %s, not %s", ErrSigInvalid, nameOf(out), nameOf(el))
	}
	return out, nil
}

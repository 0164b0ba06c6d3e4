package security_test

import (
	"crypto"
	"crypto/hmac"
	_ "crypto/md5" // rsa-md5 and md5 digests for the weak-algorithm cases
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"testing"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/irpki/irpki/internal/wire"
)

// Algorithm identifiers outside the profile.
const (
	algRSASHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	algRSAMD5    = "http://www.w3.org/2001/04/xmldsig-more#rsa-md5"
	algRSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
	algHMACSHA1  = "http://www.w3.org/2000/09/xmldsig#hmac-sha1"
	algHMACSHA25 = "http://www.w3.org/2001/04/xmldsig-more#hmac-sha256"
	algSHA1      = "http://www.w3.org/2000/09/xmldsig#sha1"
	algMD5       = "http://www.w3.org/2001/04/xmldsig-more#md5"
	algSHA512    = "http://www.w3.org/2001/04/xmlenc#sha512"
	algXSLT      = "http://www.w3.org/TR/1999/REC-xslt-19991116"
	algXPath     = "http://www.w3.org/TR/1999/REC-xpath-19991116"
	algXPath2    = "http://www.w3.org/2002/06/xmldsig-filter2"
	algExcC14NC  = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"
	algC14N11    = "http://www.w3.org/2006/12/xml-c14n11"
	algBase64    = "http://www.w3.org/2000/09/xmldsig#base64"
)

// sigSpec describes a hand-made enveloped signature: every algorithm and
// the reference can be chosen, and the signature is computed properly for
// them, so that a refusal is about the choice, not a broken value.
type sigSpec struct {
	Prefix       string      // "ds" by default; "-" for a default namespace
	C14N         string      // CanonicalizationMethod
	SigMethod    string      // SignatureMethod
	SigHash      crypto.Hash // hash of the RSA signature (0: HMAC keyed with the public key)
	DigestMethod string      // DigestMethod
	DigestHash   crypto.Hash // hash of the reference digest
	Transforms   []string    // Transform algorithms
	TransformXML string      // raw child XML for the last transform (XPath, XSLT)
	RefURI       string      // Reference URI
	Refs         int         // number of References (default 1)
	SignerCert   *x509.Certificate
	Key          *rsa.PrivateKey
	ExtraCerts   []*x509.Certificate
	SignedInfoNS func(*etree.Element)
}

// profile returns the service's own profile, signed by key/cert.
func profile(key *rsa.PrivateKey, cert *x509.Certificate) sigSpec {
	return sigSpec{
		C14N: wire.AlgExcC14N, SigMethod: wire.AlgRSASHA256, SigHash: crypto.SHA256,
		DigestMethod: wire.AlgSHA256, DigestHash: crypto.SHA256,
		Transforms: []string{wire.AlgEnvelopedSg, wire.AlgExcC14N},
		Key:        key, SignerCert: cert,
	}
}

// signWith signs the unsigned standalone element el with sp and returns the
// signed element (a copy).
func signWith(t testing.TB, el *etree.Element, sp sigSpec) *etree.Element {
	t.Helper()
	prefix := sp.Prefix
	if prefix == "" {
		prefix = "ds"
	}
	if prefix == "-" {
		prefix = ""
	}
	c14n := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	canon, err := c14n.Canonicalize(el.Copy())
	if err != nil {
		t.Fatal(err)
	}
	h := sp.DigestHash.New()
	h.Write(canon)
	digest := h.Sum(nil)

	mk := func(parent *etree.Element, tag string) *etree.Element {
		c := parent.CreateElement(tag)
		c.Space = prefix
		return c
	}
	sig := etree.NewElement("Signature")
	sig.Space = prefix
	if prefix == "" {
		sig.CreateAttr("xmlns", wire.DSigNamespace)
	} else {
		sig.CreateAttr("xmlns:"+prefix, wire.DSigNamespace)
	}
	si := mk(sig, "SignedInfo")
	mk(si, "CanonicalizationMethod").CreateAttr("Algorithm", sp.C14N)
	mk(si, "SignatureMethod").CreateAttr("Algorithm", sp.SigMethod)
	refs := sp.Refs
	if refs == 0 {
		refs = 1
	}
	for i := 0; i < refs; i++ {
		ref := mk(si, "Reference")
		ref.CreateAttr("URI", sp.RefURI)
		tr := mk(ref, "Transforms")
		for j, a := range sp.Transforms {
			x := mk(tr, "Transform")
			x.CreateAttr("Algorithm", a)
			if j == len(sp.Transforms)-1 && sp.TransformXML != "" {
				d := etree.NewDocument()
				if err := d.ReadFromString(`<w xmlns:` + prefix + `="` + wire.DSigNamespace + `">` + sp.TransformXML + `</w>`); err != nil {
					t.Fatal(err)
				}
				for _, c := range d.Root().ChildElements() {
					x.AddChild(c.Copy())
				}
			}
		}
		mk(ref, "DigestMethod").CreateAttr("Algorithm", sp.DigestMethod)
		mk(ref, "DigestValue").SetText(base64.StdEncoding.EncodeToString(digest))
	}
	if sp.SignedInfoNS != nil {
		sp.SignedInfoNS(si)
	}
	// SignedInfo is canonicalised standalone with the ds declaration in
	// scope, as the verifier detaches it.
	siCopy := si.Copy()
	if prefix == "" {
		siCopy.CreateAttr("xmlns", wire.DSigNamespace)
	} else {
		siCopy.CreateAttr("xmlns:"+prefix, wire.DSigNamespace)
	}
	siCanon, err := c14n.Canonicalize(siCopy)
	if err != nil {
		t.Fatal(err)
	}
	var value []byte
	if sp.SigHash == 0 || sp.SigMethod == algHMACSHA1 || sp.SigMethod == algHMACSHA25 {
		// The classic confusion attack: HMAC keyed with the public key.
		hf := crypto.SHA1.New
		if sp.SigMethod == algHMACSHA25 {
			hf = crypto.SHA256.New
		}
		m := hmac.New(hf, sp.SignerCert.RawSubjectPublicKeyInfo)
		m.Write(siCanon)
		value = m.Sum(nil)
	} else {
		sh := sp.SigHash.New()
		sh.Write(siCanon)
		value, err = rsa.SignPKCS1v15(rand.Reader, sp.Key, sp.SigHash, sh.Sum(nil))
		if err != nil {
			t.Fatal(err)
		}
	}
	mk(sig, "SignatureValue").SetText(base64.StdEncoding.EncodeToString(value))
	x509d := mk(mk(sig, "KeyInfo"), "X509Data")
	for _, c := range append([]*x509.Certificate{sp.SignerCert}, sp.ExtraCerts...) {
		mk(x509d, "X509Certificate").SetText(base64.StdEncoding.EncodeToString(c.Raw))
	}
	out := el.Copy()
	out.AddChild(sig)
	return out
}

package security_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"github.com/irpki/irpki/client"
	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/ca/catest"
	"github.com/irpki/irpki/internal/server/irpkidtest"
	"github.com/irpki/irpki/internal/wire"
)

// renewFixture is a service with two organisations, each holding a
// certificate inside its renewal window.
type renewFixture struct {
	s    *irpkidtest.Server
	a, b irpkidtest.Enrolled
}

func newRenewFixture(t *testing.T) *renewFixture {
	t.Helper()
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, custA, "Acme Oy")
	s.AddOrg(t, custB, "Beta Oy")
	return &renewFixture{s: s, a: s.Enroll(t, custA, shortValidity), b: s.Enroll(t, custB, shortValidity)}
}

// signedRenew returns the RenewCertificateRequest for customer with csr,
// signed as a real client signs it, parsed.
func signedRenew(t testing.TB, env, customer string, csr []byte, key crypto.Signer, cert *x509.Certificate) *etree.Element {
	t.Helper()
	b, err := client.SignRenewRequest(env, customer, "", csr, key, cert)
	if err != nil {
		t.Fatal(err)
	}
	return parseEl(t, b)
}

// unsignedRenew returns the RenewCertificateRequest element, unsigned.
func unsignedRenew(env, customer string, csr []byte) *etree.Element {
	return wire.EncodeRenew(&wire.RenewCertificateRequest{Environment: env, CustomerID: customer, CertificateRequest: csr})
}

func child(t testing.TB, el *etree.Element, tag string) *etree.Element {
	t.Helper()
	for _, c := range el.ChildElements() {
		if c.Tag == tag {
			return c
		}
	}
	t.Fatalf("%s has no %s", el.Tag, tag)
	return nil
}

func withoutSig(t testing.TB, el *etree.Element) *etree.Element {
	t.Helper()
	cp := el.Copy()
	cp.RemoveChild(child(t, cp, "Signature"))
	return cp
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// TestSignatureWrapping posts every known way of making a signed
// RenewCertificateRequest say something its signer did not sign, and
// signatures made with the wrong certificates, over real HTTP. Each is
// refused with its specific code and no certificate is issued. The
// unmodified request is accepted last, to show the refusals were about the
// attack.
func TestSignatureWrapping(t *testing.T) {
	f := newRenewFixture(t)
	s := f.s
	env := wire.EnvTest
	goodKey := irpkidtest.NewKey(t)
	goodCSR := irpkidtest.CSR(t, goodKey, custA)
	evilKey := irpkidtest.NewKey(t)
	evilCSR := irpkidtest.CSR(t, evilKey, custA)

	orig := signedRenew(t, env, custA, goodCSR, f.a.Key, f.a.Cert)
	origS := serS(t, orig)
	// forged: the signed request with the attacker's CSR swapped in; its
	// signature is the victim's, untouched.
	forged := func(t testing.TB) *etree.Element {
		el := orig.Copy()
		child(t, el, "CertificateRequest").SetText(b64(evilCSR))
		return el
	}
	body := func(t testing.TB, el *etree.Element) []byte { return envelope("", serS(t, el)) }

	// Certificates that sign properly but must not be trusted.
	revoked := s.Enroll(t, custA, shortValidity)
	if _, err := s.Service.Revoke(context.Background(), fmtSerial(revoked.Cert), "key_compromise", "", "test", nil); err != nil {
		t.Fatal(err)
	}
	other, _, err := ca.Create(wire.EnvTest, irpkidtest.Epoch.AddDate(-1, 0, 0), catest.Options())
	if err != nil {
		t.Fatal(err)
	}
	otherKey := irpkidtest.NewKey(t)
	sameSubject := mintCert(t, other.Issuing, other.IssuingKey, f.a.Cert, &otherKey.PublicKey, nil)
	sameSerial := mintCert(t, other.Issuing, other.IssuingKey, f.a.Cert, &otherKey.PublicKey, f.a.Cert.SerialNumber)
	selfSigned := mintCert(t, nil, otherKey, f.a.Cert, &otherKey.PublicKey, f.a.Cert.SerialNumber)
	// The victim's own certificate re-signed by another CA with the victim's
	// public key: the attacker cannot sign with it, so sign with the
	// victim's key as a stand-in for the strongest case.
	victimPubOtherCA := mintCert(t, other.Issuing, other.IssuingKey, f.a.Cert, &f.a.Key.PublicKey, f.a.Cert.SerialNumber)
	// An impostor of our issuing CA: its exact name and key identifier, so
	// that the certificates it makes name our CA as their issuer, but
	// another key. Only the store's pin on the signer's exact DER stands
	// between these and a renewal.
	impostor := *s.CA.Issuing
	impostor.PublicKey = &otherKey.PublicKey
	impostorSameSerial := mintCert(t, &impostor, otherKey, f.a.Cert, &otherKey.PublicKey, f.a.Cert.SerialNumber)
	impostorNewSerial := mintCert(t, &impostor, otherKey, f.a.Cert, &otherKey.PublicKey, nil)
	// The impostor's certificates for keys the service never certifies: a
	// 16384-bit key would cost about 60 normal verifications, and nothing
	// but the key check stands before verification (found in review; a
	// 65536-bit key cost 178 ms). These moduli are random odd numbers: no
	// one needs their private keys, the request is signed with otherKey.
	fakeRSA := func(bits int) *rsa.PublicKey {
		n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits)))
		if err != nil {
			t.Fatal(err)
		}
		n.SetBit(n, bits-1, 1)
		n.SetBit(n, 0, 1)
		return &rsa.PublicKey{N: n, E: 65537}
	}
	impostorHugeKey := mintCert(t, &impostor, otherKey, f.a.Cert, fakeRSA(16384), nil)
	impostorSmallKey := mintCert(t, &impostor, otherKey, f.a.Cert, fakeRSA(1024), nil)
	// The impostor's copies of the victim's certificate with other dates:
	// what such a certificate says of itself (expired, not yet renewable)
	// must not be answered, nor filed under the victim, before the store
	// has it (found in review: SIGNER_EXPIRED, audited under the victim's
	// customer and serial).
	redated := func(nb, na time.Time) *x509.Certificate {
		m := *f.a.Cert
		m.NotBefore, m.NotAfter = nb, na
		return mintCert(t, &impostor, otherKey, &m, &otherKey.PublicKey, f.a.Cert.SerialNumber)
	}
	now := s.Clock.Now()
	impostorExpired := redated(now.AddDate(-3, 0, 0), now.AddDate(-1, 0, 0))
	impostorNotYet := redated(now.AddDate(0, 0, -1), now.AddDate(1, 0, 0))
	if !s.CA.NamesUsAsIssuer(impostorSameSerial) || !s.CA.NamesUsAsIssuer(impostorNewSerial) || !s.CA.NamesUsAsIssuer(impostorHugeKey) {
		t.Fatal("the impostor's certificates do not name our issuing CA")
	}

	type tc struct {
		name string
		body func(testing.TB) []byte
		want wire.Code
	}
	cases := []tc{
		// The eight XSW variants, adapted to an enveloped URI="" reference.
		{"xsw1 original cloned into Signature before SignedInfo", func(t testing.TB) []byte {
			el := forged(t)
			child(t, el, "Signature").InsertChildAt(0, withoutSig(t, orig))
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"xsw2 original cloned before the Signature", func(t testing.TB) []byte {
			el := forged(t)
			el.InsertChildAt(child(t, el, "Signature").Index(), withoutSig(t, orig))
			return body(t, el)
		}, wire.CodeSchema},
		{"xsw3 forged sibling before the signed request in Body", func(t testing.TB) []byte {
			return envelope("", serS(t, withoutSig(t, forged(t)))+origS)
		}, wire.CodeMalformed},
		{"xsw3 signed original in Header, forged in Body", func(t testing.TB) []byte {
			return envelope(origS, serS(t, forged(t)))
		}, wire.CodeSigInvalid},
		{"xsw4 forged wrapper around the signed request", func(t testing.TB) []byte {
			w := unsignedRenew(env, custA, evilCSR)
			w.AddChild(orig.Copy())
			return body(t, w)
		}, wire.CodeSigInvalid},
		{"xsw4 forged wrapper around the signed request, signature lifted", func(t testing.TB) []byte {
			w := unsignedRenew(env, custA, evilCSR)
			w.AddChild(withoutSig(t, orig))
			w.AddChild(child(t, orig, "Signature").Copy())
			return body(t, w)
		}, wire.CodeSchema},
		{"xsw5 modified original, untouched copy in Header", func(t testing.TB) []byte {
			return envelope(serS(t, withoutSig(t, orig)), serS(t, forged(t)))
		}, wire.CodeSigInvalid},
		{"xsw6 modified original, untouched copy inside Signature", func(t testing.TB) []byte {
			el := forged(t)
			child(t, el, "Signature").AddChild(withoutSig(t, orig))
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"xsw7 modified original, untouched copy inside ds:Object", func(t testing.TB) []byte {
			el := forged(t)
			obj := child(t, el, "Signature").CreateElement("Object")
			obj.Space = "ds"
			obj.AddChild(withoutSig(t, orig))
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"xsw8 modified original, untouched copy inside an inserted extension", func(t testing.TB) []byte {
			el := forged(t)
			ext := etree.NewElement("Extensions")
			ext.AddChild(withoutSig(t, orig))
			el.InsertChildAt(child(t, el, "Signature").Index(), ext)
			return body(t, el)
		}, wire.CodeSchema},
		{"xsw8 modified original, untouched copy inside ds:Object/Extensions", func(t testing.TB) []byte {
			el := forged(t)
			obj := child(t, el, "Signature").CreateElement("Object")
			obj.Space = "ds"
			obj.CreateElement("Extensions").AddChild(withoutSig(t, orig))
			return body(t, el)
		}, wire.CodeSigInvalid},

		// Where the signature is.
		{"signature removed", func(t testing.TB) []byte { return body(t, withoutSig(t, forged(t))) }, wire.CodeSigMissing},
		{"signature removed from the original", func(t testing.TB) []byte { return body(t, withoutSig(t, orig)) }, wire.CodeSigMissing},
		{"signature moved to first child", func(t testing.TB) []byte {
			el := orig.Copy()
			sig := child(t, el, "Signature")
			el.RemoveChild(sig)
			el.InsertChildAt(0, sig)
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"signature moved into CertificateRequest", func(t testing.TB) []byte {
			el := orig.Copy()
			sig := child(t, el, "Signature")
			el.RemoveChild(sig)
			child(t, el, "CertificateRequest").AddChild(sig)
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"signature moved into the SOAP Header", func(t testing.TB) []byte {
			return envelope(serS(t, child(t, orig, "Signature")), serS(t, withoutSig(t, orig)))
		}, wire.CodeSigMissing},
		{"two Signatures", func(t testing.TB) []byte {
			el := orig.Copy()
			el.AddChild(child(t, orig, "Signature").Copy())
			return body(t, el)
		}, wire.CodeSchema},
		{"two Signatures, second inside a child", func(t testing.TB) []byte {
			el := orig.Copy()
			child(t, el, "Environment").AddChild(child(t, orig, "Signature").Copy())
			return body(t, el)
		}, wire.CodeSchema},
		{"a second Signature of another customer", func(t testing.TB) []byte {
			el := orig.Copy()
			other := signedRenew(t, env, custB, evilCSR, f.b.Key, f.b.Cert)
			el.AddChild(child(t, other, "Signature").Copy())
			return body(t, el)
		}, wire.CodeSchema},

		// SignedInfo outside the profile, each signed properly.
		{"two References", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.Refs = 2
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"Reference to an ID", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.RefURI = "#req"
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"Reference to an ID carried by the request", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.RefURI = "#req"
			el := unsignedRenew(env, custA, evilCSR)
			el.CreateAttr("ID", "req")
			return body(t, signWith(t, el, sp))
		}, wire.CodeSchema},
		{"Reference URI changed after signing", func(t testing.TB) []byte {
			el := orig.Copy()
			el.FindElement(".//Reference").SelectAttr("URI").Value = "#x"
			return body(t, el)
		}, wire.CodeSigAlgorithm},
		{"XSLT transform", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.Transforms = []string{wire.AlgEnvelopedSg, algXSLT}
			sp.TransformXML = `<xsl:stylesheet xmlns:xsl="http://www.w3.org/1999/XSL/Transform" version="1.0"><xsl:template match="/"><xsl:copy-of select="document('http://127.0.0.1:1/x')"/></xsl:template></xsl:stylesheet>`
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"XPath transform", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.Transforms = []string{wire.AlgEnvelopedSg, algXPath, wire.AlgExcC14N}
			sp.TransformXML = ""
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"XPath Filter 2.0 transform", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.Transforms = []string{wire.AlgEnvelopedSg, algXPath2}
			sp.TransformXML = `<dsig-xpath:XPath xmlns:dsig-xpath="http://www.w3.org/2002/06/xmldsig-filter2" Filter="subtract">//CertificateRequest</dsig-xpath:XPath>`
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"base64 transform", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.Transforms = []string{wire.AlgEnvelopedSg, algBase64}
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"no enveloped-signature transform", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.Transforms = []string{wire.AlgExcC14N}
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"exclusive c14n with comments transform", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.Transforms = []string{wire.AlgEnvelopedSg, algExcC14NC}
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"inclusive c14n 1.0 CanonicalizationMethod", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.C14N = wire.AlgC14N
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"c14n 1.1 CanonicalizationMethod", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.C14N = algC14N11
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"rsa-sha1 with sha1 digest", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.SigMethod, sp.SigHash, sp.DigestMethod, sp.DigestHash = algRSASHA1, crypto.SHA1, algSHA1, crypto.SHA1
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"rsa-sha1 with sha256 digest", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.SigMethod, sp.SigHash = algRSASHA1, crypto.SHA1
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"rsa-sha256 with sha1 digest", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.DigestMethod, sp.DigestHash = algSHA1, crypto.SHA1
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"rsa-md5 with md5 digest", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.SigMethod, sp.SigHash, sp.DigestMethod, sp.DigestHash = algRSAMD5, crypto.MD5, algMD5, crypto.MD5
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"rsa-sha512 with sha512 digest", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.SigMethod, sp.SigHash, sp.DigestMethod, sp.DigestHash = algRSASHA512, crypto.SHA512, algSHA512, crypto.SHA512
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"hmac-sha1 keyed with the public key", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.SigMethod = algHMACSHA1
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"hmac-sha256 keyed with the public key", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.a.Cert)
			sp.SigMethod = algHMACSHA25
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigAlgorithm},
		{"SignatureMethod changed to rsa-sha1 after signing", func(t testing.TB) []byte {
			el := orig.Copy()
			el.FindElement(".//SignatureMethod").SelectAttr("Algorithm").Value = algRSASHA1
			return body(t, el)
		}, wire.CodeSigAlgorithm},

		// Values changed after signing; comments inside values.
		{"CustomerId changed after signing", func(t testing.TB) []byte {
			el := orig.Copy()
			child(t, el, "CustomerId").SetText(custB)
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"CertificateRequest changed after signing", func(t testing.TB) []byte { return body(t, forged(t)) }, wire.CodeSigInvalid},
		{"Environment changed after signing", func(t testing.TB) []byte {
			el := orig.Copy()
			child(t, el, "Environment").SetText(wire.EnvProduction)
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"CustomerName added after signing", func(t testing.TB) []byte {
			el := orig.Copy()
			n := etree.NewElement("CustomerName")
			n.SetText("Evil Oy")
			el.InsertChildAt(child(t, el, "CustomerId").Index()+1, n)
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"line breaks added inside the signed base64", func(t testing.TB) []byte {
			el := orig.Copy()
			c := child(t, el, "CertificateRequest")
			v := c.Text()
			c.SetText(v[:64] + "\n" + v[64:])
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"comment inside CustomerId", func(t testing.TB) []byte {
			return []byte(strings.Replace(string(body(t, orig)), custA+"<", custA[:7]+"<!---->"+custA[7:]+"<", 1))
		}, wire.CodeSchema},
		{"comment inside CertificateRequest", func(t testing.TB) []byte {
			v := b64(goodCSR)
			return []byte(strings.Replace(string(body(t, orig)), v, v[:40]+"<!--x-->"+v[40:], 1))
		}, wire.CodeSchema},
		{"comment truncating CustomerId to another customer", func(t testing.TB) []byte {
			// Signed CustomerId "7654321-2" by B, presented as A by a reader
			// that takes only the text before the comment.
			el := signedRenew(t, env, custB, evilCSR, f.b.Key, f.b.Cert)
			return []byte(strings.Replace(string(body(t, el)), "<CustomerId>"+custB, "<CustomerId>"+custA+"<!---->"+custB, 1))
		}, wire.CodeSchema},
		{"comment between request children", func(t testing.TB) []byte {
			return []byte(strings.Replace(string(body(t, orig)), "<CustomerId>", "<!--c--><CustomerId>", 1))
		}, wire.CodeSchema},
		// Namespace tricks.
		{"ds prefix rebound to another namespace on Signature", func(t testing.TB) []byte {
			el := orig.Copy()
			child(t, el, "Signature").SelectAttr("xmlns:ds").Value = "urn:evil"
			return body(t, el)
		}, wire.CodeSigMissing},
		{"ds prefix rebound inside SignedInfo", func(t testing.TB) []byte {
			el := orig.Copy()
			el.FindElement(".//SignedInfo").CreateAttr("xmlns:ds", "urn:evil")
			return body(t, el)
		}, wire.CodeSigInvalid},
		{"ds prefix renamed after signing", func(t testing.TB) []byte {
			return []byte(strings.ReplaceAll(strings.ReplaceAll(string(body(t, orig)), "ds:", "dsx:"), "xmlns:ds=", "xmlns:dsx="))
		}, wire.CodeSigInvalid},
		{"default namespace of the children changed on the request", func(t testing.TB) []byte {
			el := orig.Copy()
			el.CreateAttr("xmlns", wire.Namespace)
			return body(t, el)
		}, wire.CodeSchema},
		{"default namespace on one child", func(t testing.TB) []byte {
			el := orig.Copy()
			child(t, el, "CustomerId").CreateAttr("xmlns", "urn:evil")
			return body(t, el)
		}, wire.CodeSchema},
		{"service prefix rebound to another namespace", func(t testing.TB) []byte {
			el := orig.Copy()
			el.SelectAttr("xmlns:cer").Value = "urn:evil"
			return body(t, el)
		}, wire.CodeUnknownOp},
		{"forged request with the service namespace as default", func(t testing.TB) []byte {
			el := forged(t)
			el.Space = ""
			el.RemoveAttr("xmlns:cer")
			el.CreateAttr("xmlns", wire.Namespace)
			for _, c := range el.ChildElements() {
				if c.Tag != "Signature" {
					c.CreateAttr("xmlns", "")
				}
			}
			return body(t, el)
		}, wire.CodeSigInvalid},

		// Signatures by certificates that must not be trusted.
		{"signed by another customer's certificate", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, f.b.Key, f.b.Cert))
		}, wire.CodeSignerCustomer},
		{"other customer's certificate in KeyInfo, victim's key", func(t testing.TB) []byte {
			sp := profile(f.a.Key, f.b.Cert)
			return body(t, signWith(t, unsignedRenew(env, custB, evilCSR), sp))
		}, wire.CodeSigInvalid},
		{"victim's certificate in KeyInfo, attacker's key", func(t testing.TB) []byte {
			sp := profile(f.b.Key, f.a.Cert)
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigInvalid},
		{"signed by a revoked certificate", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, revoked.Key, revoked.Cert))
		}, wire.CodeSignerRevoked},
		{"signed by another CA's certificate with the same subject", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, otherKey, sameSubject))
		}, wire.CodeSignerUnknown},
		{"signed by another CA's certificate with the same subject and serial", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, otherKey, sameSerial))
		}, wire.CodeSignerUnknown},
		{"signed by a self-signed certificate with the same subject and serial", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, otherKey, selfSigned))
		}, wire.CodeSignerUnknown},
		{"victim's key under another CA's certificate, same serial", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, f.a.Key, victimPubOtherCA))
		}, wire.CodeSignerUnknown},
		{"signed by an impostor of our issuing CA (its name and key id), the victim's serial", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, otherKey, impostorSameSerial))
		}, wire.CodeSignerUnknown},
		{"signed by an impostor of our issuing CA (its name and key id), a new serial", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, otherKey, impostorNewSerial))
		}, wire.CodeSignerUnknown},
		{"an impostor's expired copy of the victim's certificate", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, otherKey, impostorExpired))
		}, wire.CodeSignerUnknown},
		{"an impostor's copy of the victim's certificate, a year from expiry", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, otherKey, impostorNotYet))
		}, wire.CodeSignerUnknown},
		{"an impostor of our issuing CA's certificate for a 16384-bit key in KeyInfo", func(t testing.TB) []byte {
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), profile(otherKey, impostorHugeKey)))
		}, wire.CodeSignerUnknown},
		{"an impostor of our issuing CA's certificate for a 1024-bit key in KeyInfo", func(t testing.TB) []byte {
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), profile(otherKey, impostorSmallKey)))
		}, wire.CodeSignerUnknown},
		{"signed by the service's own response signing certificate", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, s.CA.SigningKey, s.CA.Signing))
		}, wire.CodeSignerUnknown},
		{"signed by the issuing CA certificate", func(t testing.TB) []byte {
			return body(t, signedRenew(t, env, custA, evilCSR, s.CA.IssuingKey, s.CA.Issuing))
		}, wire.CodeSignerUnknown},
		{"victim's certificate with the issuing CA appended in X509Data", func(t testing.TB) []byte {
			sp := profile(f.b.Key, f.a.Cert)
			sp.ExtraCerts = []*x509.Certificate{s.CA.Issuing}
			return body(t, signWith(t, unsignedRenew(env, custA, evilCSR), sp))
		}, wire.CodeSigInvalid},
	}

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := certCount(t, s)
			o := post(t, s.URL, `"renewCertificate"`, "text/xml; charset=utf-8", c.body(t))
			after := certCount(t, s)
			t.Logf("answer %v", o)
			if after != before {
				t.Errorf("%d certificate(s) issued", after-before)
			}
			if o.Code() != c.want {
				t.Errorf("answer %v, want %s", o, c.want)
			}
			if o.Fault == nil && o.HTTP != 200 {
				t.Errorf("FAIL answered with HTTP %d", o.HTTP)
			}
			if o.Fault == nil { // a refused renewal is on the audit trail with its code
				last, err := s.Service.AuditLog(context.Background(), "", 1)
				if err != nil {
					t.Fatal(err)
				}
				if len(last) != 1 || last[0].Action != "renew" || last[0].Outcome != "fail" || last[0].Code != string(o.Code()) {
					t.Errorf("newest audit record %+v, want a failed renew with %s", last, o.Code())
				}
				// A signer the store does not have names nobody: what it
				// claims is not filed under a customer or a serial.
				if o.Code() == wire.CodeSignerUnknown && len(last) == 1 && (last[0].CustomerID != "" || last[0].Serial != "") {
					t.Errorf("refusal of an unknown signer filed under %q, serial %q", last[0].CustomerID, last[0].Serial)
				}
			}
		})
	}

	// The service still renews the untouched request, so the refusals were
	// the attacks', and the certificate is for the signed key, not the
	// attacker's.
	o := soap(t, s.URL, wire.OpRenew, []byte(origS))
	if o.Code() != "OK" {
		t.Fatalf("untouched signed request: %v", o)
	}
	cert, err := s.Client(t).GetCertificate(context.Background(), custA, o.Resp.RetrievalID)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.PublicKey.(*rsa.PublicKey).Equal(&goodKey.PublicKey) {
		t.Fatal("the successor certifies another key than the signed CSR's")
	}

	// Replays: the same signed request, sent again (also concurrently),
	// mints nothing new and answers the same RetrievalId; a new request
	// from the same certificate after its successor was retrieved is
	// ALREADY_RENEWED.
	before := certCount(t, s)
	var wg sync.WaitGroup
	rids := make([]string, 6)
	for i := range rids {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if o, err := tryPost(s.URL, `"renewCertificate"`, "text/xml; charset=utf-8", wire.Envelope([]byte(origS))); err == nil && o.Resp != nil {
				rids[i] = o.Resp.RetrievalID
			}
		}(i)
	}
	wg.Wait()
	for i, rid := range rids {
		if rid != o.Resp.RetrievalID {
			t.Errorf("replay %d answered %q, want %q", i, rid, o.Resp.RetrievalID)
		}
	}
	if n := certCount(t, s); n != before {
		t.Errorf("replays issued %d certificates", n-before)
	}
	again := soap(t, s.URL, wire.OpRenew, ser(t, signedRenew(t, env, custA, evilCSR, f.a.Key, f.a.Cert)))
	if again.Code() != wire.CodeAlreadyRenewed {
		t.Errorf("a second renewal after retrieval: %v, want %s", again, wire.CodeAlreadyRenewed)
	}
	if n := certCount(t, s); n != before {
		t.Errorf("%d certificates issued by the second renewal", n-before)
	}
}

// TestSignatureWrappingHeaderIgnored: a forged request in the SOAP Header
// next to the genuine signed one in the Body does not change what is
// issued: the Body's signed CSR is certified, never the Header's.
func TestSignatureWrappingHeaderIgnored(t *testing.T) {
	f := newRenewFixture(t)
	goodKey, evilKey := irpkidtest.NewKey(t), irpkidtest.NewKey(t)
	orig := signedRenew(t, wire.EnvTest, custA, irpkidtest.CSR(t, goodKey, custA), f.a.Key, f.a.Cert)
	forged := orig.Copy()
	child(t, forged, "CertificateRequest").SetText(b64(irpkidtest.CSR(t, evilKey, custA)))
	o := post(t, f.s.URL, "renewCertificate", "text/xml; charset=utf-8", envelope(serS(t, forged), serS(t, orig)))
	if o.Code() != "OK" {
		t.Fatalf("answer %v", o)
	}
	cert, err := f.s.Client(t).GetCertificate(context.Background(), custA, o.Resp.RetrievalID)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.PublicKey.(*rsa.PublicKey).Equal(&goodKey.PublicKey) {
		t.Fatal("the header's forged CSR was certified")
	}
}

// TestSignatureProfileControls shows the hand-made signer is right (the
// profile itself is accepted), and that the prefix choices the protocol
// allows (ds, ns2, a default namespace) are accepted when signed so.
func TestSignatureProfileControls(t *testing.T) {
	f := newRenewFixture(t)
	for _, p := range []string{"ds", "ns2", "-"} {
		t.Run("prefix "+p, func(t *testing.T) {
			k := irpkidtest.NewKey(t)
			sp := profile(f.a.Key, f.a.Cert)
			sp.Prefix = p
			o := soap(t, f.s.URL, wire.OpRenew, ser(t, signWith(t, unsignedRenew(wire.EnvTest, custA, irpkidtest.CSR(t, k, custA)), sp)))
			if o.Code() != "OK" {
				t.Fatalf("answer %v", o)
			}
		})
	}
	t.Run("enveloped-signature transform only", func(t *testing.T) {
		k := irpkidtest.NewKey(t)
		sp := profile(f.a.Key, f.a.Cert)
		sp.Transforms = []string{wire.AlgEnvelopedSg}
		o := soap(t, f.s.URL, wire.OpRenew, ser(t, signWith(t, unsignedRenew(wire.EnvTest, custA, irpkidtest.CSR(t, k, custA)), sp)))
		if o.Code() != "OK" {
			t.Fatalf("answer %v", o)
		}
	})
}

// TestSignatureCDATAIsText: CDATA is text to XML and to canonicalisation:
// a signed request whose CustomerId is written as CDATA is the same request
// and is renewed for the signed key.
func TestSignatureCDATAIsText(t *testing.T) {
	f := newRenewFixture(t)
	k := irpkidtest.NewKey(t)
	b := string(envelope("", serS(t, signedRenew(t, wire.EnvTest, custA, irpkidtest.CSR(t, k, custA), f.a.Key, f.a.Cert))))
	o := post(t, f.s.URL, "renewCertificate", "text/xml; charset=utf-8", []byte(strings.Replace(b, "<CustomerId>"+custA, "<CustomerId><![CDATA["+custA+"]]>", 1)))
	if o.Code() != "OK" {
		t.Fatalf("answer %v", o)
	}
	cert, err := f.s.Client(t).GetCertificate(context.Background(), custA, o.Resp.RetrievalID)
	if err != nil {
		t.Fatal(err)
	}
	if !cert.PublicKey.(*rsa.PublicKey).Equal(&k.PublicKey) {
		t.Fatal("certified another key than the signed one")
	}
}

// TestSignedByExpiredCertificate: a properly signed request whose signing
// certificate has expired is refused with SIGNER_EXPIRED.
func TestSignedByExpiredCertificate(t *testing.T) {
	s := irpkidtest.Start(t, irpkidtest.Config{})
	s.AddOrg(t, custA, "Acme Oy")
	e := s.Enroll(t, custA, 10*time.Minute)
	s.Clock.Set(e.Cert.NotAfter.Add(time.Second))
	before := certCount(t, s)
	k := irpkidtest.NewKey(t)
	o := soap(t, s.URL, wire.OpRenew, ser(t, signedRenew(t, wire.EnvTest, custA, irpkidtest.CSR(t, k, custA), e.Key, e.Cert)))
	if o.Code() != wire.CodeSignerExpired {
		t.Fatalf("answer %v, want %s", o, wire.CodeSignerExpired)
	}
	if n := certCount(t, s); n != before {
		t.Fatalf("%d certificates issued", n-before)
	}
}

// mintCert makes a certificate like model (subject, validity, usages) for
// pub, signed by parent/key (self-signed when parent is nil), with serial
// (random when nil).
func mintCert(t testing.TB, parent *x509.Certificate, key crypto.Signer, model *x509.Certificate, pub crypto.PublicKey, serial *big.Int) *x509.Certificate {
	t.Helper()
	if serial == nil {
		var err error
		serial, err = ca.RandomSerial(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: model.Subject, NotBefore: model.NotBefore, NotAfter: model.NotAfter,
		KeyUsage: model.KeyUsage, ExtKeyUsage: model.ExtKeyUsage, BasicConstraintsValid: true,
	}
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fmtSerial(c *x509.Certificate) string { return c.SerialNumber.Text(16) }

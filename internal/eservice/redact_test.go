package eservice_test

import (
	"strings"
	"testing"

	"github.com/irpki/irpki/internal/eservice"
)

// A delivery link's token must not reach the access log whichever way the
// path is spelt: the server's mux answers a path that is not clean
// ("//", "/./", "/../") with a redirect, but the access log records the
// path as it was asked.
func TestRedactPathHidesTheTokenOfUncleanPaths(t *testing.T) {
	const token = "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5"
	for _, p := range []string{
		eservice.Path + "delivery/" + token,
		eservice.Path + "/delivery/" + token,
		eservice.Path + "./delivery/" + token,
		eservice.Path + "x/../delivery/" + token,
		"/" + eservice.Path + "delivery/" + token,
		"/x/.." + eservice.Path + "delivery/" + token,
	} {
		if got := eservice.RedactPath(p); strings.Contains(got, token) {
			t.Errorf("RedactPath(%q) = %q: the token is in it", p, got)
		}
	}
	for _, p := range []string{eservice.Path, eservice.Path + "certificates/0a1b", eservice.Path + "signin"} {
		if got := eservice.RedactPath(p); got != p {
			t.Errorf("RedactPath(%q) = %q, want it unchanged", p, got)
		}
	}
}

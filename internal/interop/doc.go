// Package interop holds tests only: they check irpkid against tools nobody
// here wrote. xmlsec1 verifies the service's response signatures against the
// trust bundle and signs RenewCertificateRequests from a template that the
// server must accept; openssl verifies the issued certificates against the
// bundle, shows their extensions, and makes CSRs the server must accept.
// The tests fail, not skip, when xmlsec1 or openssl is missing: .ci/run
// installs them.
package interop

// Package security holds no production code: its tests prove the
// certificate service under attack and under faults (issue 5). They drive a
// real irpkid — behind httptest via irpkidtest, or as a separate process —
// over real HTTP:
//
//   - xsw_test.go: XML signature wrapping and every other way of making a
//     RenewCertificateRequest say something its signer did not sign, and
//     signatures by the wrong certificates;
//   - hostile_test.go: hostile XML and HTTP (entities, limits, slow bodies,
//     content types, operations);
//   - credentials_test.go: transfer password brute force, RetrievalId
//     guessing, constant-time comparisons, secrets in logs and audit;
//   - crash_test.go: SIGKILL of irpkid (and of irpki renew) under load,
//     then restart and check that nothing was lost;
//   - fuzz_test.go: fuzz targets for CSR checks and the client's response
//     decoder, with their findings kept in testdata/fuzz.
//
// Long runs are behind the -long flag (or IRPKI_LONG=1); see
// docs/security.md for what is defended and the figures measured.
package security

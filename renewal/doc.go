// Package renewal keeps an organisation's Incomes Register certificate
// renewed. It sits on package client (the typed SOAP client) and owns a
// state directory on disk; it decides nothing about flags or environment
// variables, which belong to the irpki command.
//
// The renewal decision is a set of pure functions of the certificate's
// validity and the time: WindowOpens, InWindow, EffectiveWindow and RenewAt,
// and Next, which decides from a Situation (the certificate, a revocation,
// the pending request and its last refusal) what a renewer does next:
// renew, wait until a moment, order anew, or nothing while a pending
// enrolment blocks the renewal. irpki watch follows it.
// A Manager (Open) enrols with an order's transfer credentials (Enroll),
// renews inside the window (Renew), reports the state (Status), gives up a
// pending request (Abandon) and exports PKCS#12 and PEM bundles.
//
// # The state directory
//
//	settings.json        endpoint, environment, customer id, organisation, trust bundle paths, key size
//	state.json           last attempt and result; a revocation the service reported
//	pending.json  0600   an enrolment or renewal in flight: new key, CSR, RetrievalId, certificate
//	lock                 flock(2) (Windows: LockFileEx) lock: one enroller or renewer at a time
//	archive/<serial>/    every certificate installed, never deleted: cert.pem, key.pem (0600),
//	                     chain.pem (CA certificates, issuer first), fullchain.pem (cert + intermediates)
//	archive/abandoned/   pending.json files of requests the service refused for good, or given up (Abandon)
//	current -> archive/<serial>            the certificate in use
//	cert.pem, key.pem, chain.pem, fullchain.pem -> current/…
//
// That is LayoutSymlink, the default on Unix. On Windows (LayoutPointerFile)
// "current" is a one-line file naming archive/<serial> and the top-level
// files are copies of the archived ones; either layout reads a directory
// made by the other. See Layout.
//
// The directory and every file in it must be owned by the user irpki runs
// as (or root; on Windows also Administrators or SYSTEM) and not be
// writable by group or others; "current" must name a certificate of the
// archive. Otherwise every operation fails with ErrUnsafe before anything
// is sent: whoever can write into the directory could plant a pending
// request for their own key. Error messages never quote a file's content.
//
// Every file (but the lock, which holds only the holder's pid for messages)
// is written atomically (temporary file, fsync, rename, fsync of
// the directory), archive/<serial> appears whole in one rename, and the
// certificate and key change together in one rename of "current". A program that reads DIR/cert.pem and DIR/key.pem while a renewal
// installs may, in the instant between its two opens, see the new
// certificate and the old key; programs that must never see that read
// through a resolved "current" (os.Readlink) or from the paths the deploy
// hook is given, which never change.
//
// # Safety of a renewal
//
// The new key and CSR are in pending.json (0600) before the request is
// sent; the RetrievalId is saved before polling; the fetched certificate is
// saved before it is installed. A run killed at any point therefore resumes
// with the same key and CSR, which the service recognises (a repeated
// SignNewCertificate with the same credentials and key, or a repeated
// RenewCertificate with the same content, gets the same RetrievalId), so an
// interruption never costs a second certificate. A successor is installed
// only after it is verified: it chains to the issuer trust bundle (or the
// trust bundle when none is set), certifies our new public key and names
// our customer id. A request the service refused
// for good (a FAIL code that asking again cannot change) is moved to
// archive/abandoned, key included; so is one given up with Abandon, which
// refuses, unless forced, a request for whose key the service may have
// issued a certificate.
package renewal

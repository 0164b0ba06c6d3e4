package main

import (
	"encoding/json"
	"errors"
	"flag"
	"time"

	"github.com/irpki/irpki/renewal"
)

// runJSON is what enroll --json and renew --json print on standard output,
// one object, whatever happened; messages for people still go to standard
// error.
type runJSON struct {
	// Result: enrolled, renewed, not_due (outside the renewal window),
	// backing_off (a refused renewal waits for its retry time), or error.
	Result      string           `json:"result"`
	Dir         string           `json:"dir,omitempty"`
	Certificate *certJSON        `json:"certificate,omitempty"` // enrolled or renewed: the new one; else the current one
	Previous    *certJSON        `json:"previous,omitempty"`    // renewed: the one it replaces
	WindowOpens time.Time        `json:"window_opens,omitzero"` // not_due
	Refused     *renewal.Refusal `json:"refused,omitempty"`     // the service's last refusal of the pending request
	RetryAt     time.Time        `json:"retry_at,omitzero"`     // backing_off: sent again from then (--force: now)
	Error       string           `json:"error,omitempty"`
	ExitCode    int              `json:"exit_code"`
}

// certJSON describes an installed certificate; the files are its
// immutable copies in DIR/archive/<serial>/.
type certJSON struct {
	Serial        string    `json:"serial"`
	Subject       string    `json:"subject"`
	NotBefore     time.Time `json:"not_before"`
	NotAfter      time.Time `json:"not_after"`
	CertFile      string    `json:"cert_file"`
	KeyFile       string    `json:"key_file"`
	ChainFile     string    `json:"chain_file"`
	FullChainFile string    `json:"fullchain_file"`
}

func installedJSON(inst *renewal.Installed) *certJSON {
	if inst == nil {
		return nil
	}
	c := &certJSON{Serial: inst.SerialText(), Subject: inst.Cert.Subject.String(),
		NotBefore: inst.Cert.NotBefore.UTC(), NotAfter: inst.Cert.NotAfter.UTC()}
	c.CertFile, c.KeyFile, c.ChainFile, c.FullChainFile = inst.Files()
	return c
}

// printJSON prints v on standard output, unless err asked for help (the
// usage was printed instead).
func (a *app) printJSON(v *runJSON, err error) {
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil && !errors.Is(err, errUsage) {
		v.Result, v.Error = "error", err.Error()
	} else if err != nil {
		v.Result, v.Error = "error", "bad flags (see standard error)"
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

package renewal

import (
	"errors"
	"time"
)

// state is what the directory remembers about past runs.
type state struct {
	LastAttempt    time.Time `json:"last_attempt,omitzero"`
	LastResult     string    `json:"last_result,omitempty"` // "ok" or "error"
	LastError      string    `json:"last_error,omitempty"`
	LastRenewal    time.Time `json:"last_renewal,omitzero"`
	RevokedSerial  string    `json:"revoked_serial,omitempty"` // the service refused a renewal: SIGNER_REVOKED
	RevokedSeen    time.Time `json:"revoked_seen,omitzero"`
	RevokedMessage string    `json:"revoked_message,omitempty"`
}

func (m *Manager) loadState() (state, error) {
	var st state
	_, err := m.readJSON(stateFile, &st)
	return st, err
}

func (m *Manager) saveState(st state) error { return writeJSON(m.path(stateFile), st, 0o600) }

// record notes the outcome of an attempt to renew or enrol in state.json;
// a success of either is the last renewal.
func (m *Manager) record(err error) {
	if errors.Is(err, errCrash) {
		return // a test's simulated death writes nothing more
	}
	st, lerr := m.loadState()
	if lerr != nil {
		m.opt.Log.Error("read state", "err", lerr)
	}
	now := m.opt.Now()
	st.LastAttempt = now
	if err != nil {
		st.LastResult, st.LastError = "error", err.Error()
	} else {
		// An enrolment installs a fresh certificate too: the last
		// renewal it replaces (of another, older certificate) would tell
		// a monitor that this one has not been renewed for that long.
		st.LastResult, st.LastError, st.LastRenewal = "ok", "", now
	}
	if werr := m.saveState(st); werr != nil {
		m.opt.Log.Error("write state", "err", werr)
	}
}

func (m *Manager) markRevoked(cur *Installed, msg string) {
	st, err := m.loadState()
	if err != nil {
		// Saving now would write a state with every other field lost
		// over the one that could not be read; the revocation is reported
		// to the caller all the same, and seen again on the next run.
		m.opt.Log.Error("read state; the revocation is not remembered", "err", err)
		return
	}
	st.RevokedSerial, st.RevokedSeen, st.RevokedMessage = cur.Serial(), m.opt.Now(), msg
	if err := m.saveState(st); err != nil {
		m.opt.Log.Error("write state", "err", err)
	}
}

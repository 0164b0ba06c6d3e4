package ca

import (
	"bytes"
	"context"
	"crypto"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/irpki/irpki/internal/clock"
)

// SignerWatch follows the response signers of a hierarchy's directory for a
// running server: the signer of each response is chosen by the clock (a
// rotation's next signer from its switch time on), and Refresh picks up a
// rotation begun or finished in the directory (irpkid ca rotate-signer, or
// files copied from another replica) without a restart.
type SignerWatch struct {
	clk  clock.Clock
	cur  atomic.Pointer[Hierarchy]
	mu   sync.Mutex // one Refresh at a time
	seen []byte     // the signer files' certificates and rotation record at the last load
	last atomic.Value
}

// NewSignerWatch follows h's signers by clk.
func NewSignerWatch(h *Hierarchy, clk clock.Clock) *SignerWatch {
	w := &SignerWatch{clk: clk}
	w.cur.Store(h)
	w.seen = signerFiles(h.Dir)
	w.last.Store(SerialHex(h.SignerAt(clk.Now()).Cert))
	return w
}

// Hierarchy returns the hierarchy with the signers last loaded.
func (w *SignerWatch) Hierarchy() *Hierarchy { return w.cur.Load() }

// Current returns the signer of a response made now.
func (w *SignerWatch) Current() Signer { return w.cur.Load().SignerAt(w.clk.Now()) }

// Key returns the current signer's key and its KeyInfo chain, as
// wire.NewSwitchingSigner takes them.
func (w *SignerWatch) Key() (crypto.Signer, [][]byte) {
	s := w.Current()
	return s.Key, [][]byte{s.Cert.Raw}
}

// Certificates is Hierarchy().Certificates at the clock's time.
func (w *SignerWatch) Certificates() []RoleCert { return w.cur.Load().Certificates(w.clk.Now()) }

// Refresh reads the directory's signers again when their files changed,
// and reports whether the signers did. A directory that does not load (a
// copy in progress, an interrupted finish) keeps the signers as they were,
// and the error says why.
func (w *SignerWatch) Refresh() (bool, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	h := w.cur.Load()
	if h.Dir == "" {
		return false, nil
	}
	files := signerFiles(h.Dir)
	if bytes.Equal(files, w.seen) {
		return false, nil
	}
	issuer := h.Root
	if h.Services != nil {
		issuer = h.Services.Cert
	}
	n := *h
	n.Rotation = nil
	if err := loadSigners(&n, h.Dir, issuer); err != nil {
		return false, err
	}
	w.seen = files
	if !h.SignerChanged(&n) {
		return false, nil
	}
	w.cur.Store(&n)
	return true, nil
}

// Run refreshes the signers every interval until ctx ends, and logs a
// rotation picked up, a switch to the next signer, and a directory that
// does not load.
func (w *SignerWatch) Run(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.Check(log)
	}
}

// Check is one round of Run.
func (w *SignerWatch) Check(log *slog.Logger) {
	changed, err := w.Refresh()
	if err != nil {
		log.Warn("the response signers in the CA directory do not load; signing on with the ones loaded before", "err", err)
	}
	h := w.cur.Load()
	if changed {
		if r := h.Rotation; r != nil {
			log.Info("response signer rotation picked up", "next_serial", SerialHex(r.Next.Cert), "switch_at", r.SwitchAt)
		} else {
			log.Info("response signers reloaded", "serial", SerialHex(h.Signing))
		}
	}
	now := SerialHex(w.Current().Cert)
	if prev := w.last.Swap(now); prev != now {
		log.Info("response signer switched: responses are signed by the new signing certificate", "serial", now, "previous_serial", prev)
	}
}

// signerFiles returns the certificates and rotation record of dir's
// signers, which change whenever the signers do.
func signerFiles(dir string) []byte {
	if dir == "" {
		return nil
	}
	var out []byte
	for _, f := range []string{fileSigning, filepath.Join(dirNextSigner, fileSigning), filepath.Join(dirNextSigner, fileRotation)} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		out = append(append(out, b...), 0)
	}
	return out
}

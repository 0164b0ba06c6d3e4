package renewal

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/irpki/irpki/internal/atomicfile"
)

// Layout is how a state directory names its current certificate
// ("current") and shows its files at the top level (cert.pem, key.pem,
// chain.pem, fullchain.pem). Two layouts exist, both compiled on every
// platform so that the crash-safety tests run against each:
//
//   - LayoutSymlink (the default on Unix): "current" is a symlink to
//     archive/<serial>, swapped by renaming a new symlink over it; the
//     top-level files are symlinks through "current".
//   - LayoutPointerFile (the default on Windows, where creating symlinks
//     needs a privilege): "current" is a one-line file naming
//     archive/<serial>, swapped by renaming a new file over it
//     (atomicfile.WriteFile: MoveFileEx with MOVEFILE_REPLACE_EXISTING on
//     Windows); the top-level files are copies of the archived ones, each
//     replaced atomically after the swap.
//
// Either way the swap of "current" is the one moment at which the
// certificate and key change together, and every step is safe to repeat
// after a crash. Both layouts read both forms of "current", so a directory
// made by one works under the other (an existing directory with symlinks
// keeps working on Windows too).
type Layout interface {
	// swap atomically makes "current" name rel (archive/<serial>, with
	// forward slashes).
	swap(m *Manager, rel string) error
	// expose makes the top-level cert.pem, key.pem, chain.pem and
	// fullchain.pem show the files of rel, which is current; a no-op for
	// each that does already.
	expose(m *Manager, rel string) error
	// String names the layout in messages and tests.
	String() string
}

// The layouts.
var (
	LayoutSymlink     Layout = symlinkLayout{}
	LayoutPointerFile Layout = pointerFileLayout{}
)

// topFiles are the top-level names that show the current certificate.
var topFiles = []string{CertFile, KeyFile, ChainFile, FullChainFile}

// symlinkLayout: see Layout.
type symlinkLayout struct{}

func (symlinkLayout) String() string { return "symlink" }

func (symlinkLayout) swap(m *Manager, rel string) error {
	return m.symlink(filepath.FromSlash(rel), currentLink)
}

func (symlinkLayout) expose(m *Manager, _ string) error {
	for _, name := range topFiles {
		if err := m.symlink(filepath.Join(currentLink, name), name); err != nil {
			return err
		}
	}
	return nil
}

// symlink atomically makes DIR/name a symlink to target (relative to DIR),
// unless it already is one.
func (m *Manager) symlink(target, name string) error {
	p := m.path(name)
	if cur, err := os.Readlink(p); err == nil && cur == target {
		return nil
	}
	tmp := m.path(fmt.Sprintf(".%s.tmp-%d", name, os.Getpid()))
	_ = os.Remove(tmp)
	if err := os.Symlink(target, tmp); err != nil {
		return err
	}
	if err := atomicfile.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return atomicfile.SyncDir(m.dir)
}

// pointerFileLayout: see Layout.
type pointerFileLayout struct{}

func (pointerFileLayout) String() string { return "pointer-file" }

func (pointerFileLayout) swap(m *Manager, rel string) error {
	if cur, _, err := m.currentTarget(); err == nil && cur == rel {
		if fi, err := os.Lstat(m.path(currentLink)); err == nil && fi.Mode().IsRegular() {
			return nil
		}
	}
	return atomicfile.WriteFile(m.path(currentLink), []byte(rel+"\n"), 0o600)
}

func (pointerFileLayout) expose(m *Manager, rel string) error {
	for _, name := range topFiles {
		b, err := m.readFile(path.Join(rel, name))
		if err != nil {
			return err
		}
		p := m.path(name)
		if fi, err := os.Lstat(p); err == nil && fi.Mode().IsRegular() {
			if cur, err := os.ReadFile(p); err == nil && bytes.Equal(cur, b) {
				continue
			}
		}
		if err := atomicfile.WriteFile(p, b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

// currentTarget returns what "current" names, archive/<serial> with
// forward slashes, whichever layout made it; ok is false when there is
// none. A target that is not a directory of the archive is refused: a
// "current" pointing anywhere else (planted, or edited by hand) would make
// irpki sign with, export or install a key from outside the directory.
func (m *Manager) currentTarget() (rel string, ok bool, err error) {
	p := m.path(currentLink)
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	var raw string
	switch {
	case fi.Mode()&fs.ModeSymlink != 0:
		if raw, err = os.Readlink(p); err != nil {
			return "", false, err
		}
		raw = filepath.ToSlash(raw)
	case fi.Mode().IsRegular():
		b, err := m.readFile(currentLink)
		if err != nil {
			return "", false, err
		}
		raw = strings.TrimRight(string(b), "\r\n")
	default:
		return "", false, fmt.Errorf("%w: %s is neither a symlink nor a pointer file made by irpki: move it out of the state directory", ErrUnsafe, p)
	}
	serial, found := strings.CutPrefix(raw, archiveDir+"/")
	if !found || !isSerial(serial) {
		// The target is not shown: it is the content of a file.
		return "", false, fmt.Errorf("%w: %s does not name a certificate in %s (it must be %s/<serial>): restore it (ls %s lists the certificates) or enrol anew", ErrUnsafe, p, m.path(archiveDir), archiveDir, m.path(archiveDir))
	}
	return raw, true, nil
}

// isSerial reports whether s is a serial as irpki names archive
// directories: lower-case hex, at most 40 digits (20 octets).
func isSerial(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for _, r := range s {
		if (r < '0' || r > '9') && (r < 'a' || r > 'f') {
			return false
		}
	}
	return true
}

// checkLinks refuses a directory in which a name that install replaces
// holds something irpki did not make (say, a certificate and key installed
// by hand before irpki): install would rename over it and delete it. irpki
// made a top-level file if it is a symlink (LayoutSymlink) or a copy of the
// same file of an archived certificate (LayoutPointerFile); "current" if it
// names a certificate of the archive. It runs before any request is sent.
func (m *Manager) checkLinks() error {
	if _, _, err := m.currentTarget(); err != nil {
		return err
	}
	for _, name := range topFiles {
		fi, err := os.Lstat(m.path(name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			continue
		}
		if fi.Mode().IsRegular() {
			if ok, err := m.archivedCopy(name); err != nil {
				return err
			} else if ok {
				continue
			}
		}
		return fmt.Errorf("%s is not a file made by irpki; it would be replaced: move it out of the state directory (or use another directory) and run again", m.path(name))
	}
	return nil
}

// archivedCopy reports whether the top-level file name holds the same
// bytes as the file of that name of a certificate in the archive.
func (m *Manager) archivedCopy(name string) (bool, error) {
	b, err := m.readFile(name)
	if err != nil {
		return false, err
	}
	ents, err := os.ReadDir(m.path(archiveDir))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	for _, e := range ents {
		if !e.IsDir() || !isSerial(e.Name()) {
			continue
		}
		a, err := os.ReadFile(m.path(archiveDir, e.Name(), name))
		if err == nil && bytes.Equal(a, b) {
			return true, nil
		}
	}
	return false, nil
}

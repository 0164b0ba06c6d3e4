package renewal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// checkDirSafe checks the state directory itself (followed, if it is a
// symlink: its target is the directory). A directory that does not exist
// is no error here.
func (m *Manager) checkDirSafe() error {
	fi, err := os.Stat(m.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafe, m.dir)
	}
	return m.unsafe(m.dir, fi)
}

// unsafe returns the ErrUnsafe error for p when ownerProblem finds one.
func (m *Manager) unsafe(p string, fi fs.FileInfo) error {
	why, fix := ownerProblem(p, fi)
	if why == "" {
		return nil
	}
	return fmt.Errorf("%w: %s %s: fix it with %s (%s)", ErrUnsafe, p, why, fix, repairHint(m.dir))
}

// checkFile checks DIR/rel (forward slashes) before irpki reads or
// replaces it: the directory is safe, and rel, if it exists, is a regular
// file (or, for want, a directory) that only irpki's user can have
// written. A name that does not exist is no error.
func (m *Manager) checkFile(rel string) error {
	return m.checkEntry(rel, false)
}

func (m *Manager) checkEntry(rel string, wantDir bool) error {
	if err := m.checkDirSafe(); err != nil {
		return err
	}
	p := m.path(filepath.FromSlash(rel))
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	switch {
	case wantDir && !fi.IsDir():
		return fmt.Errorf("%w: %s is not a directory made by irpki (a symlink or a file): move it out of the state directory", ErrUnsafe, p)
	case !wantDir && !fi.Mode().IsRegular():
		return fmt.Errorf("%w: %s is not a regular file made by irpki (a symlink, directory or device): move it out of the state directory", ErrUnsafe, p)
	}
	if err := m.unsafe(p, fi); err != nil {
		return fmt.Errorf("%w; if neither you nor irpki put it there, move it out of the state directory instead: whoever could write it may have planted it", err)
	}
	return nil
}

// readFile reads DIR/rel (forward slashes) after checkFile.
func (m *Manager) readFile(rel string) ([]byte, error) {
	if err := m.checkFile(rel); err != nil {
		return nil, err
	}
	return os.ReadFile(m.path(filepath.FromSlash(rel)))
}

// checkArchiveDir checks archive/ and archive/<serial>/ before the files
// of a certificate are read from it.
func (m *Manager) checkArchiveDir(rel string) error {
	if err := m.checkEntry(archiveDir, true); err != nil {
		return err
	}
	return m.checkEntry(rel, true)
}

// ReadStateFile reads the file name that a caller keeps in the state
// directory (irpki watch's "deployed"), after the checks every state file
// gets (see ErrUnsafe).
func (m *Manager) ReadStateFile(name string) ([]byte, error) {
	if strings.ContainsAny(name, `/\`) || name == "" || name == "." || name == ".." {
		return nil, fmt.Errorf("renewal: %q is not a file name", name)
	}
	return m.readFile(name)
}

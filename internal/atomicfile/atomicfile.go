// Package atomicfile writes files so that a reader, or the next start after a
// crash, sees either the old content or the whole new content, never a torn
// one: temp file in the same directory, fsync, rename, fsync the directory.
// Files holding secrets are written 0600 from the first byte; on Windows,
// where modes mean nothing, such a file (perm without group or other bits)
// gets an access list that lets only the current user in, before its
// content is written.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile atomically replaces path with data, created with perm.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	tmp := f.Name()
	ok := false
	defer func() {
		if !ok {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	if err := restrict(tmp, perm, false); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	if err := Rename(tmp, path); err != nil {
		return fmt.Errorf("atomic write %s: %w", path, err)
	}
	ok = true
	return SyncDir(dir)
}

// SyncDir makes the renames and creations in dir durable: it fsyncs the
// directory on Unix; on Windows, where a directory cannot be flushed,
// Rename writes through instead and SyncDir does nothing.
func SyncDir(dir string) error { return syncDir(dir) }

// WriteDir atomically creates directory path holding files (name → content,
// each written with perm): the files go into a temporary sibling directory
// that is renamed into place only when all are durable. It fails if path
// already exists.
func WriteDir(path string, files map[string][]byte, perm os.FileMode) error {
	parent := filepath.Dir(path)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("create %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	if err := restrict(tmp, perm, true); err != nil {
		return err
	}
	for name, data := range files {
		p := filepath.Join(tmp, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
		if err != nil {
			return fmt.Errorf("create %s: %w", path, err)
		}
		if err := restrict(p, perm, false); err != nil {
			f.Close()
			return err
		}
		_, werr := f.Write(data)
		serr := f.Sync()
		cerr := f.Close()
		if werr != nil || serr != nil || cerr != nil {
			return fmt.Errorf("write %s: %v %v %v", p, werr, serr, cerr)
		}
	}
	if err := SyncDir(tmp); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("create %s: %w", path, os.ErrExist)
	}
	if err := Rename(tmp, path); err != nil {
		return fmt.Errorf("create %s: %w", path, err)
	}
	ok = true
	return SyncDir(parent)
}

// MkdirPrivate creates directory path and its missing parents, 0700: on
// Windows the directory gets an access list that lets only the current
// user in (inherited by what is created in it). An existing directory is
// left as it is.
func MkdirPrivate(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return err
	}
	return restrict(path, 0o700, true)
}

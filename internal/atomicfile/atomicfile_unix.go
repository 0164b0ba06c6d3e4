//go:build !windows

package atomicfile

import (
	"fmt"
	"os"
)

// restrict is a no-op on Unix: the file's mode (0600, 0700) already lets
// only its owner in.
func restrict(string, os.FileMode, bool) error { return nil }

// Rename renames oldpath to newpath, replacing newpath if it is a file:
// atomic on one file system (rename(2)); SyncDir makes it durable.
func Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

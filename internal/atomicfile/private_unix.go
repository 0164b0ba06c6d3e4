//go:build !windows

package atomicfile

import "os"

// restrict is a no-op on Unix: the file's mode (0600, 0700) already lets
// only its owner in.
func restrict(string, os.FileMode, bool) error { return nil }

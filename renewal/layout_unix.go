//go:build !windows

package renewal

// DefaultLayout is the state directory layout new installations get on
// this platform: symlinks (see Layout).
var DefaultLayout = LayoutSymlink

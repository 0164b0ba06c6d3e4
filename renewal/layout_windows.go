//go:build windows

package renewal

// DefaultLayout is the state directory layout new installations get on
// this platform: a pointer file and copies, as creating symlinks on
// Windows needs a privilege most service accounts lack (see Layout).
var DefaultLayout = LayoutPointerFile

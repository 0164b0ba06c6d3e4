//go:build !cgo

package hsm

const cgoBuild = false

func openToken(module, label, pin string) (token, error) { return nil, ErrNeedsCgo }

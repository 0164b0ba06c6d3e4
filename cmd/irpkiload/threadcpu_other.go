//go:build !unix

package main

import (
	"errors"
	"time"
)

// threadCPU is not measured here: the report leaves the signature's cost
// out.
func threadCPU() (time.Duration, error) {
	return 0, errors.New("thread CPU time is measured on Unix only")
}

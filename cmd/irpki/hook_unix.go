//go:build !windows

package main

import (
	"context"
	"os/exec"
)

// hookShell names the shell that runs --deploy-hook, for --help.
const hookShell = "sh -c"

// hookCommand runs the deploy hook through the shell.
func hookCommand(ctx context.Context, hook string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", hook)
}

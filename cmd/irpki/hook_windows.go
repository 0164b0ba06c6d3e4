//go:build windows

package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// hookShell names the shell that runs --deploy-hook, for --help.
const hookShell = "cmd.exe /C"

// hookCommand runs the deploy hook through cmd.exe, the line passed as
// written (cmd.exe parses its own command line: Go's quoting of arguments
// would break quotes inside the hook); a PowerShell script is run as
// powershell -File script.ps1.
func hookCommand(ctx context.Context, hook string) *exec.Cmd {
	shell := os.Getenv("ComSpec")
	if shell == "" {
		shell = filepath.Join(os.Getenv("SystemRoot"), "System32", "cmd.exe")
	}
	cmd := exec.CommandContext(ctx, shell)
	cmd.SysProcAttr = &syscall.SysProcAttr{CmdLine: `"` + shell + `" /S /C "` + hook + `"`}
	return cmd
}

// Package cliconfig gives every flag of a command an environment variable
// and a place in a strict JSON config file, the way irpkid and irpki take
// their settings: --data-dir is also IRPKI_DATA_DIR and "data-dir" in the
// file. Precedence: flag > environment > config file > default.
package cliconfig

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/irpki/irpki/internal/buildinfo"
	"os"
	"strings"
)

// EnvName is the environment variable matching a flag: --data-dir is
// IRPKI_DATA_DIR.
func EnvName(flagName string) string {
	return "IRPKI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Resolve fills every flag not given on the command line from its IRPKI_…
// environment variable, else from the config file (a JSON object keyed by
// flag name, decoded strictly: unknown keys are errors). lookupEnv is
// os.LookupEnv in programs; tests pass their own.
func Resolve(fs *flag.FlagSet, configPath string, lookupEnv func(string) (string, bool)) error {
	return ResolveShared(fs, configPath, lookupEnv, nil)
}

// ResolveShared is Resolve for a config file that several commands of one
// program share (serve's listen address beside the data directory that
// every command needs): a key for which otherCommand is true is a setting
// of another command and is skipped, not refused. Keys that are no
// command's flag are still errors.
func ResolveShared(fs *flag.FlagSet, configPath string, lookupEnv func(string) (string, bool), otherCommand func(name string) bool) error {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fileVals := map[string]string{}
	if configPath != "" {
		b, err := os.ReadFile(configPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		var raw map[string]json.RawMessage
		if err := json.NewDecoder(bytes.NewReader(b)).Decode(&raw); err != nil {
			return fmt.Errorf("config %s: not a JSON object: %w", configPath, err)
		}
		for k, v := range raw {
			if k != "config" && fs.Lookup(k) == nil && otherCommand != nil && otherCommand(k) {
				continue
			}
			if k == "config" || fs.Lookup(k) == nil {
				return fmt.Errorf("config %s: unknown setting %q (settings are the flags of %q: see --help)", configPath, k, fs.Name())
			}
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				s = strings.TrimSpace(string(v)) // numbers and booleans as written
			}
			fileVals[k] = s
		}
	}
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if err != nil || set[f.Name] {
			return
		}
		if v, ok := lookupEnv(EnvName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", EnvName(f.Name), v, e)
			}
			return
		}
		if v, ok := fileVals[f.Name]; ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("config %s: %s=%q: %v", configPath, f.Name, v, e)
			}
		}
	})
	return err
}

// Usage returns a flag set's usage function that lists each flag with its
// environment variable.
func Usage(fs *flag.FlagSet, synopsis, about string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags (each also from its environment variable, or from --config):\n", synopsis, about)
		printFlags(fs, true)
		fmt.Fprintf(fs.Output(), "\nVersion %s\n", buildinfo.Read())
	}
}

// PlainUsage is Usage for a program whose flags come from the command line
// only: the same layout, without environment variables.
func PlainUsage(fs *flag.FlagSet, synopsis, about string) func() {
	return func() {
		fmt.Fprintf(fs.Output(), "Usage: %s\n\n%s\n\nFlags:\n", synopsis, about)
		printFlags(fs, false)
		fmt.Fprintf(fs.Output(), "\nVersion %s\n", buildinfo.Read())
	}
}

// printFlags lists fs's flags in the double-dash style of every irpki
// program, each with its default and, withEnv, its environment variable.
func printFlags(fs *flag.FlagSet, withEnv bool) {
	w := fs.Output()
	fs.VisitAll(func(f *flag.Flag) {
		def := ""
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "0" && f.DefValue != "0s" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		// A usage of several lines stays indented under its flag.
		usage := strings.ReplaceAll(f.Usage, "\n", "\n        ")
		fmt.Fprintf(w, "  --%s\n        %s%s\n", f.Name, usage, def)
		if withEnv {
			fmt.Fprintf(w, "        [%s]\n", EnvName(f.Name))
		}
	})
}

package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
)

// envName is the environment variable matching a flag: --data-dir is
// IRPKI_DATA_DIR.
func envName(flagName string) string {
	return "IRPKI_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// resolve fills every flag not given on the command line from its IRPKI_…
// environment variable, else from the config file (a JSON object keyed by
// flag name, decoded strictly: unknown keys are errors). Precedence:
// flag > environment > config file > default.
func resolve(fs *flag.FlagSet, configPath string) error {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	fileVals := map[string]string{}
	if configPath != "" {
		b, err := os.ReadFile(configPath)
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		var raw map[string]json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(b))
		if err := dec.Decode(&raw); err != nil {
			return fmt.Errorf("config %s: not a JSON object: %w", configPath, err)
		}
		for k, v := range raw {
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
		if v, ok := os.LookupEnv(envName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %v", envName(f.Name), v, e)
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

// usageWithEnv prints a flag set's usage with each flag's variable.
func usageWithEnv(fs *flag.FlagSet, synopsis, about string) func() {
	return func() {
		w := fs.Output()
		fmt.Fprintf(w, "Usage: %s\n\n%s\n\nFlags (each also from its environment variable, or from --config):\n", synopsis, about)
		fs.VisitAll(func(f *flag.Flag) {
			def := ""
			if f.DefValue != "" && f.DefValue != "false" {
				def = fmt.Sprintf(" (default %s)", f.DefValue)
			}
			fmt.Fprintf(w, "  --%s\n        %s%s\n        [%s]\n", f.Name, f.Usage, def, envName(f.Name))
		})
	}
}

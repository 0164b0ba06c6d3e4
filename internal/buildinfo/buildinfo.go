// Package buildinfo tells which build of irpki is running: the module
// version the go command records (v1.2.3 for go install …@v1.2.3 or a
// tagged checkout, a pseudo-version v0.0.0-TIME-REVISION[+dirty] for any
// other commit of a clone), and the VCS revision and commit time it stamps
// into binaries built inside a checkout. Both binaries print it in
// "version" and "--help", and export it as a build-info metric.
package buildinfo

import (
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
)

// Info is what is known of the running build.
type Info struct {
	// Version is the module version (v1.2.3 or a pseudo-version naming
	// the commit); devel-REVISION when only the revision is known; or
	// "unknown" when the binary carries neither (go run, tests,
	// -buildvcs=false, a git worktree).
	Version string
	// Revision is the VCS commit, "" when unknown.
	Revision string
	// Time is the commit time, RFC 3339, "" when unknown.
	Time string
	// Modified reports uncommitted changes in the checkout it was built from.
	Modified bool
	// GoVersion is the toolchain that built it.
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return Info{Version: "unknown", GoVersion: runtime.Version()}
	}
	return FromBuildInfo(bi)
}

// FromBuildInfo derives Info from what the go command recorded.
func FromBuildInfo(bi *debug.BuildInfo) Info {
	in := Info{GoVersion: bi.GoVersion}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Revision = s.Value
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	v := bi.Main.Version
	switch {
	case v != "" && v != "(devel)":
		// A module version; a pseudo-version already names the revision.
		in.Version = v
	case in.Revision != "":
		in.Version = "devel-" + short(in.Revision)
		if in.Modified {
			in.Version += "-dirty"
		}
	default:
		in.Version = "unknown"
	}
	return in
}

func short(rev string) string {
	if len(rev) > 12 {
		return rev[:12]
	}
	return rev
}

// String is the one-line form "version" prints after the program's name:
// v1.2.3 (go1.26.8), or devel-0123456789ab (commit 2026-12-03T07:00:00Z,
// uncommitted changes; go1.26.8).
func (in Info) String() string {
	var extra []string
	if in.Time != "" {
		extra = append(extra, "commit "+in.Time)
	}
	if in.Modified {
		extra = append(extra, "uncommitted changes")
	}
	s := in.Version + " ("
	if len(extra) > 0 {
		s += strings.Join(extra, ", ") + "; "
	}
	return s + in.GoVersion + ")"
}

// Collector is a constant gauge NAME_build_info with value 1 and the labels
// version, revision and goversion: the usual Prometheus way to tell which
// build a target runs.
func (in Info) Collector(namespace string) prometheus.Collector {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: namespace,
		Name:      "build_info",
		Help:      "The running build: version (module version or devel-REVISION), VCS revision and Go version; always 1.",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(in.Version, in.Revision, in.GoVersion).Set(1)
	return g
}

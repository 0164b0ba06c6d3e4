package buildinfo

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "0123456789abcdef0123456789abcdef01234567"
	for _, tc := range []struct {
		name     string
		main     string
		settings []debug.BuildSetting
		version  string
		str      string
	}{
		{"tagged module", "v1.4.0", nil, "v1.4.0", "v1.4.0 (go1.26.8)"},
		{"pseudo-version wins over vcs", "v0.0.0-20261203070000-0123456789ab", vcs("vcs.revision", rev), "v0.0.0-20261203070000-0123456789ab", "v0.0.0-20261203070000-0123456789ab (go1.26.8)"},
		{"checkout", "(devel)", vcs("vcs.revision", rev, "vcs.time", "2026-12-03T07:00:00Z", "vcs.modified", "false"), "devel-0123456789ab", "devel-0123456789ab (commit 2026-12-03T07:00:00Z; go1.26.8)"},
		{"dirty checkout", "(devel)", vcs("vcs.revision", rev, "vcs.time", "2026-12-03T07:00:00Z", "vcs.modified", "true"), "devel-0123456789ab-dirty", "devel-0123456789ab-dirty (commit 2026-12-03T07:00:00Z, uncommitted changes; go1.26.8)"},
		{"nothing stamped", "(devel)", nil, "unknown", "unknown (go1.26.8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := FromBuildInfo(&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/irpki/irpki", Version: tc.main}, Settings: tc.settings})
			if in.Version != tc.version {
				t.Errorf("Version = %q, want %q", in.Version, tc.version)
			}
			if got := in.String(); got != tc.str {
				t.Errorf("String() = %q, want %q", got, tc.str)
			}
		})
	}
}

func TestCollector(t *testing.T) {
	in := Info{Version: "devel-0123456789ab", Revision: "0123456789abcdef", GoVersion: "go1.26.8"}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(in.Collector("irpkid"))
	want := `# HELP irpkid_build_info The running build: version (module version or devel-REVISION), VCS revision and Go version; always 1.
# TYPE irpkid_build_info gauge
irpkid_build_info{goversion="go1.26.8",revision="0123456789abcdef",version="devel-0123456789ab"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "irpkid_build_info"); err != nil {
		t.Fatal(err)
	}
}

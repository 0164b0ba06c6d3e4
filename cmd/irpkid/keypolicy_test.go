package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRSAKeySizesSetting: serve's --rsa-key-sizes takes sizes of 2048,
// 3072 and 4096 and refuses anything else before starting.
func TestRSAKeySizesSetting(t *testing.T) {
	for in, want := range map[string][]int{"2048": {2048}, "4096, 2048,3072,2048": {2048, 3072, 4096}} {
		if got, err := parseRSASizes(in); err != nil || !slices.Equal(got, want) {
			t.Errorf("parseRSASizes(%q) = %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"1024", "2048,8192", "", "2048,", "big"} {
		if _, err := parseRSASizes(bad); err == nil {
			t.Errorf("parseRSASizes(%q) accepted", bad)
		}
	}
	_, se, code := irpkid(t, nil, "serve", "--data-dir", filepath.Join(t.TempDir(), "d"), "--rsa-key-sizes", "1024")
	if code == 0 || !strings.Contains(se, "--rsa-key-sizes") {
		t.Errorf("serve --rsa-key-sizes 1024: exit %d %s", code, se)
	}
}

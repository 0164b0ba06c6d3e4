package client

import (
	"strings"
	"testing"
)

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                    "plain text",
		"a\u202eb\u202dc\u2066d\u2069e": "abcde", // overrides and isolates
		"a\u200bb\u200ec\u200fd\u061ce": "abcde", // zero-width, marks
		"x\u009b31my\x7fz\x00":          "x31myz",
		"one\r\ntwo\tthree  \n\n four ": "one two three four",
		"\xff\xfebroken utf-8":          "broken utf-8",
	} {
		if got := CleanText(in); got != want {
			t.Errorf("CleanText(%q) = %q, want %q", in, got, want)
		}
	}
	long := CleanText(strings.Repeat("é", 2000))
	if n := len([]rune(long)); n != maxText+1 || !strings.HasSuffix(long, "…") {
		t.Errorf("a long text is %d characters, want %d with an ellipsis", n, maxText+1)
	}
}

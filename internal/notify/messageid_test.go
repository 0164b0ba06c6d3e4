package notify_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/irpki/irpki/internal/notify"
)

// A Message-ID names the domain users reach the service at, else the
// sender's domain; never the machine's host name (the credential-link mail
// said @vm).
func TestMessageIDDomain(t *testing.T) {
	s := newServer(t)
	for _, tc := range []struct {
		id, want string
	}{
		{notify.MessageID("reminder-60d-ab", "https://irpki.Vero.example:8443"), `^<reminder-60d-ab@irpki\.vero\.example>$`},
		{notify.MessageID("x", "http://127.0.0.1:8080"), `^<x@palkat\.example>$`},
		{notify.MessageID("x", "http://[::1]:8080"), `^<x@palkat\.example>$`},
		{notify.MessageID("x", "http://localhost:8080"), `^<x@palkat\.example>$`},
		{notify.MessageID("x", ""), `^<x@palkat\.example>$`},
		{"", `^<[0-9a-f]{32}@palkat\.example>$`},
	} {
		dir := filepath.Join(t.TempDir(), "outbox")
		m, err := notify.Outbox(dir, "Tulorekisteri <no-reply@Palkat.example>", s.Clock, s.Log)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Send(context.Background(), notify.Message{To: "a@b.example", Subject: "s", Text: "t", MessageID: tc.id}); err != nil {
			t.Fatal(err)
		}
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		if len(files) != 1 {
			t.Fatalf("outbox holds %v", files)
		}
		b, _ := os.ReadFile(files[0])
		got := regexp.MustCompile(`(?m)^Message-ID: (.*?)\r?$`).FindSubmatch(b)
		if got == nil || !regexp.MustCompile(tc.want).Match(got[1]) {
			t.Errorf("id %q: header %q, want %s\n%s", tc.id, got, tc.want, b)
		}
	}
}

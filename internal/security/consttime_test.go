package security_test

import (
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// secretName matches expressions that hold secrets or values derived from
// them: passwords, their hashes and MACs, session and CSRF tokens.
var secretName = regexp.MustCompile(`(?i)(password|passwd|secret|token|csrf|session|mac\b|hmac|pwhash|hash)`)

// notSecret lists comparisons the scan flags by name but that compare no
// secret, each with the reason. Keys are "file: expression".
var notSecret = map[string]string{
	// The digest of a verified renewal request, an idempotency key; the
	// request itself is signed, not secret.
	"internal/service/renew.go: succ.RequestHash == q.reqHash": "request digest, not a secret",
}

// TestSecretsComparedInConstantTime scans every non-test Go file of the
// module for comparisons of secrets with ==, !=, bytes.Equal,
// strings.EqualFold or strings.Compare, which return early at the first
// differing byte. Secrets must be compared with crypto/subtle (or
// hmac.Equal, which uses it). Transfer passwords are compared as keyed
// hashes with subtle.ConstantTimeCompare (internal/service/secret.go); a
// RetrievalId or TransferId is looked up by the database as a key, so its
// lookup time depends on the index, not on how many leading characters of
// a guess are right.
func TestSecretsComparedInConstantTime(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var hits []string
	usesSubtle := false
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if n := d.Name(); path != root && (strings.HasPrefix(n, ".") || n == "testdata" || n == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		h, sub := scanFile(fset, rel, src)
		hits = append(hits, h...)
		usesSubtle = usesSubtle || sub
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !usesSubtle {
		t.Error("internal/service/secret.go no longer compares transfer password hashes with subtle.ConstantTimeCompare")
	}
	for _, h := range hits {
		if reason, ok := notSecret[h]; ok {
			t.Logf("allowed: %s (%s)", h, reason)
			continue
		}
		t.Errorf("secret compared in variable time: %s — use crypto/subtle.ConstantTimeCompare", h)
	}
}

// scanFile returns the variable-time comparisons of secrets in one file,
// and whether it calls subtle.ConstantTimeCompare in secret.go.
func scanFile(fset *token.FileSet, rel string, src []byte) (hits []string, usesSubtle bool) {
	f, err := parser.ParseFile(fset, rel, src, 0)
	if err != nil {
		return nil, false // work in progress of another engineer; go vet reports it
	}
	text := func(n ast.Node) string {
		var b strings.Builder
		printer.Fprint(&b, fset, n)
		return b.String()
	}
	secretOperand := func(e ast.Expr) bool {
		switch x := e.(type) {
		case *ast.BasicLit:
			return false
		case *ast.Ident:
			if x.Name == "nil" {
				return false
			}
		case *ast.CallExpr:
			if id, ok := x.Fun.(*ast.Ident); ok && id.Name == "len" {
				return false
			}
		}
		return secretName.MatchString(text(e))
	}
	ast.Inspect(f, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.BinaryExpr:
			if x.Op != token.EQL && x.Op != token.NEQ {
				return true
			}
			if _, lit := x.X.(*ast.BasicLit); lit {
				return true
			}
			if _, lit := x.Y.(*ast.BasicLit); lit {
				return true
			}
			if id, ok := x.Y.(*ast.Ident); ok && (id.Name == "nil" || strings.HasPrefix(id.Name, "Cert") || strings.HasPrefix(id.Name, "Order") || strings.HasPrefix(id.Name, "Status")) {
				return true // constants of enumerations
			}
			if sel, ok := x.Y.(*ast.SelectorExpr); ok && sel.Sel.IsExported() && isConstLike(sel) {
				return true
			}
			if secretOperand(x.X) && secretOperand(x.Y) || (secretOperand(x.X) || secretOperand(x.Y)) && !isConstLike(x.Y) && !isConstLike(x.X) {
				hits = append(hits, rel+": "+text(x))
			}
		case *ast.CallExpr:
			sel, ok := x.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			pkg, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			name := pkg.Name + "." + sel.Sel.Name
			if name == "subtle.ConstantTimeCompare" {
				if rel == "internal/service/secret.go" {
					usesSubtle = true
				}
				return true
			}
			if name != "bytes.Equal" && name != "strings.EqualFold" && name != "strings.Compare" && name != "bytes.Compare" && name != "reflect.DeepEqual" {
				return true
			}
			for _, a := range x.Args {
				if secretOperand(a) {
					hits = append(hits, rel+": "+text(x))
					break
				}
			}
		}
		return true
	})
	return hits, usesSubtle
}

// TestConstantTimeScanCatches shows the scan finds what it looks for.
func TestConstantTimeScanCatches(t *testing.T) {
	src := `package x
func f() {
	if o.PasswordHash == got {}
	if bytes.Equal(hashPassword(salt, pw), o.PasswordHash) {}
	if sess.Token != cookie.Value {}
	if strings.EqualFold(csrf, r.FormValue("csrf")) {}
	if o.Status == store.OrderOpen {}
	if pw == "" {}
}`
	hits, _ := scanFile(token.NewFileSet(), "x.go", []byte(src))
	if len(hits) != 4 {
		t.Fatalf("scan found %d of 4: %q", len(hits), hits)
	}
}

// isConstLike reports whether e looks like a named constant (an exported
// identifier or pkg.Constant), which is a public value.
func isConstLike(e ast.Expr) bool {
	switch x := e.(type) {
	case *ast.Ident:
		return x.IsExported()
	case *ast.SelectorExpr:
		if _, ok := x.X.(*ast.Ident); ok && x.Sel.IsExported() {
			// pkg.Const, but not variable.Field: a lower-case receiver is
			// a variable.
			return ast.IsExported(x.X.(*ast.Ident).Name) || isPkgName(x.X.(*ast.Ident).Name)
		}
	}
	return false
}

// isPkgName guesses whether a lower-case identifier is a package name of
// this module or the standard library used in selectors of constants.
func isPkgName(n string) bool {
	switch n {
	case "wire", "store", "service", "http", "ca", "x509", "crypto", "time", "notify", "eservice", "client", "renewal":
		return true
	}
	return false
}

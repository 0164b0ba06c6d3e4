package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/irpki/irpki/internal/ca"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/store"
)

// manifestName is the backup's checksum list, in sha256sum's format so
// that "sha256sum -c MANIFEST.sha256" checks it.
const manifestName = "MANIFEST.sha256"

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("backup", stdout, stderr)
	to := fs.String("to", "", "directory to create for the backup (must not exist)")
	fs.Usage = cliconfig.Usage(fs, "irpkid backup --to DIR",
		"Backs up the data directory while the server runs: a consistent copy of the SQLite database (one snapshot),\n"+
			"the CA material of every environment (ca/), and "+manifestName+" with a SHA-256 of each file\n"+
			"(check with: cd DIR && sha256sum -c "+manifestName+"). The directory is made 0700, its files 0600: it holds\n"+
			"the CA's private keys. With --database (PostgreSQL) the CA material is backed up and the database is\n"+
			"not: use pg_dump or continuous archiving (docs/operations.md). Restore and the drill: docs/operations.md.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("--to DIR is required: where to write the backup")
	}
	if _, err := os.Lstat(*to); !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("--to %s exists: give a new directory, so that no backup is ever overwritten or mixed with another", *to)
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		// Written beside the target and renamed at the end: a backup that
		// failed half-way never looks like a backup.
		tmp, err := os.MkdirTemp(filepath.Dir(filepath.Clean(*to)), "."+filepath.Base(*to)+".partial-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		if err := os.Chmod(tmp, 0o700); err != nil {
			return err
		}
		if err := a.db.BackupTo(ctx, filepath.Join(tmp, "irpki.db")); err != nil && !errors.Is(err, store.ErrNotSQLite) {
			return err
		} else if err != nil {
			fmt.Fprintf(stderr, "irpkid backup: the database is PostgreSQL, not copied: back it up with pg_dump or continuous archiving (docs/operations.md)\n")
		}
		if err := copyTree(filepath.Join(c.dataDir, "ca"), filepath.Join(tmp, "ca")); err != nil {
			return fmt.Errorf("copy the CA material: %w", err)
		}
		files, err := writeManifest(tmp)
		if err != nil {
			return err
		}
		if err := syncDir(tmp); err != nil {
			return err
		}
		if err := os.Rename(tmp, *to); err != nil {
			return err
		}
		if err := syncDir(filepath.Dir(filepath.Clean(*to))); err != nil {
			return err
		}
		a.log.Info("backup written", "dir", *to, "files", files, "database", a.db.Backend())
		fmt.Fprintf(stdout, "backup written to %s: %d files, checksums in %s\n", *to, files, manifestName)
		return nil
	})
}

// copyTree copies the regular files under src to dst (0700 directories,
// 0600 files, each synced), except what an interrupted signer rotation
// left (ca.StaleRotationDirs).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir() && slices.Contains(ca.StaleRotationDirs, d.Name()):
			// Left by an interrupted signer rotation, maybe with a plain
			// key, and never read: not copied.
			return filepath.SkipDir
		case d.IsDir():
			return os.MkdirAll(target, 0o700)
		case !d.Type().IsRegular():
			return fmt.Errorf("%s is not a regular file", p)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		if err := out.Sync(); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
}

// writeManifest writes the SHA-256 of every file under dir to its
// manifest and returns how many files it lists.
func writeManifest(dir string) (int, error) {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		sum := sha256.Sum256(b)
		lines = append(lines, hex.EncodeToString(sum[:])+"  "+filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return 0, err
	}
	sort.Strings(lines)
	f, err := os.OpenFile(filepath.Join(dir, manifestName), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	if _, err := io.WriteString(f, strings.Join(lines, "\n")+"\n"); err != nil {
		f.Close()
		return 0, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return 0, err
	}
	return len(lines), f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

func cmdCertsImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("certs import", stdout, stderr)
	var files []string
	c.files = &files
	fs.Usage = cliconfig.Usage(fs, "irpkid certs import [flags] FILE…",
		"Re-registers certificates that this service's issuing CA signed but the store does not know: after a restore\n"+
			"from a backup older than them, the organisations' current certificates (PEM, any number per file, or DER).\n"+
			"Each must be signed by this environment's issuing CA, unexpired, of an organisation in the store, with a key\n"+
			"no stored certificate has; then it renews normally. All or nothing: one refusal imports none and every\n"+
			"refusal is named. Certificates already known are reported and left alone, so it may be run again.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if len(files) == 0 {
		fmt.Fprintln(stderr, "irpkid certs import: name the certificate files to import")
		return errUsage
	}
	var ders [][]byte
	for _, f := range files {
		d, err := readCertificates(f)
		if err != nil {
			return err
		}
		ders = append(ders, d...)
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		imported, err := a.svc.ImportCertificates(ctx, ders, operatorActor)
		if err != nil {
			return err
		}
		for _, im := range imported {
			what := "imported"
			if im.Already {
				what = "already known"
			}
			fmt.Fprintf(stdout, "%s: %s of %s, valid until %s\n", what, im.Serial, im.CustomerID, im.NotAfter.UTC().Format("2006-01-02"))
		}
		return nil
	})
}

// readCertificates reads the certificates of a PEM file (every
// CERTIFICATE block) or of a DER file.
func readCertificates(path string) ([][]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(string(b), "-----BEGIN") {
		return [][]byte{b}, nil // DER; parsed and checked with the rest
	}
	var out [][]byte
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			break
		}
		if blk.Type == "CERTIFICATE" {
			out = append(out, blk.Bytes)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no CERTIFICATE in its PEM blocks", path)
	}
	return out, nil
}

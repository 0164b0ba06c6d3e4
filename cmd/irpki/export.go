package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/irpki/irpki/internal/atomicfile"
	"github.com/irpki/irpki/internal/cliconfig"
)

func (a *app) cmdExport(ctx context.Context, args []string) error {
	fs, c := a.newFlagSet("export")
	p12 := fs.String("pkcs12", "", "write certificate, key and CA chain as PKCS#12 to this file (0600)")
	pwFile := fs.String("password-file", "", "file holding the PKCS#12 password")
	pwStdin := fs.Bool("password-stdin", false, "read the PKCS#12 password from the first line of standard input")
	legacy := fs.Bool("legacy", false, "PKCS#12 with 3DES and SHA-1 for old readers (Java before 11.0.12, Windows Server 2016); default is AES-256 and SHA-256")
	pemChain := fs.String("pem-chain", "", "write the certificate followed by its CA chain as PEM to this file")
	fs.Usage = cliconfig.Usage(fs, "irpki export --dir DIR (--pkcs12 FILE (--password-file F | --password-stdin) | --pem-chain FILE)",
		"Exports the current certificate: PKCS#12 for Java and .NET software (readable by\n"+
			"openssl pkcs12 and keytool -storetype PKCS12), or a PEM bundle of the certificate\n"+
			"and its CA chain. The key itself is DIR/key.pem (PKCS#8 PEM).")
	if err := a.parse(fs, c, args); err != nil {
		return err
	}
	if *p12 == "" && *pemChain == "" {
		fmt.Fprintln(a.stderr, "irpki export: give --pkcs12 FILE or --pem-chain FILE")
		return errUsage
	}
	m, err := a.manager(c, 0)
	if err != nil {
		return err
	}
	if *p12 != "" {
		var pw string
		switch {
		case *pwFile != "" && *pwStdin:
			return badFlags{errors.New("give the password one way: --password-file or --password-stdin")}
		case *pwFile != "":
			b, err := os.ReadFile(*pwFile)
			if err != nil {
				return fmt.Errorf("--password-file: %w", err)
			}
			pw = strings.TrimRight(string(b), "\r\n")
		case *pwStdin:
			line, _ := bufio.NewReader(a.stdin).ReadString('\n')
			pw = strings.TrimRight(line, "\r\n")
		default:
			return badFlags{errors.New("--pkcs12 needs a password: --password-file F or --password-stdin")}
		}
		if pw == "" {
			return errors.New("the PKCS#12 password is empty")
		}
		b, err := m.PKCS12(pw, *legacy)
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(*p12, b, 0o600); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "wrote %s (PKCS#12)\n", *p12)
	}
	if *pemChain != "" {
		b, err := m.PEMChain()
		if err != nil {
			return err
		}
		if err := atomicfile.WriteFile(*pemChain, b, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(a.stdout, "wrote %s (PEM: certificate and CA chain)\n", *pemChain)
	}
	return nil
}

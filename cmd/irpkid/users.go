package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/irpki/irpki/internal/accounts"
	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/service"
)

// stdin is where "irpkid user add" reads the password; a variable for tests.
var stdin io.Reader = os.Stdin

func cmdUserAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("user add", stdout, stderr)
	email := fs.String("email", "", "the account's e-mail address (its sign-in name)")
	name := fs.String("name", "", "the person's name")
	cid := fs.String("customer-id", "", "business ID of the organisation the representative acts for")
	operator := fs.Bool("operator", false, "an operator of the authority (manages organisations and representatives) instead of a representative")
	pwFile := fs.String("password-file", "", "read the password from this file instead of standard input")
	fs.Usage = cliconfig.Usage(fs, "irpkid user add --email ADDR (--customer-id ID | --operator) [--name NAME] < password",
		fmt.Sprintf("Creates an e-service account. The password (at least %d characters) is read from the first line\nof standard input or from --password-file, never from the command line.", accounts.MinPasswordLength))
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *email == "" || (*cid == "") == !*operator {
		return errors.New("--email and exactly one of --customer-id or --operator are required")
	}
	password, err := readPassword(*pwFile, *email, stderr)
	if err != nil {
		return err
	}
	if err := service.ValidateEmail(*email); err != nil {
		return err
	}
	// The first operator account may come before the server's first start;
	// a representative needs its organisation, so the directory exists.
	c.mayCreate = *operator
	return c.withApp(ctx, stderr, func(a *app) error {
		u, err := accounts.Add(ctx, a.db, clock.System{}, accounts.DefaultArgon2,
			accounts.NewAccount{Email: *email, Name: *name, CustomerID: *cid, Operator: *operator, Password: password}, operatorActor)
		if err != nil {
			return err
		}
		role := "representative of " + u.CustomerID
		if u.Operator {
			role = "operator"
		}
		fmt.Fprintf(stdout, "account %s added (%s)\n", u.Email, role)
		return nil
	})
}

func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("users", stdout, stderr)
	cid := fs.String("customer-id", "", "only this organisation's representatives")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = cliconfig.Usage(fs, "irpkid users [--customer-id ID] [--json]", "Lists e-service accounts: operators and representatives.")
	if err := c.parse(fs, args); err != nil {
		return err
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		if err := a.checkCustomerFilter(ctx, *cid); err != nil {
			return err
		}
		users, err := accounts.List(ctx, a.db, *cid)
		if err != nil {
			return err
		}
		type row struct {
			Email      string `json:"email"`
			Name       string `json:"name"`
			CustomerID string `json:"customer_id,omitempty"`
			Operator   bool   `json:"operator"`
			Disabled   bool   `json:"disabled"`
		}
		return printList(stdout, *asJSON, users,
			func(u accounts.Account) row { return row{u.Email, u.Name, u.CustomerID, u.Operator, u.Disabled} },
			[]string{"EMAIL", "NAME", "ROLE", "CUSTOMER ID", "STATE"},
			func(u accounts.Account) []string {
				role, cid, state := "representative", u.CustomerID, "active"
				switch {
				case u.Operator:
					role, cid = "operator", "-"
				case strings.HasPrefix(u.Email, "oidc:"):
					// Organisations and role come from the provider's
					// claims at each sign-in.
					role, cid = "identity provider", "-"
				}
				if u.Disabled {
					state = "disabled"
				}
				return []string{u.Email, u.Name, role, cid, state}
			})
	})
}

// readPassword reads an account's password from the first line of file,
// or of standard input when file is "", saying at a terminal what it waits
// for. The password is never taken from the command line.
func readPassword(file, email string, stderr io.Writer) (string, error) {
	var src io.Reader = stdin
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		src = f
	} else if f, ok := src.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			// At a terminal: say what the command waits for.
			fmt.Fprintf(stderr, "Password for %s (at least %d characters; the typing is shown): ", email, accounts.MinPasswordLength)
		}
	}
	line, err := bufio.NewReader(io.LimitReader(src, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return "", errors.New("no password: give it on standard input (echo … | irpkid user …) or with --password-file")
	}
	return password, nil
}

// cmdUserChange is "irpkid user disable", "user enable" and "user password".
func cmdUserChange(ctx context.Context, sub string, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("user "+sub, stdout, stderr)
	email := fs.String("email", "", "the account's e-mail address")
	var pwFile *string
	var what string
	switch sub {
	case "disable":
		what = "Disables an e-service account: it can no longer sign in, and its open sessions end at once.\nIts organisation, certificates and audit trail stay."
	case "enable":
		what = "Enables a disabled e-service account again."
	case "password":
		pwFile = fs.String("password-file", "", "read the new password from this file instead of standard input")
		what = fmt.Sprintf("Sets a new password for an e-service account (at least %d characters), read from the first line\nof standard input or from --password-file, never from the command line. Its open sessions end.", accounts.MinPasswordLength)
	}
	use := "irpkid user " + sub + " --email ADDR"
	if sub == "password" {
		use += " < password"
	}
	fs.Usage = cliconfig.Usage(fs, use, what)
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *email == "" {
		return errors.New("--email is required")
	}
	var password string
	if sub == "password" {
		var err error
		if password, err = readPassword(*pwFile, *email, stderr); err != nil {
			return err
		}
	}
	return c.withApp(ctx, stderr, func(a *app) error {
		var u accounts.Account
		var err error
		switch sub {
		case "password":
			u, err = accounts.SetPassword(ctx, a.db, clock.System{}, accounts.DefaultArgon2, *email, password, operatorActor)
		default:
			u, err = accounts.SetDisabled(ctx, a.db, clock.System{}, *email, sub == "disable", operatorActor)
		}
		if err != nil {
			return err
		}
		done := map[string]string{"disable": "disabled; its sessions have ended", "enable": "enabled", "password": "has a new password; its sessions have ended"}[sub]
		fmt.Fprintf(stdout, "account %s %s\n", u.Email, done)
		return nil
	})
}

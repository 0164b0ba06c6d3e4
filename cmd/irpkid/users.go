package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/irpki/irpki/internal/cliconfig"
	"github.com/irpki/irpki/internal/clock"
	"github.com/irpki/irpki/internal/eservice"
	"github.com/irpki/irpki/internal/service"
)

// stdin is where "irpkid user add" reads the password; a variable for tests.
var stdin io.Reader = os.Stdin

func cmdUserAdd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlagSet("user add", stderr)
	email := fs.String("email", "", "the account's e-mail address (its sign-in name)")
	name := fs.String("name", "", "the person's name")
	cid := fs.String("customer-id", "", "business ID of the organisation the representative acts for")
	operator := fs.Bool("operator", false, "an operator of the authority (manages organisations and representatives) instead of a representative")
	pwFile := fs.String("password-file", "", "read the password from this file instead of standard input")
	fs.Usage = cliconfig.Usage(fs, "irpkid user add --email ADDR (--customer-id ID | --operator) [--name NAME] < password",
		fmt.Sprintf("Creates an e-service account. The password (at least %d characters) is read from the first line\nof standard input or from --password-file, never from the command line.", eservice.MinPasswordLength))
	if err := c.parse(fs, args); err != nil {
		return err
	}
	if *email == "" || (*cid == "") == !*operator {
		return errors.New("--email and exactly one of --customer-id or --operator are required")
	}
	var src io.Reader = stdin
	if *pwFile != "" {
		f, err := os.Open(*pwFile)
		if err != nil {
			return fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		src = f
	} else if f, ok := src.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			// At a terminal: say what the command waits for.
			fmt.Fprintf(stderr, "Password for %s (at least %d characters; the typing is shown): ", *email, eservice.MinPasswordLength)
		}
	}
	line, err := bufio.NewReader(io.LimitReader(src, 4096)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password: %w", err)
	}
	password := strings.TrimRight(line, "\r\n")
	if password == "" {
		return errors.New("no password: give it on standard input (echo … | irpkid user add …) or with --password-file")
	}
	if err := service.ValidateEmail(*email); err != nil {
		return err
	}
	// The first operator account may come before the server's first start;
	// a representative needs its organisation, so the directory exists.
	c.mayCreate = *operator
	return c.withApp(ctx, stderr, func(a *app) error {
		u, err := eservice.AddUser(ctx, a.db, clock.System{}, eservice.DefaultArgon2,
			eservice.NewUser{Email: *email, Name: *name, CustomerID: *cid, Operator: *operator, Password: password}, operatorActor)
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
	fs, c := newFlagSet("users", stderr)
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
		users, err := eservice.Users(ctx, a.db, *cid)
		if err != nil {
			return err
		}
		type row struct {
			Email      string `json:"email"`
			Name       string `json:"name"`
			CustomerID string `json:"customer_id,omitempty"`
			Operator   bool   `json:"operator"`
		}
		return printList(stdout, *asJSON, users,
			func(u eservice.User) row { return row{u.Email, u.Name, u.CustomerID, u.Operator} },
			[]string{"EMAIL", "NAME", "ROLE", "CUSTOMER ID"},
			func(u eservice.User) []string {
				if u.Operator {
					return []string{u.Email, u.Name, "operator", "-"}
				}
				return []string{u.Email, u.Name, "representative", u.CustomerID}
			})
	})
}

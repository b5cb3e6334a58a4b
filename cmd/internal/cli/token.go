package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/vmcore/vmcore/api/wire"
)

// runToken lists, makes and revokes the service's API tokens (an admin
// token's right): `token list`, `token create --name N --role R
// [--expires D]`, `token revoke ID`.
func runToken(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: token list | create --name NAME --role ROLE [--expires DURATION] | revoke ID", ErrUsage)
	}
	sub, args := args[0], args[1:]
	fs := NewFlagSet("token "+sub, "", stderr)
	srv := AddServerFlags(fs, false)
	asJSON := fs.Bool("json", false, "print the API's JSON")
	var name, role *string
	var expires *time.Duration
	if sub == "create" {
		name = fs.String("name", "", "who or what the token is for (shown in records)")
		role = fs.String("role", "", "uploader, viewer or admin")
		expires = fs.Duration("expires", 0, "lifetime (e.g. 720h); 0: never expires")
	}
	rest, err := ParseInterspersed(fs, args)
	if err != nil {
		return err
	}
	c, err := srv.Client()
	if err != nil {
		return err
	}
	ctx := context.Background()
	switch {
	case sub == "list" && len(rest) == 0:
		ts, err := c.Tokens(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, wire.TokenList{Tokens: ts})
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tROLE\tCREATED\tEXPIRES\tORIGIN\tNAME")
		now := time.Now()
		for _, t := range ts {
			exp := "never"
			if !t.Expires.IsZero() {
				exp = t.Expires.Local().Format(time.DateTime)
				if t.Expires.Before(now) {
					exp += " (expired)"
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Created.Local().Format(time.DateTime), exp, dash(t.Origin), t.Name)
		}
		return tw.Flush()
	case sub == "create" && len(rest) == 0:
		if *name == "" || *role == "" {
			return fmt.Errorf("%w: token create needs --name and --role", ErrUsage)
		}
		t, err := c.CreateToken(ctx, wire.TokenRequest{Name: *name, Role: *role, ExpiresIn: int64(expires.Seconds())})
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, t)
		}
		fmt.Fprintf(stderr, "token %s (%s, %s): shown this once, keep it\n", t.ID, t.Role, t.Name)
		fmt.Fprintln(stdout, t.Secret)
		return nil
	case sub == "revoke" && len(rest) == 1:
		if err := c.RevokeToken(ctx, rest[0]); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "token %s revoked\n", rest[0])
		return nil
	}
	return fmt.Errorf("%w: token list | create --name NAME --role ROLE [--expires DURATION] | revoke ID", ErrUsage)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(v)
}

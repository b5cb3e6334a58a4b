package cli

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vmcore/vmcore/api/wire"
)

// newTokenCmd is `vmcorectl token list|create|revoke`: vmcored's API
// tokens, an admin token's right.
func newTokenCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "token", Short: "List, make and revoke vmcored's API tokens (admin)",
		Long: `List, make and revoke vmcored's API tokens (with an admin token). A token's secret is printed
once, when it is made; the list shows each token's id (the start of its SHA-256), name, role,
age, expiry and origin. Revoking a token ends its browser sessions.`,
		GroupID: "server", Args: noArgs, RunE: func(c *cobra.Command, args []string) error {
			c.SetOut(s.Err)
			c.Usage()
			return usageError("no token command given")
		}}
	c.AddCommand(newTokenListCmd(s), newTokenCreateCmd(s), newTokenRevokeCmd(s))
	return c
}

func newTokenListCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "list", Short: "List the tokens (never their secrets)", Args: noArgs}
	srv := addServerFlags(c.Flags(), false)
	asJSON := c.Flags().Bool("json", false, "print the API's JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		cl, err := srv.client()
		if err != nil {
			return err
		}
		ts, err := cl.Tokens(c.Context())
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(s.Out, wire.TokenList{Tokens: ts})
		}
		tw := tabwriter.NewWriter(s.Out, 0, 0, 2, ' ', 0)
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
			origin := t.Origin
			if origin == "" {
				origin = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Role, t.Created.Local().Format(time.DateTime), exp, origin, t.Name)
		}
		return tw.Flush()
	}
	return c
}

func newTokenCreateCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "create --name NAME --role ROLE", Short: "Make a token and print its secret, once", Args: noArgs}
	srv := addServerFlags(c.Flags(), false)
	name := c.Flags().String("name", "", "who or what the token is for (shown in records)")
	role := c.Flags().String("role", "", "uploader, viewer or admin")
	expires := c.Flags().Duration("expires", 0, "lifetime (e.g. 720h); 0: it never expires")
	asJSON := c.Flags().Bool("json", false, "print the API's JSON")
	c.RunE = func(c *cobra.Command, args []string) error {
		if *name == "" || *role == "" {
			return usageError("token create needs --name and --role")
		}
		if *expires < 0 {
			return usageError("--expires is a lifetime, 0 for none")
		}
		cl, err := srv.client()
		if err != nil {
			return err
		}
		t, err := cl.CreateToken(c.Context(), wire.TokenRequest{Name: *name, Role: *role, ExpiresIn: int64(expires.Seconds())})
		if err != nil {
			return err
		}
		if *asJSON {
			return writeJSON(s.Out, t)
		}
		fmt.Fprintf(s.Err, "token %s (%s, %s): shown this once, keep it\n", t.ID, t.Role, t.Name)
		fmt.Fprintln(s.Out, t.Secret)
		return nil
	}
	return c
}

func newTokenRevokeCmd(s IO) *cobra.Command {
	c := &cobra.Command{Use: "revoke ID", Short: "Revoke a token and end its browser sessions", Args: rangeArgs(1, 1, "token id")}
	srv := addServerFlags(c.Flags(), false)
	c.RunE = func(c *cobra.Command, args []string) error {
		cl, err := srv.client()
		if err != nil {
			return err
		}
		if err := cl.RevokeToken(c.Context(), args[0]); err != nil {
			return err
		}
		fmt.Fprintf(s.Err, "token %s revoked\n", args[0])
		return nil
	}
	return c
}

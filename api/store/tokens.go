package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/vmcore/vmcore/api/wire"
)

// Roles a token can have.
const (
	RoleUploader = "uploader" // may create and upload dumps, nothing else
	RoleViewer   = "viewer"   // may read everything
	RoleSupport  = "support"  // may read everything and triage: status, owner, notes, links, fixes
	RoleAdmin    = "admin"    // may do anything
)

// Where a token came from (Token.Origin).
const (
	OriginAPI        = "api"         // made by an admin through the API, CLI or UI
	OriginEnv        = "env"         // VMCORED_ADMIN_TOKEN: a new one replaces the old
	OriginFirstStart = "first-start" // written to the data directory at the first start
)

// ValidRole says whether r is a known role.
func ValidRole(r string) bool {
	return r == RoleUploader || r == RoleViewer || r == RoleSupport || r == RoleAdmin
}

// Token describes an API token (see wire.Token).
type Token = wire.Token

// hashToken is what the database keeps: a stolen database does not give
// usable tokens.
func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// tokenIDLen is how many hex digits of a token's hash name it.
const tokenIDLen = 16

// TokenID is the public name of a token: the start of its SHA-256.
func TokenID(tok string) string { return hashToken(tok)[:tokenIDLen] }

// legacyEnvName is the name the environment's admin token had before
// tokens recorded their origin.
const legacyEnvName = "admin (VMCORED_ADMIN_TOKEN)"

// AddToken stores a token with t's name, role, expiry and origin.
func (db *DB) AddToken(ctx context.Context, tok string, t Token) error {
	if !ValidRole(t.Role) {
		return fmt.Errorf("store: unknown role %q", t.Role)
	}
	_, err := db.sql.ExecContext(ctx, `INSERT INTO tokens (hash, name, role, created, expires, origin) VALUES ($1,$2,$3,$4,$5,$6)
		ON CONFLICT (hash) DO UPDATE SET name = excluded.name, role = excluded.role, expires = excluded.expires, origin = excluded.origin`,
		hashToken(tok), t.Name, t.Role, unix(time.Now()), unix(t.Expires), t.Origin)
	if err != nil {
		return fmt.Errorf("store: token: %w", err)
	}
	return nil
}

// SetEnvToken makes tok the admin token of the environment and removes
// the one the environment gave before (with its sessions), in one
// transaction: changing VMCORED_ADMIN_TOKEN and restarting revokes the old
// token.
func (db *DB) SetEnvToken(ctx context.Context, tok, name string) error {
	h := hashToken(tok)
	return db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT hash FROM tokens WHERE hash <> $1 AND (origin = $2 OR (origin = '' AND name = $3))`,
			h, OriginEnv, legacyEnvName)
		if err != nil {
			return fmt.Errorf("store: env token: %w", err)
		}
		var old []string
		for rows.Next() {
			var o string
			if err := rows.Scan(&o); err != nil {
				rows.Close()
				return fmt.Errorf("store: env token: %w", err)
			}
			old = append(old, o)
		}
		rows.Close()
		for _, o := range old {
			if err := deleteToken(ctx, tx, o); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO tokens (hash, name, role, created, expires, origin) VALUES ($1,$2,$3,$4,0,$5)
			ON CONFLICT (hash) DO UPDATE SET name = excluded.name, role = excluded.role, expires = 0, origin = excluded.origin`,
			h, name, RoleAdmin, unix(time.Now()), OriginEnv)
		if err != nil {
			return fmt.Errorf("store: env token: %w", err)
		}
		return nil
	})
}

// deleteToken removes a token and what it opened: sessions and login
// links.
func deleteToken(ctx context.Context, tx *sql.Tx, hash string) error {
	for _, q := range []string{`DELETE FROM sessions WHERE token_hash = $1`, `DELETE FROM login_links WHERE token_hash = $1`,
		`DELETE FROM tokens WHERE hash = $1`} {
		if _, err := tx.ExecContext(ctx, q, hash); err != nil {
			return fmt.Errorf("store: revoking a token: %w", err)
		}
	}
	return nil
}

const tokenCols = `hash, name, role, created, expires, origin`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var hash string
	var created, expires int64
	if err := row.Scan(&hash, &t.Name, &t.Role, &created, &expires, &t.Origin); err != nil {
		return t, err
	}
	t.ID, t.Created, t.Expires = hash[:min(len(hash), tokenIDLen)], fromUnix(created), fromUnix(expires)
	return t, nil
}

// LookupToken returns a live token: ErrNotFound when it is unknown,
// revoked or expired.
func (db *DB) LookupToken(ctx context.Context, tok string) (Token, error) {
	t, err := scanToken(db.sql.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1 AND (expires = 0 OR expires > $2)`,
		hashToken(tok), unix(time.Now())))
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNotFound
	} else if err != nil {
		return Token{}, fmt.Errorf("store: token: %w", err)
	}
	return t, nil
}

// Tokens lists every token, expired ones too, oldest first.
func (db *DB) Tokens(ctx context.Context) ([]Token, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY created, hash`)
	if err != nil {
		return nil, fmt.Errorf("store: tokens: %w", err)
	}
	defer rows.Close()
	out := []Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, fmt.Errorf("store: tokens: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken deletes the token named id (a TokenID) with its sessions
// and login links, and records who did it. It refuses (ErrConflict) to
// revoke the last live admin token, which would lock every admin out.
func (db *DB) RevokeToken(ctx context.Context, id, actor string) (Token, error) {
	var t Token
	err := db.tx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE substr(hash, 1, 16) = $1`, id)
		if err != nil {
			return fmt.Errorf("store: revoking a token: %w", err)
		}
		var hashes []string
		for rows.Next() {
			var h string
			var c, e int64
			if err := rows.Scan(&h, &t.Name, &t.Role, &c, &e, &t.Origin); err != nil {
				rows.Close()
				return fmt.Errorf("store: revoking a token: %w", err)
			}
			t.ID, t.Created, t.Expires = id, fromUnix(c), fromUnix(e)
			hashes = append(hashes, h)
		}
		rows.Close()
		if len(hashes) != 1 {
			return fmt.Errorf("store: token %s: %w", id, ErrNotFound)
		}
		if t.Role == RoleAdmin {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE role = $1 AND hash <> $2 AND (expires = 0 OR expires > $3)`,
				RoleAdmin, hashes[0], unix(time.Now())).Scan(&n); err != nil {
				return fmt.Errorf("store: revoking a token: %w", err)
			}
			if n == 0 {
				return fmt.Errorf("store: token %s is the last admin token: %w", id, ErrConflict)
			}
		}
		if err := deleteToken(ctx, tx, hashes[0]); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "revoke-token", map[string]string{"id": id, "name": t.Name, "role": t.Role})
	})
	return t, err
}

// CountTokens returns how many live tokens have a role.
func (db *DB) CountTokens(ctx context.Context, role string) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE role = $1 AND (expires = 0 OR expires > $2)`,
		role, unix(time.Now())).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: tokens: %w", err)
	}
	return n, nil
}

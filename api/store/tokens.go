package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Roles a token can have.
const (
	RoleUploader = "uploader" // may create and upload dumps, nothing else
	RoleViewer   = "viewer"   // may read everything
	RoleSupport  = "support"  // may read everything and triage: status, owner, notes, links, fixes
	RoleAdmin    = "admin"    // may do anything
)

// ValidRole says whether r is a known role.
func ValidRole(r string) bool {
	return r == RoleUploader || r == RoleViewer || r == RoleSupport || r == RoleAdmin
}

// hashToken is what the database keeps: a stolen database does not give
// usable tokens.
func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// AddToken stores a token with a name and role.
func (db *DB) AddToken(ctx context.Context, tok, name, role string) error {
	if !ValidRole(role) {
		return fmt.Errorf("store: unknown role %q", role)
	}
	_, err := db.sql.ExecContext(ctx, `INSERT INTO tokens (hash, name, role, created) VALUES ($1,$2,$3,$4)
		ON CONFLICT (hash) DO UPDATE SET name = excluded.name, role = excluded.role`, hashToken(tok), name, role, unix(time.Now()))
	if err != nil {
		return fmt.Errorf("store: token: %w", err)
	}
	return nil
}

// TokenRole returns the name and role of a token, or ErrNotFound.
func (db *DB) TokenRole(ctx context.Context, tok string) (name, role string, err error) {
	err = db.sql.QueryRowContext(ctx, `SELECT name, role FROM tokens WHERE hash = $1`, hashToken(tok)).Scan(&name, &role)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrNotFound
	} else if err != nil {
		return "", "", fmt.Errorf("store: token: %w", err)
	}
	return name, role, nil
}

// CountTokens returns how many tokens have a role.
func (db *DB) CountTokens(ctx context.Context, role string) (int, error) {
	var n int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM tokens WHERE role = $1`, role).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: tokens: %w", err)
	}
	return n, nil
}

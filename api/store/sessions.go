package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// What the web UI keeps in the database: browser sessions and one-time
// login links (in the database, not in a process, so that every API node
// behind a load balancer knows them), and the crash list's queries.
//
// Neither a session id nor a link secret is stored: the database holds
// their SHA-256, as it does for tokens, so a copy of the database opens no
// browser session. A session refers to the token it was opened with, and
// every lookup joins the tokens table: a token's role change applies to
// its open sessions at once.

// Session is a browser session: the token it was opened with, as it is
// now, and the session's CSRF synchronizer token.
type Session struct {
	Name    string    // the token's name (who acts, in audits)
	Role    string    // the token's role
	CSRF    string    // the synchronizer token every form of the session carries
	Expires time.Time // when the session ends, whatever happens meanwhile
}

// CreateSession opens a session for an API token. It returns ErrNotFound
// when the token is unknown. Expired sessions and links are deleted on the
// way, so the tables hold only live rows plus those since the last login.
func (db *DB) CreateSession(ctx context.Context, id, token, csrf string, expires time.Time) (Session, error) {
	var s Session
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		s, err = createSession(ctx, tx, id, hashToken(token), csrf, "", expires)
		return err
	})
	return s, err
}

// capRole is the role of a session opened with a token of role tok and
// limited to cap ("" for none): a link shared to read a crash opens a
// viewer's session even when an admin made it, and no cap turns an
// uploader into a reader.
func capRole(tok, cap string) string {
	if cap == "" || tok == RoleUploader {
		return tok
	}
	return cap
}

func createSession(ctx context.Context, tx *sql.Tx, id, tokenHash, csrf, roleCap string, expires time.Time) (Session, error) {
	now := unix(time.Now())
	for _, q := range []string{`DELETE FROM sessions WHERE expires <= $1`, `DELETE FROM login_links WHERE expires <= $1`} {
		if _, err := tx.ExecContext(ctx, q, now); err != nil {
			return Session{}, fmt.Errorf("store: expiring sessions: %w", err)
		}
	}
	s := Session{CSRF: csrf, Expires: expires.UTC()}
	err := tx.QueryRowContext(ctx, `SELECT name, role FROM tokens WHERE hash = $1`, tokenHash).Scan(&s.Name, &s.Role)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	} else if err != nil {
		return Session{}, fmt.Errorf("store: session token: %w", err)
	}
	s.Role = capRole(s.Role, roleCap)
	if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (hash, token_hash, csrf, created, expires, role) VALUES ($1,$2,$3,$4,$5,$6)`,
		hashToken(id), tokenHash, csrf, now, unix(expires), roleCap); err != nil {
		if isUnique(err) {
			return Session{}, fmt.Errorf("store: session: %w", ErrConflict)
		}
		return Session{}, fmt.Errorf("store: session: %w", err)
	}
	return s, nil
}

// Session returns a live session, or ErrNotFound when it is unknown, has
// expired, or its token is gone.
func (db *DB) Session(ctx context.Context, id string) (Session, error) {
	var s Session
	var exp int64
	var roleCap string
	err := db.sql.QueryRowContext(ctx, `SELECT t.name, t.role, s.role, s.csrf, s.expires FROM sessions s JOIN tokens t ON t.hash = s.token_hash
		WHERE s.hash = $1 AND s.expires > $2`, hashToken(id), unix(time.Now())).Scan(&s.Name, &s.Role, &roleCap, &s.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	} else if err != nil {
		return Session{}, fmt.Errorf("store: session: %w", err)
	}
	s.Expires, s.Role = fromUnix(exp), capRole(s.Role, roleCap)
	return s, nil
}

// DeleteSession ends a session; an unknown one is not an error.
func (db *DB) DeleteSession(ctx context.Context, id string) error {
	if _, err := db.sql.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1`, hashToken(id)); err != nil {
		return fmt.Errorf("store: ending a session: %w", err)
	}
	return nil
}

// CreateLoginLink stores a one-time login link: whoever presents secret
// before expires gets a session for token, once, and is sent to target.
// role, when not empty, is the most the session may do (viewer: a
// shared link reads, whoever made it).
func (db *DB) CreateLoginLink(ctx context.Context, secret, token, target, role string, expires time.Time) error {
	_, err := db.sql.ExecContext(ctx, `INSERT INTO login_links (hash, token_hash, target, expires, role) VALUES ($1,$2,$3,$4,$5)`,
		hashToken(secret), hashToken(token), target, unix(expires), role)
	if err != nil {
		return fmt.Errorf("store: login link: %w", err)
	}
	return nil
}

// UseLoginLink spends a login link and opens a session (id, csrf,
// expires) for its token, in one transaction, and returns the session and
// the link's target. A link works once: of two requests racing with the
// same secret, one deletes the row and the other finds nothing. An
// unknown, used or expired link is ErrNotFound.
func (db *DB) UseLoginLink(ctx context.Context, secret, id, csrf string, expires time.Time) (Session, string, error) {
	var s Session
	var target string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var tokenHash, roleCap string
		var exp int64
		err := tx.QueryRowContext(ctx, `DELETE FROM login_links WHERE hash = $1 RETURNING token_hash, target, expires, role`,
			hashToken(secret)).Scan(&tokenHash, &target, &exp, &roleCap)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return fmt.Errorf("store: login link: %w", err)
		}
		if exp <= unix(time.Now()) {
			return ErrNotFound // deleting it was right anyway
		}
		s, err = createSession(ctx, tx, id, tokenHash, csrf, roleCap, expires)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		// The expired row must go even though the answer is "no": commit
		// that separately, since the transaction above rolled back.
		db.sql.ExecContext(ctx, `DELETE FROM login_links WHERE hash = $1`, hashToken(secret))
	}
	return s, target, err
}

// DumpQuery is a Filter with what the web UI's crash list adds: free text,
// a set of signatures (a bucket's), the triage filters and the order.
type DumpQuery struct {
	Filter
	// Text is matched, without regard to case, as a substring of the id,
	// host name, kernel release, signature, panic line and file name.
	Text string
	// Signatures, when not empty, selects dumps with any of them.
	Signatures []string
	// Module and Taint select dumps that had the module loaded, or the
	// taint letter set; Triage those with that effective triage status
	// (triage.go).
	Module, Taint, Triage string
	// Article selects dumps the knowledge base suggested that article for.
	Article string
	// ByArrival orders by the time the service received the dump, not by
	// the crash time.
	ByArrival bool
}

// where is q's SQL condition on the dumps table (" WHERE …" or "") and
// its arguments.
func (q DumpQuery) where() (string, []any) {
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	f := q.Filter
	for _, c := range []struct{ col, v string }{{"hostname", f.Host}, {"kernel_release", f.Release}, {"signature", f.Signature},
		{"status", f.Status}, {"oops_type", f.Type}} {
		if c.v != "" {
			where = append(where, "dumps."+c.col+" = "+arg(c.v))
		}
	}
	if len(q.Signatures) > 0 {
		var ph []string
		for _, s := range q.Signatures {
			ph = append(ph, arg(s))
		}
		where = append(where, "signature IN ("+strings.Join(ph, ",")+")")
	}
	if t := strings.TrimSpace(q.Text); t != "" {
		pat := arg("%" + likeEscaper.Replace(strings.ToLower(t)) + "%")
		var ors []string
		for _, col := range []string{"id", "hostname", "kernel_release", "signature", "panic", "filename"} {
			ors = append(ors, "lower(dumps."+col+") LIKE "+pat+` ESCAPE '\'`)
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if !f.Since.IsZero() {
		where = append(where, whenSQL+" >= "+arg(unix(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, whenSQL+" < "+arg(unix(f.Until)))
	}
	where = q.triageWhere(where, arg)
	if len(where) == 0 {
		return "", args
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// whenSQL is when a dump crashed, or when it arrived if that is unknown.
const whenSQL = "(CASE WHEN crash_time <> 0 THEN crash_time ELSE created END)"

// SearchDumps lists the dumps matching q, newest first, and how many
// match in all. Text search is a LIKE scan: fine for the thousands of
// dumps a service holds, not for millions.
func (db *DB) SearchDumps(ctx context.Context, q DumpQuery) ([]Dump, int, error) {
	cond, args := q.where()
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	f := q.Filter
	var total int
	if err := db.sql.QueryRowContext(ctx, `SELECT count(*) FROM dumps`+cond, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("store: counting dumps: %w", err)
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 100
	}
	lim, off := arg(limit), arg(max(f.Offset, 0))
	order := whenSQL
	if q.ByArrival {
		order = "created"
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT `+dumpCols+` FROM dumps`+cond+` ORDER BY `+order+` DESC, id LIMIT `+lim+` OFFSET `+off, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("store: searching dumps: %w", err)
	}
	defer rows.Close()
	out := []Dump{}
	for rows.Next() {
		d, err := scanDump(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, d)
	}
	return out, total, rows.Err()
}

// likeEscaper makes user text literal inside a LIKE pattern.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// LatestSteps returns the steps of the latest run of each of the dumps, in
// one query (the crash list shows them for a page of dumps).
func (db *DB) LatestSteps(ctx context.Context, ids []string) (map[string][]Step, error) {
	out := map[string][]Step{}
	if len(ids) == 0 {
		return out, nil
	}
	var ph []string
	var args []any
	for _, id := range ids {
		args = append(args, id)
		ph = append(ph, fmt.Sprintf("$%d", len(args)))
	}
	rows, err := db.sql.QueryContext(ctx, `SELECT s.dump_id, s.name, s.status, s.seconds, s.error FROM steps s
		JOIN dumps d ON d.id = s.dump_id AND d.run = s.run WHERE s.dump_id IN (`+strings.Join(ph, ",")+`) ORDER BY s.dump_id, s.seq`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: steps: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var s Step
		if err := rows.Scan(&id, &s.Name, &s.Status, &s.Seconds, &s.Error); err != nil {
			return nil, fmt.Errorf("store: steps: %w", err)
		}
		out[id] = append(out[id], s)
	}
	return out, rows.Err()
}

// Facets lists the distinct host names, kernel releases and oops types of
// the dumps (at most limit of each, most recent first), for the crash
// list's filter suggestions.
func (db *DB) Facets(ctx context.Context, limit int) (hosts, releases, types []string, err error) {
	for _, f := range []struct {
		col string
		out *[]string
	}{{"hostname", &hosts}, {"kernel_release", &releases}, {"oops_type", &types}} {
		rows, err := db.sql.QueryContext(ctx, `SELECT `+f.col+` FROM dumps WHERE `+f.col+` <> '' GROUP BY `+f.col+
			` ORDER BY max(created) DESC LIMIT $1`, max(limit, 1))
		if err != nil {
			return nil, nil, nil, fmt.Errorf("store: %s values: %w", f.col, err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				rows.Close()
				return nil, nil, nil, err
			}
			*f.out = append(*f.out, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, nil, nil, err
		}
	}
	return hosts, releases, types, nil
}

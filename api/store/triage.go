package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vmcore/vmcore/api/wire"
)

// Triage is what support engineers record about a bucket of crashes, or
// about one crash where it differs from its bucket: a status, who owns
// it, a case or bug-tracker link, the fix, and notes. Every change is an
// event (who, what, when) kept for the page's audit trail.

// The triage shapes are the API's (package wire).
type (
	Triage       = wire.Triage
	Regression   = wire.Regression
	TriageChange = wire.TriageChange
	TriageEvent  = wire.TriageEvent
	Note         = wire.Note
	FacetCount   = wire.FacetCount
)

// Triage statuses, subjects and facets (see package wire).
const (
	TriageNew           = wire.TriageNew
	TriageInvestigating = wire.TriageInvestigating
	TriageKnownIssue    = wire.TriageKnownIssue
	TriageNotABug       = wire.TriageNotABug
	TriageFixed         = wire.TriageFixed
	TriageWontFix       = wire.TriageWontFix
	KindBucket          = wire.KindBucket
	KindDump            = wire.KindDump
	FacetKernel         = wire.FacetKernel
	FacetHost           = wire.FacetHost
	FacetModule         = wire.FacetModule
	FacetTaint          = wire.FacetTaint
	FacetType           = wire.FacetType
	FacetStatus         = wire.FacetStatus
)

// TriageStatuses lists the statuses (see package wire).
var TriageStatuses = wire.TriageStatuses

// ValidTriageStatus and Closed: see package wire.
var (
	ValidTriageStatus = wire.ValidTriageStatus
	Closed            = wire.Closed
)

// ErrInvalid is a change the store refuses as malformed: an unknown
// status, a link that is not http(s), a field too long.
var ErrInvalid = errors.New("store: invalid")

// Limits of the free-text fields, in bytes.
const (
	maxTriageField = 512
	maxNote        = 64 << 10
)

// validateChange checks a change to a subject of kind; the error wraps
// ErrInvalid and says what is wrong.
func validateChange(kind string, c TriageChange) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if c.Status != nil {
		if *c.Status == "" && kind != KindDump {
			return bad("a bucket's status cannot be empty")
		}
		if *c.Status != "" && !ValidTriageStatus(*c.Status) {
			return bad("unknown status %q (%s)", *c.Status, strings.Join(TriageStatuses, ", "))
		}
	}
	if c.Rule != nil {
		if kind != KindBucket {
			return bad("only a bucket has a rule for its future crashes")
		}
		if *c.Rule != "" && !Closed(*c.Rule) {
			return bad("a rule closes future crashes: %s, %s or %s, not %q", TriageNotABug, TriageFixed, TriageWontFix, *c.Rule)
		}
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"assignee", c.Assignee}, {"link_url", c.LinkURL}, {"link_label", c.LinkLabel}, {"fix_commit", c.FixCommit}, {"fix_release", c.FixRelease}} {
		if f.v == nil {
			continue
		}
		if len(*f.v) > maxTriageField || !utf8.ValidString(*f.v) || strings.ContainsAny(*f.v, "\r\n\x00") {
			return bad("%s must be one line of at most %d bytes", f.name, maxTriageField)
		}
	}
	if c.LinkURL != nil && *c.LinkURL != "" && !httpURL(*c.LinkURL) {
		return bad("link_url must be an http or https URL")
	}
	if c.FixCommit != nil && strings.Contains(*c.FixCommit, "://") && !httpURL(*c.FixCommit) {
		return bad("fix_commit is a commit id or an http(s) URL")
	}
	if len(c.Note) > maxNote || !utf8.ValidString(c.Note) {
		return bad("a note is UTF-8 text of at most %d bytes", maxNote)
	}
	return nil
}

// httpURL says whether s is an absolute http or https URL with a host:
// pages make it a link, so javascript: and the like must not pass.
func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

const triageCols = `kind, id, status, assignee, link_url, link_label, fix_commit, fix_release, rule, rule_by, rule_at,
	regression_dump, regression_release, regression_at, upgrade, updated, updated_by`

func scanTriage(row interface{ Scan(...any) error }) (Triage, error) {
	var t Triage
	var ruleAt, regAt, updated int64
	var regDump, regRel string
	err := row.Scan(&t.Kind, &t.ID, &t.Status, &t.Assignee, &t.LinkURL, &t.LinkLabel, &t.FixCommit, &t.FixRelease,
		&t.Rule, &t.RuleBy, &ruleAt, &regDump, &regRel, &regAt, &t.Upgrade, &updated, &t.UpdatedBy)
	if err != nil {
		return t, err
	}
	t.RuleAt, t.Updated = fromUnix(ruleAt), fromUnix(updated)
	if regDump != "" {
		t.Regression = &Regression{DumpID: regDump, Release: regRel, At: fromUnix(regAt)}
	}
	return t, nil
}

// defaultTriage is the state of a subject nobody has changed.
func defaultTriage(kind, id string) Triage {
	t := Triage{Kind: kind, ID: id}
	if kind == KindBucket {
		t.Status = TriageNew
	}
	return t
}

type querier interface {
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

func getTriage(ctx context.Context, q querier, kind, id string) (Triage, error) {
	t, err := scanTriage(q.QueryRowContext(ctx, `SELECT `+triageCols+` FROM triage WHERE kind = $1 AND id = $2`, kind, id))
	if errors.Is(err, sql.ErrNoRows) {
		return defaultTriage(kind, id), nil
	} else if err != nil {
		return Triage{}, fmt.Errorf("store: triage of %s %s: %w", kind, id, err)
	}
	return t, nil
}

// Triage returns the triage state of a bucket or a dump; one never
// changed has the default state (a bucket is new, a dump follows its
// bucket). It does not check that the subject exists.
func (db *DB) Triage(ctx context.Context, kind, id string) (Triage, error) {
	return getTriage(ctx, db.sql, kind, id)
}

// SetTriage applies a change to a bucket's or dump's triage state, with
// one event per changed field, in one transaction, and returns the new
// state and the events. A subject that does not exist is ErrNotFound; a
// malformed change ErrInvalid. Changing a bucket's status clears its
// regression mark; changing a dump's clears its upgrade mark.
func (db *DB) SetTriage(ctx context.Context, kind, id string, c TriageChange, actor string) (Triage, []TriageEvent, error) {
	if err := validateChange(kind, c); err != nil {
		return Triage{}, nil, err
	}
	var t Triage
	var events []TriageEvent
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var err error
		t, events, err = setTriage(ctx, tx, kind, id, c, actor, time.Now())
		return err
	})
	return t, events, err
}

func setTriage(ctx context.Context, tx *sql.Tx, kind, id string, c TriageChange, actor string, now time.Time) (Triage, []TriageEvent, error) {
	var exists int
	switch kind {
	case KindBucket:
		tx.QueryRowContext(ctx, `SELECT count(*) FROM buckets WHERE id = $1`, id).Scan(&exists)
	case KindDump:
		tx.QueryRowContext(ctx, `SELECT count(*) FROM dumps WHERE id = $1`, id).Scan(&exists)
	default:
		return Triage{}, nil, fmt.Errorf("%w: no triage for a %q", ErrInvalid, kind)
	}
	if exists == 0 {
		return Triage{}, nil, fmt.Errorf("store: %s %s: %w", kind, id, ErrNotFound)
	}
	t, err := getTriage(ctx, tx, kind, id)
	if err != nil {
		return Triage{}, nil, err
	}
	var events []TriageEvent
	set := func(field string, cur *string, v *string) {
		if v == nil || *v == *cur {
			return
		}
		events = append(events, TriageEvent{At: now.UTC(), Actor: actor, Kind: kind, Subject: id, Field: field, Old: *cur, New: *v})
		*cur = *v
	}
	oldStatus := t.Status
	set("status", &t.Status, c.Status)
	set("assignee", &t.Assignee, c.Assignee)
	set("link_url", &t.LinkURL, c.LinkURL)
	set("link_label", &t.LinkLabel, c.LinkLabel)
	set("fix_commit", &t.FixCommit, c.FixCommit)
	set("fix_release", &t.FixRelease, c.FixRelease)
	if c.Rule != nil && *c.Rule != t.Rule {
		set("rule", &t.Rule, c.Rule)
		t.RuleBy, t.RuleAt = actor, now
		if t.Rule == "" {
			t.RuleBy, t.RuleAt = "", time.Time{}
		}
	}
	if t.Status != oldStatus {
		t.Regression = nil
		if kind == KindDump {
			t.Upgrade = ""
		}
	}
	if c.Regression != nil {
		t.Regression = c.Regression
		events = append(events, TriageEvent{At: now.UTC(), Actor: actor, Kind: kind, Subject: id, Field: "regression", New: c.Regression.DumpID + " " + c.Regression.Release})
	}
	set("upgrade", &t.Upgrade, c.Upgrade)
	if c.Note != "" {
		nid := newID()
		if _, err := tx.ExecContext(ctx, `INSERT INTO triage_notes (id, kind, subject, author, body, created) VALUES ($1,$2,$3,$4,$5,$6)`,
			nid, kind, id, actor, c.Note, unix(now)); err != nil {
			return Triage{}, nil, fmt.Errorf("store: note: %w", err)
		}
		events = append(events, TriageEvent{At: now.UTC(), Actor: actor, Kind: kind, Subject: id, Field: "note", New: nid})
	}
	if len(events) == 0 {
		return t, nil, nil
	}
	t.Updated, t.UpdatedBy = now.UTC(), actor
	var regDump, regRel string
	var regAt int64
	if r := t.Regression; r != nil {
		regDump, regRel, regAt = r.DumpID, r.Release, unix(r.At)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO triage (`+triageCols+`) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
		ON CONFLICT (kind, id) DO UPDATE SET status = excluded.status, assignee = excluded.assignee, link_url = excluded.link_url,
		link_label = excluded.link_label, fix_commit = excluded.fix_commit, fix_release = excluded.fix_release, rule = excluded.rule,
		rule_by = excluded.rule_by, rule_at = excluded.rule_at, regression_dump = excluded.regression_dump,
		regression_release = excluded.regression_release, regression_at = excluded.regression_at, upgrade = excluded.upgrade,
		updated = excluded.updated, updated_by = excluded.updated_by`,
		t.Kind, t.ID, t.Status, t.Assignee, t.LinkURL, t.LinkLabel, t.FixCommit, t.FixRelease, t.Rule, t.RuleBy, unix(t.RuleAt),
		regDump, regRel, regAt, t.Upgrade, unix(t.Updated), t.UpdatedBy); err != nil {
		return Triage{}, nil, fmt.Errorf("store: triage: %w", err)
	}
	for i, e := range events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO triage_events (at, seq, actor, kind, subject, field, old_value, new_value) VALUES ($1,$2,$3,$4,$5,$6,$7,$8)`,
			unix(e.At), i, e.Actor, e.Kind, e.Subject, e.Field, e.Old, e.New); err != nil {
			return Triage{}, nil, fmt.Errorf("store: triage event: %w", err)
		}
	}
	return t, events, nil
}

// inList appends values to args and returns their placeholders, for an
// SQL IN (…).
func inList(args []any, values []string) (string, []any) {
	ph := make([]string, len(values))
	for i, v := range values {
		args = append(args, v)
		ph[i] = fmt.Sprintf("$%d", len(args))
	}
	return strings.Join(ph, ","), args
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// TriageEvents returns a subject's events, newest first, at most limit.
func (db *DB) TriageEvents(ctx context.Context, kind, id string, limit int) ([]TriageEvent, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT at, actor, kind, subject, field, old_value, new_value FROM triage_events
		WHERE kind = $1 AND subject = $2 ORDER BY at DESC, seq DESC LIMIT $3`, kind, id, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("store: triage events: %w", err)
	}
	defer rows.Close()
	out := []TriageEvent{}
	for rows.Next() {
		var e TriageEvent
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Kind, &e.Subject, &e.Field, &e.Old, &e.New); err != nil {
			return nil, fmt.Errorf("store: triage events: %w", err)
		}
		e.At = fromUnix(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Notes returns a subject's notes, oldest first.
func (db *DB) Notes(ctx context.Context, kind, id string) ([]Note, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, author, body, created FROM triage_notes WHERE kind = $1 AND subject = $2 ORDER BY created, id`, kind, id)
	if err != nil {
		return nil, fmt.Errorf("store: notes: %w", err)
	}
	defer rows.Close()
	out := []Note{}
	for rows.Next() {
		var n Note
		var at int64
		if err := rows.Scan(&n.ID, &n.Author, &n.Body, &at); err != nil {
			return nil, fmt.Errorf("store: notes: %w", err)
		}
		n.Created = fromUnix(at)
		out = append(out, n)
	}
	return out, rows.Err()
}

// Triages returns the states of the buckets with ids (those never
// changed are left out).
func (db *DB) Triages(ctx context.Context, kind string, ids []string) (map[string]Triage, error) {
	out := map[string]Triage{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList([]any{kind}, ids)
	rows, err := db.sql.QueryContext(ctx, `SELECT `+triageCols+` FROM triage WHERE kind = $1 AND id IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: triage: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := scanTriage(rows)
		if err != nil {
			return nil, fmt.Errorf("store: triage: %w", err)
		}
		out[t.ID] = t
	}
	return out, rows.Err()
}

// DumpFacts is what an analysis found that the crash list filters on:
// the kernel's version string (for fix releases), its taint letters
// and loaded modules.
type DumpFacts struct {
	KernelVersion string
	Taint         string // "POE"
	Modules       []string
	// Articles are the knowledge-base articles suggested for the crash,
	// so that an article lists its crashes.
	Articles []string
}

// RecordArrival stores a dump's facts and says whether this is the
// dump's first analysed arrival: a second analysis of the same dump (a
// rerun, a retried job) updates the facts but is not a new crash, so
// rules, regressions and notifications happen once.
func (db *DB) RecordArrival(ctx context.Context, id string, f DumpFacts) (first bool, err error) {
	err = db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO dump_facts (dump_id, kernel_version, taint, arrived) VALUES ($1,$2,$3,$4)
			ON CONFLICT (dump_id) DO NOTHING`, id, f.KernelVersion, f.Taint, unix(time.Now()))
		if err != nil {
			return err
		}
		n, _ := res.RowsAffected()
		first = n == 1
		if !first {
			if _, err := tx.ExecContext(ctx, `UPDATE dump_facts SET kernel_version = $2, taint = $3 WHERE dump_id = $1`, id, f.KernelVersion, f.Taint); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM dump_tags WHERE dump_id = $1`, id); err != nil {
			return err
		}
		seen := map[string]bool{}
		add := func(kind, v string) error {
			if v == "" || seen[kind+v] {
				return nil
			}
			seen[kind+v] = true
			_, err := tx.ExecContext(ctx, `INSERT INTO dump_tags (dump_id, kind, value) VALUES ($1,$2,$3)`, id, kind, v)
			return err
		}
		for _, m := range f.Modules {
			if err := add(TagModule, m); err != nil {
				return err
			}
		}
		for _, c := range f.Taint {
			if err := add(TagTaint, string(c)); err != nil {
				return err
			}
		}
		for _, a := range f.Articles {
			if err := add(TagArticle, a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if strings.Contains(err.Error(), "FOREIGN KEY") || strings.Contains(err.Error(), "23503") {
			return false, fmt.Errorf("store: dump %s: %w", id, ErrNotFound)
		}
		return false, fmt.Errorf("store: arrival of %s: %w", id, err)
	}
	return first, nil
}

// Tags of a dump, for the crash list's facets.
const (
	TagModule  = "module"
	TagTaint   = "taint"
	TagArticle = "article" // suggested by the knowledge base
)

// KernelVersionOf returns the kernel version string recorded for a dump
// ("" when its analysis did not find one).
func (db *DB) KernelVersionOf(ctx context.Context, id string) (string, error) {
	var v string
	err := db.sql.QueryRowContext(ctx, `SELECT kernel_version FROM dump_facts WHERE dump_id = $1`, id).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// MarkSeen records that actor opened a dump's page.
func (db *DB) MarkSeen(ctx context.Context, id, actor string) error {
	_, err := db.sql.ExecContext(ctx, `INSERT INTO dump_seen (dump_id, actor, at) VALUES ($1,$2,$3) ON CONFLICT (dump_id, actor) DO NOTHING`,
		id, actor, unix(time.Now()))
	if err != nil && !strings.Contains(err.Error(), "FOREIGN KEY") && !strings.Contains(err.Error(), "23503") {
		return fmt.Errorf("store: seen: %w", err)
	}
	return nil
}

// Seen says which of the dumps actor has opened.
func (db *DB) Seen(ctx context.Context, actor string, ids []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := inList([]any{actor}, ids)
	rows, err := db.sql.QueryContext(ctx, `SELECT dump_id FROM dump_seen WHERE actor = $1 AND dump_id IN (`+in+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("store: seen: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// triageStatusSQL is a dump's effective triage status in SQL, for the
// dumps table as "dumps": its own, else its bucket's, else new.
const triageStatusSQL = `COALESCE(
	(SELECT NULLIF(td.status, '') FROM triage td WHERE td.kind = 'dump' AND td.id = dumps.id),
	(SELECT NULLIF(tb.status, '') FROM triage tb JOIN bucket_signatures bs ON tb.kind = 'bucket' AND tb.id = bs.bucket_id WHERE bs.signature = dumps.signature),
	'new')`

// triageWhere adds the crash list's triage filters to a dump search.
func (q DumpQuery) triageWhere(where []string, arg func(any) string) []string {
	if q.Triage != "" {
		where = append(where, triageStatusSQL+" = "+arg(q.Triage))
	}
	for _, t := range []struct{ kind, v string }{{TagModule, q.Module}, {TagTaint, q.Taint}, {TagArticle, q.Article}} {
		if t.v != "" {
			where = append(where, `EXISTS (SELECT 1 FROM dump_tags g WHERE g.dump_id = dumps.id AND g.kind = '`+t.kind+`' AND g.value = `+arg(t.v)+`)`)
		}
	}
	return where
}

// CountFacets counts, among the dumps matching q, those with each value
// of every facet (kernel release, host, module, taint letter, oops type,
// triage status), the most frequent first, at most limit values each.
func (db *DB) CountFacets(ctx context.Context, q DumpQuery, limit int) (map[string][]FacetCount, error) {
	cond, args := q.where()
	and := func(c string) string {
		if cond == "" {
			return " WHERE " + c
		}
		return cond + " AND " + c
	}
	lim := fmt.Sprintf(" ORDER BY 2 DESC, 1 LIMIT %d", max(limit, 1))
	queries := map[string]string{
		FacetKernel: `SELECT kernel_release, count(*) FROM dumps` + and(`kernel_release <> ''`) + ` GROUP BY kernel_release` + lim,
		FacetHost:   `SELECT hostname, count(*) FROM dumps` + and(`hostname <> ''`) + ` GROUP BY hostname` + lim,
		FacetType:   `SELECT oops_type, count(*) FROM dumps` + and(`oops_type <> ''`) + ` GROUP BY oops_type` + lim,
		FacetStatus: `SELECT st, count(*) FROM (SELECT ` + triageStatusSQL + ` AS st FROM dumps` + cond + `) x GROUP BY st` + lim,
		FacetModule: `SELECT g.value, count(*) FROM dump_tags g JOIN (SELECT id FROM dumps` + cond + `) d ON d.id = g.dump_id WHERE g.kind = 'module' GROUP BY g.value` + lim,
		FacetTaint:  `SELECT g.value, count(*) FROM dump_tags g JOIN (SELECT id FROM dumps` + cond + `) d ON d.id = g.dump_id WHERE g.kind = 'taint' GROUP BY g.value` + lim,
	}
	out := map[string][]FacetCount{}
	for name, sq := range queries {
		rows, err := db.sql.QueryContext(ctx, sq, args...)
		if err != nil {
			return nil, fmt.Errorf("store: facet %s: %w", name, err)
		}
		list := []FacetCount{}
		for rows.Next() {
			var f FacetCount
			if err := rows.Scan(&f.Value, &f.Count); err != nil {
				rows.Close()
				return nil, fmt.Errorf("store: facet %s: %w", name, err)
			}
			list = append(list, f)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		out[name] = list
	}
	return out, nil
}

// SetLanguage remembers the language a person (a token's name) reads the
// web UI in.
func (db *DB) SetLanguage(ctx context.Context, actor, lang string) error {
	_, err := db.sql.ExecContext(ctx, `INSERT INTO user_prefs (actor, lang) VALUES ($1,$2)
		ON CONFLICT (actor) DO UPDATE SET lang = excluded.lang`, actor, lang)
	if err != nil {
		return fmt.Errorf("store: language: %w", err)
	}
	return nil
}

// Language returns the language a person chose, or "".
func (db *DB) Language(ctx context.Context, actor string) (string, error) {
	var lang string
	err := db.sql.QueryRowContext(ctx, `SELECT lang FROM user_prefs WHERE actor = $1`, actor).Scan(&lang)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("store: language: %w", err)
	}
	return lang, nil
}

// CreateSessionLink stores a one-time login link for the token a browser
// session was opened with (the share button of a crash page): whoever
// presents secret before expires gets a session limited to role.
func (db *DB) CreateSessionLink(ctx context.Context, secret, session, target, role string, expires time.Time) error {
	res, err := db.sql.ExecContext(ctx, `INSERT INTO login_links (hash, token_hash, target, expires, role)
		SELECT $1, token_hash, $3, $4, $5 FROM sessions WHERE hash = $2`, hashToken(secret), hashToken(session), target, unix(expires), role)
	if err != nil {
		return fmt.Errorf("store: login link: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("store: session: %w", ErrNotFound)
	}
	return nil
}

package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// Buckets group crashes: each signature (the oops title) belongs to one
// bucket, first its own; merging moves a bucket's signatures into another,
// splitting moves one signature back out. Counts are computed from the
// dumps every time, never kept, so an analysis that runs twice cannot count
// twice.

// Bucket is a group of crashes with one cause.
type Bucket struct {
	ID         string    `json:"id"`
	Title      string    `json:"title"`
	Signatures []string  `json:"signatures"`
	Count      int       `json:"count"`
	FirstSeen  time.Time `json:"first_seen,omitzero"`
	LastSeen   time.Time `json:"last_seen,omitzero"`
	Hosts      []string  `json:"hosts"`
	Releases   []string  `json:"kernel_releases"`
	ArticleID  string    `json:"article_id,omitempty"`
}

// BucketID is the id a signature's own bucket gets.
func BucketID(signature string) string {
	h := sha256.Sum256([]byte(signature))
	return hex.EncodeToString(h[:8])
}

func (db *DB) audit(ctx context.Context, tx *sql.Tx, actor, action string, detail any) error {
	b, _ := json.Marshal(detail)
	_, err := tx.ExecContext(ctx, `INSERT INTO audit (at, actor, action, detail) VALUES ($1,$2,$3,$4)`, unix(time.Now()), actor, action, string(b))
	return err
}

// AuditEntry is one recorded change to buckets, links or articles.
type AuditEntry struct {
	At     time.Time       `json:"at"`
	Actor  string          `json:"actor"`
	Action string          `json:"action"`
	Detail json.RawMessage `json:"detail"`
}

// Audit returns the newest entries first.
func (db *DB) Audit(ctx context.Context, limit int) ([]AuditEntry, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT at, actor, action, detail FROM audit ORDER BY at DESC LIMIT $1`, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("store: audit: %w", err)
	}
	defer rows.Close()
	out := []AuditEntry{}
	for rows.Next() {
		var e AuditEntry
		var at int64
		var detail string
		if err := rows.Scan(&at, &e.Actor, &e.Action, &detail); err != nil {
			return nil, err
		}
		e.At, e.Detail = fromUnix(at), json.RawMessage(detail)
		out = append(out, e)
	}
	return out, rows.Err()
}

// EnsureBucket puts a signature in its own bucket unless it has one, and
// returns the bucket's id.
func (db *DB) EnsureBucket(ctx context.Context, signature string) (string, error) {
	if signature == "" {
		return "", nil
	}
	var id string
	err := db.tx(ctx, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT bucket_id FROM bucket_signatures WHERE signature = $1`, signature).Scan(&id)
		if err == nil || !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		id = BucketID(signature)
		if _, err := tx.ExecContext(ctx, `INSERT INTO buckets (id, title, created) VALUES ($1,$2,$3) ON CONFLICT (id) DO NOTHING`,
			id, signature, unix(time.Now())); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO bucket_signatures (signature, bucket_id) VALUES ($1,$2) ON CONFLICT (signature) DO NOTHING`, signature, id)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store: bucket of %q: %w", signature, err)
	}
	return id, nil
}

// Buckets lists buckets with at least one crash, the most crashes first.
// id, when not empty, selects one bucket.
func (db *DB) Buckets(ctx context.Context, id string) ([]Bucket, error) {
	const when = "(CASE WHEN d.crash_time <> 0 THEN d.crash_time ELSE d.created END)"
	q := `SELECT b.id, b.title, b.article_id, count(d.id), min(` + when + `), max(` + when + `)
		FROM buckets b JOIN bucket_signatures s ON s.bucket_id = b.id JOIN dumps d ON d.signature = s.signature`
	var args []any
	if id != "" {
		q += ` WHERE b.id = $1`
		args = append(args, id)
	}
	q += ` GROUP BY b.id, b.title, b.article_id ORDER BY count(d.id) DESC, b.id`
	rows, err := db.sql.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("store: buckets: %w", err)
	}
	var out []Bucket
	idx := map[string]int{}
	for rows.Next() {
		var b Bucket
		var first, last int64
		if err := rows.Scan(&b.ID, &b.Title, &b.ArticleID, &b.Count, &first, &last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: buckets: %w", err)
		}
		b.FirstSeen, b.LastSeen = fromUnix(first), fromUnix(last)
		b.Signatures, b.Hosts, b.Releases = []string{}, []string{}, []string{}
		idx[b.ID] = len(out)
		out = append(out, b)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Hosts, releases and signatures: distinct values per bucket.
	rows, err = db.sql.QueryContext(ctx, `SELECT DISTINCT s.bucket_id, s.signature, d.hostname, d.kernel_release
		FROM bucket_signatures s JOIN dumps d ON d.signature = s.signature`)
	if err != nil {
		return nil, fmt.Errorf("store: buckets: %w", err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	add := func(list *[]string, key, v string) {
		if v != "" && !seen[key+"\x00"+v] {
			seen[key+"\x00"+v] = true
			*list = append(*list, v)
		}
	}
	for rows.Next() {
		var bid, sig, host, rel string
		if err := rows.Scan(&bid, &sig, &host, &rel); err != nil {
			return nil, err
		}
		i, ok := idx[bid]
		if !ok {
			continue
		}
		b := &out[i]
		add(&b.Signatures, bid+"s", sig)
		add(&b.Hosts, bid+"h", host)
		add(&b.Releases, bid+"r", rel)
	}
	for i := range out {
		sort.Strings(out[i].Signatures)
		sort.Strings(out[i].Hosts)
		sort.Strings(out[i].Releases)
	}
	if id != "" && len(out) == 0 {
		return nil, ErrNotFound
	}
	return out, rows.Err()
}

// BucketOf returns the id of a signature's bucket.
func (db *DB) BucketOf(ctx context.Context, signature string) (string, error) {
	var id string
	err := db.sql.QueryRowContext(ctx, `SELECT bucket_id FROM bucket_signatures WHERE signature = $1`, signature).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	return id, err
}

// DayCount is the number of crashes of a bucket on one day (UTC).
type DayCount struct {
	Day   string `json:"day"` // 2006-01-02
	Count int    `json:"count"`
}

// BucketHistory counts a bucket's crashes per day, oldest first.
func (db *DB) BucketHistory(ctx context.Context, id string) ([]DayCount, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT CASE WHEN d.crash_time <> 0 THEN d.crash_time ELSE d.created END
		FROM dumps d JOIN bucket_signatures s ON d.signature = s.signature WHERE s.bucket_id = $1`, id)
	if err != nil {
		return nil, fmt.Errorf("store: bucket history: %w", err)
	}
	defer rows.Close()
	counts := map[string]int{}
	for rows.Next() {
		var t int64
		if err := rows.Scan(&t); err != nil {
			return nil, err
		}
		counts[fromUnix(t).Format(time.DateOnly)]++
	}
	out := []DayCount{}
	for d, n := range counts {
		out = append(out, DayCount{d, n})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Day < out[j].Day })
	return out, rows.Err()
}

// MergeBuckets moves every signature of bucket from into bucket into.
func (db *DB) MergeBuckets(ctx context.Context, into, from, actor string) error {
	if into == from {
		return fmt.Errorf("store: cannot merge a bucket into itself: %w", ErrConflict)
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		var sigs []string
		rows, err := tx.QueryContext(ctx, `SELECT signature FROM bucket_signatures WHERE bucket_id = $1`, from)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s string
			rows.Scan(&s)
			sigs = append(sigs, s)
		}
		rows.Close()
		var n int
		tx.QueryRowContext(ctx, `SELECT count(*) FROM buckets WHERE id = $1`, into).Scan(&n)
		if len(sigs) == 0 || n == 0 {
			return ErrNotFound
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bucket_signatures SET bucket_id = $1 WHERE bucket_id = $2`, into, from); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "merge", map[string]any{"into": into, "from": from, "signatures": sigs})
	})
}

// SplitSignature moves a signature out of a merged bucket into its own.
func (db *DB) SplitSignature(ctx context.Context, signature, actor string) (string, error) {
	own := BucketID(signature)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var from string
		if err := tx.QueryRowContext(ctx, `SELECT bucket_id FROM bucket_signatures WHERE signature = $1`, signature).Scan(&from); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if from == own {
			return fmt.Errorf("store: %q is in its own bucket already: %w", signature, ErrConflict)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO buckets (id, title, created) VALUES ($1,$2,$3) ON CONFLICT (id) DO NOTHING`,
			own, signature, unix(time.Now())); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE bucket_signatures SET bucket_id = $1 WHERE signature = $2`, own, signature); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "split", map[string]any{"signature": signature, "from": from, "into": own})
	})
	return own, err
}

// LinkBucket links a bucket to a KB article ("" unlinks).
func (db *DB) LinkBucket(ctx context.Context, bucket, article, actor string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE buckets SET article_id = $2 WHERE id = $1`, bucket, article)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return db.audit(ctx, tx, actor, "link-bucket", map[string]string{"bucket": bucket, "article": article})
	})
}

// LinkDump links one analysis to a KB article.
func (db *DB) LinkDump(ctx context.Context, dump, article, actor string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO dump_articles (dump_id, article_id, actor, created) VALUES ($1,$2,$3,$4)
			ON CONFLICT (dump_id, article_id) DO NOTHING`, dump, article, actor, unix(time.Now())); err != nil {
			if strings.Contains(err.Error(), "FOREIGN KEY") || strings.Contains(err.Error(), "23503") {
				return ErrNotFound
			}
			return err
		}
		return db.audit(ctx, tx, actor, "link-dump", map[string]string{"dump": dump, "article": article})
	})
}

// DumpArticles lists the articles linked to a dump.
func (db *DB) DumpArticles(ctx context.Context, dump string) ([]string, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT article_id FROM dump_articles WHERE dump_id = $1 ORDER BY article_id`, dump)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var a string
		rows.Scan(&a)
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetFeedback records that an engineer confirmed (+1) or rejected (-1) an
// article suggested for a signature; each engineer has one vote, the
// latest.
func (db *DB) SetFeedback(ctx context.Context, signature, article string, verdict int, actor string) error {
	if verdict != 1 && verdict != -1 {
		return fmt.Errorf("store: verdict must be 1 or -1, not %d", verdict)
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO feedback (signature, article_id, verdict, actor, created) VALUES ($1,$2,$3,$4,$5)
			ON CONFLICT (signature, article_id, actor) DO UPDATE SET verdict = excluded.verdict, created = excluded.created`,
			signature, article, verdict, actor, unix(time.Now())); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "feedback", map[string]any{"signature": signature, "article": article, "verdict": verdict})
	})
}

// Votes counts a signature's votes: article → [confirmations, rejections].
func (db *DB) Votes(ctx context.Context, signature string) (map[string][2]int, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT article_id, verdict, count(*) FROM feedback WHERE signature = $1 GROUP BY article_id, verdict`, signature)
	if err != nil {
		return nil, fmt.Errorf("store: feedback: %w", err)
	}
	defer rows.Close()
	out := map[string][2]int{}
	for rows.Next() {
		var a string
		var v, n int
		if err := rows.Scan(&a, &v, &n); err != nil {
			return nil, err
		}
		c := out[a]
		if v > 0 {
			c[0] += n
		} else {
			c[1] += n
		}
		out[a] = c
	}
	return out, rows.Err()
}

// StoredArticle is a KB article added through the API, as Markdown.
type StoredArticle struct {
	ID      string    `json:"id"`
	Source  string    `json:"source"`
	Actor   string    `json:"actor"`
	Updated time.Time `json:"updated"`
}

// PutArticle stores (or replaces) an article's Markdown source.
func (db *DB) PutArticle(ctx context.Context, id, source, actor string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO articles (id, source, actor, updated) VALUES ($1,$2,$3,$4)
			ON CONFLICT (id) DO UPDATE SET source = excluded.source, actor = excluded.actor, updated = excluded.updated`,
			id, source, actor, unix(time.Now())); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "article", map[string]string{"id": id})
	})
}

// Articles returns every stored article.
func (db *DB) Articles(ctx context.Context) ([]StoredArticle, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, source, actor, updated FROM articles ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("store: articles: %w", err)
	}
	defer rows.Close()
	var out []StoredArticle
	for rows.Next() {
		var a StoredArticle
		var up int64
		if err := rows.Scan(&a.ID, &a.Source, &a.Actor, &up); err != nil {
			return nil, err
		}
		a.Updated = fromUnix(up)
		out = append(out, a)
	}
	return out, rows.Err()
}

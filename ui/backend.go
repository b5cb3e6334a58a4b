package ui

import (
	"context"
	"errors"
	"io"
	"time"

	"github.com/vmcore/vmcore/api/wire"
	"github.com/vmcore/vmcore/kb"
	"github.com/vmcore/vmcore/kb/fulltext"
)

// Errors a Backend returns (wrapped) so the UI answers with the right page.
var (
	// ErrNotFound is an id the backend does not know: a 404 page.
	ErrNotFound = errors.New("ui: not found")
	// ErrConflict is a change the data refuses (merging a bucket into
	// itself, feedback on a crash with no signature yet): the message is
	// shown to the user.
	ErrConflict = errors.New("ui: conflict")
	// ErrBadToken is a login with a token the backend does not know.
	ErrBadToken = errors.New("ui: unknown token")
	// ErrInvalid is a malformed change (an unknown status, a link that
	// is not http): the message is shown to the user.
	ErrInvalid = errors.New("ui: invalid")
)

// Roles a session can have: those of the API token it was opened with.
const (
	RoleUploader = "uploader" // the upload page only
	RoleViewer   = "viewer"   // every page; feedback on suggestions
	RoleSupport  = "support"  // a viewer who also triages: status, owner, notes, links, fixes
	RoleAdmin    = "admin"    // everything: links, merges, splits, dump downloads, webhooks
)

// Session is a logged-in browser.
type Session struct {
	// ID is the cookie's value. It is never written into a page.
	ID      string
	Name    string // the API token's name: who acts, in the audit trail
	Role    string
	CSRF    string // the synchronizer token every form of the session carries
	Expires time.Time
	// Lang is the language the person chose for the UI ("en", "ja"), or
	// "" for the browser's.
	Lang string
}

// NewSession is what the UI asks a backend to store for a new session:
// random values it made itself.
type NewSession struct {
	ID, CSRF string
	Expires  time.Time
}

// DumpQuery selects crashes for the list.
type DumpQuery struct {
	// Text is a case-insensitive substring of the id, host, kernel
	// release, signature, panic line or file name.
	Text                                   string
	Host, Release, Signature, Type, Status string
	// Signatures, when not empty, selects any of them (a bucket's).
	Signatures   []string
	Since, Until time.Time
	Limit        int
	Offset       int
	// Module, Taint and Article select crashes that had the module
	// loaded, the taint letter set, the article suggested; Triage those
	// with that triage status (their own, else their bucket's).
	Module, Taint, Article, Triage string
	// ByArrival orders by the time the service received the dump.
	ByArrival bool
	// Viewer is who is looking: the rows say whether they have opened
	// each crash.
	Viewer string
}

// DumpRow is one crash of the list with the steps of its latest run.
type DumpRow struct {
	wire.Dump
	Steps []wire.Step
	// Triage is the crash's triage status: its own, else its bucket's.
	Triage string
	// Unseen says the viewer has not opened the crash yet.
	Unseen bool
}

// DumpPage is one page of the crash list and how many crashes match in all.
type DumpPage struct {
	Dumps []DumpRow
	Total int
}

// Facets are the values the crash list's filters suggest.
type Facets struct {
	Hosts, Releases, Types []string
}

// Bucket is a group of crashes with one cause (see api/store.Bucket).
type Bucket struct {
	ID         string
	Title      string
	Signatures []string
	Count      int
	FirstSeen  time.Time
	LastSeen   time.Time
	Hosts      []string
	Releases   []string
	ArticleID  string
	// Own is the signature whose own bucket this is ("" when none of its
	// signatures is): it cannot be split off.
	Own string
	// Triage is the bucket's triage state.
	Triage wire.Triage
}

// DayCount is the number of a bucket's crashes on one day (UTC).
type DayCount struct {
	Day   string // 2006-01-02
	Count int
}

// Artifact names a stored object of a crash.
type Artifact int

// The objects a crash page reads or offers for download.
const (
	// ArtifactAnalysis is the analysis document (JSON), of the latest run
	// that stored one.
	ArtifactAnalysis Artifact = iota
	// ArtifactLog is the analysed kernel log as text.
	ArtifactLog
	// ArtifactDmesg is the vmcore-dmesg.txt the uploader sent first.
	ArtifactDmesg
	// ArtifactDump is the dump itself (admins only).
	ArtifactDump
)

// Object is an open stored object, read by ranges; blob.Object satisfies
// it.
type Object interface {
	io.ReaderAt
	io.Closer
	Size() int64
}

// Backend is everything the UI reads and changes. Package api implements
// it on its database, object store and knowledge base; the UI knows
// nothing of them. Methods given an id the backend does not know return
// an error wrapping ErrNotFound. Actor arguments are the session's token
// name, recorded in the audit trail.
type Backend interface {
	// Login opens a session for an API token; ErrBadToken when the token
	// is unknown.
	Login(ctx context.Context, token string, s NewSession) (Session, error)
	// UseLoginLink spends a one-time login link and opens a session for
	// the token that asked for the link; it returns the session and the
	// path the link leads to. A used or expired link is ErrNotFound.
	UseLoginLink(ctx context.Context, secret string, s NewSession) (Session, string, error)
	// Session returns a live session; ErrNotFound when it is unknown or
	// expired, or its token is gone.
	Session(ctx context.Context, id string) (Session, error)
	// Logout ends a session.
	Logout(ctx context.Context, id string) error

	// Dumps lists crashes, newest first.
	Dumps(ctx context.Context, q DumpQuery) (DumpPage, error)
	// Facets lists the hosts, releases and types the filters suggest.
	Facets(ctx context.Context) (Facets, error)
	// Dump returns a crash and the steps of its latest run.
	Dump(ctx context.Context, id string) (wire.DumpDetail, error)
	// Open opens one of a crash's objects; ErrNotFound when it has none
	// (yet).
	Open(ctx context.Context, id string, a Artifact) (Object, error)
	// DumpArticles lists the articles linked to a crash.
	DumpArticles(ctx context.Context, id string) ([]string, error)
	// LinkDump links a crash to a KB article.
	LinkDump(ctx context.Context, id, article, actor string) error
	// Feedback records a verdict (+1 confirm, -1 reject) on an article
	// suggested for a crash; it counts for the crash's signature.
	Feedback(ctx context.Context, id, article string, verdict int, actor string) error
	// Votes counts the verdicts on articles for a signature.
	Votes(ctx context.Context, signature string) (map[string]kb.Votes, error)

	// Buckets lists buckets with at least one crash, the most crashes first.
	Buckets(ctx context.Context) ([]Bucket, error)
	// Bucket returns one bucket.
	Bucket(ctx context.Context, id string) (Bucket, error)
	// BucketHistory counts a bucket's crashes per day, oldest first.
	BucketHistory(ctx context.Context, id string) ([]DayCount, error)
	// BucketOf returns the id of a signature's bucket.
	BucketOf(ctx context.Context, signature string) (string, error)
	// MergeBuckets moves every signature of bucket from into bucket into.
	MergeBuckets(ctx context.Context, into, from, actor string) error
	// SplitSignature moves a signature into a bucket of its own and
	// returns that bucket's id.
	SplitSignature(ctx context.Context, signature, actor string) (string, error)
	// LinkBucket links a bucket to an article ("" unlinks).
	LinkBucket(ctx context.Context, bucket, article, actor string) error

	// KB returns the knowledge base, up to date with stored articles,
	// with its full-text index for search.
	KB(ctx context.Context) (*fulltext.Index, error)

	TriageBackend
}

package wire

import "time"

// Triage: what support engineers record about a bucket of crashes, or
// about one crash where it differs from its bucket (api/store keeps it,
// api serves it, ui and vmcorectl show and change it).

// Triage statuses. A dump's own status is empty while it follows its
// bucket's; a bucket nobody has touched is new.
const (
	TriageNew           = "new"
	TriageInvestigating = "investigating"
	TriageKnownIssue    = "known-issue"
	TriageNotABug       = "not-a-bug"
	TriageFixed         = "fixed"
	TriageWontFix       = "wont-fix"
)

// TriageStatuses lists the statuses in the order a bucket usually goes
// through them.
var TriageStatuses = []string{TriageNew, TriageInvestigating, TriageKnownIssue, TriageNotABug, TriageFixed, TriageWontFix}

// ValidTriageStatus says whether s is a triage status.
func ValidTriageStatus(s string) bool {
	for _, t := range TriageStatuses {
		if s == t {
			return true
		}
	}
	return false
}

// Closed says whether a status ends the work on a bucket: a crash that
// arrives in a closed bucket is weighed against it (a fix may regress).
func Closed(status string) bool {
	return status == TriageNotABug || status == TriageFixed || status == TriageWontFix
}

// Subjects of triage.
const (
	KindBucket = "bucket"
	KindDump   = "dump"
)

// Triage is the triage state of a bucket or a dump.
type Triage struct {
	Kind string `json:"kind"` // bucket or dump
	ID   string `json:"id"`
	// Status is one of TriageStatuses; a dump's is empty while it follows
	// its bucket's.
	Status    string `json:"status"`
	Assignee  string `json:"assignee,omitempty"`
	LinkURL   string `json:"link_url,omitempty"`
	LinkLabel string `json:"link_label,omitempty"`
	// FixCommit is the fix's commit id or URL; FixRelease the first
	// kernel release that has it.
	FixCommit  string `json:"fix_commit,omitempty"`
	FixRelease string `json:"fix_release,omitempty"`
	// Rule, on a bucket, is the status every crash arriving in it from
	// now on gets (a SysRq test crash: not-a-bug), set by RuleBy at
	// RuleAt.
	Rule   string    `json:"rule,omitempty"`
	RuleBy string    `json:"rule_by,omitempty"`
	RuleAt time.Time `json:"rule_at,omitzero"`
	// Regression, on a bucket, is the crash that reopened it after a fix.
	Regression *Regression `json:"regression,omitempty"`
	// Upgrade, on a dump, is the release with the fix its older kernel
	// lacks.
	Upgrade   string    `json:"upgrade,omitempty"`
	Updated   time.Time `json:"updated,omitzero"`
	UpdatedBy string    `json:"updated_by,omitempty"`
}

// Regression is a crash in a fixed bucket on a kernel that has the fix
// (or whose version could not be compared with the fix's).
type Regression struct {
	DumpID  string    `json:"dump_id"`
	Release string    `json:"kernel_release"`
	At      time.Time `json:"at"`
}

// TriageChange is a change to a triage state; nil fields stay as they
// are. Note, when not empty, adds a note.
type TriageChange struct {
	Status     *string `json:"status,omitempty"`
	Assignee   *string `json:"assignee,omitempty"`
	LinkURL    *string `json:"link_url,omitempty"`
	LinkLabel  *string `json:"link_label,omitempty"`
	FixCommit  *string `json:"fix_commit,omitempty"`
	FixRelease *string `json:"fix_release,omitempty"`
	// Rule is a status for the bucket's future crashes; "" removes it.
	Rule *string `json:"rule,omitempty"`
	Note string  `json:"note,omitempty"`
	// Regression and Upgrade are set by the service, not by people.
	Regression *Regression `json:"-"`
	Upgrade    *string     `json:"-"`
}

// TriageView is a subject's state with its notes and audit trail, as
// GET …/triage answers; a dump's also carries its bucket's state.
type TriageView struct {
	Triage Triage        `json:"triage"`
	Bucket *Triage       `json:"bucket,omitempty"`
	Notes  []Note        `json:"notes"`
	Events []TriageEvent `json:"events"`
}

// TriageEvent is one recorded change: who changed which field of which
// bucket or dump, from what to what, and when. Field "note" records a
// note's id; "rule" a rule set or removed.
type TriageEvent struct {
	At      time.Time `json:"at"`
	Actor   string    `json:"actor"`
	Kind    string    `json:"kind"`
	Subject string    `json:"subject"`
	Field   string    `json:"field"`
	Old     string    `json:"old"`
	New     string    `json:"new"`
}

// Note is a Markdown note on a bucket or a dump.
type Note struct {
	ID      string    `json:"id"`
	Author  string    `json:"author"`
	Body    string    `json:"body"`
	Created time.Time `json:"created"`
}

// FacetCount is one value of a facet and how many dumps have it.
type FacetCount struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Facet names, as the crash list's filters call them.
const (
	FacetKernel = "release"
	FacetHost   = "host"
	FacetModule = "module"
	FacetTaint  = "taint"
	FacetType   = "type"
	FacetStatus = "triage"
)

// Webhook events.
const (
	EventNewBucket   = "new_bucket"
	EventRegression  = "regression"
	EventStateChange = "state_change"
)

// WebhookEvents lists the events a webhook may subscribe to.
var WebhookEvents = []string{EventNewBucket, EventRegression, EventStateChange}

// Webhook payload formats.
const (
	FormatJSON  = "json"  // vmcore's own JSON document
	FormatSlack = "slack" // Slack's incoming webhook ({"text": …}), also read by Mattermost and Teams workflows
	FormatTeams = "teams" // a Microsoft Teams connector card (MessageCard)
)

// Delivery states.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed" // given up after the last attempt
)

// Webhook is a registered receiver.
type Webhook struct {
	ID        string    `json:"id"`
	URL       string    `json:"url"`
	Format    string    `json:"format"`
	Events    []string  `json:"events"`
	Lang      string    `json:"lang"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by"`
}

// Delivery is one notification to one webhook and how sending it went.
type Delivery struct {
	ID        string    `json:"id"`
	WebhookID string    `json:"webhook_id"`
	Event     string    `json:"event"`
	Payload   string    `json:"payload"`
	Status    string    `json:"status"`
	Attempts  int       `json:"attempts"`
	NextAt    time.Time `json:"next_at,omitzero"`
	LastCode  int       `json:"last_code,omitempty"`
	LastError string    `json:"last_error,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
}

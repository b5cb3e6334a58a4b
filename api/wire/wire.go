// Package wire holds the JSON shapes of the vmcored API, shared by the
// server, its stores and the Go client, so that the client (which runs in a
// capture kernel's small memory) pulls in none of the server's code.
package wire

import "time"

// Dump is one uploaded crash dump and the summary of its latest analysis.
type Dump struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"` // uploading, queued, analyzing, done, failed
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"`
	Filename  string    `json:"filename,omitempty"`
	Hostname  string    `json:"hostname,omitempty"`
	Release   string    `json:"kernel_release,omitempty"`
	BuildID   string    `json:"build_id,omitempty"`
	CrashTime time.Time `json:"crash_time,omitzero"`
	UploadID  string    `json:"-"`
	PartSize  int64     `json:"part_size,omitempty"`
	HasDmesg  bool      `json:"has_dmesg"`
	HasIndex  bool      `json:"has_index"`
	// Run counts analyses; results of run n are stored under that number.
	Run       int       `json:"run"`
	Signature string    `json:"signature,omitempty"`
	OopsType  string    `json:"oops_type,omitempty"`
	Panic     string    `json:"panic,omitempty"`
	Error     string    `json:"error,omitempty"`
	Uploader  string    `json:"uploader,omitempty"`
	Created   time.Time `json:"created"`
	Updated   time.Time `json:"updated"`
	// Triage is the dump's triage status in lists: its own, else its
	// bucket's (see TriageStatuses).
	Triage string `json:"triage,omitempty"`
}

// Step is the state of one analysis step.
type Step struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"` // running, ok, failed
	Seconds float64 `json:"seconds"`
	Error   string  `json:"error,omitempty"`
}

// DumpDetail is a dump with the steps of its latest analysis run.
type DumpDetail struct {
	Dump
	Steps []Step `json:"steps"`
}

// DumpList is a page of dumps.
type DumpList struct {
	Dumps []Dump `json:"dumps"`
	Total int    `json:"total"`
}

// UploadRequest registers a dump before its bytes are sent. The facts are
// read from the dump's header by the uploader, so the dump is listed (and
// its vmcore-dmesg.txt shown) before the upload ends.
type UploadRequest struct {
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256,omitempty"` // when already known: a stored twin is found at once
	Filename  string    `json:"filename,omitempty"`
	Hostname  string    `json:"hostname,omitempty"`
	Release   string    `json:"kernel_release,omitempty"`
	BuildID   string    `json:"build_id,omitempty"`
	CrashTime time.Time `json:"crash_time,omitzero"`
}

// Upload is the state of an upload: where its parts go and which the
// store already holds. A client resumes by fetching it again.
type Upload struct {
	DumpID   string `json:"dump_id"`
	Status   string `json:"status"`
	Size     int64  `json:"size"`
	PartSize int64  `json:"part_size"`
	Parts    int    `json:"parts"`
	// Existing says the same bytes were uploaded before: DumpID is that
	// dump and nothing needs to be sent.
	Existing bool `json:"existing,omitempty"`
	// Done lists the parts the store holds.
	Done []Part `json:"done"`
	// URLs gives, for some missing parts, a URL to PUT the part to
	// directly (S3 presigned, valid for an hour); a part without one goes
	// to the API's /api/v1/uploads/{id}/parts/{n}.
	URLs map[int]string `json:"urls,omitempty"`
}

// Part is one stored part.
type Part struct {
	Number int   `json:"number"`
	Size   int64 `json:"size"`
}

// CompleteRequest ends an upload.
type CompleteRequest struct {
	SHA256 string `json:"sha256"` // of the whole dump, computed while sending it
}

// CompleteResponse names the dump to follow: this upload's, or the one
// already holding the same bytes.
type CompleteResponse struct {
	DumpID    string `json:"dump_id"`
	Run       int    `json:"run"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

// Error is the JSON shape of every error answer.
type Error struct {
	Error     string `json:"error"`
	RequestID string `json:"request_id,omitempty"`
}

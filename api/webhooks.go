package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vmcore/vmcore/api/store"
	"github.com/vmcore/vmcore/messages"
)

// Webhooks: an event (a new bucket, a regression, a bucket's state
// changed) becomes one delivery per subscribed webhook, rendered at once
// in the webhook's format and language and stored; the delivery loop
// sends what is due, and retries a failure with growing delays until
// maxDeliveryAttempts, keeping each answer for the delivery log.

const (
	maxDeliveryAttempts = 6
	deliveryLease       = 2 * time.Minute  // a claimed delivery is another node's again after this
	deliveryTimeout     = 10 * time.Second // one attempt
	deliveryPoll        = 5 * time.Second
)

// deliveryBackoff is the wait after the nth failed attempt: 30 s, 2 min,
// 8 min, 32 min, about 2 h, then at most 6 h.
func deliveryBackoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 6*time.Hour; i++ {
		d *= 4
	}
	return min(d, 6*time.Hour)
}

// notice is one event to announce.
type notice struct {
	Event      string
	BucketID   string
	DumpID     string
	Actor      string
	Release    string // the new crash's kernel
	FixRelease string
	Changes    []store.TriageEvent
}

// webhookPayload is the generic JSON document (format "json").
type webhookPayload struct {
	Event   string          `json:"event"`
	Text    string          `json:"text"`
	At      time.Time       `json:"at"`
	URL     string          `json:"url"`
	Bucket  webhookBucket   `json:"bucket"`
	Dump    *webhookDump    `json:"dump,omitempty"`
	Actor   string          `json:"actor,omitempty"`
	Changes []webhookChange `json:"changes,omitempty"`
}

type webhookBucket struct {
	ID         string `json:"id"`
	Title      string `json:"title"`
	Count      int    `json:"count"`
	Status     string `json:"status"`
	Assignee   string `json:"assignee,omitempty"`
	FixCommit  string `json:"fix_commit,omitempty"`
	FixRelease string `json:"fix_release,omitempty"`
	URL        string `json:"url"`
}

type webhookDump struct {
	ID       string `json:"id"`
	Hostname string `json:"hostname,omitempty"`
	Release  string `json:"kernel_release,omitempty"`
	URL      string `json:"url"`
}

type webhookChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// link makes a page's URL absolute with the configured public URL.
func (s *Server) link(path string) string {
	return strings.TrimRight(s.cfg.PublicURL, "/") + path
}

// notify renders an event for every webhook that wants it and stores the
// deliveries. Failures are logged: a notification never fails the change
// it announces.
func (s *Server) notify(ctx context.Context, n notice) {
	hooks, err := s.db.Webhooks(ctx)
	if err != nil {
		s.log.Warn("webhooks", "err", err)
		return
	}
	var wanted []store.Webhook
	for _, h := range hooks {
		for _, e := range h.Events {
			if e == n.Event {
				wanted = append(wanted, h)
				break
			}
		}
	}
	if len(wanted) == 0 {
		return
	}
	p := webhookPayload{Event: n.Event, At: s.now().UTC(), Actor: n.Actor}
	bs, err := s.db.Buckets(ctx, n.BucketID)
	if err != nil {
		s.log.Warn("webhooks: the bucket", "bucket", n.BucketID, "err", err)
		return
	}
	bt, err := s.db.Triage(ctx, store.KindBucket, n.BucketID)
	if err != nil {
		s.log.Warn("webhooks: the bucket's triage", "bucket", n.BucketID, "err", err)
		return
	}
	b := bs[0]
	p.Bucket = webhookBucket{ID: b.ID, Title: b.Title, Count: b.Count, Status: bt.Status, Assignee: bt.Assignee,
		FixCommit: bt.FixCommit, FixRelease: bt.FixRelease, URL: s.link("/buckets/" + b.ID)}
	p.URL = p.Bucket.URL
	if n.DumpID != "" {
		if d, err := s.db.GetDump(ctx, n.DumpID); err == nil {
			p.Dump = &webhookDump{ID: d.ID, Hostname: d.Hostname, Release: d.Release, URL: s.link("/crashes/" + d.ID)}
			p.URL = p.Dump.URL
		}
	}
	for _, c := range n.Changes {
		p.Changes = append(p.Changes, webhookChange{c.Field, c.Old, c.New})
	}
	var ds []store.Delivery
	for _, h := range wanted {
		pr := messages.For(h.Lang)
		p.Text = webhookText(pr, n, p)
		body, err := renderPayload(h.Format, pr, p)
		if err != nil {
			s.log.Warn("webhooks: rendering", "webhook", h.ID, "err", err)
			continue
		}
		ds = append(ds, store.Delivery{WebhookID: h.ID, Event: n.Event, Payload: string(body)})
	}
	if err := s.db.EnqueueDeliveries(ctx, ds, s.now()); err != nil {
		s.log.Warn("webhooks: storing deliveries", "err", err)
	}
}

// webhookText says what happened in one line, in the webhook's language.
func webhookText(pr *messages.Printer, n notice, p webhookPayload) string {
	switch n.Event {
	case store.EventNewBucket:
		host, rel := "", ""
		if p.Dump != nil {
			host, rel = p.Dump.Hostname, p.Dump.Release
		}
		return pr.T("webhook.new_bucket", "Title", p.Bucket.Title, "Host", host, "Release", rel)
	case store.EventRegression:
		if n.FixRelease == "" {
			return pr.T("webhook.regression_unknown", "Title", p.Bucket.Title, "Release", n.Release)
		}
		return pr.T("webhook.regression", "Title", p.Bucket.Title, "Release", n.Release, "Fix", n.FixRelease)
	}
	var parts []string
	for _, c := range n.Changes {
		parts = append(parts, pr.T("webhook.change", "Field", pr.T("field."+c.Field), "Old", pr.Value(c.Field, c.Old), "New", pr.Value(c.Field, c.New)))
	}
	return pr.T("webhook.state_change", "Actor", n.Actor, "Title", p.Bucket.Title, "Changes", strings.Join(parts, pr.T("list.sep")))
}

// renderPayload makes a delivery's body in a webhook's format.
func renderPayload(format string, pr *messages.Printer, p webhookPayload) ([]byte, error) {
	switch format {
	case store.FormatSlack:
		// Slack's mrkdwn link syntax; Mattermost and Teams workflows read
		// the same {"text": …}.
		return json.Marshal(map[string]string{"text": fmt.Sprintf("%s <%s|%s>", p.Text, p.URL, pr.T("webhook.open"))})
	case store.FormatTeams:
		facts := []map[string]string{{"name": pr.T("field.status"), "value": pr.T("status." + p.Bucket.Status)},
			{"name": pr.T("webhook.crashes"), "value": strconv.Itoa(p.Bucket.Count)}}
		if p.Bucket.Assignee != "" {
			facts = append(facts, map[string]string{"name": pr.T("field.assignee"), "value": p.Bucket.Assignee})
		}
		if p.Bucket.FixRelease != "" {
			facts = append(facts, map[string]string{"name": pr.T("field.fix_release"), "value": p.Bucket.FixRelease})
		}
		return json.Marshal(map[string]any{
			"@type": "MessageCard", "@context": "https://schema.org/extensions",
			"summary": p.Text, "title": p.Bucket.Title, "text": p.Text, "themeColor": themeColor(p.Event),
			"sections":        []map[string]any{{"facts": facts}},
			"potentialAction": []map[string]any{{"@type": "OpenUri", "name": pr.T("webhook.open"), "targets": []map[string]string{{"os": "default", "uri": p.URL}}}},
		})
	}
	return json.Marshal(p)
}

func themeColor(event string) string {
	switch event {
	case store.EventRegression:
		return "C62828"
	case store.EventNewBucket:
		return "EF6C00"
	}
	return "1565C0"
}

// deliverWebhooks sends due deliveries until ctx ends.
func (s *Server) deliverWebhooks(ctx context.Context) {
	t := time.NewTicker(deliveryPoll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.deliverDue(ctx)
		}
	}
}

var webhookClient = &http.Client{Timeout: deliveryTimeout}

// deliverDue makes one attempt at every delivery due now (by the
// service's clock) and records its outcome; it returns how many it tried.
func (s *Server) deliverDue(ctx context.Context) int {
	hooks, err := s.db.Webhooks(ctx)
	if err != nil {
		s.log.Warn("webhooks", "err", err)
		return 0
	}
	urls := map[string]string{}
	for _, h := range hooks {
		urls[h.ID] = h.URL
	}
	due, err := s.db.ClaimDeliveries(ctx, s.now(), deliveryLease, 50)
	if err != nil {
		s.log.Warn("webhooks: claiming deliveries", "err", err)
		return 0
	}
	for _, d := range due {
		code, err := post(ctx, urls[d.WebhookID], d.Payload)
		now := s.now()
		status, next, errText := store.DeliveryDelivered, now, ""
		if err != nil {
			errText = err.Error()
			status, next = store.DeliveryPending, now.Add(deliveryBackoff(d.Attempts+1))
			if d.Attempts+1 >= maxDeliveryAttempts {
				status = store.DeliveryFailed
			}
			s.log.Warn("webhook delivery failed", "webhook", d.WebhookID, "delivery", d.ID, "attempt", d.Attempts+1, "code", code, "err", err)
		}
		if err := s.db.FinishAttempt(ctx, d.ID, code, errText, status, next, now); err != nil {
			s.log.Warn("webhooks: recording an attempt", "err", err)
		}
	}
	return len(due)
}

// post sends one payload; any answer but 2xx is an error.
func post(ctx context.Context, url, payload string) (int, error) {
	if url == "" {
		return 0, fmt.Errorf("the webhook was deleted")
	}
	ctx, cancel := context.WithTimeout(ctx, deliveryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(payload))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vmcored-webhook")
	resp, err := webhookClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return resp.StatusCode, nil
}

func (s *Server) listWebhooks(c echo.Context) error {
	hs, err := s.db.Webhooks(c.Request().Context())
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"webhooks": hs})
}

func (s *Server) addWebhook(c echo.Context) error {
	var w store.Webhook
	if err := c.Bind(&w); err != nil {
		return err
	}
	if w.Lang == "" {
		w.Lang = "en"
	}
	if w.Format == "" {
		w.Format = store.FormatJSON
	}
	w, err := s.db.AddWebhook(c.Request().Context(), w, c.Get("token").(string))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, w)
}

func (s *Server) deleteWebhook(c echo.Context) error {
	if err := s.db.DeleteWebhook(c.Request().Context(), c.Param("id"), c.Get("token").(string)); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (s *Server) listDeliveries(c echo.Context) error {
	ds, err := s.db.Deliveries(c.Request().Context(), c.Param("id"), 100)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"deliveries": ds})
}

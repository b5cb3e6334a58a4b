package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/vmcore/vmcore/api/wire"
)

// Webhooks are URLs an admin registers to hear of new buckets,
// regressions and triage changes. A notification becomes one delivery
// per webhook, kept in the database with its attempts, so that a
// receiver that is down gets it later (with backoff) and the admin sees
// what was sent and what answered. Any API node may deliver: a node
// claims a due delivery by moving its next attempt forward, so two
// nodes never send the same attempt.

// The webhook shapes are the API's (package wire).
type (
	Webhook  = wire.Webhook
	Delivery = wire.Delivery
)

// Webhook events, formats and delivery states (see package wire).
const (
	EventNewBucket    = wire.EventNewBucket
	EventRegression   = wire.EventRegression
	EventStateChange  = wire.EventStateChange
	FormatJSON        = wire.FormatJSON
	FormatSlack       = wire.FormatSlack
	FormatTeams       = wire.FormatTeams
	DeliveryPending   = wire.DeliveryPending
	DeliveryDelivered = wire.DeliveryDelivered
	DeliveryFailed    = wire.DeliveryFailed
)

// WebhookEvents lists the events a webhook may subscribe to.
var WebhookEvents = wire.WebhookEvents

// validateWebhook checks a webhook before it is stored.
func validateWebhook(w Webhook) error {
	if !httpURL(w.URL) || len(w.URL) > 2048 {
		return fmt.Errorf("%w: a webhook's url is an http or https URL", ErrInvalid)
	}
	switch w.Format {
	case FormatJSON, FormatSlack, FormatTeams:
	default:
		return fmt.Errorf("%w: format is %s, %s or %s, not %q", ErrInvalid, FormatJSON, FormatSlack, FormatTeams, w.Format)
	}
	if len(w.Events) == 0 {
		return fmt.Errorf("%w: a webhook needs at least one event (%s)", ErrInvalid, strings.Join(WebhookEvents, ", "))
	}
	for _, e := range w.Events {
		ok := false
		for _, k := range WebhookEvents {
			ok = ok || e == k
		}
		if !ok {
			return fmt.Errorf("%w: unknown event %q (%s)", ErrInvalid, e, strings.Join(WebhookEvents, ", "))
		}
	}
	if w.Lang != "en" && w.Lang != "ja" {
		return fmt.Errorf("%w: lang is en or ja", ErrInvalid)
	}
	return nil
}

// AddWebhook registers a webhook and returns it with its id.
func (db *DB) AddWebhook(ctx context.Context, w Webhook, actor string) (Webhook, error) {
	if err := validateWebhook(w); err != nil {
		return Webhook{}, err
	}
	w.ID, w.Created, w.CreatedBy = newID(), time.Now().UTC(), actor
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO webhooks (id, url, format, events, lang, created, created_by) VALUES ($1,$2,$3,$4,$5,$6,$7)`,
			w.ID, w.URL, w.Format, strings.Join(w.Events, ","), w.Lang, unix(w.Created), actor); err != nil {
			return err
		}
		return db.audit(ctx, tx, actor, "webhook-add", map[string]string{"id": w.ID, "url": w.URL})
	})
	if err != nil {
		return Webhook{}, fmt.Errorf("store: webhook: %w", err)
	}
	return w, nil
}

// Webhooks lists the registered webhooks, oldest first.
func (db *DB) Webhooks(ctx context.Context) ([]Webhook, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, url, format, events, lang, created, created_by FROM webhooks ORDER BY created, id`)
	if err != nil {
		return nil, fmt.Errorf("store: webhooks: %w", err)
	}
	defer rows.Close()
	out := []Webhook{}
	for rows.Next() {
		var w Webhook
		var events string
		var created int64
		if err := rows.Scan(&w.ID, &w.URL, &w.Format, &events, &w.Lang, &created, &w.CreatedBy); err != nil {
			return nil, fmt.Errorf("store: webhooks: %w", err)
		}
		w.Events, w.Created = strings.Split(events, ","), fromUnix(created)
		out = append(out, w)
	}
	return out, rows.Err()
}

// DeleteWebhook removes a webhook and its deliveries.
func (db *DB) DeleteWebhook(ctx context.Context, id, actor string) error {
	return db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE webhook_id = $1`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return db.audit(ctx, tx, actor, "webhook-delete", map[string]string{"id": id})
	})
}

// EnqueueDeliveries stores deliveries, due at once (at now).
func (db *DB) EnqueueDeliveries(ctx context.Context, ds []Delivery, now time.Time) error {
	if len(ds) == 0 {
		return nil
	}
	return db.tx(ctx, func(tx *sql.Tx) error {
		for _, d := range ds {
			if _, err := tx.ExecContext(ctx, `INSERT INTO webhook_deliveries (id, webhook_id, event, payload, status, attempts, next_at, created, updated)
				VALUES ($1,$2,$3,$4,$5,0,$6,$6,$6)`, newID(), d.WebhookID, d.Event, d.Payload, DeliveryPending, unix(now)); err != nil {
				return fmt.Errorf("store: delivery: %w", err)
			}
		}
		return nil
	})
}

const deliveryCols = `id, webhook_id, event, payload, status, attempts, next_at, last_code, last_error, created, updated`

func scanDelivery(row interface{ Scan(...any) error }) (Delivery, error) {
	var d Delivery
	var next, created, updated int64
	err := row.Scan(&d.ID, &d.WebhookID, &d.Event, &d.Payload, &d.Status, &d.Attempts, &next, &d.LastCode, &d.LastError, &created, &updated)
	d.NextAt, d.Created, d.Updated = fromUnix(next), fromUnix(created), fromUnix(updated)
	if d.Status != DeliveryPending {
		d.NextAt = time.Time{}
	}
	return d, err
}

// ClaimDeliveries takes up to limit pending deliveries due at now and
// moves their next attempt to now+lease, so that no other node sends
// them meanwhile; a node that dies while sending leaves them to be
// claimed again after the lease.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Delivery, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE status = $1 AND next_at <= $2
		ORDER BY next_at, id LIMIT $3`, DeliveryPending, unix(now), max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	var due []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("store: deliveries: %w", err)
		}
		due = append(due, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Delivery
	for _, d := range due {
		res, err := db.sql.ExecContext(ctx, `UPDATE webhook_deliveries SET next_at = $3 WHERE id = $1 AND next_at = $2 AND status = $4`,
			d.ID, unix(d.NextAt), unix(now.Add(lease)), DeliveryPending)
		if err != nil {
			return nil, fmt.Errorf("store: claiming a delivery: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			out = append(out, d)
		}
	}
	return out, nil
}

// FinishAttempt records an attempt at a delivery: its HTTP status (0
// when none came) and error, and the new state: delivered, failed, or
// pending again at next.
func (db *DB) FinishAttempt(ctx context.Context, id string, code int, errText, status string, next, now time.Time) error {
	_, err := db.sql.ExecContext(ctx, `UPDATE webhook_deliveries SET attempts = attempts + 1, last_code = $2, last_error = $3, status = $4,
		next_at = $5, updated = $6 WHERE id = $1`, id, code, errText, status, unix(next), unix(now))
	if err != nil {
		return fmt.Errorf("store: delivery attempt: %w", err)
	}
	return nil
}

// Deliveries returns a webhook's deliveries, newest first.
func (db *DB) Deliveries(ctx context.Context, webhook string, limit int) ([]Delivery, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT `+deliveryCols+` FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY created DESC, id LIMIT $2`,
		webhook, max(limit, 1))
	if err != nil {
		return nil, fmt.Errorf("store: deliveries: %w", err)
	}
	defer rows.Close()
	out := []Delivery{}
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, fmt.Errorf("store: deliveries: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

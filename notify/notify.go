// Package notify announces the cluster's notifications (a Job failed or
// is stuck Pending, a CronJob's run was skipped or missed, a node stopped
// being Ready) to webhooks: the webhooks file, which Jobs are stuck, what
// is due where, the signed body, and the back-off after a failed attempt
// are pure decisions; Sender posts.
//
// Delivery is at least once: each notification carries an idempotency key
// (X-Jobcluster-Delivery) by which a receiver drops duplicates, which a
// leader change during a delivery can cause.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// Target is one webhook: the URL it is posted to and, when set, the
// secret its body is signed with.
type Target struct {
	URL    string
	Secret []byte
	// Events are the events the target is told of; empty means every one.
	Events []string
}

// Back-off between attempts at one target, and when to give up.
const (
	FirstBackoff = time.Second
	MaxBackoff   = 5 * time.Minute
	// MaxAttempts is about two hours of trying at most 5 minutes apart.
	MaxAttempts = 30
)

// Headers of a delivery.
const (
	HeaderEvent     = "X-Jobcluster-Event"
	HeaderDelivery  = "X-Jobcluster-Delivery"
	HeaderSignature = "X-Jobcluster-Signature"
)

// Backoff is the wait after the attempts-th failed attempt: 1 s doubling
// to 5 min.
func Backoff(attempts int32) time.Duration {
	d := FirstBackoff
	for i := int32(1); i < attempts && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// Due lists the targets n is to be posted to now: those that have neither
// taken it nor been given up on, once their back-off has passed.
func Due(n *api.Notification, targets []Target, now time.Time) []Target {
	var out []Target
	for _, t := range targets {
		if !t.Wants(n.GetEvent()) {
			continue
		}
		d := delivery(n, t.URL)
		if d.GetDelivered() || d.GetGaveUp() {
			continue
		}
		if next := d.GetNextAttempt(); next != nil && now.Before(next.AsTime()) {
			continue
		}
		out = append(out, t)
	}
	return out
}

// Wants reports whether the target is told of event.
func (t Target) Wants(event string) bool {
	return len(t.Events) == 0 || slices.Contains(t.Events, event)
}

func delivery(n *api.Notification, url string) *api.NotificationDelivery {
	for _, d := range n.GetDeliveries() {
		if d.GetTarget() == url {
			return d
		}
	}
	return nil
}

// Result records the outcome of one attempt at target: delivered when err
// is nil, else the next attempt after the back-off, or given up after
// MaxAttempts.
func Result(n *api.Notification, target string, err error, now time.Time) *api.DeliveryResult {
	r := &api.DeliveryResult{Id: n.GetId(), Target: target, Time: timestamppb.New(now)}
	if err == nil {
		r.Delivered = true
		return r
	}
	attempts := delivery(n, target).GetAttempts() + 1
	r.Error = err.Error()
	if attempts >= MaxAttempts {
		r.GaveUp = true
		return r
	}
	r.NextAttempt = timestamppb.New(now.Add(Backoff(attempts)))
	return r
}

// body is the JSON a webhook receives.
type body struct {
	ID        string            `json:"id"`
	Event     string            `json:"event"`
	Namespace string            `json:"namespace,omitempty"`
	Kind      string            `json:"kind"`
	Name      string            `json:"name"`
	Reason    string            `json:"reason,omitempty"`
	Message   string            `json:"message,omitempty"`
	Time      string            `json:"time,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// Body is the JSON of a notification; the same notification always gives
// the same bytes, so every retry carries the same signature.
func Body(n *api.Notification) []byte {
	b := body{ID: n.GetId(), Event: n.GetEvent(), Namespace: n.GetNamespace(), Kind: n.GetKind(), Name: n.GetName(),
		Reason: n.GetReason(), Message: n.GetMessage(), Details: n.GetDetails()}
	if t := n.GetTime(); t != nil {
		b.Time = t.AsTime().UTC().Format(time.RFC3339Nano)
	}
	data, err := json.Marshal(b)
	if err != nil {
		panic(fmt.Sprintf("notify: encode body: %v", err)) // strings and a string map always encode
	}
	return data
}

// Sign is the signature header of body under secret: "sha256=" and the
// hex HMAC-SHA256, as GitHub's webhooks sign.
func Sign(secret, body []byte) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Sender posts notifications.
type Sender struct {
	Client *http.Client
}

// Send posts n to t; any 2xx answer is a delivery.
func (s Sender) Send(ctx context.Context, t Target, n *api.Notification) error {
	data := Body(n)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.URL, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("notify %s: %w", t.URL, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderEvent, n.GetEvent())
	req.Header.Set(HeaderDelivery, n.GetId())
	if len(t.Secret) > 0 {
		req.Header.Set(HeaderSignature, Sign(t.Secret, data))
	}
	client := s.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("post to %s: %w", t.URL, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post to %s: %s", t.URL, resp.Status)
	}
	return nil
}

package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

var t0 = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)

func TestBackoff(t *testing.T) {
	for _, tt := range []struct {
		attempts int32
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {4, 8 * time.Second}, {9, 256 * time.Second}, {10, 5 * time.Minute}, {29, 5 * time.Minute}} {
		if got := Backoff(tt.attempts); got != tt.want {
			t.Errorf("Backoff(%d) = %v, want %v", tt.attempts, got, tt.want)
		}
	}
}

func TestDueAndResult(t *testing.T) {
	a, b := Target{URL: "http://a"}, Target{URL: "http://b"}
	n := &api.Notification{Id: "JobFailed/u1", Deliveries: []*api.NotificationDelivery{
		{Target: "http://a", Delivered: true, Attempts: 1},
		{Target: "http://b", Attempts: 3, NextAttempt: timestamppb.New(t0.Add(time.Second))},
	}}
	for _, tt := range []struct {
		name string
		now  time.Time
		want []string
	}{
		{"delivered target and one backing off", t0, nil},
		{"back-off over", t0.Add(time.Second), []string{"http://b"}},
	} {
		var got []string
		for _, d := range Due(n, []Target{a, b}, tt.now) {
			got = append(got, d.URL)
		}
		if len(got) != len(tt.want) || (len(got) == 1 && got[0] != tt.want[0]) {
			t.Errorf("%s: due %v, want %v", tt.name, got, tt.want)
		}
	}
	fresh := &api.Notification{Id: "x"}
	if got := Due(fresh, []Target{a}, t0); len(got) != 1 {
		t.Errorf("a new notification is due at %d targets, want 1", len(got))
	}

	r := Result(n, "http://b", errors.New("503"), t0)
	if r.GetDelivered() || r.GetGaveUp() || !r.GetNextAttempt().AsTime().Equal(t0.Add(8*time.Second)) {
		t.Errorf("4th failure: %v, want the next attempt 8s later", r)
	}
	n.Deliveries[1].Attempts = MaxAttempts - 1
	if r := Result(n, "http://b", errors.New("503"), t0); !r.GetGaveUp() {
		t.Errorf("failure number %d does not give up: %v", MaxAttempts, r)
	}
	if r := Result(n, "http://b", nil, t0); !r.GetDelivered() {
		t.Errorf("success: %v", r)
	}
}

func TestSendSignsTheSameBodyEachTime(t *testing.T) {
	n := &api.Notification{Id: "CronJobMissed/u2/17", Event: api.EventCronJobMissed, Namespace: "ops", Kind: "CronJob", Name: "nightly",
		Time: timestamppb.New(t0), Details: map[string]string{"scheduledTime": "2026-12-04T03:00:00Z"}}
	type got struct{ event, id, sig, body string }
	var seen []got
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		seen = append(seen, got{r.Header.Get(HeaderEvent), r.Header.Get(HeaderDelivery), r.Header.Get(HeaderSignature), string(b)})
		if fail {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	target := Target{URL: srv.URL, Secret: []byte("k")}
	if err := (Sender{}).Send(context.Background(), target, n); err == nil {
		t.Fatal("a 503 answer counted as delivered")
	}
	fail = false
	if err := (Sender{}).Send(context.Background(), target, n); err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0] != seen[1] {
		t.Fatalf("two attempts differ: %+v", seen)
	}
	s := seen[0]
	if s.event != api.EventCronJobMissed || s.id != n.GetId() || s.sig != Sign([]byte("k"), []byte(s.body)) {
		t.Errorf("headers %+v", s)
	}
	want := `{"id":"CronJobMissed/u2/17","event":"CronJobMissed","namespace":"ops","kind":"CronJob","name":"nightly","time":"2026-12-04T12:00:00Z","details":{"scheduledTime":"2026-12-04T03:00:00Z"}}`
	if s.body != want {
		t.Errorf("body %s, want %s", s.body, want)
	}
}

func TestTargetsGetOnlyTheEventsTheyAskFor(t *testing.T) {
	all := Target{URL: "http://all"}
	failures := Target{URL: "http://failures", Events: []string{"JobFailed", "CronJobFailed"}}
	pendingAndNodes := Target{URL: "http://pending", Events: []string{"JobPending", "NodeNotReady"}}
	targets := []Target{all, failures, pendingAndNodes}
	for _, tt := range []struct {
		event string
		want  []string
	}{
		{"JobFailed", []string{"http://all", "http://failures"}},
		{"JobPending", []string{"http://all", "http://pending"}},
		{"NodeNotReady", []string{"http://all", "http://pending"}},
		{"JobComplete", []string{"http://all"}},
	} {
		t.Run(tt.event, func(t *testing.T) {
			var got []string
			for _, tg := range Due(&api.Notification{Id: "x", Event: tt.event}, targets, t0) {
				got = append(got, tg.URL)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("due targets (-want +got):\n%s", diff)
			}
		})
	}
}

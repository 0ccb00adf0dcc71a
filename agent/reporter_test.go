package agent

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// fakeServer is the send function of a reporter: it records each call as
// "uid:phase" entries and answers with the next scripted error.
type fakeServer struct {
	mu    sync.Mutex
	calls [][]string
	fail  int           // calls still to fail
	gate  chan struct{} // when set, every call waits for a value
	acked []string
}

func (f *fakeServer) send(ctx context.Context, updates []*api.PodStatusUpdate) error {
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	var call []string
	for _, u := range updates {
		call = append(call, u.GetUid()+":"+u.GetStatus().GetPhase())
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, call)
	if f.fail > 0 {
		f.fail--
		return errors.New("server unavailable")
	}
	return nil
}

func (f *fakeServer) ack(uid string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.acked = append(f.acked, uid)
}

func (f *fakeServer) snapshot() (calls [][]string, acked []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]string(nil), f.calls...), append([]string(nil), f.acked...)
}

func update(uid, phase string) *api.PodStatusUpdate {
	return &api.PodStatusUpdate{Name: "pod-" + uid, Uid: uid, Node: "node-a", Status: &api.PodStatus{Phase: phase}}
}

func runReporter(t *testing.T, r *reporter) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

func TestReporter(t *testing.T) {
	tests := []struct {
		name string
		fail int
		// before runs before the reporter loop starts, during runs while
		// its first call waits at the gate.
		before, during []*api.PodStatusUpdate
		wantCalls      [][]string
		wantAcked      []string
	}{
		{
			name:      "changes made during a call go out together in the next one, latest per pod",
			before:    []*api.PodStatusUpdate{update("a", "Running")},
			during:    []*api.PodStatusUpdate{update("b", "Running"), update("a", "Running"), update("a", "Succeeded"), update("c", "Failed")},
			wantCalls: [][]string{{"a:Running"}, {"b:Running", "a:Succeeded", "c:Failed"}},
			wantAcked: []string{"a", "c"},
		},
		{
			name:      "failed call is retried until acknowledged",
			fail:      2,
			before:    []*api.PodStatusUpdate{update("a", "Failed"), update("b", "Running")},
			wantCalls: [][]string{{"a:Failed", "b:Running"}, {"a:Failed", "b:Running"}, {"a:Failed", "b:Running"}},
			wantAcked: []string{"a"},
		},
		{
			name:      "final status is not replaced by a late running one",
			before:    []*api.PodStatusUpdate{update("a", "Running"), update("a", "Succeeded"), update("a", "Running")},
			wantCalls: [][]string{{"a:Succeeded"}},
			wantAcked: []string{"a"},
		},
		{
			name:      "retried batch keeps a newer status queued meanwhile",
			fail:      1,
			before:    []*api.PodStatusUpdate{update("a", "Running")},
			during:    []*api.PodStatusUpdate{update("a", "Succeeded")},
			wantCalls: [][]string{{"a:Running"}, {"a:Succeeded"}},
			wantAcked: []string{"a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := &fakeServer{fail: tt.fail, gate: make(chan struct{})}
			r := newReporter(srv.send, srv.ack, testLogger(t))
			for _, u := range tt.before {
				r.Report(u)
			}
			runReporter(t, r)
			wait.For(t, "first call in flight", func() (bool, string) {
				return r.queued() == 0, fmt.Sprintf("%d queued", r.queued())
			})
			for _, u := range tt.during {
				r.Report(u)
			}
			go func() {
				for range len(tt.wantCalls) {
					select {
					case srv.gate <- struct{}{}:
					case <-t.Context().Done():
						return
					}
				}
			}()
			wait.For(t, "all calls", func() (bool, string) {
				calls, _ := srv.snapshot()
				return len(calls) >= len(tt.wantCalls) && r.queued() == 0, fmt.Sprintf("calls so far %v", calls)
			})
			calls, acked := srv.snapshot()
			if diff := cmp.Diff(tt.wantCalls, calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantAcked, acked); diff != "" {
				t.Errorf("acknowledged final statuses (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReporterBatchSize(t *testing.T) {
	srv := &fakeServer{}
	r := newReporter(srv.send, srv.ack, testLogger(t))
	for i := range maxReportBatch + 500 {
		r.Report(update(strconv.Itoa(i), "Running"))
	}
	runReporter(t, r)
	wait.For(t, "two calls", func() (bool, string) {
		calls, _ := srv.snapshot()
		return len(calls) == 2, fmt.Sprintf("%d calls", len(calls))
	})
	calls, _ := srv.snapshot()
	if got := []int{len(calls[0]), len(calls[1])}; !cmp.Equal(got, []int{maxReportBatch, 500}) {
		t.Errorf("batch sizes %v, want [%d 500]", got, maxReportBatch)
	}
}

func TestReporterFlush(t *testing.T) {
	t.Run("sends what is queued", func(t *testing.T) {
		srv := &fakeServer{fail: 1}
		r := newReporter(srv.send, srv.ack, testLogger(t))
		r.Report(update("a", "Failed"))
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := r.flush(ctx); err != nil {
			t.Fatal(err)
		}
		if _, acked := srv.snapshot(); !cmp.Equal(acked, []string{"a"}) {
			t.Errorf("acknowledged %v, want [a]", acked)
		}
	})
	t.Run("gives up when the deadline passes", func(t *testing.T) {
		srv := &fakeServer{fail: 1 << 30}
		r := newReporter(srv.send, srv.ack, testLogger(t))
		r.Report(update("a", "Failed"))
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		if err := r.flush(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("flush error = %v, want deadline exceeded", err)
		}
		if r.queued() != 1 {
			t.Errorf("%d updates queued after a failed flush, want 1 kept", r.queued())
		}
	})
}

package scheduler

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

func jitter(window string) func(*api.CronJob) {
	return func(c *api.CronJob) {
		c.Metadata.Uid = "uid-cj"
		c.Metadata.Annotations = map[string]string{api.AnnotationJitter: window}
	}
}

// 100 scheduled times of a jittered CronJob each run once, at their own
// delay within the window: not a millisecond before, and at once after.
func TestJitterSpreadsRunsWithinTheWindow(t *testing.T) {
	cj := newCronJob("* * * * *", createdOn(clock(9, 0, 0)), jitter("30s"))
	var spread []time.Duration
	for m := 1; m <= 100; m++ {
		scheduled := clock(9, 0, 0).Add(time.Duration(m) * time.Minute)
		delay := JitterDelay(cj, scheduled)
		if delay < 0 || delay >= 30*time.Second {
			t.Fatalf("minute %d: delay %v, want within [0, 30s)", m, delay)
		}
		spread = append(spread, delay)
		if delay > 0 {
			early := ReconcileCronJob(inputAt(cj, scheduled.Add(delay-time.Millisecond)))
			if !early.Scheduled.IsZero() {
				t.Fatalf("minute %d: decided %v before its delay of %v", m, scheduled, delay)
			}
			if !early.Next.Equal(scheduled.Add(delay)) {
				t.Fatalf("minute %d: next check at %v, want %v", m, early.Next, scheduled.Add(delay))
			}
		}
		plan := ReconcileCronJob(inputAt(cj, scheduled.Add(delay)))
		if !plan.Scheduled.Equal(scheduled) || plan.Action != CronCreated || plan.Jitter != delay {
			t.Fatalf("minute %d: plan %v %s jitter %v, want Created %v after %v", m, plan.Scheduled, plan.Action, plan.Jitter, scheduled, delay)
		}
		if again := JitterDelay(cj, scheduled); again != delay {
			t.Fatalf("minute %d: delay re-rolled from %v to %v", m, delay, again)
		}
		cj.Status = &api.CronJobStatus{LastScheduleTime: timestamppb.New(scheduled)}
	}
	var lo, hi time.Duration = 30 * time.Second, 0
	for _, d := range spread {
		lo, hi = min(lo, d), max(hi, d)
	}
	if hi-lo < 20*time.Second {
		t.Errorf("100 delays span only %v to %v: not spread over the window", lo, hi)
	}
}

func TestJitterAnnotationIsValidated(t *testing.T) {
	for _, tt := range []struct {
		window string
		ok     bool
	}{{"30s", true}, {"5m", true}, {"0s", true}, {"25h", false}, {"soon", false}, {"-1s", false}} {
		cj := newCronJob("* * * * *", jitter(tt.window))
		err := api.Validate(&api.Object{Kind: &api.Object_CronJob{CronJob: cj}})
		if (err == nil) != tt.ok {
			t.Errorf("jitter %q: err %v, want ok=%v", tt.window, err, tt.ok)
		}
	}
}

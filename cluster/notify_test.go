package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/notify"
)

// A Job whose pod no node takes is announced stuck once its pod has
// waited the threshold, and a new leader does not announce that wait
// again.
func TestStuckJobAnnouncedOnceAcrossLeaders(t *testing.T) {
	fc := newFakeClock(fakeStart)
	c := newTestCluster(t, harnessOptions{servers: 3, clock: fc, notifyPendingAfter: time.Minute})
	first := c.leader()
	submit(t, first, testJob("stuck"))
	uid := waitStuck(t, c, fc, "stuck")
	announced := first.fsm.State().NotificationsWithPrefix(notify.PendingPrefix(uid))
	if len(announced) != 1 || !strings.HasPrefix(announced[0].GetMessage(), "1 pod Pending for 1m") {
		t.Fatalf("JobPending notifications %v, want one saying its pod waited 1m", announced)
	}

	c.stop(indexOf(c, first))
	next := c.leader()
	// Once the new leader announces a second Job, it has looked at the
	// first one too.
	submit(t, next, testJob("stuck-2"))
	waitStuck(t, c, fc, "stuck-2")
	again := next.fsm.State().NotificationsWithPrefix(notify.PendingPrefix(uid))
	if len(again) != 1 || again[0].GetId() != announced[0].GetId() {
		t.Errorf("after the leader change, JobPending notifications of stuck are %v, want only %s", again, announced[0].GetId())
	}
}

// waitStuck steps the clock until the Job is announced stuck Pending and
// returns its uid.
func waitStuck(t *testing.T, c *testCluster, fc *fakeClock, job string) string {
	t.Helper()
	var uid string
	wait.For(t, "job "+job+" announced stuck pending", func() (bool, string) {
		s := c.leader()
		j := s.fsm.State().Job("", job)
		if j == nil {
			return false, "no job"
		}
		uid = j.GetMetadata().GetUid()
		for _, n := range s.fsm.State().NotificationsWithPrefix(notify.PendingPrefix(uid)) {
			if n.GetName() == job && n.GetEvent() == api.EventJobPending {
				return true, ""
			}
		}
		fc.Advance(time.Second)
		return false, fmt.Sprintf("no JobPending at %v, %d pods waiting", fc.Now(), len(s.fsm.State().UnboundPods()))
	})
	return uid
}

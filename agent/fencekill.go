package agent

import (
	"sync"
	"syscall"
	"time"
)

// lapseSlack is how long after a renewal ended a lapse of the lease an
// exit is still put down to it: the guard's kill and the agent's wait for
// the process can both run late on a loaded machine.
const lapseSlack = 2 * time.Second

// maxLapses bounds the lapses remembered.
const maxLapses = 4

// leaseLapses remembers when the node's lease ran out without a renewal.
// The agent-guard kills every pod then, on its own clock, and the agent
// may see a process die of that SIGKILL before it fences itself or after
// it renewed again: the pod was lost with the node, it did not fail.
type leaseLapses struct {
	mu sync.Mutex
	// deadline is when the lease runs out unless renewed; zero before the
	// first word of it.
	deadline time.Time
	// lapses are the latest times it ran out and was held again, oldest
	// first.
	lapses []lapse
}

type lapse struct{ from, to time.Time }

// extended records, at now, that the lease has left to run.
func (l *leaseLapses) extended(now time.Time, left time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.deadline.IsZero() && now.After(l.deadline) {
		l.lapses = append(l.lapses, lapse{from: l.deadline, to: now})
		if len(l.lapses) > maxLapses {
			l.lapses = l.lapses[len(l.lapses)-maxLapses:]
		}
	}
	l.deadline = now.Add(left)
}

// lapsedAt tells whether the lease had run out at the given time, or had
// only just been held again.
func (l *leaseLapses) lapsedAt(at time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return lapsedAt(l.deadline, l.lapses, at)
}

// lapsedAt is lapsedAt of leaseLapses, as a pure function.
func lapsedAt(deadline time.Time, lapses []lapse, at time.Time) bool {
	if !deadline.IsZero() && !at.Before(deadline) {
		return true
	}
	for _, p := range lapses {
		if !at.Before(p.from) && !at.After(p.to.Add(lapseSlack)) {
			return true
		}
	}
	return false
}

// lostToFence tells whether a container that exited with code was killed
// by the fence rather than failed: a SIGKILL the pod's runner did not
// send, while the node's lease had run out.
func lostToFence(code int, killedByRunner, lapsed bool) bool {
	return code == 128+int(syscall.SIGKILL) && !killedByRunner && lapsed
}

package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
)

func eventCmd(name string) *api.Command {
	return eventCommand(&api.Event{
		Metadata:       &api.ObjectMeta{Name: name, Namespace: "default"},
		InvolvedObject: &api.ObjectReference{Kind: "Job", Name: "test"},
		Type:           "Normal", Reason: "Test", Count: 1,
		FirstTimestamp: timestamppb.Now(), LastTimestamp: timestamppb.Now(),
	})
}

func TestProposerGathersConcurrentCallersIntoFewEntries(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	leader := c.leader()
	const callers = 200
	before := leader.raft.LastIndex()
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for i := range callers {
		wg.Go(func() {
			refused, err := leader.proposer.Propose(testCtx(t), eventCmd(fmt.Sprintf("e%d", i)))
			if err == nil {
				err = refused[0]
			}
			if err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("propose: %v", err)
	}
	// Other loops write too, so count generously: far fewer entries than
	// callers means they were gathered.
	if entries := leader.raft.LastIndex() - before; entries >= callers/2 {
		t.Errorf("%d callers took %d log entries, want them gathered into far fewer", callers, entries)
	}
	if got := len(leader.fsm.State().Events("Job", "", "test")); got != min(callers, 64) {
		t.Errorf("%d events recorded, want %d (the per-object bound)", got, min(callers, 64))
	}
}

func TestProposerAnswersEachCommand(t *testing.T) {
	c := newTestCluster(t, harnessOptions{})
	leader := c.leader()
	submit(t, leader, testJob("taken"))
	again := leader.fsm.State().Job("", "taken")
	refused, err := leader.proposer.Propose(testCtx(t),
		(&api.UpsertJob{Job: again, CreateOnly: true}).Command(),
		eventCmd("fine"),
	)
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	if len(refused) != 2 || !errors.Is(refused[0], fsm.ErrAlreadyExists) || refused[1] != nil {
		t.Errorf("answers = %v, want already exists, then nil", refused)
	}
	if errs, err := leader.proposer.Propose(testCtx(t)); errs != nil || err != nil {
		t.Errorf("proposing nothing = %v, %v", errs, err)
	}
}

func TestProposerFailsWhereItCannotCommit(t *testing.T) {
	c := newTestCluster(t, harnessOptions{servers: 3})
	follower := c.follower()
	if _, err := follower.proposer.Propose(testCtx(t), eventCmd("x")); !errors.Is(err, raft.ErrNotLeader) {
		t.Errorf("propose on a follower: %v, want %v", err, raft.ErrNotLeader)
	}
	// A caller that gives up while the proposer is busy gets its
	// context's error.
	busy := &proposer{queue: make(chan *proposal), done: make(chan struct{})}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := busy.Propose(cancelled, eventCmd("y")); !errors.Is(err, context.Canceled) {
		t.Errorf("propose with a cancelled context: %v, want %v", err, context.Canceled)
	}

	p := newProposer(c.leader().raft, testLogger(t), c.leader().metrics)
	p.close()
	if _, err := p.Propose(testCtx(t), eventCmd("z")); !errors.Is(err, ErrNotLeader) {
		t.Errorf("propose after close: %v, want %v", err, ErrNotLeader)
	}
}

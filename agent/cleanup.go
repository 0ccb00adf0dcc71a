package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

const (
	// cleanInterval is how often the agent asks the servers which of the
	// finished pods whose logs it keeps they still hold.
	cleanInterval = 10 * time.Second
	// cleanRecheck is how long a pod the servers said they hold goes
	// unasked when they did not say since when no pod was removed (an
	// earlier release). Otherwise such a pod is asked about again only
	// once a pod was removed: finished pods of Jobs that stay cost one
	// question each, however long they stay.
	cleanRecheck = 30 * time.Second
	// cleanSoon is the pause between a desired set losing pods and the
	// round that looks at them, so that their final statuses can be
	// acknowledged first.
	cleanSoon = 2 * time.Second
	// podsPerQuestion bounds one PodsExist request, below the servers'
	// limit.
	podsPerQuestion = 1000
)

// podsAsker asks a server which of the pods it holds: exists[i] answers
// for pods[i], and removedIndex is the index of the servers' last removal
// of a pod as of that answer (see fsm.State.PodsRemovedIndex), 0 when
// they do not say. With no pods it asks for removedIndex alone.
type podsAsker func(ctx context.Context, pods []*api.PodRef) (exists []bool, removedIndex uint64, err error)

// cleaner removes the directories of finished pods the servers no longer
// hold (their Job was deleted, a TTL or history limit removed it, or the
// pod itself was deleted), and makes sure settled records are forgotten
// even when no desired set comes. It works in the background, a bounded
// batch at a time: a deleted Job may have left 100,000 directories.
//
// It only ever looks at pods that cannot run again here: the forgotten
// ones whose directories the journal keeps, and settled ones (finished,
// acknowledged, no longer desired). A pod of the same name started since
// keeps its directory (see journal.remove).
type cleaner struct {
	sup      *supervisor
	ask      podsAsker
	interval time.Duration
	recheck  time.Duration
	soon     time.Duration
	batch    int
	logger   *slog.Logger
	now      func() time.Time

	// answers holds the servers' last answer about each candidate, and
	// rounds counts the rounds; both are used by run only.
	answers map[podKey]*answer
	rounds  uint64
}

// answer is what the servers last said of a pod: when they said it is
// held, and their removal index then; or that it is gone and its
// directory was removed. round is the last round that found the pod
// among the candidates.
type answer struct {
	at           time.Time
	removedIndex uint64
	gone         bool
	round        uint64
}

// due says whether a pod whose last answer was a must be asked about
// again, given the servers' removal index now (0 when unknown). A pod
// gone stays gone. A pod held is asked about again once a pod was removed
// since, or, when either index is unknown, once recheck passed.
func (a answer) due(now time.Time, recheck time.Duration, removedIndex uint64) bool {
	switch {
	case a.gone:
		return false
	case a.removedIndex != 0 && removedIndex != 0:
		return a.removedIndex != removedIndex
	default:
		return now.Sub(a.at) >= recheck
	}
}

// podKey identifies a pod by name and UID.
type podKey struct{ name, uid string }

func keyOf(ref *api.PodRef) podKey { return podKey{ref.GetName(), ref.GetUid()} }

func newCleaner(sup *supervisor, ask podsAsker, logger *slog.Logger) *cleaner {
	return &cleaner{
		sup:      sup,
		ask:      ask,
		interval: cleanInterval,
		recheck:  cleanRecheck,
		soon:     cleanSoon,
		batch:    podsPerQuestion,
		logger:   logger,
		now:      time.Now,
		answers:  map[podKey]*answer{},
	}
}

// run cleans up every interval, and soon after a desired set lost pods,
// until ctx ends.
func (c *cleaner) run(ctx context.Context) {
	if err := c.sup.journal.emptyRemoving(); err != nil {
		c.logger.Warn("remove pod directories left by an earlier run", "err", err)
	}
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-c.sup.departed:
			select {
			case <-ctx.Done():
				return
			case <-time.After(c.soon):
			}
		}
		c.round(ctx)
	}
}

// round forgets what is due, asks the servers about the pods whose
// directories remain and that may have gone since the servers last
// answered about them, a batch per question, and removes the directories
// of those the servers no longer hold.
//
// An agent may keep tens of thousands of finished pods for as long as
// their Jobs stay: a round that has nobody to ask about walks them once
// without allocating, and asks one small question.
func (c *cleaner) round(ctx context.Context) {
	c.sup.tidy()
	now := c.now()
	c.rounds++
	// One small question tells whether any pod found held may have gone.
	var removedIndex uint64
	if len(c.answers) > 0 {
		_, idx, err := c.ask(ctx, nil)
		if err != nil {
			c.logger.Debug("ask the servers' last removal of a pod", "err", err)
			return
		}
		removedIndex = idx
	}
	var due []*api.PodRef
	c.eachCandidate(func(key podKey) {
		a, ok := c.answers[key]
		if ok {
			a.round = c.rounds
		}
		if !ok || a.due(now, c.recheck, removedIndex) {
			due = append(due, &api.PodRef{Name: key.name, Uid: key.uid})
		}
	})
	for key, a := range c.answers {
		if a.round != c.rounds {
			delete(c.answers, key)
		}
	}
	removed := 0
	for start := 0; start < len(due) && ctx.Err() == nil; start += c.batch {
		batch := due[start:min(start+c.batch, len(due))]
		n, err := c.clean(ctx, batch, now)
		removed += n
		if err != nil {
			// The servers may be electing a leader or restarting: the
			// next round asks again, so this is no cause for alarm.
			c.logger.Debug("clean up pod directories", "err", err)
			break
		}
	}
	if removed > 0 {
		c.logger.Debug("removed directories of pods the servers no longer hold", "pods", removed)
	}
}

// eachCandidate calls f with each pod that cannot run here again and
// whose directory remains: the settled ones, and the forgotten ones the
// journal keeps.
func (c *cleaner) eachCandidate(f func(podKey)) {
	c.sup.eachSettled(func(name, uid string) { f(podKey{name, uid}) })
	c.sup.journal.eachKept(func(name, uid string) { f(podKey{name, uid}) })
}

// clean asks about one batch and removes the directories of the pods
// that are gone. It returns how many it removed.
func (c *cleaner) clean(ctx context.Context, batch []*api.PodRef, now time.Time) (int, error) {
	exists, removedIndex, err := c.ask(ctx, batch)
	if err != nil {
		return 0, fmt.Errorf("ask which of %d pods the servers hold: %w", len(batch), err)
	}
	if len(exists) != len(batch) {
		return 0, fmt.Errorf("asked about %d pods, answered about %d", len(batch), len(exists))
	}
	removed := 0
	for i, ref := range batch {
		if exists[i] {
			c.answers[keyOf(ref)] = &answer{at: now, removedIndex: removedIndex, round: c.rounds}
			continue
		}
		ok, err := c.sup.journal.remove(ref.GetName(), ref.GetUid(), false)
		if err != nil {
			c.logger.Warn("remove pod directory", "pod", ref.GetName(), "err", err)
			continue
		}
		c.answers[keyOf(ref)] = &answer{gone: true, round: c.rounds}
		if ok {
			removed++
			c.logger.Debug("removed directory of deleted pod", "pod", ref.GetName(), "uid", ref.GetUid())
		}
	}
	return removed, nil
}

// podsExist asks the servers, one after another until one answers, which
// of the pods they still hold, and their last removal of a pod.
func (s *servers) podsExist(ctx context.Context, pods []*api.PodRef) ([]bool, uint64, error) {
	var errs []error
	for i := range max(1, len(s.pool.addrs())) {
		client, addr, err := s.pool.client(i)
		if err != nil {
			return nil, 0, err
		}
		callCtx, cancel := context.WithTimeout(ctx, rpcTimeout)
		resp, err := client.PodsExist(callCtx, &api.PodsExistRequest{Pods: pods})
		cancel()
		if err == nil {
			return resp.GetExists(), resp.GetPodsRemovedIndex(), nil
		}
		errs = append(errs, fmt.Errorf("ask %s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, 0, errors.Join(errs...)
}

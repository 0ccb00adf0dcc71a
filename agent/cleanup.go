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
	// unasked: finished pods of Jobs that stay cost a question each per
	// cleanRecheck, however long they stay.
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
// for pods[i].
type podsAsker func(ctx context.Context, pods []*api.PodRef) (exists []bool, err error)

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

	asked map[podKey]time.Time // when a pod was last found held; used by run only
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
		asked:    map[podKey]time.Time{},
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
// directories remain, a batch per question, and removes the directories
// of those the servers no longer hold.
func (c *cleaner) round(ctx context.Context) {
	c.sup.tidy()
	now := c.now()
	candidates := append(c.sup.settledPods(), c.sup.journal.keptPods()...)
	current := make(map[podKey]bool, len(candidates))
	var due []*api.PodRef
	for _, ref := range candidates {
		key := keyOf(ref)
		current[key] = true
		if at, ok := c.asked[key]; !ok || now.Sub(at) >= c.recheck {
			due = append(due, ref)
		}
	}
	for key := range c.asked {
		if !current[key] {
			delete(c.asked, key)
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

// clean asks about one batch and removes the directories of the pods
// that are gone. It returns how many it removed.
func (c *cleaner) clean(ctx context.Context, batch []*api.PodRef, now time.Time) (int, error) {
	exists, err := c.ask(ctx, batch)
	if err != nil {
		return 0, fmt.Errorf("ask which of %d pods the servers hold: %w", len(batch), err)
	}
	if len(exists) != len(batch) {
		return 0, fmt.Errorf("asked about %d pods, answered about %d", len(batch), len(exists))
	}
	removed := 0
	for i, ref := range batch {
		if exists[i] {
			c.asked[keyOf(ref)] = now
			continue
		}
		ok, err := c.sup.journal.remove(ref.GetName(), ref.GetUid(), false)
		if err != nil {
			c.logger.Warn("remove pod directory", "pod", ref.GetName(), "err", err)
			continue
		}
		if ok {
			removed++
			c.logger.Debug("removed directory of deleted pod", "pod", ref.GetName(), "uid", ref.GetUid())
		}
	}
	return removed, nil
}

// podsExist asks the servers, one after another until one answers, which
// of the pods they still hold.
func (s *servers) podsExist(ctx context.Context, pods []*api.PodRef) ([]bool, error) {
	var errs []error
	for i := range max(1, len(s.pool.addrs())) {
		client, addr, err := s.pool.client(i)
		if err != nil {
			return nil, err
		}
		callCtx, cancel := context.WithTimeout(ctx, rpcTimeout)
		resp, err := client.PodsExist(callCtx, &api.PodsExistRequest{Pods: pods})
		cancel()
		if err == nil {
			return resp.GetExists(), nil
		}
		errs = append(errs, fmt.Errorf("ask %s: %w", addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/metrics"
)

// maxBatchBytes bounds the commands gathered into one Raft log entry,
// leaving room for the batch's framing under fsm.MaxEntryBytes.
const maxBatchBytes = fsm.MaxEntryBytes - 64<<10

// maxInFlight bounds the log entries proposed but not yet committed; while
// they are out, new commands gather into the next entry.
const maxInFlight = 4

// proposer gathers the commands of concurrent callers into as few Raft log
// entries as possible, so throughput is not bounded by one fsync per
// object. Safe for concurrent use. close stops it and waits until its
// goroutines returned.
type proposer struct {
	raft    *raft.Raft
	logger  *slog.Logger
	metrics *metrics.Server
	queue   chan *proposal
	slots   chan struct{}
	done    chan struct{}
	once    sync.Once
	// wg counts the run goroutine and one goroutine per entry in flight.
	wg sync.WaitGroup
}

type proposal struct {
	cmds   []*api.Command
	size   int
	result chan proposalResult
}

type proposalResult struct {
	errs []error
	err  error
}

func newProposer(r *raft.Raft, logger *slog.Logger, m *metrics.Server) *proposer {
	p := &proposer{
		raft:    r,
		logger:  logger,
		metrics: m,
		queue:   make(chan *proposal, 1024),
		slots:   make(chan struct{}, maxInFlight),
		done:    make(chan struct{}),
	}
	p.wg.Go(p.run)
	return p
}

// Propose replicates commands and returns, once they are applied, one
// error per command (a refusal by the FSM), or an error for the whole call
// (not leader, timeout: the outcome may be unknown).
func (p *proposer) Propose(ctx context.Context, cmds ...*api.Command) ([]error, error) {
	if len(cmds) == 0 {
		return nil, nil
	}
	// List commands are cut to a bounded size, so no entry grows with a
	// Job's size; the callers' per-command errors are merged back below.
	parts, sizes, owners, err := splitForEntries(cmds)
	if err != nil {
		return nil, err
	}
	// Parts beyond one entry's worth go in later entries, each applied
	// before the next is proposed: the commands are independent, and each
	// is re-checked against the state when applied.
	var errs []error
	for start := 0; start < len(parts); {
		end, size := start, 0
		for end < len(parts) && (end == start || size+sizes[end] <= maxBatchBytes) {
			size += sizes[end]
			end++
		}
		chunkErrs, err := p.propose(ctx, parts[start:end], size)
		if err != nil {
			return nil, err
		}
		errs = append(errs, chunkErrs...)
		start = end
	}
	if len(parts) == len(cmds) {
		return errs, nil
	}
	merged := make([]error, len(cmds))
	for i, e := range errs {
		if e != nil && merged[owners[i]] == nil {
			merged[owners[i]] = e
		}
	}
	return merged, nil
}

// splitForEntries splits every command to fit a Raft entry and returns,
// for each part, its encoded size and the index of the command it came
// from.
func splitForEntries(cmds []*api.Command) (parts []*api.Command, sizes, owners []int, err error) {
	parts = make([]*api.Command, 0, len(cmds))
	for i, c := range cmds {
		split, err := fsm.SplitAll([]*api.Command{c})
		if err != nil {
			return nil, nil, nil, err
		}
		for _, part := range split {
			sizes = append(sizes, proto.Size(part))
			owners = append(owners, i)
		}
		parts = append(parts, split...)
	}
	return parts, sizes, owners, nil
}

// propose queues one entry's worth of commands, size bytes encoded, and
// waits for them to be applied.
func (p *proposer) propose(ctx context.Context, cmds []*api.Command, size int) ([]error, error) {
	pr := &proposal{cmds: cmds, size: size, result: make(chan proposalResult, 1)}
	select {
	case p.queue <- pr:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, ErrNotLeader
	}
	select {
	case r := <-pr.result:
		return r.errs, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("outcome unknown: %w", ctx.Err())
	case <-p.done:
		// The entry may have been committed just before the close.
		select {
		case r := <-pr.result:
			return r.errs, r.err
		default:
			return nil, fmt.Errorf("outcome unknown: proposer closed: %w", ErrNotLeader)
		}
	}
}

// close stops taking proposals and waits until the entries in flight
// were answered. Raft must be shut down first, or those answers wait for
// their commit.
func (p *proposer) close() {
	p.once.Do(func() { close(p.done) })
	p.wg.Wait()
}

func (p *proposer) run() {
	var pending *proposal
	for {
		var batch []*proposal
		size := 0
		if pending != nil {
			batch, size, pending = append(batch, pending), pending.size, nil
		} else {
			select {
			case pr := <-p.queue:
				batch, size = append(batch, pr), pr.size
			case <-p.done:
				return
			}
		}
		// Wait for a free slot; commands arriving meanwhile join the batch.
	gather:
		for {
			select {
			case pr := <-p.queue:
				if size+pr.size > maxBatchBytes {
					pending = pr
					break gather
				}
				batch, size = append(batch, pr), size+pr.size
			case p.slots <- struct{}{}:
				break gather
			case <-p.done:
				return
			}
		}
		if pending != nil {
			select {
			case p.slots <- struct{}{}:
			case <-p.done:
				return
			}
		}
		// Take whatever else is already queued.
	drain:
		for pending == nil {
			select {
			case pr := <-p.queue:
				if size+pr.size > maxBatchBytes {
					pending = pr
					break drain
				}
				batch, size = append(batch, pr), size+pr.size
			default:
				break drain
			}
		}
		p.apply(batch)
	}
}

func (p *proposer) apply(batch []*proposal) {
	var cmds []*api.Command
	for _, pr := range batch {
		cmds = append(cmds, pr.cmds...)
	}
	data, err := fsm.Encode(cmds...)
	if err != nil {
		<-p.slots
		for _, pr := range batch {
			pr.result <- proposalResult{err: err}
		}
		return
	}
	start := time.Now()
	f := p.raft.Apply(data, 10*time.Second)
	p.wg.Go(func() {
		defer func() { <-p.slots }()
		err := f.Error()
		if err == nil {
			p.metrics.Proposed(len(cmds), time.Since(start))
		}
		var res *fsm.Result
		if err == nil {
			res, _ = f.Response().(*fsm.Result)
		}
		i := 0
		for _, pr := range batch {
			r := proposalResult{err: err}
			if res != nil {
				r.errs = res.Errors[i : i+len(pr.cmds)]
			}
			i += len(pr.cmds)
			pr.result <- r
		}
	})
}

package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/transport"
)

// attemptTimeout bounds one call to one server.
const attemptTimeout = 2 * time.Second

// client talks gRPC to the servers: writes go to the server last seen
// leading (saving the follower's forwarding hop), then to the others.
// Safe for concurrent use.
type client struct {
	addrs []string
	conns map[string]*grpc.ClientConn

	mu     sync.Mutex
	leader string
}

func dialCluster(addrs []string, cfg transport.Config) (*client, error) {
	c := &client{addrs: addrs, conns: map[string]*grpc.ClientConn{}}
	for _, a := range addrs {
		cc, err := transport.Dial(a, cfg)
		if err != nil {
			c.close()
			return nil, err
		}
		c.conns[a] = cc
	}
	return c, nil
}

func (c *client) close() {
	for _, cc := range c.conns {
		cc.Close()
	}
}

func (c *client) at(addr string) api.ControlClient { return api.NewControlClient(c.conns[addr]) }

func (c *client) setLeader(addr string) {
	c.mu.Lock()
	c.leader = addr
	c.mu.Unlock()
}

// order lists the addresses with the last known leader first.
func (c *client) order() []string {
	c.mu.Lock()
	leader := c.leader
	c.mu.Unlock()
	out := make([]string, 0, len(c.addrs))
	if leader != "" {
		out = append(out, leader)
	}
	for _, a := range c.addrs {
		if a != leader {
			out = append(out, a)
		}
	}
	return out
}

// retryable reports errors after which another server may answer.
func retryable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.DeadlineExceeded, codes.FailedPrecondition, codes.Canceled, codes.Aborted, codes.Unknown:
		return true
	}
	return false
}

// call runs fn against the servers in order until one answers with
// something other than a retryable error.
func (c *client) call(ctx context.Context, fn func(ctx context.Context, cl api.ControlClient) error) error {
	var errs []error
	for _, addr := range c.order() {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		err := fn(actx, c.at(addr))
		cancel()
		if err == nil || !retryable(err) || ctx.Err() != nil {
			return err
		}
		errs = append(errs, fmt.Errorf("%s: %w", addr, err))
	}
	return errors.Join(errs...)
}

// submit creates objects in one Submit call; any refused object is an
// error. It does not retry a whole round: the caller measures. An object
// that already exists after a failed attempt counts as created: the
// attempt's outcome was unknown (a leader lost while committing it), and
// the benchmark's names are its own.
func (c *client) submit(ctx context.Context, objs []*api.Object) error {
	var resp *api.SubmitResponse
	failed := false
	err := c.call(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		resp, err = cl.Submit(ctx, &api.SubmitRequest{Objects: objs})
		failed = failed || err != nil
		return err
	})
	if err != nil {
		return fmt.Errorf("submit %d objects: %w", len(objs), err)
	}
	if failed {
		kept := resp.GetResults()[:0:0]
		for _, r := range resp.GetResults() {
			if r.GetCode() != codes.AlreadyExists.String() {
				kept = append(kept, r)
			}
		}
		resp = &api.SubmitResponse{Results: kept}
	}
	return refused(resp)
}

// apply creates or updates objects.
func (c *client) apply(ctx context.Context, objs []*api.Object) error {
	var resp *api.SubmitResponse
	err := c.call(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		resp, err = cl.Submit(ctx, &api.SubmitRequest{Objects: objs, Apply: true})
		return err
	})
	if err != nil {
		return fmt.Errorf("apply %d objects: %w", len(objs), err)
	}
	return refused(resp)
}

// refusal is an object of a Submit call that the servers refused.
type refusal struct {
	kind, name, msg, code string
}

func (r *refusal) Error() string { return fmt.Sprintf("%s %s: %s (%s)", r.kind, r.name, r.msg, r.code) }

func refused(resp *api.SubmitResponse) error {
	var errs []error
	for _, r := range resp.GetResults() {
		if r.GetError() != "" {
			errs = append(errs, &refusal{kind: r.GetKind(), name: r.GetName(), msg: r.GetError(), code: r.GetCode()})
		}
	}
	return errors.Join(errs...)
}

// alreadyExists reports a refusal because the object exists: a Submit
// retried after an attempt whose outcome was unknown had gone through.
func alreadyExists(err error) bool {
	var r *refusal
	return errors.As(err, &r) && r.code == codes.AlreadyExists.String()
}

// job reads one Job.
func (c *client) job(ctx context.Context, name string) (*api.Job, error) {
	var obj *api.Object
	err := c.call(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		obj, err = cl.Get(ctx, &api.GetRequest{Kind: "job", Name: name})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("get job %s: %w", name, err)
	}
	return obj.GetJob(), nil
}

// list lists objects of a kind matching a label selector.
func (c *client) list(ctx context.Context, kind, selector string) ([]*api.Object, error) {
	var resp *api.ListResponse
	err := c.call(ctx, func(ctx context.Context, cl api.ControlClient) error {
		var err error
		resp, err = cl.List(ctx, &api.ListRequest{Kind: kind, LabelSelector: selector})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list %s %q: %w", kind, selector, err)
	}
	return resp.GetItems(), nil
}

// delete deletes a Job or CronJob; a missing one is not an error.
func (c *client) delete(ctx context.Context, kind, name string) error {
	err := c.call(ctx, func(ctx context.Context, cl api.ControlClient) error {
		_, err := cl.Delete(ctx, &api.DeleteRequest{Kind: kind, Name: name})
		return err
	})
	if err != nil && status.Code(err) != codes.NotFound {
		return fmt.Errorf("delete %s %s: %w", kind, name, err)
	}
	return nil
}

// deleteAll deletes Jobs or CronJobs, several at a time.
func (c *client) deleteAll(ctx context.Context, kind string, names []string) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	work := make(chan string)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				if err := c.delete(ctx, kind, name); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// member asks one server for its own member entry.
func (c *client) member(ctx context.Context, addr string) (*api.Member, error) {
	// A server just restarted must be reached at once, not after the
	// back-off gRPC keeps while it was down.
	c.conns[addr].ResetConnectBackoff()
	actx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := c.at(addr).Members(actx, &api.MembersRequest{Local: true})
	if err != nil {
		return nil, fmt.Errorf("members at %s: %w", addr, err)
	}
	if len(resp.GetItems()) != 1 {
		return nil, fmt.Errorf("members at %s: %d local entries", addr, len(resp.GetItems()))
	}
	return resp.GetItems()[0], nil
}

// members lists the members one server's gossip sees.
func (c *client) members(ctx context.Context, addr string) ([]*api.Member, error) {
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	resp, err := c.at(addr).Members(actx, &api.MembersRequest{})
	if err != nil {
		return nil, fmt.Errorf("members at %s: %w", addr, err)
	}
	return resp.GetItems(), nil
}

// aliveMembers counts the members one server's gossip sees alive.
func (c *client) aliveMembers(ctx context.Context, addr string) (int, error) {
	members, err := c.members(ctx, addr)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range members {
		if m.GetStatus() == gossip.StatusAlive {
			n++
		}
	}
	return n, nil
}

// allSeeFailed reports whether the gossip of every one of servers sees
// the member name failed; a server that does not answer counts as not.
func (c *client) allSeeFailed(ctx context.Context, servers []*node, name string) bool {
	for _, n := range servers {
		members, err := c.members(ctx, n.rpcAddr)
		if err != nil {
			return false
		}
		failed := false
		for _, m := range members {
			if m.GetName() == name {
				failed = m.GetStatus() == gossip.StatusFailed
			}
		}
		if !failed {
			return false
		}
	}
	return true
}

// waitNodeReady waits until the node's Ready condition is True.
func (c *client) waitNodeReady(ctx context.Context, name string) error {
	return poll(ctx, 50*time.Millisecond, "node "+name+" Ready", func() (bool, string) {
		var obj *api.Object
		err := c.call(ctx, func(ctx context.Context, cl api.ControlClient) error {
			var err error
			obj, err = cl.Get(ctx, &api.GetRequest{Kind: "node", Name: name})
			return err
		})
		if err != nil {
			return false, err.Error()
		}
		for _, cond := range obj.GetNode().GetStatus().GetConditions() {
			if cond.GetType() == "Ready" {
				return cond.GetStatus() == "True", cond.GetStatus() + " " + cond.GetMessage()
			}
		}
		return false, "no Ready condition"
	})
}

// describeJob summarises a Job and its pods for an error message.
func (c *client) describeJob(ctx context.Context, name string) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	j, err := c.job(ctx, name)
	if err != nil {
		return err.Error()
	}
	st := j.GetStatus()
	out := fmt.Sprintf("job %s: active=%d succeeded=%d failed=%d", name, st.GetActive(), st.GetSucceeded(), st.GetFailed())
	pods, err := c.list(ctx, "pod", api.LabelJobName+"="+name)
	if err != nil {
		return out + "; " + err.Error()
	}
	for _, o := range pods {
		p := o.GetPod()
		out += fmt.Sprintf("; pod %s on %q: %s %s", p.GetMetadata().GetName(), p.GetSpec().GetNodeName(), p.GetStatus().GetPhase(), p.GetStatus().GetReason())
	}
	return out
}

// jobFinished returns the Job's Complete or Failed condition, or nil.
func jobFinished(j *api.Job) *api.JobCondition {
	for _, c := range j.GetStatus().GetConditions() {
		if (c.GetType() == "Complete" || c.GetType() == "Failed") && c.GetStatus() == "True" {
			return c
		}
	}
	return nil
}

// waitJobsComplete polls the Jobs matching selector until want of them
// have finished, and returns the latest finishing time. A Failed Job is
// an error: the benchmark's Jobs cannot fail on a healthy cluster. A pass
// with no progress for stall is an error too.
func (c *client) waitJobsComplete(ctx context.Context, selector string, want int, stall time.Duration, progress func(done int)) (time.Time, error) {
	var last time.Time
	lastDone, lastChange := -1, time.Now()
	for {
		items, err := c.list(ctx, "job", selector)
		if err != nil {
			return last, err
		}
		done := 0
		for _, o := range items {
			j := o.GetJob()
			cond := jobFinished(j)
			if cond == nil {
				continue
			}
			if cond.GetType() == "Failed" {
				return last, fmt.Errorf("job %s failed: %s: %s", j.GetMetadata().GetName(), cond.GetReason(), cond.GetMessage())
			}
			done++
			if t := cond.GetLastTransitionTime().AsTime(); t.After(last) {
				last = t
			}
		}
		if done >= want {
			return last, nil
		}
		if done != lastDone {
			lastDone, lastChange = done, time.Now()
			if progress != nil {
				progress(done)
			}
		} else if time.Since(lastChange) > stall {
			return last, fmt.Errorf("jobs %q: %d of %d finished, no progress for %s", selector, done, want, stall)
		}
		select {
		case <-ctx.Done():
			return last, ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

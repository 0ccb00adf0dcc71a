package cluster

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/gossip"
)

// forwardedKey marks a request a follower forwarded to the leader, so it is
// forwarded at most once.
const forwardedKey = "x-jobcluster-forwarded"

// controlService implements api.ControlServer.
type controlService struct {
	api.UnimplementedControlServer
	s *Server
}

// badKind refuses a kind the cluster does not serve.
func badKind(kind string) error {
	names := make([]string, 0, len(api.Resources()))
	for _, r := range api.Resources() {
		names = append(names, r.Plural)
	}
	last := len(names) - 1
	return status.Errorf(codes.InvalidArgument, "the server doesn't have a resource type %q: use %s or %s",
		kind, strings.Join(names[:last], ", "), names[last])
}

// toLeader runs call on the leader: here when this server leads, else
// forwarded once to the leader's RPC address.
func toLeader[T any](ctx context.Context, s *Server, local func() (T, error), remote func(api.ControlClient, context.Context) (T, error)) (T, error) {
	v, _, err := toLeaderIndex(ctx, s, local, remote)
	return v, err
}

// toLeaderReadable is toLeader for a client's write: when this server
// forwarded it, it answers only once it has applied the write itself (for
// at most readWait), so that the client's next read here sees it, as
// kubectl apply then get expects.
func toLeaderReadable[T any](ctx context.Context, s *Server, local func() (T, error), remote func(api.ControlClient, context.Context) (T, error)) (T, error) {
	v, index, err := toLeaderIndex(ctx, s, local, remote)
	if err == nil && index > 0 {
		s.awaitApplied(ctx, index, readWait)
	}
	return v, err
}

// appliedHeader carries, in the leader's answer to a forwarded call, the
// index its state machine had applied when it answered.
const appliedHeader = "x-jobcluster-applied"

// appliedKey holds, in a forwarded call's context, where the conn stores
// the leader's appliedHeader.
type appliedKey struct{}

// toLeaderIndex is toLeader that also returns, for a forwarded call, the
// index the leader had applied when it answered (0 when run here).
func toLeaderIndex[T any](ctx context.Context, s *Server, local func() (T, error), remote func(api.ControlClient, context.Context) (T, error)) (T, uint64, error) {
	var zero T
	if s.IsLeader() {
		v, err := local()
		if err == nil && forwarded(ctx) {
			// Not a gRPC call's context when called in-process: then
			// there is no one to tell.
			_ = grpc.SetHeader(ctx, metadata.Pairs(appliedHeader, strconv.FormatUint(s.fsm.AppliedIndex(), 10)))
		}
		return v, 0, toStatus(err)
	}
	if forwarded(ctx) {
		return zero, 0, toStatus(ErrNotLeader)
	}
	addr := s.leaderRPCAddr()
	if addr == "" {
		return zero, 0, toStatus(s.noLeader())
	}
	c, err := s.peers.control(addr)
	if err != nil {
		return zero, 0, toStatus(err)
	}
	var index uint64
	fctx := context.WithValue(metadata.AppendToOutgoingContext(ctx, forwardedKey, s.cfg.Name), appliedKey{}, &index)
	v, err := remote(c, fctx)
	if st := status.Convert(err); err != nil && st.Code() == codes.Unavailable && !strings.Contains(st.Message(), "leader") {
		// The leader this server knows did not answer: it may have just
		// died. Said as a transport error, it would read as this server
		// being down, and clients would not wait for the next leader.
		return zero, 0, status.Errorf(codes.Unavailable, "leader at %s unreachable (%s): outcome unknown; the cluster may be electing a leader, retry in a moment", addr, st.Message())
	}
	return v, index, err
}

// awaitApplied waits, for at most limit, until this server's state
// machine has applied index.
func (s *Server) awaitApplied(ctx context.Context, index uint64, limit time.Duration) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	for {
		changed := s.fsm.Changed()
		if s.fsm.AppliedIndex() >= index {
			return
		}
		select {
		case <-changed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// appliedConn records the leader's appliedHeader of a forwarded call in
// the index its context holds under appliedKey.
type appliedConn struct{ grpc.ClientConnInterface }

func (c appliedConn) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	index, ok := ctx.Value(appliedKey{}).(*uint64)
	if !ok {
		return c.ClientConnInterface.Invoke(ctx, method, args, reply, opts...)
	}
	var md metadata.MD
	err := c.ClientConnInterface.Invoke(ctx, method, args, reply, append(opts, grpc.Header(&md))...)
	if v := md.Get(appliedHeader); len(v) == 1 {
		*index, _ = strconv.ParseUint(v[0], 10, 64)
	}
	return err
}

func (c *controlService) Get(ctx context.Context, req *api.GetRequest) (*api.Object, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	st := c.s.fsm.State()
	r, _ := api.LookupResource(req.GetKind())
	ns := api.NamespaceOr(req.GetNamespace())
	var obj *api.Object
	switch r {
	case api.JobResource:
		if j := st.Job(ns, req.GetName()); j != nil {
			obj = &api.Object{Kind: &api.Object_Job{Job: j}}
		}
	case api.CronJobResource:
		if cj := st.CronJob(ns, req.GetName()); cj != nil {
			obj = &api.Object{Kind: &api.Object_CronJob{CronJob: cj}}
		}
	case api.PodResource:
		// Pod names are unique across namespaces; one of another
		// namespace is not found, as in Kubernetes.
		if p := st.Pod(req.GetName()); p != nil && api.NamespaceOf(p.GetMetadata()) == ns {
			obj = &api.Object{Kind: &api.Object_Pod{Pod: p}}
		}
	case api.NodeResource:
		if n := st.Node(req.GetName()); n != nil {
			obj = &api.Object{Kind: &api.Object_Node{Node: n}}
		}
	case api.ConfigMapResource:
		if cm := st.ConfigMap(ns, req.GetName()); cm != nil {
			obj = &api.Object{Kind: &api.Object_ConfigMap{ConfigMap: cm}}
		}
	case api.SecretResource:
		if sec := st.Secret(ns, req.GetName()); sec != nil {
			obj = &api.Object{Kind: &api.Object_Secret{Secret: sec}}
		}
	default:
		return nil, badKind(req.GetKind())
	}
	if obj == nil {
		return nil, notFound(r, req.GetName())
	}
	return obj, nil
}

func (c *controlService) List(ctx context.Context, req *api.ListRequest) (*api.ListResponse, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	r, ok := api.LookupResource(req.GetKind())
	if !ok {
		return nil, badKind(req.GetKind())
	}
	sel, err := parseSelector(req.GetLabelSelector())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	fields, err := parseFieldSelector(r, req.GetFieldSelector())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	// An empty namespace lists every namespace; cluster-wide kinds have
	// none.
	ns := req.GetNamespace()
	if !r.Namespaced {
		ns = ""
	}
	page, err := newListPage(req.GetLimit(), req.GetContinue())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if r == api.EventResource {
		// Events are few (the store keeps a bounded number) and listed by
		// time, not by key: always whole.
		page = &listPage{}
	}
	st := c.s.fsm.State()
	// offer passes an item the namespace and field selector keep to the
	// page, in the order of its key; false stops the list.
	offer := func(key string, meta *api.ObjectMeta, o *api.Object) bool {
		if ns != "" && api.NamespaceOf(meta) != ns || !fields.matches(o) {
			return true
		}
		return page.add(key, o)
	}
	// labeled is offer for lists the store does not filter by label.
	labeled := func(key string, meta *api.ObjectMeta, o *api.Object) bool {
		return !sel.matches(meta.GetLabels()) || offer(key, meta, o)
	}
	switch r {
	case api.JobResource:
		// A namespace's Jobs are one run of keys; the store reads a
		// finished Job's labels without decoding it.
		after, prefix := page.after, ""
		if ns != "" {
			prefix = api.Key(ns, "")
			after = max(after, prefix)
		}
		for j := range st.EachJob(after, sel.keep()) {
			key := api.KeyOf(j.GetMetadata())
			if !strings.HasPrefix(key, prefix) || !offer(key, j.GetMetadata(), &api.Object{Kind: &api.Object_Job{Job: j}}) {
				break
			}
		}
	case api.CronJobResource:
		for _, cj := range st.CronJobs() {
			if !labeled(api.KeyOf(cj.GetMetadata()), cj.GetMetadata(), &api.Object{Kind: &api.Object_CronJob{CronJob: cj}}) {
				break
			}
		}
	case api.PodResource:
		if job := jobFromSelector(sel); job != "" && ns != "" {
			for p := range st.EachPodOfJob(ns, job, page.after) {
				if !labeled(p.GetMetadata().GetName(), p.GetMetadata(), &api.Object{Kind: &api.Object_Pod{Pod: p}}) {
					break
				}
			}
			break
		}
		if node, ok := fields.liveOnly(); ok {
			// kubectl describe node asks for a node's unfinished pods:
			// read only those, not every finished pod kept.
			for _, p := range st.LivePods(node) {
				if !labeled(p.GetMetadata().GetName(), p.GetMetadata(), &api.Object{Kind: &api.Object_Pod{Pod: p}}) {
					break
				}
			}
			break
		}
		for p := range st.EachPod(page.after, sel.keep()) {
			if !offer(p.GetMetadata().GetName(), p.GetMetadata(), &api.Object{Kind: &api.Object_Pod{Pod: p}}) {
				break
			}
		}
	case api.NodeResource:
		for _, n := range st.Nodes() {
			if !labeled(n.GetMetadata().GetName(), n.GetMetadata(), &api.Object{Kind: &api.Object_Node{Node: n}}) {
				break
			}
		}
	case api.ConfigMapResource:
		for _, cm := range st.ConfigMaps() {
			if !labeled(api.KeyOf(cm.GetMetadata()), cm.GetMetadata(), &api.Object{Kind: &api.Object_ConfigMap{ConfigMap: cm}}) {
				break
			}
		}
	case api.SecretResource:
		for _, sec := range st.Secrets() {
			if !labeled(api.KeyOf(sec.GetMetadata()), sec.GetMetadata(), &api.Object{Kind: &api.Object_Secret{Secret: sec}}) {
				break
			}
		}
	case api.EventResource:
		evs := st.AllEvents()
		if req.GetInvolvedName() != "" {
			var involvedKind string
			if involved, ok := api.LookupResource(req.GetInvolvedKind()); ok {
				involvedKind = involved.Kind
			}
			evs = st.Events(involvedKind, req.GetNamespace(), req.GetInvolvedName())
		}
		for _, e := range evs {
			labeled(e.GetMetadata().GetName(), e.GetMetadata(), &api.Object{Kind: &api.Object_Event{Event: e}})
		}
	default:
		return nil, badKind(req.GetKind())
	}
	return &api.ListResponse{Items: page.items, Index: st.Index(), Continue: page.token()}, nil
}

// JobCounts answers from the counts the FSM keeps as it applies the log:
// no Job is read.
func (c *controlService) JobCounts(ctx context.Context, _ *api.JobCountsRequest) (*api.JobCountsResponse, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	index, counts := c.s.fsm.IndexedCounts()
	out := &api.JobCountsResponse{States: map[string]int64{}, Index: index}
	for st, n := range counts.JobStates {
		if n > 0 {
			out.States[api.JobState(st).String()] = int64(n)
		}
	}
	return out, nil
}

// JobPage orders the summaries the FSM keeps of every Job and decodes
// only the page's: at 100,000 Jobs a page costs a walk of small structs
// and a sort, not decoding and sending every Job.
func (c *controlService) JobPage(ctx context.Context, req *api.JobPageRequest) (*api.JobPageResponse, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	sel, err := parseSelector(req.GetLabelSelector())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	q := req.Query()
	if err := q.Check(); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	st := c.s.fsm.State()
	p := api.PageJobs(st.JobSummaries(sel.keep()), q, c.s.clock.Now())
	out := &api.JobPageResponse{Page: p.Page, Pages: p.Pages, Total: p.Total, All: p.All, Namespaces: p.Namespaces, Index: st.Index()}
	for _, s := range p.Rows {
		// The summaries and the Jobs are read from the same state.
		out.Jobs = append(out.Jobs, st.Job(s.Namespace, s.Name))
	}
	return out, nil
}

// jobFromSelector spots the common "job-name=x" selector, which the pod
// index answers without a scan.
func jobFromSelector(sel selector) string {
	for _, r := range sel {
		if r.op == "=" && (r.key == api.LabelJobName || r.key == api.LabelBatchJobName) {
			return r.value
		}
	}
	return ""
}

func (c *controlService) Members(ctx context.Context, req *api.MembersRequest) (*api.MembersResponse, error) {
	s := c.s
	if req.GetLocal() {
		return &api.MembersResponse{Items: []*api.Member{s.selfMember()}}, nil
	}
	var (
		mu    sync.Mutex
		wg    sync.WaitGroup
		items []*api.Member
	)
	for _, m := range s.gossip.Members() {
		item := &api.Member{Name: m.Name, Role: m.Meta.GetRole(), Address: m.Addr, Status: m.Status, Version: m.Meta.GetVersion()}
		switch {
		case m.Name == s.cfg.Name:
			item = s.selfMember()
		case m.Meta.GetRole() == gossip.RoleServer && m.Status == gossip.StatusAlive:
			wg.Add(1)
			go func() {
				defer wg.Done()
				cctx, cancel := context.WithTimeout(ctx, time.Second)
				defer cancel()
				cl, err := s.peers.control(m.Meta.GetRpcAddr())
				if err != nil {
					return
				}
				resp, err := cl.Members(cctx, &api.MembersRequest{Local: true})
				if err != nil || len(resp.GetItems()) != 1 {
					return
				}
				mu.Lock()
				item.RaftState = resp.Items[0].GetRaftState()
				item.Leader = resp.Items[0].GetLeader()
				item.AppliedIndex = resp.Items[0].GetAppliedIndex()
				item.CommitIndex = resp.Items[0].GetCommitIndex()
				mu.Unlock()
			}()
		}
		items = append(items, item)
	}
	wg.Wait()
	sort.Slice(items, func(i, j int) bool {
		if items[i].Role != items[j].Role {
			return items[i].Role > items[j].Role // servers first
		}
		return items[i].Name < items[j].Name
	})
	return &api.MembersResponse{Items: items}, nil
}

func (s *Server) selfMember() *api.Member {
	state := s.raft.State()
	rs := map[raft.RaftState]string{raft.Leader: "Leader", raft.Follower: "Follower", raft.Candidate: "Candidate"}[state]
	if rs == "" {
		rs = state.String()
	}
	return &api.Member{
		Name:         s.cfg.Name,
		Role:         gossip.RoleServer,
		Address:      s.cfg.GossipAddr,
		Status:       gossip.StatusAlive,
		RaftState:    rs,
		Leader:       state == raft.Leader,
		AppliedIndex: s.fsm.AppliedIndex(),
		CommitIndex:  s.commitIndex(),
		Version:      api.Version(),
	}
}

// clone copies an object read from the state before changing it.
func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }

package ui

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"

	"github.com/jobcluster/jobcluster/api"
)

// jobsPerPage is how many Jobs one page of the Jobs list shows.
const jobsPerPage = 100

// recentEvents is how many events the overview shows.
const recentEvents = 15

func (s *server) list(ctx context.Context, req *api.ListRequest) ([]*api.Object, error) {
	resp, err := s.client.List(ctx, req)
	if err != nil {
		return nil, err
	}
	return resp.GetItems(), nil
}

// events lists the events about one object.
func (s *server) events(ctx context.Context, r *api.Resource, namespace, name string) ([]eventRow, error) {
	objs, err := s.list(ctx, &api.ListRequest{Kind: api.EventResource.Singular, InvolvedKind: r.Kind, InvolvedName: name, Namespace: api.NamespaceOr(namespace)})
	if err != nil {
		return nil, err
	}
	return eventRows(objs), nil
}

func pods(objs []*api.Object) []*api.Pod {
	out := make([]*api.Pod, 0, len(objs))
	for _, o := range objs {
		if p := o.GetPod(); p != nil {
			out = append(out, p)
		}
	}
	return out
}

// overview is the cluster at a glance.
type overview struct {
	Servers []*api.Member
	Agents  []nodeRow
	// States counts Jobs by state, in jobStates order.
	States []stateCount
	Jobs   int
	Events []eventRow
}

type stateCount struct {
	State string
	Count int
}

func overviewView(ctx context.Context, s *server, q url.Values, _ []string) (any, error) {
	members, err := s.client.Members(ctx, &api.MembersRequest{})
	if err != nil {
		return nil, err
	}
	var o overview
	for _, m := range members.GetItems() {
		if m.GetRole() == "server" {
			o.Servers = append(o.Servers, m)
		}
	}
	slices.SortFunc(o.Servers, byString(func(m *api.Member) string { return m.GetName() }))
	if o.Agents, err = s.nodeRows(ctx, q.Get("agents-sort")); err != nil {
		return nil, err
	}
	// The servers keep these counts: no Job is listed to count them.
	counts, err := s.client.JobCounts(ctx, &api.JobCountsRequest{})
	if err != nil {
		return nil, err
	}
	for _, n := range counts.GetStates() {
		o.Jobs += int(n)
	}
	for _, st := range jobStates {
		o.States = append(o.States, stateCount{st, int(counts.GetStates()[st])})
	}
	evs, err := s.list(ctx, &api.ListRequest{Kind: api.EventResource.Singular})
	if err != nil {
		return nil, err
	}
	o.Events = eventRows(evs)
	sortRows(o.Events, "-last", "", eventColumns)
	o.Events = o.Events[:min(len(o.Events), recentEvents)]
	sortRows(o.Events, q.Get("events-sort"), "-last", eventColumns)
	return o, nil
}

// nodeRows lists the nodes with the pods bound to them, ordered by spec.
func (s *server) nodeRows(ctx context.Context, spec string) ([]nodeRow, error) {
	nodes, err := s.list(ctx, &api.ListRequest{Kind: api.NodeResource.Singular})
	if err != nil {
		return nil, err
	}
	// Only unfinished pods count against a node: the servers read them
	// from an index, not every finished pod they keep.
	podObjs, err := s.list(ctx, &api.ListRequest{Kind: api.PodResource.Singular, FieldSelector: "status.phase!=Succeeded,status.phase!=Failed"})
	if err != nil {
		return nil, err
	}
	ps := pods(podObjs)
	rows := make([]nodeRow, 0, len(nodes))
	for _, obj := range nodes {
		if n := obj.GetNode(); n != nil {
			rows = append(rows, newNodeRow(n, ps))
		}
	}
	sortRows(rows, spec, "name", nodeColumns)
	return rows, nil
}

// jobList is one page of the Jobs list.
type jobList struct {
	Rows       []jobRow
	States     []string
	State      string
	Label      string
	Namespaces []string
	// Namespace is the one shown, empty for all.
	Namespace string
	Total     int // Jobs matching the filter
	All       int // Jobs matching the label selector, any state
	Page      int
	Pages     int
	First     int
	Last      int
	PrevPage  string
	NextPage  string
}

func jobsView(ctx context.Context, s *server, q url.Values, _ []string) (any, error) {
	l := jobList{States: jobStates, State: q.Get("state"), Label: q.Get("label"), Namespace: q.Get("namespace")}
	page, _ := strconv.ParseInt(q.Get("page"), 10, 64)
	page = max(page, 1) // a page before the first, or none, is the first
	req := &api.JobPageRequest{LabelSelector: l.Label, Namespace: l.Namespace, State: l.State, Page: page, PageSize: jobsPerPage}
	if sort := q.Get("sort"); api.JobOrderKnown(sort) {
		req.Sort = sort // else the default, as every other table does
	}
	resp, err := s.client.JobPage(ctx, req)
	if err != nil {
		return l, err
	}
	now := s.now()
	for _, j := range resp.GetJobs() {
		l.Rows = append(l.Rows, newJobRow(j, now))
	}
	l.Namespaces = resp.GetNamespaces()
	l.All, l.Total = int(resp.GetAll()), int(resp.GetTotal())
	l.Page, l.Pages = int(resp.GetPage()), int(resp.GetPages())
	l.First = (l.Page-1)*jobsPerPage + 1
	l.Last = l.First + len(l.Rows) - 1
	if l.Page > 1 {
		l.PrevPage = strconv.Itoa(l.Page - 1)
	}
	if l.Page < l.Pages {
		l.NextPage = strconv.Itoa(l.Page + 1)
	}
	return l, nil
}

// jobDetail is one Job with its pods, conditions and events.
type jobDetail struct {
	Job        jobRow
	Spec       *api.JobSpec
	Pods       []podRow
	Conditions []conditionRow
	Events     []eventRow
	// LogPod is the pod whose log the page shows, empty for none.
	LogPod string
}

func jobView(ctx context.Context, s *server, q url.Values, args []string) (any, error) {
	name, ns := args[0], api.NamespaceOr(q.Get("namespace"))
	obj, err := s.client.Get(ctx, &api.GetRequest{Kind: api.JobResource.Singular, Name: name, Namespace: ns})
	if err != nil {
		return nil, err
	}
	j := obj.GetJob()
	if j == nil {
		return nil, fmt.Errorf("%s %q: the server answered with a %s", api.JobResource.GroupResource(), name, api.KindOf(obj))
	}
	d := jobDetail{Job: newJobRow(j, s.now()), Spec: j.GetSpec(), LogPod: q.Get("pod")}
	podObjs, err := s.list(ctx, &api.ListRequest{Kind: api.PodResource.Singular, LabelSelector: api.LabelJobName + "=" + name, Namespace: ns})
	if err != nil {
		return nil, err
	}
	for _, p := range pods(podObjs) {
		d.Pods = append(d.Pods, newPodRow(p))
	}
	sortRows(d.Pods, q.Get("pods-sort"), "started", podColumns)
	for _, c := range j.GetStatus().GetConditions() {
		d.Conditions = append(d.Conditions, conditionRow{Type: c.GetType(), Status: c.GetStatus(), Reason: c.GetReason(), Message: c.GetMessage(), Changed: asTime(c.GetLastTransitionTime())})
	}
	sortRows(d.Conditions, q.Get("conditions-sort"), "changed", conditionColumns)
	if d.Events, err = s.events(ctx, api.JobResource, ns, name); err != nil {
		return nil, err
	}
	sortRows(d.Events, q.Get("events-sort"), "last", eventColumns)
	return d, nil
}

// nodesView lists every node with its labels, capacity and pods.
func nodesView(ctx context.Context, s *server, q url.Values, _ []string) (any, error) {
	return s.nodeRows(ctx, q.Get("sort"))
}

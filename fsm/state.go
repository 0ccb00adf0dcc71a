package fsm

import (
	"context"
	"iter"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/go-memdb"

	"github.com/jobcluster/jobcluster/api"
)

// State is a read-only, point-in-time view of the FSM. Objects it returns
// are shared with the store: callers must not modify them (proto.Clone
// first).
type State struct {
	txn         *memdb.Txn
	index       uint64
	podsRemoved uint64
	restored    chan struct{}
}

// Index is the log index this view reflects.
func (s *State) Index() uint64 { return s.index }

// PodsRemovedIndex is the log index of the last entry that removed a pod
// from this view, or a later index no greater than Index. It moves on
// with every removal, so a pod this view holds is still held by any later
// view, of any server, whose PodsRemovedIndex is the same. It is 0 only
// before the first entry. A pod is never replaced by another of the same
// name but a new uid without being removed: creating a pod skips a name
// in use.
func (s *State) PodsRemovedIndex() uint64 { return s.podsRemoved }

// Restored is closed when a snapshot restore replaced the state this view
// came from; watchers must take a new view.
func (s *State) Restored() <-chan struct{} { return s.restored }

// Job returns the named Job of a namespace ("" is "default") or nil.
func (s *State) Job(namespace, name string) *api.Job {
	return first[*api.Job](s.txn, tableJobs, "id", api.Key(namespace, name))
}

// CronJob returns the named CronJob of a namespace or nil.
func (s *State) CronJob(namespace, name string) *api.CronJob {
	return first[*api.CronJob](s.txn, tableCronJobs, "id", api.Key(namespace, name))
}

// Pod returns the named pod or nil.
func (s *State) Pod(name string) *api.Pod {
	return first[*api.Pod](s.txn, tablePods, "id", name)
}

// PodIdentity tells whether the named pod is held and, if it is, its UID
// and the node it is bound to ("" while unbound). A finished pod is
// stored compressed; this reads its UID and node without decoding the
// rest of it, which is what PodsExist needs for every finished pod an
// agent keeps the log of.
func (s *State) PodIdentity(name string) (uid, node string, ok bool) {
	o, err := s.txn.First(tablePods, "id", name)
	if err != nil {
		panic(err)
	}
	switch p := o.(type) {
	case nil:
		return "", "", false
	case *frozen:
		uid, node = frozenIdentity(p)
		return uid, node, true
	default:
		pod := p.(*api.Pod)
		return pod.GetMetadata().GetUid(), pod.GetSpec().GetNodeName(), true
	}
}

// Node returns the named node or nil.
func (s *State) Node(name string) *api.Node {
	return first[*api.Node](s.txn, tableNodes, "id", name)
}

// Jobs lists every Job by namespace and name.
func (s *State) Jobs() []*api.Job { return all[*api.Job](s.txn, tableJobs, "id") }

// EachJob yields the Jobs, in the order of their keys (api.KeyOf), whose
// keys sort after after (every key when after is empty) and whose labels
// keep accepts (every Job when keep is nil). Unlike Jobs it holds one Job
// at a time, and finished Jobs, stored compressed, are decoded only when
// keep accepts them: picking a few Jobs by label out of 100,000 finished
// ones stays cheap, and so does a page of them.
func (s *State) EachJob(after string, keep func(LabelLookup) bool) iter.Seq[*api.Job] {
	return eachKept[*api.Job](s.txn, tableJobs, after, keep)
}

// JobSummaries lists the summary of each Job whose labels keep accepts
// (nil keeps all), in namespace and name order. A finished Job's is kept
// beside it, so listing them decodes none; callers must not change them.
func (s *State) JobSummaries(keep func(LabelLookup) bool) []*api.JobSummary {
	var out []*api.JobSummary
	for o := range eachStored[*api.Job](s.txn, tableJobs, "", keep) {
		if f, ok := o.(*frozen); ok {
			out = append(out, f.jobSummary())
			continue
		}
		sum := api.SummarizeJob(o.(*api.Job))
		out = append(out, &sum)
	}
	return out
}

// EachPod yields the pods, by name, whose names sort after after and
// whose labels keep accepts, one at a time. A finished pod's labels take
// decoding its metadata: PodsOfJob is the cheap way to a Job's pods.
func (s *State) EachPod(after string, keep func(LabelLookup) bool) iter.Seq[*api.Pod] {
	return eachKept[*api.Pod](s.txn, tablePods, after, keep)
}

// CronJobs lists every CronJob by namespace and name.
func (s *State) CronJobs() []*api.CronJob { return all[*api.CronJob](s.txn, tableCronJobs, "id") }

// Pods lists every pod by name.
func (s *State) Pods() []*api.Pod { return all[*api.Pod](s.txn, tablePods, "id") }

// ConfigMap returns the named ConfigMap of a namespace or nil.
func (s *State) ConfigMap(namespace, name string) *api.ConfigMap {
	return first[*api.ConfigMap](s.txn, tableConfigMaps, "id", api.Key(namespace, name))
}

// Secret returns the named Secret of a namespace or nil.
func (s *State) Secret(namespace, name string) *api.Secret {
	return first[*api.Secret](s.txn, tableSecrets, "id", api.Key(namespace, name))
}

// ConfigMaps lists every ConfigMap by namespace and name.
func (s *State) ConfigMaps() []*api.ConfigMap {
	return all[*api.ConfigMap](s.txn, tableConfigMaps, "id")
}

// Secrets lists every Secret by namespace and name.
func (s *State) Secrets() []*api.Secret { return all[*api.Secret](s.txn, tableSecrets, "id") }

// ConfigOfPods returns the ConfigMaps and Secrets the pods' containers
// refer to (env valueFrom and envFrom), from each pod's namespace, and a
// channel closed when any of them, referred to or still missing, is
// created, changed or deleted, or when ctx ends.
func (s *State) ConfigOfPods(ctx context.Context, pods []*api.Pod) ([]*api.ConfigMap, []*api.Secret, <-chan struct{}) {
	ws := memdb.NewWatchSet()
	seen := map[string]bool{}
	var cms []*api.ConfigMap
	var secrets []*api.Secret
	watch := func(table, ns, name string) any {
		key := table + "\x00" + api.Key(ns, name)
		if seen[key] {
			return nil
		}
		seen[key] = true
		ch, obj, err := s.txn.FirstWatch(table, "id", api.Key(ns, name))
		if err != nil {
			panic(err)
		}
		ws.Add(ch)
		return obj
	}
	for _, p := range pods {
		ns := p.GetMetadata().GetNamespace()
		for _, ref := range api.ConfigRefs(p) {
			switch ref.Kind {
			case api.ConfigMapResource.Kind:
				if o := watch(tableConfigMaps, ns, ref.Name); o != nil {
					cms = append(cms, o.(*api.ConfigMap))
				}
			case api.SecretResource.Kind:
				if o := watch(tableSecrets, ns, ref.Name); o != nil {
					secrets = append(secrets, o.(*api.Secret))
				}
			}
		}
	}
	changed := make(chan struct{})
	if len(seen) == 0 {
		return nil, nil, changed // never closed: nothing to watch
	}
	go func() {
		_ = ws.WatchCtx(ctx)
		close(changed)
	}()
	return cms, secrets, changed
}

// Nodes lists every node by name.
func (s *State) Nodes() []*api.Node { return all[*api.Node](s.txn, tableNodes, "id") }

// LiveJobs lists the Jobs that are unfinished or wait for their TTL.
func (s *State) LiveJobs() []*api.Job { return all[*api.Job](s.txn, tableJobs, "live", "1") }

// UnboundPods lists unfinished pods that have no node yet.
func (s *State) UnboundPods() []*api.Pod { return all[*api.Pod](s.txn, tablePods, "unbound", "1") }

// PodsOfJob lists the pods of one Job by name.
func (s *State) PodsOfJob(namespace, job string) []*api.Pod {
	return podsOfJob(s.txn, api.Key(namespace, job))
}

// EachPodOfJob yields the pods of one Job, by name, whose names sort
// after after (every one when after is empty), decoding only those.
func (s *State) EachPodOfJob(namespace, job, after string) iter.Seq[*api.Pod] {
	return func(yield func(*api.Pod) bool) {
		for _, o := range storedPodsOfJob(s.txn, api.Key(namespace, job)) {
			if after != "" && storedName(o) <= after {
				continue
			}
			if !yield(thaw[*api.Pod](o)) {
				return
			}
		}
	}
}

// podsOfJob lists the pods of the Job keyed job by name, decoded.
func podsOfJob(txn *memdb.Txn, job string) []*api.Pod {
	stored := storedPodsOfJob(txn, job)
	out := make([]*api.Pod, len(stored))
	for i, o := range stored {
		out[i] = thaw[*api.Pod](o)
	}
	return out
}

// storedPodsOfJob lists the pods of the Job keyed job by name, as stored:
// the two indexes that hold them, merged.
func storedPodsOfJob(txn *memdb.Txn, job string) []any {
	whole, cold := storedIn(txn, "whole", job), storedIn(txn, "frozenjob", job)
	if len(whole) == 0 || len(cold) == 0 {
		return append(whole, cold...)
	}
	out := make([]any, 0, len(whole)+len(cold))
	for len(whole) > 0 && len(cold) > 0 {
		if storedName(whole[0]) < storedName(cold[0]) {
			out, whole = append(out, whole[0]), whole[1:]
		} else {
			out, cold = append(out, cold[0]), cold[1:]
		}
	}
	return append(append(out, whole...), cold...)
}

// storedName is a stored pod's name.
func storedName(o any) string {
	if f, ok := o.(*frozen); ok {
		return f.name
	}
	return o.(*api.Pod).GetMetadata().GetName()
}

// storedIn lists the pods of the Job keyed job in one of its indexes.
func storedIn(txn *memdb.Txn, index, job string) []any {
	it, err := txn.Get(tablePods, index, job)
	if err != nil {
		panic(err)
	}
	var out []any
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, o)
	}
	return out
}

// JobPods lists the pods of one Job as its controller counts them: the
// sum of its Succeeded pods that the store keeps compressed in brief, the
// others whole (scheduler.JobInput).
func (s *State) JobPods(namespace, job string) (pods []*api.Pod, succeeded api.SucceededSum) {
	key := api.Key(namespace, job)
	for p := range eachWholeJobPod(s.txn, key) {
		pods = append(pods, p)
	}
	return pods, sumOf(s.txn, key).apiSum()
}

// JobsOfCronJob lists the Jobs a CronJob created, by name.
func (s *State) JobsOfCronJob(namespace, cron string) []*api.Job {
	return all[*api.Job](s.txn, tableJobs, "owner", api.Key(namespace, cron))
}

// LivePodsOnNode lists the pods bound to a node that are not finished, and
// a channel closed when that set (or any of its pods) changes.
func (s *State) LivePodsOnNode(node string) ([]*api.Pod, <-chan struct{}) {
	it, err := s.txn.Get(tablePods, "node", node)
	if err != nil {
		panic(err)
	}
	var out []*api.Pod
	for o := it.Next(); o != nil; o = it.Next() {
		out = append(out, thaw[*api.Pod](o))
	}
	return out, it.WatchCh()
}

// LivePods lists the pods not Succeeded or Failed, those waiting for a
// node and those bound to one, in the order of their names; with node,
// only those bound to it. They are read from the indexes that hold only
// them, so the finished pods kept beside them cost nothing.
func (s *State) LivePods(node string) []*api.Pod {
	var out []*api.Pod
	if node != "" {
		out = all[*api.Pod](s.txn, tablePods, "node", node)
	} else {
		out = append(all[*api.Pod](s.txn, tablePods, "unbound", "1"), all[*api.Pod](s.txn, tablePods, "node_prefix", "")...)
	}
	slices.SortFunc(out, func(a, b *api.Pod) int { return strings.Compare(a.GetMetadata().GetName(), b.GetMetadata().GetName()) })
	return out
}

// Events lists the events about one object, oldest first; namespace is
// ignored for a cluster-wide kind.
func (s *State) Events(kind, namespace, name string) []*api.Event {
	out := all[*api.Event](s.txn, tableEvents, "involved", involvedKey(kind, namespace, name))
	sortEvents(out)
	return out
}

// AllEvents lists every event, oldest first.
func (s *State) AllEvents() []*api.Event {
	out := all[*api.Event](s.txn, tableEvents, "id")
	sortEvents(out)
	return out
}

func sortEvents(evs []*api.Event) {
	sort.SliceStable(evs, func(i, j int) bool {
		a, b := evs[i].GetLastTimestamp().AsTime(), evs[j].GetLastTimestamp().AsTime()
		if !a.Equal(b) {
			return a.Before(b)
		}
		return evs[i].GetMetadata().GetName() < evs[j].GetMetadata().GetName()
	})
}

func first[T any](txn *memdb.Txn, table, index string, arg string) T {
	var zero T
	o, err := txn.First(table, index, arg)
	if err != nil {
		panic(err)
	}
	if o == nil {
		return zero
	}
	return thaw[T](o)
}

func all[T any](txn *memdb.Txn, table, index string, args ...any) []T {
	return slices.Collect(each[T](txn, table, index, args...))
}

func eachKept[T named](txn *memdb.Txn, table, after string, keep func(LabelLookup) bool) iter.Seq[T] {
	return func(yield func(T) bool) {
		for o := range eachStored[T](txn, table, after, keep) {
			if !yield(thaw[T](o)) {
				return
			}
		}
	}
}

// eachStored is eachKept's walk, yielding each object as the store holds
// it: frozen or not.
func eachStored[T named](txn *memdb.Txn, table, after string, keep func(LabelLookup) bool) iter.Seq[any] {
	var it memdb.ResultIterator
	var err error
	if after == "" {
		it, err = txn.Get(table, "id")
	} else {
		// The index holds each key followed by a 0 byte, which no name
		// contains: the first key after after's is at after+"\x00\x00".
		it, err = txn.LowerBound(table, "id", after+"\x00")
	}
	if err != nil {
		panic(err)
	}
	return func(yield func(any) bool) {
		for o := it.Next(); o != nil; o = it.Next() {
			if keep != nil {
				var labels LabelLookup
				if f, ok := o.(*frozen); ok {
					labels = f.lookup()
				} else {
					labels = MapLookup(o.(T).GetMetadata().GetLabels())
				}
				if !keep(labels) {
					continue
				}
			}
			if !yield(o) {
				return
			}
		}
	}
}

func each[T any](txn *memdb.Txn, table, index string, args ...any) iter.Seq[T] {
	it, err := txn.Get(table, index, args...)
	if err != nil {
		panic(err)
	}
	return func(yield func(T) bool) {
		for o := it.Next(); o != nil; o = it.Next() {
			if !yield(thaw[T](o)) {
				return
			}
		}
	}
}

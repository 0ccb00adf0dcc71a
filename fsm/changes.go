package fsm

import (
	"sync"

	"github.com/hashicorp/go-memdb"

	"github.com/jobcluster/jobcluster/api"
)

// maxChanges is how many object changes the FSM remembers for watches;
// a watch from an older index must list again (Kubernetes' 410 Gone).
// Tests lower it.
var maxChanges = 20000

// Change types, as Kubernetes' watch names them.
const (
	ChangeAdded    = "ADDED"
	ChangeModified = "MODIFIED"
	ChangeDeleted  = "DELETED"
)

// watchedTables are the tables whose changes watches see, with the kind
// of object each holds.
var watchedTables = map[string]*api.Resource{
	tableJobs: api.JobResource, tableCronJobs: api.CronJobResource, tablePods: api.PodResource,
	tableNodes: api.NodeResource, tableEvents: api.EventResource, tableConfigMaps: api.ConfigMapResource,
	tableSecrets: api.SecretResource,
}

// Change is one object's change at a log index.
type Change struct {
	Index uint64
	Type  string
	Kind  *api.Resource
	obj   any // as stored: a message, or frozen
}

// Object is the changed object (its last state, for a deletion).
func (c Change) Object() *api.Object {
	switch c.Kind {
	case api.JobResource:
		return &api.Object{Kind: &api.Object_Job{Job: thaw[*api.Job](c.obj)}}
	case api.PodResource:
		return &api.Object{Kind: &api.Object_Pod{Pod: thaw[*api.Pod](c.obj)}}
	case api.CronJobResource:
		return &api.Object{Kind: &api.Object_CronJob{CronJob: c.obj.(*api.CronJob)}}
	case api.NodeResource:
		return &api.Object{Kind: &api.Object_Node{Node: c.obj.(*api.Node)}}
	case api.EventResource:
		return &api.Object{Kind: &api.Object_Event{Event: c.obj.(*api.Event)}}
	case api.ConfigMapResource:
		return &api.Object{Kind: &api.Object_ConfigMap{ConfigMap: c.obj.(*api.ConfigMap)}}
	case api.SecretResource:
		return &api.Object{Kind: &api.Object_Secret{Secret: c.obj.(*api.Secret)}}
	}
	return nil
}

// changeLog is the latest changes, oldest first: changes[head:]. The
// ones before head are forgotten: cleared at once, so that the objects
// they held can go, and dropped from the slice only once they are as many
// as maxChanges, so that a full log costs an apply no copy of the whole
// log.
type changeLog struct {
	mu      sync.Mutex
	changes []Change
	head    int
	// since is the index from which the ring is complete: a watch from a
	// later index misses nothing.
	since uint64
}

func (l *changeLog) record(index uint64, changes memdb.Changes) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ch := range changes {
		kind, ok := watchedTables[ch.Table]
		if !ok {
			continue
		}
		c := Change{Index: index, Kind: kind}
		switch {
		case ch.Before == nil:
			c.Type, c.obj = ChangeAdded, ch.After
		case ch.After == nil:
			c.Type, c.obj = ChangeDeleted, ch.Before
		default:
			// A pod frozen when its Job finishes shows as modified,
			// unchanged: a watch may see it twice.
			c.Type, c.obj = ChangeModified, ch.After
		}
		l.changes = append(l.changes, c)
	}
	if over := len(l.changes) - l.head - maxChanges; over > 0 {
		l.head += over
		l.since = l.changes[l.head-1].Index
		clear(l.changes[l.head-over : l.head])
		if l.head >= maxChanges {
			l.changes = append(l.changes[:0:0], l.changes[l.head:]...)
			l.head = 0
		}
	}
}

// reset forgets every change: after a restore, watches list again.
func (l *changeLog) reset(index uint64) {
	l.mu.Lock()
	l.changes, l.head, l.since = nil, 0, index
	l.mu.Unlock()
}

// ChangesSince returns the changes after index, oldest first; ok is false
// when changes after index were forgotten (the watch must list again).
func (f *FSM) ChangesSince(index uint64) (changes []Change, ok bool) {
	l := &f.changeLog
	l.mu.Lock()
	defer l.mu.Unlock()
	if index < l.since {
		return nil, false
	}
	for i := len(l.changes) - 1; i >= l.head && l.changes[i].Index > index; i-- {
		changes = append(changes, l.changes[i])
	}
	for i, j := 0, len(changes)-1; i < j; i, j = i+1, j-1 {
		changes[i], changes[j] = changes[j], changes[i]
	}
	return changes, true
}

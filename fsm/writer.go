package fsm

import (
	"errors"
	"strconv"

	"github.com/hashicorp/go-memdb"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/seal"
)

// writer applies commands within one write transaction at one log index.
type writer struct {
	txn   *memdb.Txn
	index uint64
	// owned says the command is the FSM's (see applyBatch): what it
	// carries may be stored as it is (keep).
	owned bool
	// events is the number of stored events, kept up to date as this
	// transaction adds and removes them.
	events int
	// tailBytes is the size of every kept log tail, likewise.
	tailBytes int64
	// keys and sealFailed are the FSM's (see SetKeys).
	keys       *seal.Keyring
	sealFailed func(error)
	// obs, when not nil, is told of transitions.
	obs Observer
}

// errNoName refuses an object without a name: the store cannot index it,
// and a panic would stop every replica at this entry, again at each restart.
var errNoName = errors.New("object has no name")

func unnamed(obj named) bool { return obj.GetMetadata().GetName() == "" }

func (w *writer) insert(table string, obj named) {
	obj.GetMetadata().ResourceVersion = strconv.FormatUint(w.index, 10)
	stored := freeze(w.txn, table, obj, nil)
	var old any
	if table == tablePods {
		old = w.stored(table, obj.GetMetadata().GetName())
	}
	if err := w.txn.Insert(table, stored); err != nil {
		panic(err)
	}
	if table == tablePods {
		sumPod(w.txn, old, stored)
	}
	if _, cold := stored.(*frozen); cold && table == tableJobs {
		w.freezePodsOf(api.KeyOf(obj.GetMetadata()))
	}
}

func (w *writer) remove(table string, obj any) {
	var old any
	if table == tablePods {
		if n, ok := obj.(named); ok {
			old = w.stored(table, n.GetMetadata().GetName())
		}
	}
	if err := w.txn.Delete(table, obj); err != nil && err != memdb.ErrNotFound {
		panic(err)
	}
	if old != nil {
		sumPod(w.txn, old, nil)
	}
}

// stored is the object of table keyed id as stored, frozen or not; nil
// for none.
func (w *writer) stored(table, id string) any {
	o, err := w.txn.First(table, "id", id)
	if err != nil {
		panic(err)
	}
	return o
}

func (w *writer) job(namespace, name string) *api.Job {
	return first[*api.Job](w.txn, tableJobs, "id", api.Key(namespace, name))
}

// frozen reports whether the object of table keyed id is stored frozen,
// and so finished.
func (w *writer) frozen(table, id string) bool {
	o, err := w.txn.First(table, "id", id)
	if err != nil {
		panic(err)
	}
	_, ok := o.(*frozen)
	return ok
}

func (w *writer) pod(name string) *api.Pod {
	return first[*api.Pod](w.txn, tablePods, "id", name)
}

func clone[T proto.Message](m T) T { return proto.Clone(m).(T) }

// keep returns m, an object a command carries, for the store to hold: m
// itself when the command is the FSM's own, a copy otherwise. The hot
// commands' objects go through it (a pod created, a status reported, an
// event, a log tail): copying them was a twentieth of a server's CPU
// under load.
func keep[T proto.Message](w *writer, m T) T {
	if w.owned {
		return m
	}
	return clone(m)
}

// withStatus returns the next version of pod p, with status st. Its
// metadata is copied, as insert sets the resource version; its spec,
// which a status never changes, is shared with p, as the store never
// changes an object in place. A pod's spec is most of its encoding, so a
// status update costs far less than a whole copy.
func withStatus(p *api.Pod, st *api.PodStatus) *api.Pod {
	return &api.Pod{ApiVersion: p.GetApiVersion(), Kind: p.GetKind(), Metadata: clone(p.GetMetadata()), Spec: p.GetSpec(), Status: st}
}

// jobFinished reports a Job with a final condition (Complete or Failed).
func jobFinished(j *api.Job) bool {
	_, done := api.JobFinished(j)
	return done
}

// jobEnding reports a finished Job or one decided to end (FailureTarget,
// SuccessCriteriaMet): no new pods may start for it.
func jobEnding(j *api.Job) bool {
	st := j.GetStatus()
	return jobFinished(j) || api.JobConditionTrue(st, api.JobFailureTarget) || api.JobConditionTrue(st, api.JobSuccessCriteriaMet)
}

package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/jobcluster/jobcluster/api"
)

// Table names.
const (
	tableJobs          = "jobs"
	tableCronJobs      = "cronjobs"
	tablePods          = "pods"
	tableNodes         = "nodes"
	tableEvents        = "events"
	tableConfigMaps    = "configmaps"
	tableSecrets       = "secrets"
	tableCronLedger    = "cronledger"
	tableNotifications = "notifications"
	tableLogTails      = "logtails"
	tableAclPolicies   = "aclpolicies"
	tableAclTokens     = "acltokens"
	tableAclBootstrap  = "aclbootstrap"
	tableAudit         = "audit"
	tableSucceeded     = "succeeded"
)

func schema() *memdb.DBSchema {
	return &memdb.DBSchema{Tables: map[string]*memdb.TableSchema{
		tableJobs: {
			Name: tableJobs,
			Indexes: map[string]*memdb.IndexSchema{
				"id":    {Name: "id", Unique: true, Indexer: nameIndexer{namespaced: true}},
				"owner": {Name: "owner", AllowMissing: true, Indexer: fnIndexer(jobOwner)},
				// live holds the Jobs a controller pass must visit: unfinished
				// ones and finished ones waiting for their TTL.
				"live": {Name: "live", AllowMissing: true, Indexer: fnIndexer(jobLive)},
			},
		},
		tableCronJobs: {
			Name: tableCronJobs,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: nameIndexer{namespaced: true}},
			},
		},
		tablePods: {
			Name: tablePods,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: nameIndexer{}},
				// A Job's pods are in one of two indexes (storedPodsOfJob
				// reads both): whole holds those kept decoded, of a running
				// Job every pod but the Succeeded ones, which are kept in
				// brief and counted by its succeededSum; frozenjob holds the
				// others.
				"whole":     {Name: "whole", AllowMissing: true, Indexer: fnIndexer(podJobWhole)},
				"frozenjob": {Name: "frozenjob", AllowMissing: true, Indexer: fnIndexer(podJobFrozen)},
				// node indexes only the pods a node still has to run or
				// stop, which is what agents watch.
				"node": {Name: "node", AllowMissing: true, Indexer: fnIndexer(podLiveNode)},
				// unbound holds unfinished pods waiting for a node.
				"unbound": {Name: "unbound", AllowMissing: true, Indexer: fnIndexer(podUnbound)},
			},
		},
		tableNodes: {
			Name: tableNodes,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: nameIndexer{}},
			},
		},
		tableConfigMaps: {
			Name: tableConfigMaps,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: nameIndexer{namespaced: true}},
			},
		},
		tableSecrets: {
			Name: tableSecrets,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: nameIndexer{namespaced: true}},
			},
		},
		tableNotifications: {
			Name: tableNotifications,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: fnIndexer(notificationID)},
			},
		},
		tableAclPolicies: {
			Name:    tableAclPolicies,
			Indexes: map[string]*memdb.IndexSchema{"id": {Name: "id", Unique: true, Indexer: fnIndexer(policyName)}},
		},
		tableAclTokens: {
			Name: tableAclTokens,
			Indexes: map[string]*memdb.IndexSchema{
				"id":     {Name: "id", Unique: true, Indexer: fnIndexer(tokenID)},
				"secret": {Name: "secret", Unique: true, Indexer: fnIndexer(tokenSecret)},
			},
		},
		tableAclBootstrap: {
			Name:    tableAclBootstrap,
			Indexes: map[string]*memdb.IndexSchema{"id": {Name: "id", Unique: true, Indexer: fnIndexer(tokenID)}},
		},
		tableAudit: {
			Name:    tableAudit,
			Indexes: map[string]*memdb.IndexSchema{"id": {Name: "id", Unique: true, Indexer: fnIndexer(auditKey)}},
		},
		tableLogTails: {
			Name: tableLogTails,
			Indexes: map[string]*memdb.IndexSchema{
				"id":    {Name: "id", Unique: true, Indexer: fnIndexer(logTailKey)},
				"order": {Name: "order", Unique: true, AllowMissing: true, Indexer: fnIndexer(logTailOrder)},
			},
		},
		tableSucceeded: {
			Name: tableSucceeded,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: fnIndexer(succeededSumJob)},
			},
		},
		tableCronLedger: {
			Name: tableCronLedger,
			Indexes: map[string]*memdb.IndexSchema{
				"id": {Name: "id", Unique: true, Indexer: fnIndexer(ledgerEntryKey)},
			},
		},
		tableEvents: {
			Name: tableEvents,
			Indexes: map[string]*memdb.IndexSchema{
				"id":       {Name: "id", Unique: true, Indexer: nameIndexer{}},
				"involved": {Name: "involved", Indexer: fnIndexer(eventInvolved)},
				// time orders events by when they were last seen, oldest
				// first, so the oldest can be dropped.
				"time": {Name: "time", Indexer: fnIndexer(eventTime)},
			},
		},
	}}
}

type named interface{ GetMetadata() *api.ObjectMeta }

// nameIndexer indexes any object by its store key: api.Key
// ("namespace/name") in a namespaced table, metadata.name in the others.
// Jobs and CronJobs are namespaced; pods and events, whose names the
// servers generate unique across the cluster, and nodes are not.
type nameIndexer struct{ namespaced bool }

func (x nameIndexer) FromObject(obj any) (bool, []byte, error) {
	if f, ok := obj.(*frozen); ok {
		return true, []byte(f.name + "\x00"), nil
	}
	n, ok := obj.(named)
	if !ok {
		return false, nil, fmt.Errorf("object %T has no metadata", obj)
	}
	name := n.GetMetadata().GetName()
	if name == "" {
		return false, nil, nil
	}
	if x.namespaced {
		name = api.KeyOf(n.GetMetadata())
	}
	return true, []byte(name + "\x00"), nil
}

func (nameIndexer) FromArgs(args ...any) ([]byte, error) { return stringArg(args) }

// fnIndexer indexes by a string derived from the object; "" means absent.
type fnIndexer func(obj any) string

func (f fnIndexer) FromObject(obj any) (bool, []byte, error) {
	v := f(obj)
	if v == "" {
		return false, nil, nil
	}
	return true, []byte(v + "\x00"), nil
}

func (f fnIndexer) FromArgs(args ...any) ([]byte, error) { return stringArg(args) }

// PrefixFromArgs lets "id_prefix" queries find every key starting with
// the argument.
func (f fnIndexer) PrefixFromArgs(args ...any) ([]byte, error) {
	b, err := stringArg(args)
	if err != nil {
		return nil, err
	}
	return b[:len(b)-1], nil
}

func stringArg(args []any) ([]byte, error) {
	if len(args) != 1 {
		return nil, fmt.Errorf("want one argument, got %d", len(args))
	}
	s, ok := args[0].(string)
	if !ok {
		return nil, fmt.Errorf("argument must be a string, got %T", args[0])
	}
	return []byte(s + "\x00"), nil
}

func jobOwner(obj any) string {
	if f, ok := obj.(*frozen); ok {
		return f.key
	}
	meta := obj.(*api.Job).GetMetadata()
	for _, ref := range meta.GetOwnerReferences() {
		if ref.GetKind() == "CronJob" {
			return api.Key(meta.GetNamespace(), ref.GetName())
		}
	}
	return ""
}

func jobLive(obj any) string {
	j, ok := obj.(*api.Job)
	if !ok {
		return "" // frozen: cold
	}
	if !jobFinished(j) || j.GetSpec().TtlSecondsAfterFinished != nil {
		return "1"
	}
	return ""
}

func podUnbound(obj any) string {
	p, ok := obj.(*api.Pod)
	if !ok {
		return "" // frozen: finished
	}
	if api.IsPodTerminal(p) || p.GetSpec().GetNodeName() != "" {
		return ""
	}
	return "1"
}

func podJob(obj any) string {
	if f, ok := obj.(*frozen); ok {
		return f.key
	}
	meta := obj.(*api.Pod).GetMetadata()
	job := meta.GetLabels()[api.LabelJobName]
	if job == "" {
		return ""
	}
	return api.Key(meta.GetNamespace(), job)
}

// podJobWhole indexes the pods kept decoded: of a running Job, every pod
// but the Succeeded ones, which are frozen with their brief at once; a
// finished Job's frozen pods nothing counts.
func podJobWhole(obj any) string {
	if _, ok := obj.(*frozen); ok {
		return ""
	}
	return podJob(obj)
}

func podJobFrozen(obj any) string {
	if f, ok := obj.(*frozen); ok {
		return f.key
	}
	return ""
}

func podLiveNode(obj any) string {
	p, ok := obj.(*api.Pod)
	if !ok {
		return "" // frozen: finished
	}
	if api.IsPodTerminal(p) {
		return ""
	}
	return p.GetSpec().GetNodeName()
}

func eventInvolved(obj any) string {
	ref := obj.(*api.Event).GetInvolvedObject()
	return involvedKey(ref.GetKind(), ref.GetNamespace(), ref.GetName())
}

// involvedKey is the key of the "involved" index of events: the kind and
// name of the object, with its namespace when the kind has one.
func involvedKey(kind, namespace, name string) string {
	if r, ok := api.LookupResource(kind); ok && !r.Namespaced {
		return kind + "/" + name
	}
	return kind + "/" + api.Key(namespace, name)
}

func eventTime(obj any) string {
	return fmt.Sprintf("%020d", obj.(*api.Event).GetLastTimestamp().AsTime().UnixNano())
}

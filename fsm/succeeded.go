package fsm

import (
	"encoding/binary"
	"time"

	iradix "github.com/hashicorp/go-immutable-radix"
	"github.com/hashicorp/go-memdb"

	"github.com/jobcluster/jobcluster/api"
)

// succeededSum sums up the Succeeded pods of one running Job that the
// store keeps frozen with their brief. The Job controller reads it on
// every pass and CreatePods on every command, so that neither walks a big
// Job's finished pods: it changes as a pod is stored with or without a
// brief (sumPod), and a restore rebuilds it. It is derived, never in a
// snapshot. Stored values are never changed, only replaced.
type succeededSum struct {
	job          string // the Job's key, as the pods' indexes have it
	count        int
	lastFinished time.Time
	// indexes counts the pods by completion index (api.PodCompletionIndex,
	// 8 bytes big-endian), labels by completion index label: what the
	// controller and CreatePods read. Both persistent, so a copy is cheap.
	indexes *iradix.Tree
	labels  *iradix.Tree
}

func succeededSumJob(obj any) string { return obj.(*succeededSum).job }

// sumOf is the sum of the Job keyed job, nil when it has no Succeeded pod
// in brief.
func sumOf(txn *memdb.Txn, job string) *succeededSum {
	o, err := txn.First(tableSucceeded, "id", job)
	if err != nil {
		panic(err)
	}
	s, _ := o.(*succeededSum)
	return s
}

// briefOfStored is the brief of a pod as stored, nil for none.
func briefOfStored(o any) (job string, brief *podBrief) {
	if f, ok := o.(*frozen); ok && f.brief != nil {
		return f.key, f.brief
	}
	return "", nil
}

// sumPod keeps the sums right as a pod's stored form goes from old to
// stored (either nil for none).
func sumPod(txn *memdb.Txn, old, stored any) {
	if job, b := briefOfStored(old); b != nil {
		unsumBrief(txn, job, b)
	}
	if job, b := briefOfStored(stored); b != nil {
		sumBrief(txn, job, b)
	}
}

func indexKey(i int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(i)) }

// counted adds delta to key's count in t.
func counted(t *iradix.Tree, key []byte, delta int) *iradix.Tree {
	n := delta
	if v, ok := t.Get(key); ok {
		n += v.(int)
	}
	if n <= 0 {
		t, _, _ = t.Delete(key)
		return t
	}
	t, _, _ = t.Insert(key, n)
	return t
}

func sumBrief(txn *memdb.Txn, job string, b *podBrief) {
	next := &succeededSum{job: job, indexes: iradix.New(), labels: iradix.New()}
	if s := sumOf(txn, job); s != nil {
		*next = *s
	}
	next.count++
	if b.job.Finished.After(next.lastFinished) {
		next.lastFinished = b.job.Finished
	}
	if b.job.Index >= 0 {
		next.indexes = counted(next.indexes, indexKey(b.job.Index), 1)
	}
	if b.indexLabel != "" {
		next.labels = counted(next.labels, []byte(b.indexLabel), 1)
	}
	if err := txn.Insert(tableSucceeded, next); err != nil {
		panic(err)
	}
}

// unsumBrief takes a pod out of its Job's sum. Its pods are deleted one
// by one when the Job is, after the sum (dropSum): then there is none.
func unsumBrief(txn *memdb.Txn, job string, b *podBrief) {
	s := sumOf(txn, job)
	if s == nil {
		return
	}
	if s.count <= 1 {
		if err := txn.Delete(tableSucceeded, s); err != nil {
			panic(err)
		}
		return
	}
	next := *s
	next.count--
	if b.job.Index >= 0 {
		next.indexes = counted(next.indexes, indexKey(b.job.Index), -1)
	}
	if b.indexLabel != "" {
		next.labels = counted(next.labels, []byte(b.indexLabel), -1)
	}
	if !b.job.Finished.Before(next.lastFinished) {
		// The latest gone: find the next latest, a walk that only removing
		// a Succeeded pod from a running Job costs.
		next.lastFinished = time.Time{}
		for _, o := range storedIn(txn, "frozenjob", job) {
			if _, ob := briefOfStored(o); ob != nil && ob != b && ob.job.Finished.After(next.lastFinished) {
				next.lastFinished = ob.job.Finished
			}
		}
	}
	if err := txn.Insert(tableSucceeded, &next); err != nil {
		panic(err)
	}
}

// dropSum forgets the sum of a Job deleted or gone cold.
func dropSum(txn *memdb.Txn, job string) {
	if _, err := txn.DeleteAll(tableSucceeded, "id", job); err != nil {
		panic(err)
	}
}

// apiSum is the sum as the controller reads it.
func (s *succeededSum) apiSum() api.SucceededSum {
	if s == nil {
		return api.SucceededSum{}
	}
	out := api.SucceededSum{Count: s.count, LastFinished: s.lastFinished}
	it := s.indexes.Root().Iterator()
	for k, _, ok := it.Next(); ok; k, _, ok = it.Next() {
		out.Indexes = append(out.Indexes, int(binary.BigEndian.Uint64(k)))
	}
	return out
}

package fsm

import (
	"bytes"
	"fmt"

	"github.com/hashicorp/go-memdb"

	"github.com/jobcluster/jobcluster/api"
)

// MaxTailBytes bounds one kept log tail; a longer one keeps its end.
const MaxTailBytes = 64 << 10

// MaxKeptTailBytes bounds every kept log tail together: past it, the
// tails stored longest ago go first (those of pods finished long ago;
// a running pod's is stored anew with each shipment). It keeps the
// servers' memory and snapshots bounded whatever number of finished pods
// is kept: at most 2,048 tails of the largest size, many more of the
// usual few lines.
const MaxKeptTailBytes = 128 << 20

// maxKeptTailBytes is MaxKeptTailBytes, smaller in tests.
var maxKeptTailBytes int64 = MaxKeptTailBytes

// logTailOrder orders tails by the log index that stored them, which is
// the order the bound drops them in. An empty tail (a container that
// wrote nothing) has no place in it: it counts nothing against the bound,
// so dropping it would free nothing, and leaving it out of the index
// halves what it costs to keep.
func logTailOrder(obj any) string {
	t := obj.(*api.LogTail)
	if len(t.GetTail().GetData()) == 0 {
		return ""
	}
	return fmt.Sprintf("%020d/%s", t.GetIndex(), logTailKey(t))
}

// keptTailBytes adds up the size of every tail in db.
func keptTailBytes(db *memdb.MemDB) int64 {
	var n int64
	for _, t := range all[*api.LogTail](db.Txn(false), tableLogTails, "id") {
		n += int64(len(t.GetTail().GetData()))
	}
	return n
}
func logTailKey(obj any) string {
	t := obj.(*api.LogTail)
	return tailKey(t.GetPod(), t.GetTail().GetContainer(), t.GetTail().GetPrevious())
}

func tailKey(pod, container string, previous bool) string {
	k := pod + "/" + container
	if previous {
		k += "/previous"
	}
	return k
}

// keepTails stores the log tails an update of pod carries.
func (w *writer) keepTails(pod *api.Pod, u *api.PodStatusUpdate) {
	for _, t := range u.GetLogTails() {
		t = keep(w, t)
		if len(t.Data) > MaxTailBytes {
			t.Data = t.Data[len(t.Data)-MaxTailBytes:]
			if i := bytes.IndexByte(t.Data, '\n'); i >= 0 {
				t.Data = t.Data[i+1:]
			}
		}
		lt := &api.LogTail{Pod: pod.GetMetadata().GetName(), Uid: pod.GetMetadata().GetUid(), Node: pod.GetSpec().GetNodeName(), Tail: t, Index: w.index}
		if old := first[*api.LogTail](w.txn, tableLogTails, "id", logTailKey(lt)); old != nil {
			w.dropTail(old)
		}
		if err := w.txn.Insert(tableLogTails, lt); err != nil {
			panic(err)
		}
		w.tailBytes += int64(len(lt.GetTail().GetData()))
	}
	w.trimTails()
}

// dropTail removes one kept tail.
func (w *writer) dropTail(t *api.LogTail) {
	if err := w.txn.Delete(tableLogTails, t); err != nil {
		panic(err)
	}
	w.tailBytes -= int64(len(t.GetTail().GetData()))
}

// trimTails removes the tails stored longest ago while all of them
// together are over MaxKeptTailBytes.
func (w *writer) trimTails() {
	for w.tailBytes > maxKeptTailBytes {
		oldest := first[*api.LogTail](w.txn, tableLogTails, "order_prefix", "")
		if oldest == nil {
			return
		}
		w.dropTail(oldest)
	}
}

// removeTails forgets a deleted pod's log tails.
func (w *writer) removeTails(pod string) {
	for _, t := range all[*api.LogTail](w.txn, tableLogTails, "id_prefix", pod+"/") {
		w.dropTail(t)
	}
}

// LogTail returns the kept end of a container's log (the run before a
// restart with previous), or nil.
func (s *State) LogTail(pod, container string, previous bool) *api.LogTail {
	return first[*api.LogTail](s.txn, tableLogTails, "id", tailKey(pod, container, previous))
}

package fsm

import (
	"bytes"

	"github.com/jobcluster/jobcluster/api"
)

// MaxTailBytes bounds one kept log tail; a longer one keeps its end.
const MaxTailBytes = 64 << 10

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
		t = clone(t)
		if len(t.Data) > MaxTailBytes {
			t.Data = t.Data[len(t.Data)-MaxTailBytes:]
			if i := bytes.IndexByte(t.Data, '\n'); i >= 0 {
				t.Data = t.Data[i+1:]
			}
		}
		lt := &api.LogTail{Pod: pod.GetMetadata().GetName(), Uid: pod.GetMetadata().GetUid(), Node: pod.GetSpec().GetNodeName(), Tail: t, Index: w.index}
		if err := w.txn.Insert(tableLogTails, lt); err != nil {
			panic(err)
		}
	}
}

// removeTails forgets a deleted pod's log tails.
func (w *writer) removeTails(pod string) {
	if _, err := w.txn.DeleteAll(tableLogTails, "id_prefix", pod+"/"); err != nil {
		panic(err)
	}
}

// LogTail returns the kept end of a container's log (the run before a
// restart with previous), or nil.
func (s *State) LogTail(pod, container string, previous bool) *api.LogTail {
	return first[*api.LogTail](s.txn, tableLogTails, "id", tailKey(pod, container, previous))
}

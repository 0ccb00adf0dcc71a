package fsm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

// Kept tails together stay under the cluster-wide bound: the tails stored
// longest ago go first, a tail stored anew replaces its older copy, a
// deleted pod's go with it, and a restored state counts the same size.
func TestKeptTailsStayUnderTheirBound(t *testing.T) {
	defer func(old int64) { maxKeptTailBytes = old }(maxKeptTailBytes)
	maxKeptTailBytes = 3000
	h := newHarness(t)
	job := newJob("j", parallelism(5), completions(5))
	h.must(upsertJob(job, true))
	h.must(upsertNode(newNode("n1")))
	var names []string
	for i := range 5 {
		names = append(names, fmt.Sprintf("p%d", i))
		h.must(createPods(newPod(job, names[i], i)))
		h.must(bindPods(2, names[i], "n1"))
	}
	ship := func(pod string, bytes int) {
		t.Helper()
		u := phase(pod, "n1", api.PodRunning)
		u.LogTails = []*api.ContainerLogTail{{Container: "main", Data: []byte(strings.Repeat("x", bytes-1) + "\n")}}
		h.must(updatePodStatus(u))
	}
	kept := func() (names []string, total int64) {
		for _, lt := range all[*api.LogTail](h.state().txn, tableLogTails, "id") {
			names = append(names, lt.GetPod())
			total += int64(len(lt.GetTail().GetData()))
		}
		return names, total
	}
	for _, p := range names[:3] {
		ship(p, 1000)
	}
	ship("p0", 900) // p0's tail is stored anew: now the newest
	ship("p3", 1000)
	got, total := kept()
	if fmt.Sprint(got) != "[p0 p2 p3]" || total != 2900 || h.f.tailBytes != total {
		t.Errorf("kept %v (%d bytes, counted %d), want p1 gone, the oldest, and 2900 bytes", got, total, h.f.tailBytes)
	}
	h.must(deletePods("p2"))
	if got, total = kept(); fmt.Sprint(got) != "[p0 p3]" || h.f.tailBytes != total {
		t.Errorf("after deleting p2: kept %v, counted %d of %d bytes", got, h.f.tailBytes, total)
	}
	if r := restored(t, h.f); r.tailBytes != total {
		t.Errorf("a restored state counts %d bytes of tails, want %d", r.tailBytes, total)
	}
}

// An empty tail (a container that wrote nothing) costs nothing of the
// bound and is not in the order the bound drops tails by: it stays, so
// that the servers still tell an empty log from one they do not keep,
// until its pod goes.
func TestAnEmptyTailStaysUntilItsPodGoes(t *testing.T) {
	defer func(old int64) { maxKeptTailBytes = old }(maxKeptTailBytes)
	maxKeptTailBytes = 1000
	h := newHarness(t)
	job := newJob("j", parallelism(3), completions(3))
	h.must(upsertJob(job, true), upsertNode(newNode("n1")))
	for i := range 3 {
		name := fmt.Sprintf("p%d", i)
		h.must(createPods(newPod(job, name, i)), bindPods(2, name, "n1"))
	}
	ship := func(pod string, data []byte) {
		t.Helper()
		u := phase(pod, "n1", api.PodSucceeded)
		u.LogTails = []*api.ContainerLogTail{{Container: "main", Data: data}}
		h.must(updatePodStatus(u))
	}
	ship("p0", nil)
	ship("p1", []byte(strings.Repeat("x", 999)+"\n"))
	ship("p2", []byte(strings.Repeat("y", 599)+"\n"))
	s := h.state()
	if lt := s.LogTail("p0", "main", false); lt == nil || len(lt.GetTail().GetData()) != 0 {
		t.Errorf("the empty tail of p0, stored first: %v, want kept and empty", lt)
	}
	if lt := s.LogTail("p1", "main", false); lt != nil {
		t.Errorf("p1's tail, the oldest with bytes, is kept over the bound")
	}
	if lt := s.LogTail("p2", "main", false); lt == nil {
		t.Errorf("p2's tail, the newest, is gone")
	}
	h.must(deletePods("p0"))
	if lt := h.state().LogTail("p0", "main", false); lt != nil {
		t.Errorf("the empty tail of the deleted pod p0 is still kept")
	}
}

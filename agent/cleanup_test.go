package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// heldPods is the servers' side of PodsExist: the pods they still hold,
// and the index of their last removal of a pod (0: they do not say, as an
// earlier release).
type heldPods struct {
	mu           sync.Mutex
	pods         map[string]string // name -> uid
	removedIndex uint64
	asked        []string // names asked about, in order
}

func (h *heldPods) ask(_ context.Context, refs []*api.PodRef) ([]bool, uint64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	exists := make([]bool, len(refs))
	for i, ref := range refs {
		h.asked = append(h.asked, ref.GetName())
		uid, ok := h.pods[ref.GetName()]
		exists[i] = ok && (ref.GetUid() == "" || ref.GetUid() == uid)
	}
	return exists, h.removedIndex, nil
}

// remove removes a pod, as deleting it or its Job does, at log index.
func (h *heldPods) remove(name string, index uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.pods, name)
	h.removedIndex = index
}

// takeAsked returns the names asked about since the last call.
func (h *heldPods) takeAsked() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	asked := h.asked
	h.asked = nil
	slices.Sort(asked)
	return asked
}

func (h *heldPods) wasAsked(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.asked, name)
}

func dirExists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

func TestCleanerRemovesPodsTheServersNoLongerHold(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	deleted := []*api.Pod{
		testPod{name: "huge-a", uid: "uid-a", scripts: []string{"echo a"}}.build(),
		testPod{name: "huge-b", uid: "uid-b", scripts: []string{"echo b"}}.build(),
	}
	held := testPod{name: "small-a", uid: "uid-s", scripts: []string{"echo still here"}}.build()
	// The servers do not know the running pod (yet): it must be left alone.
	running := testPod{name: "new-a", uid: "uid-n", scripts: []string{"sleep 30"}}.build()

	s.Sync(append(slices.Clone(deleted), held, running))
	for _, pod := range append(slices.Clone(deleted), held) {
		sink.waitFinal(t, pod.GetMetadata().GetUid())
		s.markReported(pod.GetMetadata().GetUid())
	}
	sink.waitRunning(t, "uid-n")
	s.Sync([]*api.Pod{running})

	servers := &heldPods{pods: map[string]string{"small-a": "uid-s"}}
	c := newCleaner(s, servers.ask, testLogger(t))
	c.recheck = 0
	wait.For(t, "directories and records of deleted pods gone", func() (bool, string) {
		c.round(t.Context())
		var left []string
		for _, pod := range deleted {
			name := pod.GetMetadata().GetName()
			if dirExists(t, s.journal.podDir(name)) {
				left = append(left, "directory "+name)
			}
			if _, ok := s.journal.log.lines()[pod.GetMetadata().GetUid()]; ok {
				left = append(left, "journal entry "+name)
			}
		}
		return len(left) == 0, fmt.Sprintf("left: %v", left)
	})

	logs, err := os.ReadFile(logPath(s.journal.podDir("small-a"), "c0", false))
	if err != nil || string(logs) != "still here\n" {
		t.Errorf("log of the finished pod the servers hold: %q, %v; want %q", logs, err, "still here\n")
	}
	if !dirExists(t, s.journal.podDir("new-a")) {
		t.Error("directory of the running pod removed")
	}
	if servers.wasAsked("new-a") {
		t.Error("the servers were asked about the running pod")
	}
	if phase := sink.last("uid-n").GetPhase(); phase != api.PodRunning {
		t.Errorf("running pod's last status is %s, want Running", phase)
	}
}

func TestCleanerAsksAboutAHeldPodAgainOnlyOnceAPodWasRemoved(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	finished := []*api.Pod{
		testPod{name: "kept-a", uid: "uid-a", scripts: []string{"echo a"}}.build(),
		testPod{name: "kept-b", uid: "uid-b", scripts: []string{"echo b"}}.build(),
	}
	s.Sync(finished)
	for _, pod := range finished {
		sink.waitFinal(t, pod.GetMetadata().GetUid())
		s.markReported(pod.GetMetadata().GetUid())
	}
	s.Sync(nil)

	servers := &heldPods{pods: map[string]string{"kept-a": "uid-a", "kept-b": "uid-b"}, removedIndex: 7}
	c := newCleaner(s, servers.ask, testLogger(t))
	c.recheck = 0 // only the removal index spares a question
	rounds := []struct {
		name  string
		do    func()
		asked []string
	}{
		{name: "first round", asked: []string{"kept-a", "kept-b"}},
		{name: "no pod removed since", asked: nil},
		{name: "kept-a removed", do: func() { servers.remove("kept-a", 9) }, asked: []string{"kept-a", "kept-b"}},
		{name: "no pod removed since kept-a", asked: nil},
		{name: "servers that do not say", do: func() { servers.removedIndex = 0 }, asked: []string{"kept-b"}},
	}
	for _, r := range rounds {
		if r.do != nil {
			r.do()
		}
		c.round(t.Context())
		if got := servers.takeAsked(); !slices.Equal(got, r.asked) {
			t.Errorf("%s: asked about %v, want %v", r.name, got, r.asked)
		}
	}
	if dirExists(t, s.journal.podDir("kept-a")) {
		t.Error("directory of the removed pod kept-a is still there")
	}
	if !dirExists(t, s.journal.podDir("kept-b")) {
		t.Error("directory of the held pod kept-b removed")
	}
}

// journalWithForgottenPod is a journal that has forgotten the pod name of
// uid and keeps its directory.
func journalWithForgottenPod(t *testing.T, name, uid string) *journal {
	t.Helper()
	j := openTestJournal(t, t.TempDir())
	if err := j.save(&podRecord{uid: uid, name: name}, false); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(j.podDir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := j.forget(name); err != nil {
		t.Fatal(err)
	}
	return j
}

func TestJournalRemoveKeepsANewPodsDirectory(t *testing.T) {
	j := journalWithForgottenPod(t, "reused", "uid-old")
	// A new pod of the same name takes the name before the old one's
	// directory is removed.
	j.claim("reused", "uid-new")
	removed, err := j.remove("reused", "uid-old", false)
	if err != nil {
		t.Fatal(err)
	}
	if removed || !dirExists(t, j.podDir("reused")) {
		t.Error("removing the old pod's directory took the new pod's")
	}
}

func TestNewPodWaitsForTheRemovalOfItsNamesDirectory(t *testing.T) {
	j := journalWithForgottenPod(t, "reused", "uid-old")
	// The old pod's directory is being deleted when a new pod of the
	// same name is claimed.
	started, release := make(chan struct{}), make(chan struct{})
	j.removeTree = func(dir string) (bool, error) {
		close(started)
		<-release
		return removeFullDir(dir)
	}
	removed := make(chan bool)
	go func() {
		ok, err := j.remove("reused", "uid-old", false)
		if err != nil {
			t.Error(err)
		}
		removed <- ok
	}()
	<-started
	j.claim("reused", "uid-new")
	if ok, err := j.remove("reused", "uid-old", false); ok || err != nil {
		t.Errorf("a second removal of the old pod's directory: %v, %v; want none", ok, err)
	}
	// The new pod's runner makes its directory.
	made := make(chan error)
	go func() {
		err := j.makePodDir("reused")
		if err == nil {
			err = os.WriteFile(filepath.Join(j.podDir("reused"), "new.log"), nil, 0o644)
		}
		made <- err
	}()
	select {
	case <-made:
		t.Fatal("the new pod made its directory while the old one's was being deleted")
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if !<-removed {
		t.Error("the old pod's directory was not reported removed")
	}
	if err := <-made; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(j.podDir("reused"), "new.log")); err != nil {
		t.Errorf("the new pod's directory: %v", err)
	}
}

func TestCleanerRemovesManyDirectoriesWithoutBlockingSync(t *testing.T) {
	const pods = 5000
	dir := t.TempDir()
	for i := range pods {
		if err := os.MkdirAll(filepath.Join(dir, "pods", "huge-"+strconv.Itoa(i)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "pods", "huge-"+strconv.Itoa(i), "c0.log"), []byte("done\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sink := &fakeSink{}
	s := newTestSupervisor(t, dir, NewProcessRuntime(), sink)
	s.Sync(nil)

	// The servers hold none of them; they hang on to the second
	// question until the test has run a pod beside the cleaner.
	servers := &heldPods{pods: map[string]string{}}
	secondAsked, release := make(chan struct{}), make(chan struct{})
	calls := 0
	ask := func(ctx context.Context, refs []*api.PodRef) ([]bool, uint64, error) {
		calls++
		if calls == 2 {
			close(secondAsked)
			<-release
		}
		return servers.ask(ctx, refs)
	}
	c := newCleaner(s, ask, testLogger(t))
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.round(t.Context())
	}()
	<-secondAsked
	fresh := testPod{name: "fresh", uid: "uid-f", scripts: []string{"echo fresh"}}.build()
	s.Sync([]*api.Pod{fresh})
	sink.waitFinal(t, "uid-f")
	close(release)
	<-done

	entries, err := os.ReadDir(s.journal.dir)
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, e := range entries {
		if e.IsDir() && e.Name() != removingDir {
			left = append(left, e.Name())
		}
	}
	if !slices.Equal(left, []string{"fresh"}) {
		t.Errorf("pod directories left: %d %.100v, want only fresh", len(left), left)
	}
	if calls != pods/podsPerQuestion {
		t.Errorf("asked %d questions about %d pods, want %d", calls, pods, pods/podsPerQuestion)
	}
}

// BenchmarkCleanerRoundHoldingPods is one cleaner round of an agent that
// keeps the directories of 30,000 finished pods the servers hold, no pod
// removed since they said so: what an idle agent does every 10 s while
// the Jobs of those pods stay.
func BenchmarkCleanerRoundHoldingPods(b *testing.B) {
	const pods = 30000
	logger := slog.New(slog.DiscardHandler)
	s, err := newSupervisor(supervisorConfig{Node: "node-a", DataDir: b.TempDir(), HostIP: "127.0.0.1",
		Runtime: NewProcessRuntime(), Sink: &fakeSink{}, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.shutdown(context.Background(), 0); err != nil {
			b.Error(err)
		}
	})
	s.Sync(nil)
	servers := &heldPods{pods: map[string]string{}, removedIndex: 7}
	s.journal.mu.Lock()
	for i := range pods {
		name, uid := fmt.Sprintf("kept-%d", i), fmt.Sprintf("uid-%d", i)
		s.journal.kept[name] = uid
		servers.pods[name] = uid
	}
	s.journal.mu.Unlock()
	c := newCleaner(s, servers.ask, logger)
	c.round(b.Context())
	if asked := len(servers.takeAsked()); asked != pods {
		b.Fatalf("the first round asked about %d pods, want %d", asked, pods)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.round(b.Context())
	}
	b.StopTimer()
	if asked := len(servers.takeAsked()); asked != 0 {
		b.Fatalf("later rounds asked about %d pods, want none", asked)
	}
}

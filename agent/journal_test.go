package agent

import (
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/jobcluster/jobcluster/api"
)

func TestJournalRoundTrip(t *testing.T) {
	j := &journal{dir: t.TempDir()}
	started := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"true"}}.build()
	records := []*podRecord{
		{uid: "uid-a", name: "pod-a", pod: pod, started: started, processes: map[string]string{"c0": "42/boot/7"}},
		{uid: "uid-b", name: "pod-b", pod: pod, started: started, final: &api.PodStatus{Phase: "Succeeded", Reason: "x"}, reported: true},
	}
	for _, r := range records {
		if err := os.MkdirAll(j.podDir(r.name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := j.save(r, true); err != nil {
			t.Fatal(err)
		}
	}
	// A torn or foreign file is reported and does not hide the others.
	if err := os.MkdirAll(j.podDir("pod-c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(j.podDir("pod-c"), stateFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}

	got, err := j.load()
	if err == nil {
		t.Error("load of a corrupt record returned no error")
	}
	sort.Slice(got, func(a, b int) bool { return got[a].uid < got[b].uid })
	type view struct {
		UID, Name string
		Pod       *api.Pod
		Started   time.Time
		Processes map[string]string
		Final     *api.PodStatus
		Reported  bool
	}
	toView := func(rs []*podRecord) []view {
		var out []view
		for _, r := range rs {
			out = append(out, view{r.uid, r.name, r.pod, r.started, r.processes, r.final, r.reported})
		}
		return out
	}
	if diff := cmp.Diff(toView(records), toView(got), protocmp.Transform()); diff != "" {
		t.Errorf("records after load (-want +got):\n%s", diff)
	}
	if _, err := os.Stat(filepath.Join(j.podDir("pod-a"), stateFile+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestJournalForgetAndSweep(t *testing.T) {
	j := &journal{dir: t.TempDir()}
	write := func(name string, files ...string) {
		for _, f := range files {
			path := filepath.Join(j.podDir(name), f)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("x"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("forgotten-old", stateFile, "c0.log", "work/data")
	write("forgotten-new", "c0.log")
	write("known", stateFile, "c0.log")

	if err := j.forget("forgotten-old"); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(j.podDir("forgotten-old"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(j.podDir("known"), old, old); err != nil {
		t.Fatal(err)
	}
	if err := j.sweep(time.Now().Add(-24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	var left []string
	err := filepath.Walk(j.dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(j.dir, path)
			left = append(left, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"forgotten-new/c0.log", "known/c0.log", "known/state.json"}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("files left after forget and sweep (-want +got):\n%s", diff)
	}
}

package agent

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
)

// openTestJournal loads the journal in dir, failing the test on any error.
func openTestJournal(t *testing.T, dir string) *journal {
	t.Helper()
	j := &journal{dir: dir, logger: testLogger(t)}
	if _, err := j.load(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.close() })
	return j
}

// reloadJournal loads the records a fresh agent would find in dir.
func reloadJournal(t *testing.T, dir string) []*podRecord {
	t.Helper()
	again := &journal{dir: dir}
	records, err := again.load()
	again.close()
	if err != nil {
		t.Fatal(err)
	}
	return records
}

// recordView is what a record holds, for diffs.
type recordView struct {
	UID, Name string
	Pod       *api.Pod
	Started   time.Time
	Processes map[string]string
	Final     *api.PodStatus
	Reported  bool
}

func viewRecords(rs []*podRecord) []recordView {
	var out []recordView
	for _, r := range rs {
		out = append(out, recordView{r.uid, r.name, r.pod, r.started, r.processes, r.final, r.reported})
	}
	return out
}

// journalLines returns the lines of the pods directory's journal file.
func journalLines(t *testing.T, dir string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, journalFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func TestJournalRoundTrip(t *testing.T) {
	dir := t.TempDir()
	j := openTestJournal(t, dir)
	started := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC)
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"true"}}.build()
	a := &podRecord{uid: "uid-a", name: "pod-a", pod: pod, started: started}
	b := &podRecord{uid: "uid-b", name: "pod-b", pod: pod, started: started}
	for _, r := range []*podRecord{a, b} {
		if err := j.save(r, true); err != nil {
			t.Fatal(err)
		}
	}
	// Later saves of a record replace what the earlier ones said.
	a.processes = map[string]string{"c0": "42/boot/7"}
	if err := j.save(a, false); err != nil {
		t.Fatal(err)
	}
	b.final = &api.PodStatus{Phase: "Succeeded", Reason: "x"}
	if err := j.save(b, true); err != nil {
		t.Fatal(err)
	}
	b.reported = true
	if err := j.save(b, false); err != nil {
		t.Fatal(err)
	}
	if err := j.close(); err != nil {
		t.Fatal(err)
	}

	got := reloadJournal(t, dir)
	if diff := cmp.Diff(viewRecords([]*podRecord{a, b}), viewRecords(got), protocmp.Transform()); diff != "" {
		t.Errorf("records after load (-want +got):\n%s", diff)
	}
	if n := len(journalLines(t, dir)); n != 2 {
		t.Errorf("journal has %d lines after load, want 2 (one per record)", n)
	}
	if _, err := os.Stat(filepath.Join(dir, journalFile+".tmp")); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

func TestJournalReplay(t *testing.T) {
	record := func(uid, phase string) string {
		r := &podRecord{uid: uid, name: "pod-" + uid, final: &api.PodStatus{Phase: phase}}
		line, err := r.encode()
		if err != nil {
			t.Fatal(err)
		}
		return string(line) + "\n"
	}
	tombstone := func(uid string) string {
		return fmt.Sprintf(`{"uid":%q,"name":"pod-%s","forgotten":true}`+"\n", uid, uid)
	}
	tests := []struct {
		name    string
		file    string
		want    map[string]string // uid -> phase
		wantErr string            // "" for none
	}{
		{
			name: "last line of a pod wins",
			file: record("a", "Running") + record("b", "Failed") + record("a", "Succeeded"),
			want: map[string]string{"a": "Succeeded", "b": "Failed"},
		},
		{
			name: "tombstone drops the record",
			file: record("a", "Succeeded") + record("b", "Failed") + tombstone("a"),
			want: map[string]string{"b": "Failed"},
		},
		{
			name: "record after a tombstone is live again",
			file: record("a", "Succeeded") + tombstone("a") + record("a", "Failed"),
			want: map[string]string{"a": "Failed"},
		},
		{
			name: "torn last line is ignored",
			file: record("a", "Succeeded") + record("b", "Running") + strings.TrimSuffix(record("b", "Failed"), "}\n"),
			want: map[string]string{"a": "Succeeded", "b": "Running"},
		},
		{
			name:    "corrupt line in the middle is reported",
			file:    record("a", "Succeeded") + "{\"uid\":\"c\",\"na\n" + record("b", "Failed"),
			want:    map[string]string{"a": "Succeeded", "b": "Failed"},
			wantErr: "journal line 2",
		},
		{
			name:    "line without uid is reported",
			file:    record("a", "Succeeded") + "{\"name\":\"pod-x\"}\n",
			want:    map[string]string{"a": "Succeeded"},
			wantErr: "journal line 2: record without uid",
		},
		{
			name: "empty journal",
			file: "",
			want: map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, journalFile), []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			phases := func(rs []*podRecord) map[string]string {
				out := map[string]string{}
				for _, r := range rs {
					out[r.uid] = r.final.GetPhase()
				}
				return out
			}
			j := &journal{dir: dir}
			got, err := j.load()
			j.close()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("load error = %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("load error = %v, want one containing %q", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, phases(got)); diff != "" {
				t.Errorf("records after load (-want +got):\n%s", diff)
			}

			// Load rewrote the file: the same records, nothing to report.
			j = &journal{dir: dir}
			got, err = j.load()
			j.close()
			if err != nil {
				t.Errorf("second load: %v", err)
			}
			if diff := cmp.Diff(tt.want, phases(got)); diff != "" {
				t.Errorf("records after a second load (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJournalCompaction(t *testing.T) {
	tests := []struct {
		name string
		// fill saves and forgets records and returns the uids it left.
		fill func(t *testing.T, j *journal) []string
	}{
		{
			name: "one pod saved many times",
			fill: func(t *testing.T, j *journal) []string {
				r := &podRecord{uid: "uid-a", name: "pod-a"}
				for i := range 3 * compactSlack {
					r.processes = map[string]string{"c0": fmt.Sprint(i)}
					if err := j.save(r, i%10 == 0); err != nil {
						t.Fatal(err)
					}
				}
				return []string{"uid-a"}
			},
		},
		{
			name: "many pods forgotten",
			fill: func(t *testing.T, j *journal) []string {
				for i := range compactSlack {
					r := &podRecord{uid: fmt.Sprint("uid-", i), name: fmt.Sprint("pod-", i)}
					if err := j.save(r, false); err != nil {
						t.Fatal(err)
					}
					if i < compactSlack-2 {
						if err := j.forget(r.name); err != nil {
							t.Fatal(err)
						}
					}
				}
				return []string{fmt.Sprint("uid-", compactSlack-2), fmt.Sprint("uid-", compactSlack-1)}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			j := openTestJournal(t, dir)
			want := tt.fill(t, j)
			// Without compaction the file would hold every save.
			if n := len(journalLines(t, dir)); n > compactSlack+2*len(want)+2 {
				t.Errorf("journal has %d lines for %d records, want it compacted", n, len(want))
			}
			saved := j.log.lines()
			if err := j.close(); err != nil {
				t.Fatal(err)
			}
			got := reloadJournal(t, dir)
			var uids []string
			for _, r := range got {
				uids = append(uids, r.uid)
				if line, _ := r.encode(); !bytes.Equal(line, saved[r.uid]) {
					t.Errorf("record %s after load = %s, want %s", r.uid, line, saved[r.uid])
				}
			}
			if diff := cmp.Diff(want, uids); diff != "" {
				t.Errorf("records after load (-want +got):\n%s", diff)
			}
		})
	}
}

// TestJournalGroupCommit holds the first fsync while others save: they
// wait for it, and one more fsync then covers all of them.
func TestJournalGroupCommit(t *testing.T) {
	j := openTestJournal(t, t.TempDir())
	entered := make(chan struct{})
	release := make(chan struct{})
	var mu sync.Mutex
	syncs := 0
	j.log.fsync = func(f *os.File) error {
		mu.Lock()
		syncs++
		mu.Unlock()
		entered <- struct{}{}
		<-release
		return f.Sync()
	}
	save := func(uid string) <-chan error {
		done := make(chan error, 1)
		go func() { done <- j.save(&podRecord{uid: uid, name: "pod-" + uid}, true) }()
		return done
	}
	// waitSync waits for an fsync to begin.
	waitSync := func(what string) {
		t.Helper()
		select {
		case <-entered:
		case <-time.After(10 * time.Second):
			t.Fatalf("no fsync began %s", what)
		}
	}
	first := save("first")
	waitSync("for the first durable save")
	const waiting = 8
	var others []<-chan error
	for i := range waiting {
		others = append(others, save(fmt.Sprint(i)))
	}
	wait.For(t, "every save appended", func() (bool, string) {
		n := len(j.log.lines())
		return n == waiting+1, fmt.Sprintf("%d records appended", n)
	})
	for i, done := range others {
		select {
		case err := <-done:
			t.Fatalf("save %d returned (%v) before any fsync covered it", i, err)
		default:
		}
	}
	// saved waits for a save to return.
	saved := func(done <-chan error) {
		t.Helper()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("durable save did not return after its fsync")
		}
	}
	release <- struct{}{}
	saved(first)
	waitSync("for the saves that waited") // one of them syncs for all
	release <- struct{}{}
	for _, done := range others {
		saved(done)
	}
	mu.Lock()
	defer mu.Unlock()
	if syncs != 2 {
		t.Errorf("%d fsyncs for %d durable saves, want 2", syncs, waiting+1)
	}
}

// TestJournalConcurrentSaves saves and forgets from many goroutines at once
// (run it with -race) and reads back what each left last.
func TestJournalConcurrentSaves(t *testing.T) {
	dir := t.TempDir()
	j := openTestJournal(t, dir)
	const workers, saves = 16, 40
	var wg sync.WaitGroup
	want := map[string]string{}
	for w := range workers {
		uid := fmt.Sprint("uid-", w)
		want[uid] = fmt.Sprint(saves - 1)
		wg.Go(func() {
			r := &podRecord{uid: uid, name: "pod-" + uid}
			gone := &podRecord{uid: "gone-" + uid, name: "gone-" + uid}
			for i := range saves {
				r.mu.Lock()
				r.processes = map[string]string{"c0": fmt.Sprint(i)}
				r.mu.Unlock()
				if err := j.save(r, i%2 == 0); err != nil {
					t.Error(err)
				}
				if err := j.save(gone, true); err != nil {
					t.Error(err)
				}
				if err := j.forget(gone.name); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	records := reloadJournal(t, dir)
	got := map[string]string{}
	for _, r := range records {
		got[r.uid] = r.processes["c0"]
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("records after load, uid -> last process (-want +got):\n%s", diff)
	}
}

func TestJournalForgetAndSweep(t *testing.T) {
	dir := t.TempDir()
	j := openTestJournal(t, dir)
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
	write("forgotten-old", "c0.log", "work/data")
	write("forgotten-new", "c0.log")
	write("known", "c0.log")
	for _, name := range []string{"forgotten-old", "known"} {
		if err := j.save(&podRecord{uid: "uid-" + name, name: name}, false); err != nil {
			t.Fatal(err)
		}
	}

	if err := j.forget("forgotten-old"); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour)
	for _, name := range []string{"forgotten-old", "known"} {
		if err := os.Chtimes(j.podDir(name), old, old); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.sweep(time.Now().Add(-24 * time.Hour)); err != nil {
		t.Fatal(err)
	}
	var left []string
	err := filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(dir, path)
			left = append(left, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"forgotten-new/c0.log", journalFile, "known/c0.log"}
	if diff := cmp.Diff(want, left); diff != "" {
		t.Errorf("files left after forget and sweep (-want +got):\n%s", diff)
	}

	if err := j.close(); err != nil {
		t.Fatal(err)
	}
	records := reloadJournal(t, dir)
	var names []string
	for _, r := range records {
		names = append(names, r.name)
	}
	if diff := cmp.Diff([]string{"known"}, names); diff != "" {
		t.Errorf("records after forget and a new load (-want +got):\n%s", diff)
	}
}

// TestRecordLineIsWhatJSONMarshalMakes: journal lines are written by hand
// for speed, and must stay the lines json.Marshal wrote, which older
// agents read.
func TestRecordLineIsWhatJSONMarshalMakes(t *testing.T) {
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"echo \"<quoted & escaped>\"\n", "true"}}.build()
	final := &api.PodStatus{Phase: api.PodFailed, Reason: "Error", Message: "exit 1\twith \"tabs\""}
	started := time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.FixedZone("x", 3600))
	tests := []struct {
		name string
		r    *podRecord
	}{
		{"names only", &podRecord{uid: "u", name: "n"}},
		{"names to escape", &podRecord{uid: "u\"<>&\u2028", name: "n\\é"}},
		{"new pod", &podRecord{uid: "uid-a", name: "pod-a", pod: pod, started: started}},
		{"running", &podRecord{uid: "uid-a", name: "pod-a", pod: pod, started: started,
			processes: map[string]string{"b": "43/boot/8/jobcluster/a1/run-1", "a": "42/boot/7"}}},
		{"final", &podRecord{uid: "uid-a", name: "pod-a", pod: pod, started: started, final: final}},
		{"reported", &podRecord{uid: "uid-a", name: "pod-a", final: final, reported: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.r.encode()
			if err != nil {
				t.Fatal(err)
			}
			want, err := json.Marshal(recordFile{UID: tt.r.uid, Name: tt.r.name, PodProto: tt.r.podProto, Started: tt.r.started,
				Processes: tt.r.processes, FinalProto: tt.r.finalProto, Reported: tt.r.reported})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("line:\n got %s\nwant %s", got, want)
			}
			back, err := decodeRecord(got)
			if err != nil {
				t.Fatalf("decode the line: %v", err)
			}
			if diff := cmp.Diff(viewRecords([]*podRecord{tt.r}), viewRecords([]*podRecord{back}), protocmp.Transform()); diff != "" {
				t.Errorf("record after decode (-want +got):\n%s", diff)
			}
		})
	}
	tomb := recordFile{UID: "u", Name: "n", Forgotten: true}
	got, err := tomb.line()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := json.Marshal(tomb); !bytes.Equal(got, want) {
		t.Errorf("tombstone line:\n got %s\nwant %s", got, want)
	}
}

// TestRecordOfAnEarlierVersionIsRead: earlier versions saved the pod and
// its final status in their protojson form. Such a record is read, and
// saved again in the protobuf form.
func TestRecordOfAnEarlierVersionIsRead(t *testing.T) {
	pod := jobPod()
	final := &api.PodStatus{Phase: api.PodFailed, Reason: "Error", Message: "exit 1"}
	podJSON, err := protojson.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	finalJSON, err := protojson.Marshal(final)
	if err != nil {
		t.Fatal(err)
	}
	started := time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC)
	line, err := json.Marshal(map[string]any{"uid": "uid-a", "name": "pod-a", "pod": json.RawMessage(podJSON),
		"started": started, "final": json.RawMessage(finalJSON), "reported": true})
	if err != nil {
		t.Fatal(err)
	}
	want := &podRecord{uid: "uid-a", name: "pod-a", pod: pod, started: started, final: final, reported: true}
	r, err := decodeRecord(line)
	if err != nil {
		t.Fatalf("decode %s: %v", line, err)
	}
	if diff := cmp.Diff(viewRecords([]*podRecord{want}), viewRecords([]*podRecord{r}), protocmp.Transform()); diff != "" {
		t.Errorf("record of an earlier version (-want +got):\n%s", diff)
	}
	again, err := r.encode()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(again, []byte(`"pod":`)) || !bytes.Contains(again, []byte(`"podProto":`)) || !bytes.Contains(again, []byte(`"finalProto":`)) {
		t.Errorf("record saved again in the earlier form: %s", again)
	}
	back, err := decodeRecord(again)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(viewRecords([]*podRecord{want}), viewRecords([]*podRecord{back}), protocmp.Transform()); diff != "" {
		t.Errorf("record saved again and read (-want +got):\n%s", diff)
	}
}

// BenchmarkRecordEncode is a running pod's save: its pod and status
// encoded before, as after its first save.
func BenchmarkRecordEncode(b *testing.B) {
	pod := testPod{name: "pod-a", uid: "uid-a", scripts: []string{"true"}}.build()
	r := &podRecord{uid: "uid-a", name: "pod-a", pod: pod, started: time.Now(),
		processes: map[string]string{"c0": "42/boot/7/jobcluster/a1/run-0123456789abcdef"}}
	if _, err := r.encode(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// jobPod is a pod as a Job's controller makes it: labels, an owner and a
// bound node, one container.
func jobPod() *api.Pod {
	pod := testPod{name: "big-7x2kq", uid: "0b7d3c4e-2f1a-4d8e-9c6b-5a4f3e2d1c0b", scripts: []string{"true"},
		labels: map[string]string{
			"batch.kubernetes.io/controller-uid": "5e0c1f6a-8d2b-4f7e-a1c3-9b8d7e6f5a4b",
			"batch.kubernetes.io/job-name":       "big",
			"controller-uid":                     "5e0c1f6a-8d2b-4f7e-a1c3-9b8d7e6f5a4b",
			"job-name":                           "big",
		}}.build()
	pod.Metadata.Namespace = "default"
	pod.Metadata.GenerateName = "big-"
	pod.Metadata.CreationTimestamp = timestamppb.New(time.Date(2026, 12, 7, 6, 0, 0, 0, time.UTC))
	pod.Metadata.OwnerReferences = []*api.OwnerReference{{ApiVersion: "batch/v1", Kind: "Job", Name: "big",
		Uid: "5e0c1f6a-8d2b-4f7e-a1c3-9b8d7e6f5a4b", Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}}
	pod.Spec.NodeName = "a1"
	return pod
}

// BenchmarkRecordFirstSaves is what a pod's first save and its final
// save encode: the pod, and then its final status.
func BenchmarkRecordFirstSaves(b *testing.B) {
	pod := jobPod()
	started := time.Now()
	final := &api.PodStatus{Phase: api.PodSucceeded, HostIp: "127.0.0.1", StartTime: timestamppb.New(started),
		ContainerStatuses: []*api.ContainerStatus{{Name: "c0", Ready: false, RestartCount: 0, Image: "busybox",
			State: &api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
				StartedAt: timestamppb.New(started), FinishedAt: timestamppb.New(started.Add(time.Millisecond))}}}}}
	b.ReportAllocs()
	for b.Loop() {
		r := &podRecord{uid: pod.Metadata.Uid, name: pod.Metadata.Name, pod: pod, started: started}
		if _, err := r.encode(); err != nil {
			b.Fatal(err)
		}
		r.final = final
		if _, err := r.encode(); err != nil {
			b.Fatal(err)
		}
	}
}

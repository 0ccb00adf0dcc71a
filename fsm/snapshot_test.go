package fsm

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// queries is what the derived indexes answer about a state.
type queries struct {
	LiveOnNode    map[string][]string
	PodsOfJob     map[string][]string
	JobPods       map[string]jobPods // what the job controller reads
	JobsOfCronJob []string
	EventsAbout   map[string][]string
	LiveJobs      []string
	UnboundPods   []string
}

// jobPods is a Job's pods as JobPods gives them: whole, by name, and the
// sum of its Succeeded ones in brief.
type jobPods struct {
	Whole     []string
	Succeeded api.SucceededSum
}

func ask(s *State) queries {
	q := queries{LiveOnNode: map[string][]string{}, PodsOfJob: map[string][]string{}, JobPods: map[string]jobPods{}, EventsAbout: map[string][]string{}}
	for _, n := range s.Nodes() {
		live, _ := s.LivePodsOnNode(n.GetMetadata().GetName())
		q.LiveOnNode[n.GetMetadata().GetName()] = names(live)
	}
	for _, j := range s.Jobs() {
		q.PodsOfJob[j.GetMetadata().GetName()] = names(s.PodsOfJob("", j.GetMetadata().GetName()))
		if _, done := api.JobFinished(j); !done {
			whole, brief := s.JobPods("", j.GetMetadata().GetName())
			q.JobPods[j.GetMetadata().GetName()] = jobPods{Whole: names(whole), Succeeded: brief}
		}
	}
	q.JobsOfCronJob = names(s.JobsOfCronJob("", "tick"))
	for _, e := range s.AllEvents() {
		ref := e.GetInvolvedObject()
		q.EventsAbout[ref.GetKind()+"/"+ref.GetName()] = names(s.Events(ref.GetKind(), ref.GetNamespace(), ref.GetName()))
	}
	q.LiveJobs = names(s.LiveJobs())
	q.UnboundPods = names(s.UnboundPods())
	return q
}

func TestStateViewDoesNotChange(t *testing.T) {
	h := newHarness(t)
	h.must(upsertJob(newJob("a"), true))
	view := h.state()
	h.must(upsertJob(newJob("b"), true), deleteJob("a", ""))
	if diff := cmp.Diff([]string{"a"}, names(view.Jobs())); diff != "" {
		t.Errorf("old view's jobs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b"}, names(h.state().Jobs())); diff != "" {
		t.Errorf("new view's jobs (-want +got):\n%s", diff)
	}
}

func TestLiveJobsAndUnboundPods(t *testing.T) {
	h := newHarness(t)
	ttl := newJob("done-ttl")
	ttl.Spec.TtlSecondsAfterFinished = proto.Int32(60)
	finished := func(name string) *api.Command {
		return updateJobStatus(name, "uid-"+name, &api.JobStatus{Conditions: []*api.JobCondition{{Type: api.JobComplete, Status: "True"}}})
	}
	work := newJob("work", parallelism(4), completions(4))
	h.must(upsertNode(newNode("n1")),
		upsertJob(newJob("running"), true), upsertJob(newJob("done"), true), upsertJob(ttl, true),
		upsertJob(newJob("failing", withCondition(api.JobFailureTarget)), true),
		upsertJob(work, true), createPods(pods(work, 4)...))
	h.must(finished("done"), finished("done-ttl"), bindPods(2, "work-0", "n1"),
		updatePodStatus(phase("work-1", "", api.PodFailed)), stopPods("ExcessPod", 3, "work-2"))
	s := h.state()
	if diff := cmp.Diff([]string{"done-ttl", "failing", "running", "work"}, names(s.LiveJobs())); diff != "" {
		t.Errorf("live jobs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"work-3"}, names(s.UnboundPods())); diff != "" {
		t.Errorf("unbound pods (-want +got):\n%s", diff)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	tests := []struct {
		name  string
		setup func(h *harness)
	}{
		{name: "empty state", setup: func(*harness) {}},
		{name: "some of everything", setup: populate},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			tt.setup(h)
			g := restored(t, h.f)
			if diff := equalTables(dump(h.state()), dump(g.State())); diff != "" {
				t.Errorf("restored state differs: %s", diff)
			}
			if g.AppliedIndex() != h.f.AppliedIndex() {
				t.Errorf("restored applied index = %d, want %d", g.AppliedIndex(), h.f.AppliedIndex())
			}
			if diff := cmp.Diff(ask(h.state()), ask(g.State())); diff != "" {
				t.Errorf("restored indexes answer differently (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRestoredStateKeepsApplying(t *testing.T) {
	h := newHarness(t)
	populate(h)
	g := restored(t, h.f)
	next := []*api.Command{
		updatePodStatus(phase("work-0", "n1", api.PodSucceeded)),
		createPods(pods(newJob("work", parallelism(3), completions(5)), 6)[3:]...),
		deleteCronJob("tick"),
	}
	h.must(next...)
	if res := g.ApplyBatch(h.index, &api.CommandBatch{Commands: next}); errors.Join(res.Errors...) != nil {
		t.Fatalf("restored FSM refused: %v", res.Errors)
	}
	if diff := equalTables(dump(h.state()), dump(g.State())); diff != "" {
		t.Errorf("states differ after applying the same entry: %s", diff)
	}
}

func TestSnapshotIsPointInTime(t *testing.T) {
	h := newHarness(t)
	populate(h)
	want := dump(h.state())
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	h.must(deleteJob("work", ""), upsertNode(newNode("n3")))
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := New(nil)
	if err := g.Restore(io.NopCloser(&sink.Buffer)); err != nil {
		t.Fatal(err)
	}
	if diff := equalTables(want, dump(g.State())); diff != "" {
		t.Errorf("restored state is not the one snapshotted: %s", diff)
	}
}

func TestRestoreReplacesState(t *testing.T) {
	src := newHarness(t)
	populate(src)
	data := persist(t, src.f)

	h := newHarness(t)
	h.index = 1000
	h.must(upsertJob(newJob("stale"), true), upsertNode(newNode("n9")), recordEvents(newEvent("stale.a", "Job", "stale", "X", 1)))
	oldView := h.state()
	oldLive, oldWatch := oldView.LivePodsOnNode("n9")
	changed := h.f.Changed()

	rc := &closeRecorder{Reader: bytes.NewReader(data)}
	if err := h.f.Restore(rc); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if !rc.closed {
		t.Error("Restore did not close the snapshot reader")
	}
	if diff := equalTables(dump(src.state()), dump(h.state())); diff != "" {
		t.Errorf("state after restore differs from the snapshot: %s", diff)
	}
	if h.f.AppliedIndex() != src.f.AppliedIndex() {
		t.Errorf("applied index = %d, want the snapshot's %d", h.f.AppliedIndex(), src.f.AppliedIndex())
	}
	for what, ch := range map[string]<-chan struct{}{"old view's Restored": oldView.Restored(), "Changed": changed} {
		select {
		case <-ch:
		default:
			t.Errorf("%s channel not closed by Restore", what)
		}
	}
	select {
	case <-h.state().Restored():
		t.Error("a view taken after Restore is already marked restored")
	default:
	}
	// The old view and what it returned stay as they were.
	if diff := cmp.Diff([]string{"stale"}, names(oldView.Jobs())); diff != "" {
		t.Errorf("old view's jobs (-want +got):\n%s", diff)
	}
	if len(oldLive) != 0 || oldWatch == nil {
		t.Errorf("old view's live pods = %v, watch %v", names(oldLive), oldWatch)
	}
}

type closeRecorder struct {
	io.Reader
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestRestoreRefusesCorruptSnapshot(t *testing.T) {
	src := newHarness(t)
	populate(src)
	good := persist(t, src.f)
	if len(good) < 20 {
		t.Fatalf("snapshot of %d bytes is too small to corrupt", len(good))
	}
	// header is the version, index and dictionary of the good snapshot;
	// versionIndex its version and index only.
	var lenBuf [binary.MaxVarintLen64]byte
	versionIndex := append([]byte{snapshotVersion}, lenBuf[:binary.PutUvarint(lenBuf[:], src.f.AppliedIndex())]...)
	header := append(binary.AppendUvarint(bytes.Clone(versionIndex), uint64(len(dictionary))), dictionary...)
	record := func(kind byte, body []byte) []byte {
		out := append([]byte{kind}, lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(body)))]...)
		return append(out, body...)
	}
	job, err := proto.Marshal(newJob("x"))
	if err != nil {
		t.Fatal(err)
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

	tests := []struct {
		name string
		data []byte
	}{
		{name: "empty", data: nil},
		{name: "unknown version", data: append([]byte{snapshotVersion + 1}, good[1:]...)},
		{name: "header only", data: header},
		{name: "cut after the first record", data: cat(header, record(recordJob, job))},
		{name: "cut inside a record", data: good[:len(good)/2]},
		{name: "without the end record", data: good[:len(good)-1]},
		{name: "record kind zero", data: cat(header, record(0, job), []byte{recordEnd})},
		{name: "unknown record kind", data: cat(header, record(200, job), []byte{recordEnd})},
		{name: "frozen record in a version 1 snapshot", data: cat([]byte{1}, header[1:2], record(recordFrozenJob, frozenRec(&frozen{name: "x", labels: []byte{}, data: compress(job)})), []byte{recordEnd})},
		{name: "frozen record that is not compressed", data: cat(header, record(recordFrozenJob, frozenRec(&frozen{name: "x", labels: []byte{}, data: job})), []byte{recordEnd})},
		{name: "frozen record that decompresses to garbage", data: cat(header, record(recordFrozenJob, frozenRec(&frozen{name: "x", labels: []byte{}, data: compress([]byte{0xff, 0xff, 0xff})})), []byte{recordEnd})},
		{name: "frozen record that claims to expand beyond a record's bound", data: cat(header, record(recordFrozenJob, frozenRec(&frozen{name: "x", labels: []byte{}, data: binary.AppendUvarint(nil, maxRecord+1)})), []byte{recordEnd})},
		{name: "dictionary too short for S2", data: cat(versionIndex, binary.AppendUvarint(nil, 3), []byte("abc"), record(recordFrozenJob, frozenRec(&frozen{name: "x", labels: []byte{}, data: compress(job)})), []byte{recordEnd})},
		{name: "frozen record without data", data: cat(header, record(recordFrozenJob, frozenRec(&frozen{name: "x", labels: []byte{}})), []byte{recordEnd})},
		{name: "frozen record without a name", data: cat(header, record(recordFrozenPod, frozenRec(&frozen{data: compress(job)})), []byte{recordEnd})},
		{name: "frozen record that is not a message", data: cat(header, record(recordFrozenPod, []byte{0xff, 0xff, 0xff}), []byte{recordEnd})},
		{name: "implausibly large dictionary", data: cat(header[:2], lenBuf[:binary.PutUvarint(lenBuf[:], 1<<40)])},
		{name: "record that is not a message", data: cat(header, record(recordJob, []byte{0xff, 0xff, 0xff}), []byte{recordEnd})},
		{name: "object without a name", data: cat(header, record(recordPod, nil), []byte{recordEnd})},
		{name: "implausibly large record", data: cat(header, []byte{recordJob}, lenBuf[:binary.PutUvarint(lenBuf[:], 1<<40)])},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t)
			h.must(upsertJob(newJob("keep"), true), upsertNode(newNode("n1")))
			before := dump(h.state())
			view := h.state()
			if err := h.f.Restore(io.NopCloser(bytes.NewReader(tt.data))); err == nil {
				t.Fatal("Restore accepted a corrupt snapshot")
			}
			if diff := equalTables(before, dump(h.state())); diff != "" {
				t.Errorf("a failed restore changed the state: %s", diff)
			}
			if h.f.AppliedIndex() != h.index {
				t.Errorf("applied index = %d, want %d", h.f.AppliedIndex(), h.index)
			}
			select {
			case <-view.Restored():
				t.Error("a failed restore closed the Restored channel")
			default:
			}
		})
	}
}

func TestRestoreRefusesEveryTruncation(t *testing.T) {
	src := newHarness(t)
	populate(src)
	good := persist(t, src.f)
	for n := range len(good) {
		g := New(nil)
		if err := g.Restore(io.NopCloser(bytes.NewReader(good[:n]))); err == nil {
			t.Fatalf("Restore accepted the first %d of %d bytes", n, len(good))
		}
		if len(g.State().Jobs()) != 0 {
			t.Fatalf("a restore of %d bytes left jobs behind", n)
		}
	}
}

func TestPersistCancelsOnWriteError(t *testing.T) {
	h := newHarness(t)
	populate(h)
	snap, err := h.f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("disk full")
	sink := &bufferSink{writeErr: broken}
	if err := snap.Persist(sink); !errors.Is(err, broken) {
		t.Errorf("Persist error = %v, want %v", err, broken)
	}
	if !sink.cancelled || sink.closed {
		t.Errorf("sink cancelled=%v closed=%v, want cancelled only", sink.cancelled, sink.closed)
	}
}

// bufferSink is a raft.SnapshotSink that keeps the snapshot in memory.
type bufferSink struct {
	bytes.Buffer
	writeErr          error // returned by every Write when set
	closed, cancelled bool
}

func (s *bufferSink) Write(p []byte) (int, error) {
	if s.writeErr != nil {
		return 0, s.writeErr
	}
	return s.Buffer.Write(p)
}

func (s *bufferSink) ID() string    { return "buffer" }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufferSink) Close() error  { s.closed = true; return nil }

// persist snapshots f and returns the persisted bytes.
func persist(t *testing.T, f *FSM) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	defer snap.Release()
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatalf("Persist: %v", err)
	}
	if !sink.closed || sink.cancelled {
		t.Fatalf("Persist left the sink closed=%v cancelled=%v, want closed only", sink.closed, sink.cancelled)
	}
	return sink.Bytes()
}

// restored is a new FSM restored from a snapshot of f.
func restored(t *testing.T, f *FSM) *FSM {
	t.Helper()
	g := New(nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(persist(t, f)))); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	return g
}

// equalTables reports the first object that differs between two states,
// compared with proto.Equal, or "" when they hold the same.
func equalTables(want, got tables) string {
	if want.Index != got.Index {
		return fmt.Sprintf("index %d, want %d", got.Index, want.Index)
	}
	for _, tb := range []struct {
		name      string
		want, got []proto.Message
	}{
		{"jobs", messages(want.Jobs), messages(got.Jobs)},
		{"cronjobs", messages(want.CronJobs), messages(got.CronJobs)},
		{"pods", messages(want.Pods), messages(got.Pods)},
		{"nodes", messages(want.Nodes), messages(got.Nodes)},
		{"events", messages(want.Events), messages(got.Events)},
	} {
		if len(tb.want) != len(tb.got) {
			return fmt.Sprintf("%d %s, want %d", len(tb.got), tb.name, len(tb.want))
		}
		for i := range tb.want {
			if !proto.Equal(tb.want[i], tb.got[i]) {
				return fmt.Sprintf("%s[%d]:\n%s", tb.name, i, diffObjects(tb.want[i], tb.got[i]))
			}
		}
	}
	return ""
}

func messages[T proto.Message](in []T) []proto.Message {
	out := make([]proto.Message, len(in))
	for i, m := range in {
		out[i] = m
	}
	return out
}

// frozenRec is the snapshot record body of f.
func frozenRec(f *frozen) []byte { return f.appendRecord(nil) }

func TestExpandRefusesWhatIsHuge(t *testing.T) {
	_, err := expandWith(binary.AppendUvarint(nil, maxRecord+1), s2Dict)
	if err == nil || !strings.Contains(err.Error(), "implausibly large") {
		t.Errorf("decompress data claiming %d bytes: error %v, want it refused as implausibly large", maxRecord+1, err)
	}
	buf, err := inflateWith(deflated(t, make([]byte, maxRecord+1), nil), nil)
	if err == nil || !strings.Contains(err.Error(), "implausibly large") {
		t.Errorf("inflate %d bytes: error %v, want it refused as implausibly large", maxRecord+1, err)
	}
	if buf != nil {
		buffers.Put(buf)
	}
}

// rewriteFrozen is snap written again as a snapshot of version holding
// dict: its other records as they are, each frozen one as edit leaves it.
// edit is given the record and its encoding, decompressed. It fails the
// test when snap holds no frozen record.
func rewriteFrozen(t *testing.T, snap []byte, version byte, dict []byte, edit func(f *frozen, raw []byte)) []byte {
	t.Helper()
	r := bufio.NewReader(bytes.NewReader(snap))
	if _, err := r.ReadByte(); err != nil {
		t.Fatal(err)
	}
	index, err := binary.ReadUvarint(r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := readBytes(r); err != nil {
		t.Fatal(err)
	}
	out := binary.AppendUvarint([]byte{version}, index)
	out = append(binary.AppendUvarint(out, uint64(len(dict))), dict...)
	frozenSeen := 0
	for {
		kind, err := r.ReadByte()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, kind)
		if kind == recordEnd {
			break
		}
		body, err := readBytes(r)
		if err != nil {
			t.Fatal(err)
		}
		if kind == recordFrozenJob || kind == recordFrozenPod {
			frozenSeen++
			f, err := parseFrozenRecord(body, kind == recordFrozenJob)
			if err != nil {
				t.Fatal(err)
			}
			raw := expand(f)
			edit(f, raw.Bytes())
			buffers.Put(raw)
			body = f.appendRecord(nil)
		}
		out = append(binary.AppendUvarint(out, uint64(len(body))), body...)
	}
	if frozenSeen == 0 {
		t.Fatal("the snapshot holds no frozen record; it must hold a finished Job")
	}
	return out
}

// frozenData maps the frozen records of a snapshot to their data.
func frozenData(t *testing.T, snap []byte) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	rewriteFrozen(t, snap, snapshotVersion, dictionary, func(f *frozen, _ []byte) {
		out[f.name] = f.data
	})
	return out
}

// deflated is raw deflated against dict, as snapshots of version 3 and
// earlier hold frozen records.
func deflated(t *testing.T, raw, dict []byte) []byte {
	t.Helper()
	var d bytes.Buffer
	w, err := flate.NewWriterDict(&d, flate.BestSpeed, dict)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return d.Bytes()
}

func TestRestoreReadsVersion1(t *testing.T) {
	src := newHarness(t)
	populate(src)
	// Version 1 is the plain records without a dictionary.
	var lenBuf [binary.MaxVarintLen64]byte
	v1 := append([]byte{1}, lenBuf[:binary.PutUvarint(lenBuf[:], src.f.AppliedIndex())]...)
	st := src.state()
	add := func(kind byte, m proto.Message) {
		b, err := proto.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		v1 = append(append(append(v1, kind), lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(b)))]...), b...)
	}
	for _, j := range st.Jobs() {
		add(recordJob, j)
	}
	for _, c := range st.CronJobs() {
		add(recordCronJob, c)
	}
	for _, p := range st.Pods() {
		add(recordPod, p)
	}
	for _, n := range st.Nodes() {
		add(recordNode, n)
	}
	for _, e := range st.AllEvents() {
		add(recordEvent, e)
	}
	v1 = append(v1, recordEnd)
	g := New(nil)
	if err := g.Restore(io.NopCloser(bytes.NewReader(v1))); err != nil {
		t.Fatalf("Restore of a version 1 snapshot: %v", err)
	}
	if diff := equalTables(dump(st), dump(g.State())); diff != "" {
		t.Errorf("restored state differs: %s", diff)
	}
	if !storedFrozen(t, g, tableJobs, "done") {
		t.Errorf("a finished Job restored from version 1 is not stored encoded")
	}
}

// TestRestoreReadsOtherForms restores a snapshot whose frozen records were
// written by another build: deflated in version 3, with this build's
// dictionary or another, and compressed with S2 against another
// dictionary. Each must restore to the same state, and its frozen objects
// be stored as this build compresses them.
func TestRestoreReadsOtherForms(t *testing.T) {
	src := newHarness(t)
	populate(src)
	good := persist(t, src.f)
	other := bytes.Repeat([]byte("another dictionary "), 4)
	deflater := func(dict []byte) func([]byte) []byte {
		return func(raw []byte) []byte { return deflated(t, raw, dict) }
	}
	tests := []struct {
		name    string
		version byte
		dict    []byte
		pack    func([]byte) []byte
	}{
		{"version 3, this dictionary", 3, dictionary, deflater(dictionary)},
		{"version 3, no dictionary", 3, []byte{}, deflater(nil)},
		{"version 4, another dictionary", 4, other, func(raw []byte) []byte { return newS2Dict(other).Encode(nil, raw) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := rewriteFrozen(t, good, tt.version, tt.dict, func(f *frozen, raw []byte) { f.data = tt.pack(raw) })
			g := New(nil)
			if err := g.Restore(io.NopCloser(bytes.NewReader(out))); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if diff := equalTables(dump(src.state()), dump(g.State())); diff != "" {
				t.Errorf("restored state differs: %s", diff)
			}
			if !storedFrozen(t, g, tableJobs, "done") {
				t.Errorf("finished Job is not stored encoded after the restore")
			}
			want, got := frozenData(t, good), frozenData(t, persist(t, g))
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("frozen records after the restore are not as this build compresses them (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLogBytesSinceSnapshot(t *testing.T) {
	f := New(nil)
	data, err := Encode(upsertNode(newNode("n1")))
	if err != nil {
		t.Fatal(err)
	}
	f.Apply(rawLog(1, data))
	f.Apply(rawLog(2, data))
	if got, want := f.LogBytesSinceSnapshot(), uint64(2*len(data)); got != want {
		t.Fatalf("after two entries: %d log bytes, want %d", got, want)
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	if got := f.LogBytesSinceSnapshot(); got != 0 {
		t.Errorf("after Snapshot: %d log bytes, want 0", got)
	}
	sink := &bufferSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	f.Apply(rawLog(3, data))
	if got := f.LogBytesSinceSnapshot(); got != uint64(len(data)) {
		t.Errorf("after one more entry: %d log bytes, want %d", got, len(data))
	}
	if err := f.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	if got := f.LogBytesSinceSnapshot(); got != 0 {
		t.Errorf("after Restore: %d log bytes, want 0", got)
	}
}

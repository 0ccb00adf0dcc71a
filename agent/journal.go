package agent

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/metrics"
)

const (
	journalFile = "journal.log"
	workDir     = "work"
	// removingDir held pod directories on their way out in earlier
	// versions, which renamed a directory there before deleting it. An
	// agent empties what such a version left. Pod names never start
	// with a dot.
	removingDir = ".removing"
)

// podRecord is what the agent remembers about a pod it started, in memory
// and in the journal. Its existence means the pod's UID must never be
// started again.
type podRecord struct {
	uid  string
	name string
	// absentSince is when a PodSet first lacked the reported pod. It is
	// guarded by the supervisor's lock and not saved.
	absentSince time.Time

	mu        sync.Mutex // guards the fields below and the record's journal lines
	pod       *api.Pod
	started   time.Time
	processes map[string]string // container name -> Process.ID of its latest run
	final     *api.PodStatus
	reported  bool

	// The protobuf forms of pod and final, encoded once: a pod is saved
	// several times and neither changes once set.
	podProto   []byte
	finalProto []byte
	encodedFor *api.PodStatus // the final status finalProto holds
}

// recordFile is the form of a podRecord in a journal line. A line with
// Forgotten set is a tombstone: the record of UID was dropped.
//
// The pod and its final status are saved in their protobuf form (base64
// in the line), which costs a fifth of their protojson form to encode.
// Pod and Final hold the protojson form that earlier versions wrote; they
// are read, never written.
type recordFile struct {
	UID        string            `json:"uid"`
	Name       string            `json:"name"`
	Forgotten  bool              `json:"forgotten,omitempty"`
	PodProto   []byte            `json:"podProto,omitempty"`
	Pod        json.RawMessage   `json:"pod,omitempty"`
	Started    time.Time         `json:"started,omitzero"`
	Processes  map[string]string `json:"processes,omitempty"`
	FinalProto []byte            `json:"finalProto,omitempty"`
	Final      json.RawMessage   `json:"final,omitempty"`
	Reported   bool              `json:"reported,omitempty"`
}

// journal keeps the pods' records in one append-only file,
// <pods dir>/journal.log: one JSON line per save, the last line of a UID
// wins. Pod directories (logs, working directory) sit beside it.
//
// It knows whose every pod directory is: a live record's, or a forgotten
// pod's whose logs are kept until the servers no longer hold the pod.
type journal struct {
	dir    string
	logger *slog.Logger
	log    *journalLog // set by load
	// metrics times the journal's fsyncs; nil measures nothing.
	metrics *metrics.Agent

	mu    sync.Mutex
	names map[string]string // pod name -> UID of its live record
	// kept maps the names of forgotten pods whose directories remain to
	// their UIDs; the UID is empty for directories an earlier run of the
	// agent forgot, whose UID is not known.
	kept map[string]string
	// removing holds the names whose directories are being deleted; each
	// channel is closed when its deletion ends.
	removing map[string]chan struct{}
	// removeTree deletes a pod's directory and tells whether it found
	// it; nil means removeFullDir. Tests hold a removal with it.
	removeTree func(dir string) (bool, error)
}

func (j *journal) podDir(name string) string { return filepath.Join(j.dir, name) }

// safeName tells whether a pod name can name a directory under the pods
// directory without leaving it.
func safeName(name string) bool {
	return name != "" && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".")
}

// load opens the journal and returns every record in it. It must be
// called once, before anything is saved. Lines that cannot be read are
// returned as errors beside the records that could be read.
func (j *journal) load() ([]*podRecord, error) {
	if j.logger == nil {
		j.logger = slog.New(slog.DiscardHandler)
	}
	log, err := openJournalLog(filepath.Join(j.dir, journalFile), parseLine, j.logger)
	if log != nil && j.metrics != nil {
		fsync := log.fsync
		log.fsync = func(f *os.File) error {
			start := time.Now()
			err := fsync(f)
			j.metrics.JournalSynced(time.Since(start))
			return err
		}
	}
	j.log = log
	errs := []error{err}
	lines := log.lines()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.names = map[string]string{}
	j.kept = map[string]string{}
	j.removing = map[string]chan struct{}{}
	var records []*podRecord
	for _, uid := range slices.Sorted(maps.Keys(lines)) {
		r, err := decodeRecord(lines[uid])
		if err != nil {
			// The line stays in the file for an operator (or a
			// later version) to read; it is never forgotten.
			errs = append(errs, fmt.Errorf("decode record of %s: %w", uid, err))
			continue
		}
		j.names[r.name] = r.uid
		records = append(records, r)
	}
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		errs = append(errs, fmt.Errorf("list pod directories: %w", err))
	}
	for _, e := range entries {
		if _, live := j.names[e.Name()]; e.IsDir() && safeName(e.Name()) && !live {
			j.kept[e.Name()] = ""
		}
	}
	return records, errors.Join(errs...)
}

func parseLine(line []byte) (string, bool, error) {
	var f struct {
		UID       string `json:"uid"`
		Forgotten bool   `json:"forgotten"`
	}
	if err := json.Unmarshal(line, &f); err != nil {
		return "", false, err
	}
	if f.UID == "" {
		return "", false, errors.New("record without uid")
	}
	return f.UID, f.Forgotten, nil
}

func decodeRecord(data []byte) (*podRecord, error) {
	var f recordFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, err
	}
	if f.UID == "" || f.Name == "" {
		return nil, errors.New("record without uid or name")
	}
	r := &podRecord{uid: f.UID, name: f.Name, started: f.Started, processes: f.Processes, reported: f.Reported}
	var err error
	if r.pod, r.podProto, err = decodeSaved[api.Pod](f.PodProto, f.Pod); err != nil {
		return nil, fmt.Errorf("pod: %w", err)
	}
	if r.final, r.finalProto, err = decodeSaved[api.PodStatus](f.FinalProto, f.Final); err != nil {
		return nil, fmt.Errorf("final status: %w", err)
	}
	if r.finalProto != nil {
		// A final status read from the protojson form is encoded
		// again at its next save.
		r.encodedFor = r.final
	}
	return r, nil
}

// decodeSaved decodes a message saved in a journal line: from its
// protobuf form, or from the protojson form of earlier versions. It
// returns nil when the line holds neither, and the protobuf form to save
// it with again.
func decodeSaved[T any, M interface {
	*T
	proto.Message
}](pb []byte, js json.RawMessage) (M, []byte, error) {
	switch {
	case len(pb) > 0:
		m := M(new(T))
		if err := proto.Unmarshal(pb, m); err != nil {
			return nil, nil, err
		}
		return m, pb, nil
	case len(js) > 0:
		m := M(new(T))
		if err := protojson.Unmarshal(js, m); err != nil {
			return nil, nil, err
		}
		return m, nil, nil
	}
	return nil, nil, nil
}

// save appends the record to the journal. A durable save is on disk
// before it returns: the one made before a pod's first process starts,
// and the one holding its final status. Durable saves made at the same
// time share one fsync.
func (j *journal) save(r *podRecord, durable bool) error {
	if j.log == nil {
		return fmt.Errorf("save pod %s: journal not loaded", r.name)
	}
	r.mu.Lock()
	line, err := r.encode()
	var gen uint64
	if err == nil {
		// Appending under the record's lock keeps its lines in the
		// order of its changes.
		gen, err = j.log.put(r.uid, line)
	}
	r.mu.Unlock()
	if err != nil {
		return fmt.Errorf("save pod %s: %w", r.name, err)
	}
	j.claim(r.name, r.uid)
	if durable {
		if err := j.log.sync(gen); err != nil {
			return fmt.Errorf("save pod %s: %w", r.name, err)
		}
	}
	return nil
}

// encode returns the record as a journal line. r.mu must be held.
func (r *podRecord) encode() ([]byte, error) {
	var err error
	if r.podProto == nil && r.pod != nil {
		if r.podProto, err = proto.Marshal(r.pod); err != nil {
			return nil, err
		}
	}
	if r.final != r.encodedFor {
		r.finalProto, r.encodedFor = nil, nil
		if r.final != nil {
			if r.finalProto, err = proto.Marshal(r.final); err != nil {
				return nil, err
			}
			r.encodedFor = r.final
		}
	}
	return recordFile{
		UID:        r.uid,
		Name:       r.name,
		PodProto:   r.podProto,
		Started:    r.started,
		Processes:  r.processes,
		FinalProto: r.finalProto,
		Reported:   r.reported,
	}.line()
}

// line is the journal line of f: what json.Marshal makes of it, without
// its reflection. Pod and Final are never written.
func (f recordFile) line() ([]byte, error) {
	uid, err := json.Marshal(f.UID)
	if err != nil {
		return nil, err
	}
	name, err := json.Marshal(f.Name)
	if err != nil {
		return nil, err
	}
	enc := base64.StdEncoding
	b := make([]byte, 0, 128+enc.EncodedLen(len(f.PodProto))+enc.EncodedLen(len(f.FinalProto)))
	b = append(append(b, `{"uid":`...), uid...)
	b = append(append(b, `,"name":`...), name...)
	if f.Forgotten {
		b = append(b, `,"forgotten":true`...)
	}
	if len(f.PodProto) > 0 {
		b = append(enc.AppendEncode(append(b, `,"podProto":"`...), f.PodProto), '"')
	}
	if !f.Started.IsZero() {
		t, err := f.Started.MarshalJSON()
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"started":`...), t...)
	}
	if len(f.Processes) > 0 {
		p, err := json.Marshal(f.Processes)
		if err != nil {
			return nil, err
		}
		b = append(append(b, `,"processes":`...), p...)
	}
	if len(f.FinalProto) > 0 {
		b = append(enc.AppendEncode(append(b, `,"finalProto":"`...), f.FinalProto), '"')
	}
	if f.Reported {
		b = append(b, `,"reported":true`...)
	}
	return append(b, '}'), nil
}

// claim gives the pod's name, and so its directory, to the record of uid.
// The supervisor claims a name before the pod's runner starts, so that no
// removal of an earlier pod's directory begins after it; the runner waits
// for one already under way (makePodDir) before it makes the directory.
func (j *journal) claim(name, uid string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.names[name] = uid
	delete(j.kept, name)
}

// makePodDir gives the pod name a fresh directory. It first waits for the
// deletion of an earlier pod's directory of that name, if one is under
// way, and clears what an earlier pod of that name left there. The
// directory need not survive a crash (the journal does), so it is not
// synced.
func (j *journal) makePodDir(name string) error {
	j.mu.Lock()
	removing := j.removing[name]
	j.mu.Unlock()
	if removing != nil {
		<-removing
	}
	dir := j.podDir(name)
	err := os.Mkdir(dir, 0o755)
	if errors.Is(err, fs.ErrExist) {
		// An earlier pod of the same name left its logs here.
		if err = os.RemoveAll(dir); err != nil {
			return fmt.Errorf("clear pod directory: %w", err)
		}
		err = os.Mkdir(dir, 0o755)
	}
	if err != nil {
		return fmt.Errorf("create pod directory: %w", err)
	}
	return nil
}

// forget drops the record last saved under the pod's name, and its
// working directory, but keeps its logs, so `jobcluster logs` still works
// for the finished pod until the servers no longer hold it.
func (j *journal) forget(name string) error {
	if err := removeDir(filepath.Join(j.podDir(name), workDir)); err != nil {
		return fmt.Errorf("forget pod %s: %w", name, err)
	}
	_, statErr := os.Lstat(j.podDir(name))
	j.mu.Lock()
	uid, ok := j.names[name]
	delete(j.names, name)
	if ok && statErr == nil {
		j.kept[name] = uid
	}
	j.mu.Unlock()
	if !ok || j.log == nil {
		return nil
	}
	tombstone, err := json.Marshal(recordFile{UID: uid, Name: name, Forgotten: true})
	if err == nil {
		err = j.log.remove(uid, tombstone)
	}
	if err != nil {
		return fmt.Errorf("forget pod %s: %w", name, err)
	}
	return nil
}

// sweep removes the directories of forgotten pods (logs only) that were
// last written before cutoff, whether or not the servers still hold them:
// it is the fallback for pods the agent could not ask about.
func (j *journal) sweep(cutoff time.Time) error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("sweep pods: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() || !safeName(e.Name()) || j.known(e.Name()) {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue
		}
		if _, err := j.remove(e.Name(), "", true); err != nil {
			return fmt.Errorf("sweep: %w", err)
		}
	}
	return nil
}

// eachKept calls f with each forgotten pod whose directory remains. f
// runs with j.mu held and must not call back into j.
func (j *journal) eachKept(f func(name, uid string)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for name, uid := range j.kept {
		f(name, uid)
	}
}

// remove deletes the directory of the pod name if it still belongs to
// the pod uid: the kept directory of a forgotten pod, or the directory of
// the live record of uid, which the caller knows to be finished. With
// anyUID it deletes any directory no live record holds. It tells whether
// it deleted a directory.
//
// The check happens under the journal's lock, which claim takes too, and
// marks the name as being removed; the deletion happens after, in place,
// and a new pod of the same name claimed meanwhile makes its directory
// only once the deletion has ended (makePodDir).
func (j *journal) remove(name, uid string, anyUID bool) (bool, error) {
	if !safeName(name) {
		return false, nil
	}
	j.mu.Lock()
	keptUID, kept := j.kept[name]
	liveUID, live := j.names[name]
	_, busy := j.removing[name]
	owned := !busy && (!live && (anyUID || kept && keptUID == uid) || live && uid != "" && liveUID == uid)
	if !owned {
		j.mu.Unlock()
		return false, nil
	}
	delete(j.kept, name)
	done := make(chan struct{})
	j.removing[name] = done
	j.mu.Unlock()
	removeTree := j.removeTree
	if removeTree == nil {
		removeTree = removeFullDir
	}
	found, err := removeTree(j.podDir(name))
	j.mu.Lock()
	delete(j.removing, name)
	j.mu.Unlock()
	close(done)
	if err != nil {
		return found, fmt.Errorf("remove pod %s: %w", name, err)
	}
	return found, nil
}

// emptyRemoving deletes what an earlier run left among the pod
// directories on their way out.
func (j *journal) emptyRemoving() error {
	trash := filepath.Join(j.dir, removingDir)
	entries, err := os.ReadDir(trash)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", trash, err)
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(trash, e.Name())); err != nil {
			return fmt.Errorf("empty %s: %w", trash, err)
		}
	}
	return nil
}

// known tells whether the journal holds a record of a pod with that name.
func (j *journal) known(name string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	_, ok := j.names[name]
	return ok
}

// close closes the journal; later saves fail.
func (j *journal) close() error {
	if j.log == nil {
		return nil
	}
	return j.log.close()
}

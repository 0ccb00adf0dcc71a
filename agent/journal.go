package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/jobcluster/jobcluster/api"
)

const (
	stateFile = "state.json"
	workDir   = "work"
)

// podRecord is what the agent remembers about a pod it started, in memory
// and in <data-dir>/pods/<pod>/state.json. Its existence means the pod's
// UID must never be started again.
type podRecord struct {
	uid  string
	name string
	// absentSince is when a PodSet first lacked the reported pod. It is
	// guarded by the supervisor's lock and not saved.
	absentSince time.Time

	mu        sync.Mutex // guards the fields below and the record's file
	pod       *api.Pod
	started   time.Time
	processes map[string]string // container name -> Process.ID of its latest run
	final     *api.PodStatus
	reported  bool
}

// recordFile is the on-disk form of a podRecord.
type recordFile struct {
	UID       string            `json:"uid"`
	Name      string            `json:"name"`
	Pod       json.RawMessage   `json:"pod,omitempty"`
	Started   time.Time         `json:"started"`
	Processes map[string]string `json:"processes,omitempty"`
	Final     json.RawMessage   `json:"final,omitempty"`
	Reported  bool              `json:"reported,omitempty"`
}

// journal keeps one podRecord file per pod under dir (<data-dir>/pods).
type journal struct {
	dir string
}

func (j *journal) podDir(name string) string { return filepath.Join(j.dir, name) }

// safeName tells whether a pod name can name a directory under the pods
// directory without leaving it.
func safeName(name string) bool {
	return name != "" && !strings.ContainsAny(name, `/\`) && !strings.HasPrefix(name, ".")
}

// save writes the record atomically. A durable save is on disk before it
// returns: the one made before a pod's first process starts, and the one
// holding its final status.
func (j *journal) save(r *podRecord, durable bool) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := recordFile{UID: r.uid, Name: r.name, Started: r.started, Reported: r.reported}
	if len(r.processes) > 0 {
		f.Processes = make(map[string]string, len(r.processes))
		for k, v := range r.processes {
			f.Processes[k] = v
		}
	}
	var err error
	if r.pod != nil {
		if f.Pod, err = protojson.Marshal(r.pod); err != nil {
			return fmt.Errorf("save pod %s: %w", r.name, err)
		}
	}
	if r.final != nil {
		if f.Final, err = protojson.Marshal(r.final); err != nil {
			return fmt.Errorf("save pod %s: %w", r.name, err)
		}
	}
	data, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("save pod %s: %w", r.name, err)
	}
	if err := writeFileAtomic(filepath.Join(j.podDir(r.name), stateFile), data, durable); err != nil {
		return fmt.Errorf("save pod %s: %w", r.name, err)
	}
	return nil
}

// load reads every record. Unreadable ones are returned as errors beside
// the records that could be read.
func (j *journal) load() ([]*podRecord, error) {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	var records []*podRecord
	var errs []error
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(j.dir, e.Name(), stateFile)
		data, err := os.ReadFile(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("read %s: %w", path, err))
			continue
		}
		r, err := decodeRecord(data)
		if err != nil {
			errs = append(errs, fmt.Errorf("decode %s: %w", path, err))
			continue
		}
		records = append(records, r)
	}
	return records, errors.Join(errs...)
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
	if len(f.Pod) > 0 {
		r.pod = &api.Pod{}
		if err := protojson.Unmarshal(f.Pod, r.pod); err != nil {
			return nil, fmt.Errorf("pod: %w", err)
		}
	}
	if len(f.Final) > 0 {
		r.final = &api.PodStatus{}
		if err := protojson.Unmarshal(f.Final, r.final); err != nil {
			return nil, fmt.Errorf("final status: %w", err)
		}
	}
	return r, nil
}

// forget drops a pod's record and working directory but keeps its logs,
// so `jobcluster logs` still works for the finished pod.
func (j *journal) forget(name string) error {
	dir := j.podDir(name)
	if err := os.RemoveAll(filepath.Join(dir, workDir)); err != nil {
		return fmt.Errorf("forget pod %s: %w", name, err)
	}
	if err := os.Remove(filepath.Join(dir, stateFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("forget pod %s: %w", name, err)
	}
	return nil
}

// sweep removes the directories of forgotten pods (logs only) that were
// last written before cutoff.
func (j *journal) sweep(cutoff time.Time) error {
	entries, err := os.ReadDir(j.dir)
	if err != nil {
		return fmt.Errorf("sweep pods: %w", err)
	}
	for _, e := range entries {
		dir := filepath.Join(j.dir, e.Name())
		if !e.IsDir() {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, stateFile)); err == nil {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("sweep pod %s: %w", e.Name(), err)
		}
	}
	return nil
}

// writeFileAtomic replaces path with data through a temporary file and a
// rename, so a reader sees the old or the new content, never a mix.
func writeFileAtomic(path string, data []byte, durable bool) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if durable {
		return syncDir(filepath.Dir(path))
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

package fsm

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-memdb"
	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// frozen is a finished object kept in its wire encoding, compressed against
// a dictionary of a typical finished Job and pod. Finished Jobs and their
// pods are most of a long-lived store and are rarely read: a finished
// one-pod Job and its pod hold about 1.8 KB of heap this way, most of it
// the store's index entries, instead of 7.3 KB as Go structs. Reads decode
// it again (thaw), so callers never see the difference.
//
// Cold are a finished Job without ttlSecondsAfterFinished (no controller
// visits it again), a finished pod whose Job is cold or gone, and a
// Succeeded pod of any Job. The job controller and CreatePods count a
// running Job's pods on every change; of a Succeeded one they read only
// its brief, kept beside its encoding and summed per Job as it is stored
// (succeededSum), so that a big Job's finished pods are neither held as Go
// structs, nor decompressed, nor walked while it runs. Its Failed
// pods stay as they are until it is cold: the controller reads them whole
// (podFailurePolicy, back-off). Only the store's representation changes
// when an object freezes: its content, resourceVersion included, stays as
// it was.
type frozen struct {
	// name is the object's key in its table's "id" index: api.Key for a
	// Job, the name for a pod.
	name string
	// key is what the table's second index needs: for a Job the CronJob
	// that owns it (index "owner"), for a pod its Job (index "frozenjob").
	key string
	// labels, for Jobs only, is their labels encoded as an ObjectMeta, kept
	// apart so that listing Jobs by label decompresses only those that match.
	// Pods are listed by their Job's index instead.
	labels []byte
	// data is the compressed encoding.
	data []byte
	// brief, for a Succeeded pod, is what counting its Job's pods reads.
	// A restore leaves it out for the pods of cold Jobs, which nothing
	// counts; readers that find none decode the pod instead.
	brief *podBrief
	// failed, for a Job, says it failed rather than completed
	// (api.JobStateOf), so that counting Jobs by state decodes none.
	failed bool
	// summary, for a Job, is what a table of Jobs orders it by: made when
	// the Job freezes, or when first asked for after a restore, which
	// leaves it out to start sooner.
	summary atomic.Pointer[api.JobSummary]
}

// podBrief is what counting a Job's pods reads of a Succeeded pod.
type podBrief struct {
	// job is what the job controller reads (api.BriefOfSucceeded).
	job api.SucceededPod
	// indexLabel is the completion index label, as CreatePods reads it.
	indexLabel string
}

func briefOf(p *api.Pod) *podBrief {
	if p.GetStatus().GetPhase() != api.PodSucceeded {
		return nil
	}
	return &podBrief{job: api.BriefOfSucceeded(p), indexLabel: p.GetMetadata().GetLabels()[api.LabelCompletionIndex]}
}

// eachWholeJobPod yields the pods of the running Job keyed job but the
// Succeeded ones kept in brief (its succeededSum counts those), one at a
// time.
func eachWholeJobPod(txn *memdb.Txn, job string) iter.Seq[*api.Pod] {
	it, err := txn.Get(tablePods, "whole", job)
	if err != nil {
		panic(err)
	}
	return func(yield func(*api.Pod) bool) {
		for o := it.Next(); o != nil; o = it.Next() {
			if !yield(o.(*api.Pod)) {
				return
			}
		}
	}
}

// freeze encodes obj, or returns it unchanged when it is not cold. data, when
// not nil, is obj's encoding already at hand.
func freeze(txn *memdb.Txn, table string, obj any, data []byte) any {
	var key string
	var labels []byte
	var brief *podBrief
	switch table {
	case tableJobs:
		j := obj.(*api.Job)
		if !coldJob(j) {
			return obj
		}
		key = jobOwner(j)
		var err error
		labels, err = proto.Marshal(&api.ObjectMeta{Labels: j.GetMetadata().GetLabels()})
		if err != nil {
			panic(fmt.Sprintf("fsm: encode labels of job %q: %v", j.GetMetadata().GetName(), err))
		}
		if labels == nil {
			labels = []byte{} // present, and empty
		}
	case tablePods:
		p := obj.(*api.Pod)
		if !api.IsPodTerminal(p) {
			return obj
		}
		key = podJob(p)
		if brief = briefOf(p); brief == nil && warmJob(txn, key) {
			return obj // its Job still reads its failed pods
		}
	default:
		return obj
	}
	name := obj.(named).GetMetadata().GetName()
	if table == tableJobs {
		name = api.KeyOf(obj.(named).GetMetadata())
	}
	if data == nil {
		var err error
		if data, err = proto.Marshal(obj.(proto.Message)); err != nil {
			panic(fmt.Sprintf("fsm: encode %s %q: %v", table, name, err))
		}
	}
	f := &frozen{name: name, key: key, labels: labels, data: compress(data), brief: brief}
	if table == tableJobs {
		f.setSummary(api.SummarizeJob(obj.(*api.Job)))
		f.failed = f.summary.Load().State == api.JobStateFailed
	}
	return f
}

// jobSummary is the summary of a frozen Job, decoding it the first time.
// The encoding never changes (a change stores a new object), so the
// summary made once holds.
func (f *frozen) jobSummary() *api.JobSummary {
	if s := f.summary.Load(); s != nil {
		return s
	}
	f.setSummary(api.SummarizeJob(thaw[*api.Job](f)))
	return f.summary.Load()
}

// setSummary keeps s, its namespace and name sharing the frozen Job's key.
func (f *frozen) setSummary(s api.JobSummary) {
	if ns, name, ok := strings.Cut(f.name, "/"); ok && ns == s.Namespace && name == s.Name {
		s.Namespace, s.Name = ns, name
	}
	f.summary.Store(&s)
}

// warmJob reports whether the Job keyed job is stored and not cold.
func warmJob(txn *memdb.Txn, job string) bool {
	stored, err := txn.First(tableJobs, "id", job)
	if err != nil {
		panic(err)
	}
	_, cold := stored.(*frozen)
	return stored != nil && !cold
}

// coldJob reports a finished Job that no controller visits again.
func coldJob(j *api.Job) bool {
	return jobFinished(j) && j.GetSpec().TtlSecondsAfterFinished == nil
}

// freezePodsOf freezes the finished pods of a Job that just became cold.
func (w *writer) freezePodsOf(job string) {
	dropSum(w.txn, job) // nothing counts its pods again
	var warm []*api.Pod
	for p := range eachWholeJobPod(w.txn, job) {
		if api.IsPodTerminal(p) {
			warm = append(warm, p)
		}
	}
	for _, p := range warm {
		if err := w.txn.Insert(tablePods, freeze(w.txn, tablePods, p, nil)); err != nil {
			panic(err)
		}
	}
}

// thaw returns a stored object as T, decoding it if it is frozen.
func thaw[T any](o any) T {
	f, ok := o.(*frozen)
	if !ok {
		return o.(T)
	}
	var zero T
	m := any(zero).(proto.Message).ProtoReflect().Type().New().Interface()
	buf := expand(f)
	defer buffers.Put(buf)
	if err := proto.Unmarshal(buf.Bytes(), m); err != nil {
		panic(fmt.Sprintf("fsm: decode stored %q: %v", f.name, err))
	}
	return m.(T)
}

// metadataField is the field number of metadata in Job and Pod alike.
var metadataField = func() protowire.Number {
	job := (&api.Job{}).ProtoReflect().Descriptor().Fields().ByName("metadata").Number()
	pod := (&api.Pod{}).ProtoReflect().Descriptor().Fields().ByName("metadata").Number()
	if job != pod {
		panic("fsm: Job and Pod number their metadata differently")
	}
	return job
}()

// LabelLookup looks up one label of an object: its value and whether it
// is set.
type LabelLookup func(key string) (value string, ok bool)

// MapLookup looks labels up in a map.
func MapLookup(labels map[string]string) LabelLookup {
	return func(key string) (string, bool) {
		v, ok := labels[key]
		return v, ok
	}
}

// labelsField is the field number of labels in ObjectMeta; each entry is
// a message of key (1) and value (2).
var labelsField = (&api.ObjectMeta{}).ProtoReflect().Descriptor().Fields().ByName("labels").Number()

// lookup looks a label of a frozen Job or pod up. A Job's labels are read
// in place, without decoding the Job; a pod's take decoding its
// metadata.
func (f *frozen) lookup() LabelLookup {
	if f.labels == nil {
		return MapLookup(frozenMeta(f).GetLabels())
	}
	return func(key string) (string, bool) {
		var value []byte
		found := false
		_ = eachBytesField(f.labels, func(num protowire.Number, entry []byte) error {
			if num != labelsField {
				return nil
			}
			var k, v []byte
			_ = eachBytesField(entry, func(num protowire.Number, b []byte) error {
				switch num {
				case 1:
					k = b
				case 2:
					v = b
				}
				return nil
			})
			if string(k) != key {
				return nil
			}
			value, found = v, true
			return errFound
		})
		return string(value), found
	}
}

// errFound stops a walk of an encoding's fields once it found what it
// looked for.
var errFound = errors.New("found")

// frozenMeta decodes only the metadata of a frozen Job or pod.
func frozenMeta(f *frozen) *api.ObjectMeta {
	meta := &api.ObjectMeta{}
	buf := expand(f)
	defer buffers.Put(buf)
	err := eachBytesField(buf.Bytes(), func(num protowire.Number, v []byte) error {
		if num != metadataField {
			return nil
		}
		// A repeated occurrence merges, as proto.Unmarshal does.
		return (proto.UnmarshalOptions{Merge: true}).Unmarshal(v, meta)
	})
	if err != nil {
		panic(fmt.Sprintf("fsm: decode stored %q: %v", f.name, err))
	}
	return meta
}

// Field numbers that frozenIdentity reads.
var (
	specField     = (&api.Pod{}).ProtoReflect().Descriptor().Fields().ByName("spec").Number()
	uidField      = (&api.ObjectMeta{}).ProtoReflect().Descriptor().Fields().ByName("uid").Number()
	nodeNameField = (&api.PodSpec{}).ProtoReflect().Descriptor().Fields().ByName("node_name").Number()
)

// frozenIdentity reads a frozen pod's UID and node in place, without
// decoding the rest of it. Where a field occurs more than once the last
// occurrence wins, as proto.Unmarshal decides.
func frozenIdentity(f *frozen) (uid, node string) {
	buf := expand(f)
	defer buffers.Put(buf)
	var uidBytes, nodeBytes []byte
	err := eachBytesField(buf.Bytes(), func(num protowire.Number, v []byte) error {
		field, into := uidField, &uidBytes
		switch num {
		case metadataField:
		case specField:
			field, into = nodeNameField, &nodeBytes
		default:
			return nil
		}
		return eachBytesField(v, func(num protowire.Number, v []byte) error {
			if num == field {
				*into = v
			}
			return nil
		})
	})
	if err != nil {
		panic(fmt.Sprintf("fsm: decode stored %q: %v", f.name, err))
	}
	return string(uidBytes), string(nodeBytes)
}

// eachBytesField calls fn with the number and value of each
// length-delimited field of the encoded message b, in order, skipping the
// others, and stops at fn's first error.
func eachBytesField(b []byte, fn func(num protowire.Number, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if typ != protowire.BytesType {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return protowire.ParseError(n)
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if err := fn(num, v); err != nil {
			return err
		}
	}
	return nil
}

// dictionary is what frozen objects are compressed against: the encoding
// of a finished Job and of its pod as the cluster stores them, so the field
// tags, label keys, reasons and messages every such object repeats cost
// a few bytes each. Snapshots carry it (version 2 on), so a build with
// another dictionary still restores them.
var dictionary = func() []byte {
	uid := "00000000-0000-0000-0000-000000000000"
	t := timestamppb.New(time.Date(2026, 1, 1, 0, 0, 0, 1, time.UTC))
	labels := map[string]string{api.LabelBatchControllerUID: uid, api.LabelBatchJobName: "job", api.LabelControllerUID: uid, api.LabelJobName: "job"}
	spec := &api.PodSpec{
		Containers:    []*api.Container{{Name: "main", Image: "busybox", Command: []string{"sh", "-c"}}},
		RestartPolicy: api.RestartPolicyNever, TerminationGracePeriodSeconds: proto.Int64(30),
	}
	cond := func(typ, reason, msg string) *api.JobCondition {
		return &api.JobCondition{Type: typ, Status: api.ConditionTrue, LastProbeTime: t, LastTransitionTime: t, Reason: reason, Message: msg}
	}
	job := &api.Job{ApiVersion: "batch/v1", Kind: "Job",
		Metadata: &api.ObjectMeta{Name: "job", Namespace: "default", Uid: uid, CreationTimestamp: t, Generation: 1, ResourceVersion: "100000",
			Labels: map[string]string{"app": "job"}},
		Spec: &api.JobSpec{Parallelism: proto.Int32(1), Completions: proto.Int32(1), BackoffLimit: proto.Int32(6),
			Selector:       &api.LabelSelector{MatchLabels: map[string]string{api.LabelBatchControllerUID: uid}},
			Template:       &api.PodTemplateSpec{Metadata: &api.ObjectMeta{Labels: labels}, Spec: spec},
			CompletionMode: proto.String(api.CompletionModeNonIndexed), Suspend: proto.Bool(false)},
		Status: &api.JobStatus{
			Conditions: []*api.JobCondition{
				cond(api.JobSuccessCriteriaMet, api.ReasonCompletionsReached, "Reached expected number of succeeded pods"),
				cond(api.JobComplete, api.ReasonCompletionsReached, "Reached expected number of succeeded pods"),
				cond(api.JobFailureTarget, api.ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"),
				cond(api.JobFailed, api.ReasonBackoffLimitExceeded, "Job has reached the specified backoff limit"),
			},
			StartTime: t, CompletionTime: t, Succeeded: 1, Failed: 1, Ready: proto.Int32(0), Terminating: proto.Int32(0)},
	}
	pod := &api.Pod{ApiVersion: "v1", Kind: "Pod",
		Metadata: &api.ObjectMeta{Name: "job-abcde", GenerateName: "job-", Namespace: "default", Uid: uid, CreationTimestamp: t, ResourceVersion: "100000",
			Labels:          labels,
			OwnerReferences: []*api.OwnerReference{{ApiVersion: "batch/v1", Kind: "Job", Name: "job", Uid: uid, Controller: proto.Bool(true), BlockOwnerDeletion: proto.Bool(true)}}},
		Spec: spec,
		Status: &api.PodStatus{Phase: api.PodSucceeded, HostIp: "127.0.0.1", StartTime: t,
			Conditions: []*api.PodCondition{{Type: api.PodScheduled, Status: api.ConditionTrue, LastTransitionTime: t}},
			ContainerStatuses: []*api.ContainerStatus{{Name: "main", Image: "busybox", Started: proto.Bool(false),
				State: &api.ContainerState{Terminated: &api.ContainerStateTerminated{Reason: "Completed", StartedAt: t, FinishedAt: t}}}}},
	}
	var out []byte
	for _, m := range []proto.Message{job, pod} {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
		if err != nil {
			panic(err)
		}
		out = append(out, b...)
	}
	return out
}()

// s2Dict compresses frozen objects: S2's block format
// (github.com/klauspost/compress/s2) against the dictionary, whose hash
// table is built once. DEFLATE, which snapshots up to version 3 hold,
// hashed the dictionary again and built Huffman tables for every object
// of a few hundred bytes; S2 has no entropy coding, so a succeeded pod
// takes a fifth more bytes, and compresses and decompresses several times
// faster (BenchmarkCompressPod).
var s2Dict = newS2Dict(dictionary)

// newS2Dict is dict as S2 uses it, or nil when S2 cannot (shorter than 16
// bytes or longer than 64 KiB).
func newS2Dict(dict []byte) *s2.Dict {
	// S2's serialized dictionary starts with the offset of its first
	// repeat, which only tunes the encoder.
	return s2.NewDict(append(binary.AppendUvarint(nil, 0), dict...))
}

var (
	// scratch holds compress's output buffers (*[]byte).
	scratch sync.Pool
	// inflaters holds readers of snapshots of version 3 and earlier
	// (io.ReadCloser that are flate.Resetter).
	inflaters sync.Pool
	buffers   = bufferPool{}
)

type bufferPool struct{ sync.Pool }

func (p *bufferPool) Get() *bytes.Buffer {
	if b, ok := p.Pool.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func (p *bufferPool) Put(b *bytes.Buffer) { p.Pool.Put(b) }

// compress compresses an encoding into a slice of exactly its size.
func compress(data []byte) []byte {
	p, _ := scratch.Get().(*[]byte)
	if p == nil {
		p = new([]byte)
	}
	*p = s2Dict.Encode(*p, data)
	out := bytes.Clone(*p)
	scratch.Put(p)
	return out
}

// expand returns a frozen object's encoding in a buffer the caller puts
// back into buffers.
func expand(f *frozen) *bytes.Buffer {
	buf, err := expandWith(f.data, s2Dict)
	if err != nil {
		panic(fmt.Sprintf("fsm: decompress stored %q: %v", f.name, err))
	}
	return buf
}

// expandWith decompresses data compressed against d into a buffer the
// caller puts back into buffers. Data that claims to expand beyond
// maxRecord is refused before anything is allocated.
func expandWith(data []byte, d *s2.Dict) (*bytes.Buffer, error) {
	n, err := s2.DecodedLen(data)
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if n > maxRecord {
		return nil, fmt.Errorf("decompress: %d bytes is implausibly large", n)
	}
	buf := buffers.Get()
	buf.Grow(n)
	out, err := d.Decode(buf.AvailableBuffer()[:n], data)
	if err != nil {
		buffers.Put(buf)
		return nil, fmt.Errorf("decompress: %w", err)
	}
	buf.Write(out) // out is the buffer's own free space: this sets its length
	return buf, nil
}

// inflateWith inflates data deflated against dict, as snapshots of
// version 3 and earlier hold frozen records, into a buffer the caller
// puts back into buffers. It stops at what no record can be: more than
// maxRecord bytes.
func inflateWith(data, dict []byte) (*bytes.Buffer, error) {
	src := bytes.NewReader(data)
	r, _ := inflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReaderDict(src, dict)
	} else if err := r.(flate.Resetter).Reset(src, dict); err != nil {
		return nil, err
	}
	defer inflaters.Put(r)
	buf := buffers.Get()
	if _, err := buf.ReadFrom(io.LimitReader(r, maxRecord+1)); err != nil {
		buffers.Put(buf)
		return nil, fmt.Errorf("inflate: %w", err)
	}
	if buf.Len() > maxRecord {
		buffers.Put(buf)
		return nil, fmt.Errorf("inflate: more than %d bytes is implausibly large", maxRecord)
	}
	return buf, nil
}

// wellFormed checks that b parses as a protobuf message, field by field,
// without decoding it.
func wellFormed(b []byte) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
	}
	return nil
}

// Field numbers jobFailed reads: Job.status, JobStatus.conditions,
// JobCondition.type and JobCondition.status.
const (
	jobFieldStatus        protowire.Number = 5
	jobStatusFieldConds   protowire.Number = 1
	jobConditionFieldType protowire.Number = 1
	jobConditionFieldStat protowire.Number = 2
)

// jobFailed reports whether the encoded Job b failed rather than
// completed, as api.JobStateOf decides it: its first Failed condition is
// True and its first Complete condition is not. It reads the conditions
// in place, so a restore tells a frozen Job's outcome without decoding
// it. b is well formed (wellFormed).
func jobFailed(b []byte) bool {
	var complete, failed []byte
	var sawComplete, sawFailed bool
	eachField(b, jobFieldStatus, func(status []byte) {
		eachField(status, jobStatusFieldConds, func(cond []byte) {
			var typ, stat []byte
			eachField(cond, jobConditionFieldType, func(v []byte) { typ = v })
			eachField(cond, jobConditionFieldStat, func(v []byte) { stat = v })
			switch {
			case string(typ) == api.JobComplete && !sawComplete:
				complete, sawComplete = stat, true
			case string(typ) == api.JobFailed && !sawFailed:
				failed, sawFailed = stat, true
			}
		})
	})
	return string(failed) == api.ConditionTrue && string(complete) != api.ConditionTrue
}

// eachField calls fn with the value of each length-delimited field num of
// the encoded message b, in order: each element of a repeated field, and
// each part of a message or string that appears more than once (decoding
// merges the parts of a message and keeps the last string). It stops at
// the first malformed field.
func eachField(b []byte, num protowire.Number, fn func([]byte)) {
	for len(b) > 0 {
		n, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return
		}
		b = b[l:]
		if n == num && typ == protowire.BytesType {
			v, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return
			}
			fn(v)
			b = b[l:]
			continue
		}
		if l = protowire.ConsumeFieldValue(n, typ, b); l < 0 {
			return
		}
		b = b[l:]
	}
}

// frozenRecord is the snapshot record kind of a table's frozen objects.
var frozenRecord = map[string]byte{tableJobs: recordFrozenJob, tablePods: recordFrozenPod}

// Fields of a frozen record in a snapshot.
const (
	frozenFieldName   protowire.Number = 1
	frozenFieldKey    protowire.Number = 2
	frozenFieldLabels protowire.Number = 3
	frozenFieldData   protowire.Number = 4
)

// appendRecord appends f as a snapshot record body.
func (f *frozen) appendRecord(b []byte) []byte {
	b = protowire.AppendTag(b, frozenFieldName, protowire.BytesType)
	b = protowire.AppendString(b, f.name)
	b = protowire.AppendTag(b, frozenFieldKey, protowire.BytesType)
	b = protowire.AppendString(b, f.key)
	if f.labels != nil {
		b = protowire.AppendTag(b, frozenFieldLabels, protowire.BytesType)
		b = protowire.AppendBytes(b, f.labels)
	}
	b = protowire.AppendTag(b, frozenFieldData, protowire.BytesType)
	return protowire.AppendBytes(b, f.data)
}

// parseFrozenRecord reads a snapshot record body written by appendRecord.
// The frozen object shares rec's memory.
func parseFrozenRecord(rec []byte, job bool) (*frozen, error) {
	f := &frozen{}
	for b := rec; len(b) > 0; {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || typ != protowire.BytesType {
			return nil, errors.New("malformed frozen record")
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, errors.New("malformed frozen record")
		}
		b = b[n:]
		switch num {
		case frozenFieldName:
			f.name = string(v)
		case frozenFieldKey:
			f.key = string(v)
		case frozenFieldLabels:
			f.labels = v[:len(v):len(v)]
		case frozenFieldData:
			f.data = v[:len(v):len(v)]
		default:
			return nil, fmt.Errorf("frozen record has unknown field %d", num)
		}
	}
	if job && f.labels == nil {
		f.labels = []byte{}
	}
	switch {
	case f.name == "":
		return nil, errors.New("frozen record without a name")
	case f.data == nil:
		return nil, fmt.Errorf("frozen record %q without data", f.name)
	case !job && f.labels != nil:
		return nil, fmt.Errorf("frozen pod record %q has labels", f.name)
	}
	return f, nil
}

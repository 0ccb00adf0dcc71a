package fsm

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// snapshotVersion is the first byte of every snapshot.
const snapshotVersion = 1

// Record kinds in a snapshot.
const (
	recordJob byte = iota + 1
	recordCronJob
	recordPod
	recordNode
	recordEvent
	recordEnd
)

var recordTables = []struct {
	kind  byte
	table string
	new   func() proto.Message
}{
	{recordJob, tableJobs, func() proto.Message { return &api.Job{} }},
	{recordCronJob, tableCronJobs, func() proto.Message { return &api.CronJob{} }},
	{recordPod, tablePods, func() proto.Message { return &api.Pod{} }},
	{recordNode, tableNodes, func() proto.Message { return &api.Node{} }},
	{recordEvent, tableEvents, func() proto.Message { return &api.Event{} }},
}

type snapshot struct {
	txn   *memdb.Txn
	index uint64
}

// Snapshot captures the state cheaply: memdb's read transactions are
// immutable views.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return &snapshot{txn: f.db.Txn(false), index: f.applied.Load()}, nil
}

// Persist writes the state as a sequence of length-prefixed records.
func (s *snapshot) Persist(sink raft.SnapshotSink) error {
	if err := s.write(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist snapshot at index %d: %w", s.index, err)
	}
	return sink.Close()
}

func (s *snapshot) write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	if err := bw.WriteByte(snapshotVersion); err != nil {
		return err
	}
	var lenBuf [binary.MaxVarintLen64]byte
	bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], s.index)])
	for _, rt := range recordTables {
		it, err := s.txn.Get(rt.table, "id")
		if err != nil {
			return err
		}
		for o := it.Next(); o != nil; o = it.Next() {
			b, err := proto.Marshal(o.(proto.Message))
			if err != nil {
				return err
			}
			bw.WriteByte(rt.kind)
			bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(b)))])
			if _, err := bw.Write(b); err != nil {
				return err
			}
		}
	}
	bw.WriteByte(recordEnd)
	return bw.Flush()
}

// Release is a no-op: the view needs no cleanup.
func (s *snapshot) Release() {}

// Restore replaces the whole state with a snapshot's.
func (f *FSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		return err
	}
	index, events, err := readSnapshot(bufio.NewReader(rc), db)
	if err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	f.mu.Lock()
	f.db = db
	f.applied.Store(index)
	f.events = events
	close(f.restore)
	f.restore = make(chan struct{})
	f.mu.Unlock()
	f.notify()
	return nil
}

func readSnapshot(r *bufio.Reader, db *memdb.MemDB) (index uint64, events int, err error) {
	v, err := r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	if v != snapshotVersion {
		return 0, 0, fmt.Errorf("unknown snapshot version %d", v)
	}
	index, err = binary.ReadUvarint(r)
	if err != nil {
		return 0, 0, fmt.Errorf("read index: %w", err)
	}
	txn := db.Txn(true)
	defer txn.Abort()
	for {
		kind, err := r.ReadByte()
		if err != nil {
			return 0, 0, fmt.Errorf("read record: %w", err)
		}
		if kind == recordEnd {
			txn.Commit()
			return index, events, nil
		}
		if kind == 0 || int(kind) > len(recordTables) {
			return 0, 0, fmt.Errorf("unknown record kind %d", kind)
		}
		rt := recordTables[kind-1]
		n, err := binary.ReadUvarint(r)
		if err != nil {
			return 0, 0, err
		}
		if n > 64<<20 {
			return 0, 0, fmt.Errorf("record of %d bytes is implausibly large", n)
		}
		buf := make([]byte, n)
		if _, err := io.ReadFull(r, buf); err != nil {
			return 0, 0, errors.Join(errors.New("short record"), err)
		}
		m := rt.new()
		if err := proto.Unmarshal(buf, m); err != nil {
			return 0, 0, err
		}
		if kind == recordEvent {
			events++
		}
		if err := txn.Insert(rt.table, m); err != nil {
			return 0, 0, err
		}
	}
}

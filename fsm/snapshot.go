package fsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"github.com/klauspost/compress/s2"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/seal"
)

// snapshotVersion is the first byte of every snapshot. Version 2 adds
// the dictionary after the index and the frozen records; version 3 keys
// frozen Jobs and their owners by namespace; version 4 holds frozen
// records compressed with S2 instead of DEFLATE, as the store keeps them.
// Restore reads versions 1 to 3 too: it compresses the frozen records of
// version 3 anew, and decodes and freezes anew those of version 2.
const snapshotVersion = 4

// Record kinds in a snapshot.
const (
	recordJob byte = iota + 1
	recordCronJob
	recordPod
	recordNode
	recordEvent
	recordEnd
	// A frozen Job or pod as the store keeps it, compressed: a restore
	// that has the same dictionary takes it as it is, without decoding.
	recordFrozenJob
	recordFrozenPod
	// Version 3 adds ConfigMaps and Secrets.
	recordConfigMap
	recordSecret
	recordCronLedger
	recordNotification
	recordLogTail
	recordAclPolicy
	recordAclToken
	recordAclBootstrap
	recordAudit
	// A Secret sealed with the servers' encryption key (api.SealedSecret),
	// written instead of recordSecret when the FSM has keys (SetKeys).
	// Like the kinds above it, a new kind within version 3: snapshots
	// written before it remain readable as they were.
	recordSealedSecret
)

// recordTable is the kind of plain records a table's objects make.
type recordTable struct {
	kind  byte
	table string
	new   func() proto.Message
}

var recordTables = []recordTable{
	{recordJob, tableJobs, func() proto.Message { return &api.Job{} }},
	{recordCronJob, tableCronJobs, func() proto.Message { return &api.CronJob{} }},
	{recordPod, tablePods, func() proto.Message { return &api.Pod{} }},
	{recordNode, tableNodes, func() proto.Message { return &api.Node{} }},
	{recordEvent, tableEvents, func() proto.Message { return &api.Event{} }},
	{recordConfigMap, tableConfigMaps, func() proto.Message { return &api.ConfigMap{} }},
	{recordSecret, tableSecrets, func() proto.Message { return &api.Secret{} }},
	{recordCronLedger, tableCronLedger, func() proto.Message { return &api.CronLedgerEntry{} }},
	{recordNotification, tableNotifications, func() proto.Message { return &api.Notification{} }},
	{recordLogTail, tableLogTails, func() proto.Message { return &api.LogTail{} }},
	{recordAclPolicy, tableAclPolicies, func() proto.Message { return &api.AclPolicy{} }},
	{recordAclToken, tableAclTokens, func() proto.Message { return &api.AclToken{} }},
	{recordAclBootstrap, tableAclBootstrap, func() proto.Message { return &api.AclToken{} }},
	{recordAudit, tableAudit, func() proto.Message { return &api.AuditRecord{} }},
}

// recordTableOf finds the plain record kind's table.
func recordTableOf(kind byte) (recordTable, bool) {
	for _, rt := range recordTables {
		if rt.kind == kind {
			return rt, true
		}
	}
	return recordTable{}, false
}

type snapshot struct {
	txn   *memdb.Txn
	index uint64
	// keys seal the Secrets when set.
	keys *seal.Keyring
}

// Snapshot captures the state cheaply: memdb's read transactions are
// immutable views.
func (f *FSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.logBytes.Store(0) // Raft never applies beside Snapshot
	return &snapshot{txn: f.db.Txn(false), index: f.applied.Load(), keys: f.keys}, nil
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
	bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(dictionary)))])
	bw.Write(dictionary)
	var buf []byte
	for _, rt := range recordTables {
		it, err := s.txn.Get(rt.table, "id")
		if err != nil {
			return err
		}
		for o := it.Next(); o != nil; o = it.Next() {
			kind := rt.kind
			if f, ok := o.(*frozen); ok {
				kind = frozenRecord[rt.table]
				buf = f.appendRecord(buf[:0])
			} else {
				b, err := proto.MarshalOptions{}.MarshalAppend(buf[:0], o.(proto.Message))
				if err != nil {
					return err
				}
				buf = b
				if rt.table == tableSecrets && s.keys != nil {
					if buf, err = sealRecord(s.keys, buf); err != nil {
						return err
					}
					kind = recordSealedSecret
				}
			}
			bw.WriteByte(kind)
			bw.Write(lenBuf[:binary.PutUvarint(lenBuf[:], uint64(len(buf)))])
			if _, err := bw.Write(buf); err != nil {
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
	index, events, err := readSnapshot(bufio.NewReader(rc), db, f.keys)
	if err != nil {
		err = fmt.Errorf("restore snapshot: %w", err)
		if errors.Is(err, seal.ErrNoKey) && f.sealFailed != nil {
			f.sealFailed(err)
		}
		return err
	}
	counts := countAll(db)
	tailBytes := keptTailBytes(db)
	f.mu.Lock()
	f.db = db
	f.counts = counts
	f.tailBytes = tailBytes
	f.applied.Store(index)
	// Which pods the replaced state held is unknown here: any of them
	// may be gone.
	f.podsRemoved = index
	f.changeLog.reset(index)
	f.logBytes.Store(0)
	f.events = events
	close(f.restore)
	f.restore = make(chan struct{})
	f.mu.Unlock()
	f.notify()
	return nil
}

// maxRecord bounds one record (and the dictionary) in a snapshot.
const maxRecord = 64 << 20

func readSnapshot(r *bufio.Reader, db *memdb.MemDB, keys *seal.Keyring) (index uint64, events int, err error) {
	v, err := r.ReadByte()
	if err != nil {
		return 0, 0, err
	}
	if v < 1 || v > snapshotVersion {
		return 0, 0, fmt.Errorf("unknown snapshot version %d", v)
	}
	index, err = binary.ReadUvarint(r)
	if err != nil {
		return 0, 0, fmt.Errorf("read index: %w", err)
	}
	var dict []byte
	if v >= 2 {
		if dict, err = readBytes(r); err != nil {
			return 0, 0, fmt.Errorf("read dictionary: %w", err)
		}
	}
	codec, err := newFrozenCodec(v, dict)
	if err != nil {
		return 0, 0, err
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
		frozenKind := v >= 2 && (kind == recordFrozenJob || kind == recordFrozenPod)
		plain, known := recordTableOf(kind)
		if kind == recordSealedSecret {
			plain, known = recordTableOf(recordSecret)
		}
		if !frozenKind && !known {
			return 0, 0, fmt.Errorf("unknown record kind %d", kind)
		}
		buf, err := readBytes(r)
		if err != nil {
			return 0, 0, err
		}
		if kind == recordSealedSecret {
			if buf, err = openRecord(keys, buf); err != nil {
				return 0, 0, err
			}
		}
		var obj any
		var table string
		switch {
		case frozenKind:
			rt := recordTables[recordJob-1]
			if kind == recordFrozenPod {
				rt = recordTables[recordPod-1]
			}
			table = rt.table
			if obj, err = readFrozen(txn, rt, buf, codec); err != nil {
				return 0, 0, err
			}
		default:
			rt := plain
			table = rt.table
			m := rt.new()
			if err := proto.Unmarshal(buf, m); err != nil {
				return 0, 0, err
			}
			if kind == recordEvent {
				events++
			}
			obj = freeze(txn, table, m, buf)
		}
		if err := txn.Insert(table, obj); err != nil {
			return 0, 0, err
		}
		if job, b := briefOfStored(obj); b != nil && table == tablePods && warmJob(txn, job) {
			// Only a running Job's sum is read. Jobs are restored
			// before pods.
			sumBrief(txn, job, b)
		}
	}
}

// readBytes reads a length-prefixed byte string.
func readBytes(r *bufio.Reader) ([]byte, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > maxRecord {
		return nil, fmt.Errorf("record of %d bytes is implausibly large", n)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, errors.Join(errors.New("short record"), err)
	}
	return buf, nil
}

// frozenCodec decompresses the frozen records of one snapshot.
type frozenCodec struct {
	version byte
	dict    []byte
	// s2 is dict for S2, version 4 on.
	s2 *s2.Dict
	// native is a snapshot whose frozen records are as this binary
	// stores them: the current version and the same dictionary.
	native bool
}

func newFrozenCodec(version byte, dict []byte) (frozenCodec, error) {
	c := frozenCodec{version: version, dict: dict}
	if version >= 4 {
		if c.native = bytes.Equal(dict, dictionary); c.native {
			c.s2 = s2Dict
		} else if c.s2 = newS2Dict(dict); c.s2 == nil {
			return c, fmt.Errorf("snapshot dictionary of %d bytes: S2 takes 16 bytes to 64 KiB", len(dict))
		}
	}
	return c, nil
}

// expand returns a frozen record's encoding in a buffer the caller puts
// back into buffers.
func (c frozenCodec) expand(data []byte) (*bytes.Buffer, error) {
	if c.version >= 4 {
		return expandWith(data, c.s2)
	}
	return inflateWith(data, c.dict)
}

// readFrozen takes a frozen record. From version 3 on it is stored once
// it is known to decode to a well-formed message: as it is when the
// snapshot is native, compressed anew otherwise. A version 2 record,
// whose keys differ, is decoded and frozen anew.
func readFrozen(txn *memdb.Txn, rt recordTable, rec []byte, c frozenCodec) (any, error) {
	table := rt.table
	f, err := parseFrozenRecord(rec, table == tableJobs)
	if err != nil {
		return nil, err
	}
	raw, err := c.expand(f.data)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", table, f.name, err)
	}
	defer buffers.Put(raw)
	if c.version < 3 {
		m := rt.new()
		if err := proto.Unmarshal(raw.Bytes(), m); err != nil {
			return nil, fmt.Errorf("%s %q: %w", table, f.name, err)
		}
		return freeze(txn, table, m, nil), nil
	}
	if err := wellFormed(raw.Bytes()); err != nil {
		return nil, fmt.Errorf("%s %q: %w", table, f.name, err)
	}
	if !c.native {
		f.data = compress(raw.Bytes())
	}
	if table == tableJobs {
		f.failed = jobFailed(raw.Bytes())
	}
	if table == tablePods && warmJob(txn, f.key) {
		// A Succeeded pod of a running Job: its Job's controller
		// counts it by its brief. Jobs are restored before pods.
		p := &api.Pod{}
		if err := proto.Unmarshal(raw.Bytes(), p); err != nil {
			return nil, fmt.Errorf("%s %q: %w", table, f.name, err)
		}
		f.brief = briefOf(p)
	}
	return f, nil
}

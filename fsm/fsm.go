package fsm

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/seal"
)

// Errors a refused command returns. Callers test them with errors.Is.
var (
	// ErrAlreadyExists: a create named an object that exists.
	ErrAlreadyExists = errors.New("already exists")
	// ErrNotFound: the command named an object that does not exist.
	ErrNotFound = errors.New("not found")
	// ErrConflict: the object changed identity (uid) since the command was made.
	ErrConflict = errors.New("conflict")
	// ErrFinished: the Job is finished and its status can no longer change.
	ErrFinished = errors.New("job is finished")
)

// Result is what applying one log entry returns: one error (nil on
// success) per command, in order.
type Result struct {
	Errors []error
}

// FSM is the replicated state. It implements raft.FSM.
type FSM struct {
	logger *slog.Logger

	mu      sync.RWMutex // guards db and restored against Restore
	db      *memdb.MemDB
	restore chan struct{} // closed when Restore replaces db

	chMu    sync.Mutex
	changed chan struct{} // closed after the next applied entry

	// view makes a commit and its index appear together to State: memdb
	// wakes watchers inside Commit, and a watcher that then read the new
	// data with the old index would take the change for one already seen.
	view    sync.RWMutex
	applied atomic.Uint64
	// podsRemoved is the index of the last applied entry that removed a
	// pod, or a later one (see State.PodsRemovedIndex); written with a
	// commit (under view) or by Restore (under mu).
	podsRemoved uint64

	// logBytes counts the log entry bytes applied since the state was
	// last captured by Snapshot or replaced by Restore: what a restart
	// would replay.
	logBytes atomic.Uint64

	// events counts stored events; only the applying goroutine (and
	// Restore, which Raft never runs beside Apply) touches it.
	events int
	// tailBytes is the size of every kept log tail, kept as events is.
	tailBytes int64

	// counts are the stored Jobs and pods by state, written with a
	// commit (under view) or by Restore (under mu).
	counts Counts
	obs    Observer
	// keys open the Secrets the leader sealed, and seal them in snapshots;
	// sealFailed is told when an entry cannot be opened (see SetKeys).
	keys       *seal.Keyring
	sealFailed func(error)

	// changeLog remembers recent changes for watches.
	changeLog changeLog
}

// New returns an empty state machine.
func New(logger *slog.Logger) *FSM {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	db, err := memdb.NewMemDB(schema())
	if err != nil {
		panic(fmt.Sprintf("fsm schema: %v", err))
	}
	return &FSM{logger: logger, db: db, restore: make(chan struct{}), changed: make(chan struct{})}
}

// AppliedIndex is the index of the last log entry applied.
func (f *FSM) AppliedIndex() uint64 { return f.applied.Load() }

// LogBytesSinceSnapshot is how many bytes of log entries were applied
// since the last Snapshot or Restore: about what a restart from the latest
// snapshot would read and apply again.
func (f *FSM) LogBytesSinceSnapshot() uint64 { return f.logBytes.Load() }

// Encode serialises commands into one log entry.
func Encode(cmds ...*api.Command) ([]byte, error) {
	b, err := proto.Marshal(&api.CommandBatch{Commands: cmds})
	if err != nil {
		return nil, fmt.Errorf("encode commands: %w", err)
	}
	return b, nil
}

// Apply applies one log entry. Undecodable data or an unknown command type
// panics: a replica that cannot apply what the others applied must stop
// rather than drift.
func (f *FSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	f.logBytes.Add(uint64(len(l.Data)))
	var batch api.CommandBatch
	if err := proto.Unmarshal(l.Data, &batch); err != nil {
		panic(fmt.Sprintf("fsm: undecodable log entry at index %d: %v", l.Index, err))
	}
	return f.applyBatch(l.Index, &batch, true)
}

// ApplyBatch applies decoded commands as of a log index, as Apply does
// once it has decoded them. The caller keeps batch: the store takes copies
// of the objects it holds.
func (f *FSM) ApplyBatch(index uint64, batch *api.CommandBatch) *Result {
	return f.applyBatch(index, batch, false)
}

// applyBatch applies batch as of index. owned says that batch is the
// FSM's: decoded from its log entry for this apply alone, so the store
// keeps the objects the commands carry rather than copies of them.
func (f *FSM) applyBatch(index uint64, batch *api.CommandBatch, owned bool) *Result {
	f.mu.RLock()
	defer f.mu.RUnlock()
	txn := f.db.Txn(true)
	txn.TrackChanges()
	res := &Result{Errors: make([]error, len(batch.Commands))}
	for i, cmd := range batch.Commands {
		res.Errors[i] = f.applyCommand(txn, index, cmd, owned)
	}
	changes := txn.Changes()
	changed := len(changes) > 0
	counts := f.counts
	counts.merge(changes)
	removed := podRemoved(changes)
	f.view.Lock()
	txn.Commit()
	f.applied.Store(index)
	if removed || f.podsRemoved == 0 {
		f.podsRemoved = index
	}
	f.counts = counts
	f.changeLog.record(index, changes)
	f.view.Unlock()
	// Refused commands change nothing and wake nobody, so a controller
	// whose proposal was refused does not spin on its own refusal.
	if changed {
		f.notify()
	}
	return res
}

// podRemoved reports whether changes take a pod out of the store.
func podRemoved(changes memdb.Changes) bool {
	for _, ch := range changes {
		if ch.Table == tablePods && ch.Before != nil && ch.After == nil {
			return true
		}
	}
	return false
}

// Changed returns a channel that is closed after the next change of state.
func (f *FSM) Changed() <-chan struct{} {
	f.chMu.Lock()
	defer f.chMu.Unlock()
	return f.changed
}

func (f *FSM) notify() {
	f.chMu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.chMu.Unlock()
}

func (f *FSM) applyCommand(txn *memdb.Txn, index uint64, c *api.Command, owned bool) error {
	w := &writer{txn: txn, index: index, owned: owned, events: f.events, tailBytes: f.tailBytes, obs: f.obs, keys: f.keys, sealFailed: f.sealFailed}
	defer func() { f.events, f.tailBytes = w.events, w.tailBytes }()
	if c.GetPayload() != nil && !c.PayloadMatchesType() {
		panic(fmt.Sprintf("fsm: command type %v carries a %T payload at index %d", c.GetType(), c.GetPayload(), index))
	}
	switch c.GetType() {
	case api.CommandType_COMMAND_TYPE_UPSERT_JOB:
		return w.applyUpsertJob(c.GetUpsertJob())
	case api.CommandType_COMMAND_TYPE_DELETE_JOB:
		return w.applyDeleteJob(c.GetDeleteJob())
	case api.CommandType_COMMAND_TYPE_UPSERT_CRON_JOB:
		return w.applyUpsertCronJob(c.GetUpsertCronJob())
	case api.CommandType_COMMAND_TYPE_DELETE_CRON_JOB:
		return w.applyDeleteCronJob(c.GetDeleteCronJob())
	case api.CommandType_COMMAND_TYPE_CREATE_PODS:
		return w.applyCreatePods(c.GetCreatePods())
	case api.CommandType_COMMAND_TYPE_UPDATE_POD_STATUS:
		return w.applyUpdatePodStatus(c.GetUpdatePodStatus())
	case api.CommandType_COMMAND_TYPE_STOP_PODS:
		return w.applyStopPods(c.GetStopPods())
	case api.CommandType_COMMAND_TYPE_DELETE_PODS:
		return w.applyDeletePods(c.GetDeletePods())
	case api.CommandType_COMMAND_TYPE_UPDATE_JOB_STATUS:
		return w.applyUpdateJobStatus(c.GetUpdateJobStatus())
	case api.CommandType_COMMAND_TYPE_UPSERT_NODE:
		return w.applyUpsertNode(c.GetUpsertNode())
	case api.CommandType_COMMAND_TYPE_DELETE_NODE:
		return w.applyDeleteNode(c.GetDeleteNode())
	case api.CommandType_COMMAND_TYPE_RECORD_EVENTS:
		return w.applyRecordEvents(c.GetRecordEvents())
	case api.CommandType_COMMAND_TYPE_BIND_PODS:
		return w.applyBindPods(c.GetBindPods())
	case api.CommandType_COMMAND_TYPE_CRON_DECISION:
		return w.applyCronDecision(c.GetCronDecision())
	case api.CommandType_COMMAND_TYPE_UPDATE_CRON_JOB_STATUS:
		return w.applyUpdateCronJobStatus(c.GetUpdateCronJobStatus())
	case api.CommandType_COMMAND_TYPE_UPSERT_CONFIG_MAP:
		return w.applyUpsertConfigMap(c.GetUpsertConfigMap())
	case api.CommandType_COMMAND_TYPE_DELETE_CONFIG_MAP:
		return w.applyDeleteConfigMap(c.GetDeleteConfigMap())
	case api.CommandType_COMMAND_TYPE_UPSERT_SECRET:
		return w.applyUpsertSecret(c.GetUpsertSecret())
	case api.CommandType_COMMAND_TYPE_DELETE_SECRET:
		return w.applyDeleteSecret(c.GetDeleteSecret())
	case api.CommandType_COMMAND_TYPE_RECORD_DELIVERIES:
		return w.applyRecordDeliveries(c.GetRecordDeliveries())
	case api.CommandType_COMMAND_TYPE_ADD_NOTIFICATIONS:
		return w.applyAddNotifications(c.GetAddNotifications())
	case api.CommandType_COMMAND_TYPE_UPSERT_ACL_POLICY:
		return w.applyUpsertAclPolicy(c.GetUpsertAclPolicy())
	case api.CommandType_COMMAND_TYPE_DELETE_ACL_POLICY:
		return w.applyDeleteAclPolicy(c.GetDeleteAclPolicy())
	case api.CommandType_COMMAND_TYPE_UPSERT_ACL_TOKEN:
		return w.applyUpsertAclToken(c.GetUpsertAclToken())
	case api.CommandType_COMMAND_TYPE_DELETE_ACL_TOKEN:
		return w.applyDeleteAclToken(c.GetDeleteAclToken())
	case api.CommandType_COMMAND_TYPE_RECORD_AUDIT:
		return w.applyRecordAudit(c.GetRecordAudit())
	default:
		panic(fmt.Sprintf("fsm: unknown command type %d at index %d", c.GetType(), index))
	}
}

// State returns a consistent read-only view of the current state. It stays
// valid (unchanged) however long it is held.
func (f *FSM) State() *State {
	f.mu.RLock()
	defer f.mu.RUnlock()
	f.view.RLock()
	defer f.view.RUnlock()
	return &State{txn: f.db.Txn(false), index: f.applied.Load(), podsRemoved: f.podsRemoved, restored: f.restore}
}

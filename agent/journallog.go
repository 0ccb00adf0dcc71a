package agent

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Compaction starts once superseded lines outnumber twice the live ones
// plus this many, so that rewriting the file stays a small share of the
// work that filled it.
const compactSlack = 1000

var errJournalClosed = errors.New("journal closed")

// lineParser tells the key a journal line belongs to and whether the line
// is a tombstone for that key.
type lineParser func(line []byte) (key string, tombstone bool, err error)

// journalLog is an append-only file of newline-terminated lines, each the
// latest state of one key or a tombstone removing a key. It keeps the
// latest line of every live key in memory to rewrite the file from, which
// it does when it opens the file and whenever dead lines pile up.
//
// Its methods are safe for concurrent use. Appends are ordered: of two
// appends for one key, the one that returned last wins.
type journalLog struct {
	path   string
	logger *slog.Logger
	fsync  func(*os.File) error // (*os.File).Sync; tests count and hold syncs

	mu      sync.Mutex
	synced  *sync.Cond // broadcast with mu when a sync ends
	f       *os.File   // opened with O_APPEND; nil after a failed rewrite
	size    int64      // bytes of whole lines in f
	err     error      // sticky: set while the file's content is in doubt
	closed  bool
	written uint64 // appends so far
	durable uint64 // appends known to be on disk
	syncing bool   // a caller is syncing f outside mu
	live    map[string][]byte
	dead    int // lines in f that no longer count
	retryAt int // dead lines at which to try again after a failed compaction
}

// openJournalLog replays the file at path and rewrites it with the live
// lines only. The log is returned even with an error: lines replay
// rejects, or a failed rewrite, after which every append tries again to
// rewrite the file and fails until that succeeds.
func openJournalLog(path string, parse lineParser, logger *slog.Logger) (*journalLog, error) {
	l := &journalLog{path: path, logger: logger, fsync: (*os.File).Sync}
	l.synced = sync.NewCond(&l.mu)
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		l.live = map[string][]byte{}
		l.err = fmt.Errorf("read journal: %w", err)
		return l, l.err
	}
	var errs []error
	l.live, errs = replay(data, parse)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.rewrite(); err != nil {
		// Until a rewrite succeeds the file may end in a torn line.
		l.err = err
		errs = append(errs, err)
	}
	return l, errors.Join(errs...)
}

// replay returns the latest line of every key that has no later
// tombstone. A torn last line, left by a crash in the middle of an append
// (which was therefore never acknowledged), is ignored; other lines that
// parse rejects are returned as errors and skipped.
func replay(data []byte, parse lineParser) (map[string][]byte, []error) {
	live := map[string][]byte{}
	var errs []error
	for n := 1; ; n++ {
		end := bytes.IndexByte(data, '\n')
		if end < 0 {
			return live, errs
		}
		line := data[:end]
		data = data[end+1:]
		key, tombstone, err := parse(line)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("journal line %d: %w", n, err))
		case tombstone:
			delete(live, key)
		default:
			live[key] = line
		}
	}
}

// put appends line as the latest state of key and returns the append's
// generation, which sync takes to wait until it is on disk.
func (l *journalLog) put(key string, line []byte) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.live[key]; ok {
		l.dead++
	}
	l.live[key] = line
	return l.appendLine(line)
}

// remove appends a tombstone for key, if it has a line.
func (l *journalLog) remove(key string, tombstone []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.live[key]; !ok {
		return nil
	}
	delete(l.live, key)
	l.dead += 2
	_, err := l.appendLine(tombstone)
	return err
}

// appendLine writes one line, or rewrites the whole file if it is in
// doubt, and compacts when dead lines pile up. mu must be held.
func (l *journalLog) appendLine(line []byte) (uint64, error) {
	if l.closed {
		return 0, errJournalClosed
	}
	if l.err != nil {
		// The file may lack earlier appends; a rewrite from memory
		// holds them all, this line included.
		if err := l.rewrite(); err != nil {
			return 0, err
		}
		return l.written, nil
	}
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	if _, err := l.f.Write(buf); err != nil {
		// Cut a partial line so the next append starts a fresh one.
		if terr := l.f.Truncate(l.size); terr != nil {
			l.err = fmt.Errorf("append to journal: %w", errors.Join(err, terr))
			return 0, l.err
		}
		return 0, fmt.Errorf("append to journal: %w", err)
	}
	l.size += int64(len(buf))
	l.written++
	gen := l.written
	if l.dead > 2*len(l.live)+compactSlack && l.dead >= l.retryAt {
		if err := l.rewrite(); err != nil {
			// The append itself stands; try again later.
			l.retryAt = l.dead + compactSlack
			l.logger.Warn("compact journal", "err", err)
		}
	}
	return gen, nil
}

// sync returns once the append of generation gen is on disk. Callers
// waiting at the same time share one fsync: whoever finds none running
// starts one that covers every append made so far.
func (l *journalLog) sync(gen uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.durable < gen {
		if l.closed {
			return errJournalClosed
		}
		if l.err != nil {
			return l.err
		}
		if l.syncing {
			l.synced.Wait()
			continue
		}
		l.syncing = true
		f, target := l.f, l.written
		l.mu.Unlock()
		err := l.fsync(f)
		l.mu.Lock()
		l.syncing = false
		if err != nil {
			// After a failed fsync the kernel may have dropped the
			// dirty pages: nothing written since the last good sync
			// can be trusted to be on disk.
			l.err = fmt.Errorf("sync journal: %w", err)
		} else {
			l.durable = max(l.durable, target)
		}
		l.synced.Broadcast()
	}
	return nil
}

// rewrite replaces the file with the live lines, through a temporary file
// that is synced and renamed over it; afterwards every append so far is on
// disk. If it fails after the rename, the file is in doubt (l.err). mu must
// be held.
func (l *journalLog) rewrite() error {
	for l.syncing {
		l.synced.Wait()
	}
	if l.closed {
		return errJournalClosed
	}
	keys := make([]string, 0, len(l.live))
	size := 0
	for k, line := range l.live {
		keys = append(keys, k)
		size += len(line) + 1
	}
	slices.Sort(keys)
	buf := make([]byte, 0, size)
	for _, k := range keys {
		buf = append(append(buf, l.live[k]...), '\n')
	}
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("compact journal: %w", err)
	}
	_, err = f.Write(buf)
	if err == nil {
		err = f.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, l.path)
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("compact journal: %w", err)
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f, l.size = f, int64(len(buf))
	l.dead, l.retryAt = 0, 0
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		// A crash may bring back the old file, without what is
		// appended to the new one.
		l.err = fmt.Errorf("compact journal: %w", err)
		return l.err
	}
	l.err = nil
	l.durable = l.written
	l.synced.Broadcast()
	return nil
}

// lines returns the latest line of every live key.
func (l *journalLog) lines() map[string][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.live)
}

// close closes the file; later appends fail.
func (l *journalLog) close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.syncing {
		l.synced.Wait()
	}
	if l.closed {
		return nil
	}
	l.closed = true
	l.synced.Broadcast()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
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

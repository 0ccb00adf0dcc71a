package agent

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// An agent makes a directory, a working directory and a log file for
// every pod, and deletes them again. ext4 without a journal will not reuse
// an inode freed in the last minute (six while its inode table block is
// dirty): each new inode steps over every such inode of its block group,
// so after a large Job's pods are deleted each new pod costs its agent
// two to three times the CPU (BENCHMARKS.md, "The agents' file system").
// The agent says so once at its start.

// ext4NoJournal tells whether dir lies on an ext4 file system without a
// journal, and names its device. The kernel shows each mounted ext4 file
// system under /sys/fs/ext4/<device>, where journal_task reads "<none>"
// when it has no journal.
func ext4NoJournal(dir string) (device string, noJournal bool, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return "", false, &fs.PathError{Op: "statfs", Path: dir, Err: err}
	}
	if st.Type != unix.EXT4_SUPER_MAGIC {
		return "", false, nil
	}
	var s unix.Stat_t
	if err := unix.Stat(dir, &s); err != nil {
		return "", false, &fs.PathError{Op: "stat", Path: dir, Err: err}
	}
	link := filepath.Join("/sys/dev/block", fmt.Sprintf("%d:%d", unix.Major(s.Dev), unix.Minor(s.Dev)))
	target, err := os.Readlink(link)
	if err != nil {
		return "", false, err
	}
	device = filepath.Base(target)
	task, err := os.ReadFile(filepath.Join("/sys/fs/ext4", device, "journal_task"))
	if errors.Is(err, fs.ErrNotExist) {
		// A kernel without journal_task tells nothing here.
		return device, false, nil
	}
	if err != nil {
		return device, false, err
	}
	return device, journalTaskNone(string(task)), nil
}

// journalTaskNone reads an ext4 file system's sysfs journal_task: the
// journal thread's pid, or "<none>" without a journal.
func journalTaskNone(task string) bool {
	return strings.TrimSpace(task) == "<none>"
}

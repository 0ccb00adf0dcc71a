package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
)

// Kubelet's defaults for container logs: containerLogMaxSize and
// containerLogMaxFiles (the current file included).
const (
	DefaultLogMaxSize  = 10 << 20
	DefaultLogMaxFiles = 5
)

// rotatedPath is the n-th older file of a rotated log (1 is the newest).
func rotatedPath(path string, n int) string { return path + "." + strconv.Itoa(n) }

// rotateLog keeps the log at path under maxSize as kubelet does, checked
// at intervals: once it is larger, its content moves to path.1 (older
// files shift up, the oldest of maxFiles-1 is dropped) and the file is
// truncated in place. The process keeps writing through its own handle,
// opened with O_APPEND, so its next write lands at the start of the empty
// file; a line written between the copy and the truncation is lost, as
// with logrotate's copytruncate. It reports whether it rotated.
func rotateLog(path string, maxSize int64, maxFiles int) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) || err == nil && fi.Size() <= maxSize {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("rotate log: %w", err)
	}
	if maxFiles < 2 {
		return true, truncateLog(path)
	}
	_ = os.Remove(rotatedPath(path, maxFiles-1))
	for n := maxFiles - 2; n >= 1; n-- {
		if err := os.Rename(rotatedPath(path, n), rotatedPath(path, n+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return false, fmt.Errorf("rotate log: %w", err)
		}
	}
	if err := copyFile(path, rotatedPath(path, 1)); err != nil {
		return false, fmt.Errorf("rotate log: %w", err)
	}
	return true, truncateLog(path)
}

func truncateLog(path string) error {
	if err := os.Truncate(path, 0); err != nil {
		return fmt.Errorf("rotate log: %w", err)
	}
	return nil
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	return dst.Close()
}

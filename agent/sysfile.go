package agent

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The agent touches a handful of files for every pod it runs: its log,
// its /proc stat, its cgroup's files, its directories. The os package
// opens each file ready for the runtime's poller, which costs a regular
// file four fcntl calls and a failed epoll_ctl; os.ReadFile adds an
// fstat, and os.RemoveAll tries unlink and rmdir before it reads a
// directory. On a virtual machine every system call has a price of its
// own, so these helpers make the calls the file needs and no others.
// Their errors are *fs.PathError, as the os package's are.

// noEINTR repeats a system call interrupted by a signal.
func noEINTR(call func() error) error {
	for {
		if err := call(); !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}

// openFD opens path close-on-exec, with no poller, and retries an
// interrupted open.
func openFD(path string, flag int, perm uint32) (int, error) {
	var fd int
	err := noEINTR(func() (err error) {
		fd, err = unix.Open(path, flag|unix.O_CLOEXEC, perm)
		return err
	})
	if err != nil {
		return -1, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	return fd, nil
}

// readSmallFile reads a whole small file: a /proc or cgroup file.
func readSmallFile(path string) ([]byte, error) {
	fd, err := openFD(path, unix.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	buf := make([]byte, 0, 512)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		var n int
		err := noEINTR(func() (err error) {
			n, err = unix.Read(fd, buf[len(buf):cap(buf)])
			return err
		})
		if err != nil {
			return nil, &fs.PathError{Op: "read", Path: path, Err: err}
		}
		if n == 0 {
			return buf, nil
		}
		buf = buf[:len(buf)+n]
	}
}

// writeCgroupFile writes value to an existing control file in one write,
// which the kernel takes as one command; unlike os.WriteFile it never
// creates one.
func writeCgroupFile(path, value string) error {
	fd, err := openFD(path, unix.O_WRONLY, 0)
	if err != nil {
		return err
	}
	var n int
	err = noEINTR(func() (err error) {
		n, err = unix.Write(fd, []byte(value))
		return err
	})
	if err == nil && n < len(value) {
		err = unix.EIO
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		return &fs.PathError{Op: "write", Path: path, Err: err}
	}
	return nil
}

// openFile opens path as os.OpenFile does, for a file that is only handed
// to a child process or read and written in whole calls: the result is
// not registered with the runtime's poller.
func openFile(path string, flag int, perm uint32) (*os.File, error) {
	fd, err := openFD(path, flag, perm)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), path), nil
}

// removeDir removes the directory at path and everything in it, as
// os.RemoveAll does, in the fewest calls: one rmdir for an empty
// directory; for one of files, open it, read its entries, unlink each,
// close it and remove it. A directory inside it is left to os.RemoveAll.
// A path that does not exist is no error; one that is not a directory is
// removed too.
func removeDir(path string) error {
	err := unix.Rmdir(path)
	switch {
	case err == nil || errors.Is(err, unix.ENOENT):
		return nil
	case errors.Is(err, unix.ENOTDIR):
		return os.RemoveAll(path)
	case !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST):
		return &fs.PathError{Op: "remove", Path: path, Err: err}
	}
	_, err = removeFullDir(path)
	return err
}

// removeFullDir is removeDir for a directory expected to hold something,
// so it skips the first rmdir. It tells whether it found the directory.
func removeFullDir(path string) (bool, error) {
	buf := make([]byte, 8192)
	// Unlinking entries may reorder a directory's remaining ones, so a
	// directory still not empty after a pass is opened and read again.
	for pass := 0; ; pass++ {
		fd, err := openFD(path, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
		switch {
		case errors.Is(err, unix.ENOENT):
			return pass > 0, nil
		case errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP):
			return true, os.RemoveAll(path)
		case err != nil:
			return true, err
		}
		err = unlinkEntries(fd, path, buf)
		unix.Close(fd)
		if err != nil {
			return true, err
		}
		err = unix.Rmdir(path)
		switch {
		case err == nil || errors.Is(err, unix.ENOENT):
			return true, nil
		case (errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST)) && pass < 3:
			continue
		case errors.Is(err, unix.ENOTEMPTY) || errors.Is(err, unix.EEXIST):
			// Something keeps adding entries: leave it to the
			// general case.
			return true, os.RemoveAll(path)
		default:
			return true, &fs.PathError{Op: "remove", Path: path, Err: err}
		}
	}
}

// unlinkEntries unlinks the entries of the directory open as fd, read in
// one pass; a directory among them is removed with os.RemoveAll.
func unlinkEntries(fd int, path string, buf []byte) error {
	for {
		var n int
		err := noEINTR(func() (err error) {
			n, err = unix.Getdents(fd, buf)
			return err
		})
		if err != nil {
			return &fs.PathError{Op: "readdirent", Path: path, Err: err}
		}
		if n == 0 {
			return nil
		}
		_, _, names := unix.ParseDirent(buf[:n], -1, nil)
		for _, name := range names {
			err := unix.Unlinkat(fd, name, 0)
			switch {
			case err == nil || errors.Is(err, unix.ENOENT):
			case errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM):
				if err := os.RemoveAll(filepath.Join(path, name)); err != nil {
					return err
				}
			default:
				return &fs.PathError{Op: "unlinkat", Path: filepath.Join(path, name), Err: err}
			}
		}
		if n < len(buf)/2 {
			// A short read holds the rest of the directory: the rmdir
			// that follows tells whether anything was missed, and
			// saves the call that would read nothing.
			return nil
		}
	}
}

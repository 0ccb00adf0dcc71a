package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// floorSamples is how many times each floor is measured per repetition.
const floorSamples = 100

// runFloor measures what the machine itself costs, with the scenario's
// idle cluster beside it as every other figure has: the floors that
// BENCHMARKS.md divides the figures by. No figure of ours can beat them:
// a pod start is at least a fork and exec, a Raft commit at least an
// fsync on two servers, a call at least a round trip.
func runFloor(ctx context.Context, e *env) error {
	for range floorSamples {
		start := time.Now()
		cmd := exec.CommandContext(ctx, "true")
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("fork and exec true: %w", err)
		}
		e.add("fork + exec of `true`", "ms", millis(time.Since(start)))
		// What the child itself used, from the fork to its exit: the
		// floor of the throughput scenario's CPU per pod of the pods'
		// processes.
		e.add("fork + exec of `true`: the child's CPU", "ms", millis(cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime()))
	}
	if err := floorPodCommand(ctx, e); err != nil {
		return err
	}
	if err := floorFsync(e); err != nil {
		return err
	}
	if err := floorPodFiles(e); err != nil {
		return err
	}
	return floorRoundTrip(e)
}

// floorPodFiles makes, beside the cluster's data, what an agent makes for
// each pod: its directory, the working directory inside it and a log
// file. On ext4 without a journal, finding a free inode skips those freed
// in the last minutes, one lookup each, so this floor grows with what was
// deleted nearby, such as the data of the runs before this one.
func floorPodFiles(e *env) error {
	dir, err := os.MkdirTemp(e.c.dir, "files-floor-*")
	if err != nil {
		return fmt.Errorf("pod files floor: %w", err)
	}
	defer os.RemoveAll(dir)
	for i := range floorSamples {
		pod := filepath.Join(dir, fmt.Sprintf("pod-%d", i))
		start := time.Now()
		if err := os.Mkdir(pod, 0o755); err != nil {
			return fmt.Errorf("pod files floor: %w", err)
		}
		if err := os.Mkdir(filepath.Join(pod, "work"), 0o755); err != nil {
			return fmt.Errorf("pod files floor: %w", err)
		}
		f, err := os.OpenFile(filepath.Join(pod, "main.log"), os.O_WRONLY|os.O_CREATE|os.O_TRUNC|os.O_APPEND, 0o644)
		if err != nil {
			return fmt.Errorf("pod files floor: %w", err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("pod files floor: %w", err)
		}
		e.add("a pod's files: 2 directories and a log file", "ms", millis(time.Since(start)))
	}
	return nil
}

// floorPodCommand runs the submit scenario's pod command itself, as the
// agent would (sh -c, a fresh process group), from start to the stamp it
// writes: what "submit -> pod started" spends in the pod.
func floorPodCommand(ctx context.Context, e *env) error {
	dir, err := e.stampDir()
	if err != nil {
		return err
	}
	for i := range floorSamples {
		name := fmt.Sprintf("floor-%d", i)
		cmd := exec.CommandContext(ctx, "sh", "-c", stampLine("start", dir, name))
		cmd.Env = append(os.Environ(), "JOBCLUSTER_NODE_NAME=bench", "HOSTNAME="+name)
		start := time.Now()
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("the submit pod's command: %w", err)
		}
		lines, err := readStampFile(filepath.Join(dir, name))
		if err != nil {
			return err
		}
		if len(lines) != 1 {
			return fmt.Errorf("the submit pod's command wrote %d stamps, want 1", len(lines))
		}
		e.add("the submit pod's command alone: start -> its stamp", "ms", millis(lines[0].at.Sub(start)))
	}
	return nil
}

// floorFsync appends 4 KiB to a file beside the servers' data and syncs
// it: what each Raft log write and agent journal entry waits for at least.
func floorFsync(e *env) error {
	f, err := os.CreateTemp(e.c.dir, "fsync-floor-*")
	if err != nil {
		return fmt.Errorf("fsync floor: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	for range floorSamples {
		start := time.Now()
		if _, err := f.Write(buf); err != nil {
			return fmt.Errorf("fsync floor: %w", err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("fsync floor: %w", err)
		}
		e.add("append 4 KiB + fsync", "ms", millis(time.Since(start)))
	}
	return nil
}

// floorRoundTrip sends 64 bytes over loopback TCP to an echo and reads
// them back: what each call between the processes costs at least.
func floorRoundTrip(e *env) error {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("round trip floor: %w", err)
	}
	defer lis.Close()
	go func() {
		conn, err := lis.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = io.Copy(conn, conn)
	}()
	conn, err := net.Dial("tcp", lis.Addr().String())
	if err != nil {
		return fmt.Errorf("round trip floor: %w", err)
	}
	defer conn.Close()
	msg, back := make([]byte, 64), make([]byte, 64)
	for range floorSamples {
		start := time.Now()
		if _, err := conn.Write(msg); err != nil {
			return fmt.Errorf("round trip floor: %w", err)
		}
		if _, err := io.ReadFull(conn, back); err != nil {
			return fmt.Errorf("round trip floor: %w", err)
		}
		e.add("loopback TCP round trip, 64 bytes", "ms", millis(time.Since(start)))
	}
	return nil
}

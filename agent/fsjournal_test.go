package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/test/testcluster"
)

func TestJournalTaskNone(t *testing.T) {
	for _, tc := range []struct {
		task string
		want bool
	}{
		{"<none>\n", true},
		{"<none>", true},
		{"412\n", false},
		{"", false},
	} {
		if got := journalTaskNone(tc.task); got != tc.want {
			t.Errorf("journalTaskNone(%q) = %v, want %v", tc.task, got, tc.want)
		}
	}
}

// TestExt4NoJournal mounts two small ext4 file systems of its own, one
// made without a journal, and checks that the agent tells them apart, and
// that it reports no other kind of file system.
func TestExt4NoJournal(t *testing.T) {
	if dev, noJournal, err := ext4NoJournal("/proc"); err != nil || noJournal || dev != "" {
		t.Errorf("/proc: device %q, ext4 without a journal %v, error %v; want none of them", dev, noJournal, err)
	}
	requireLoopMounts(t)
	for _, tc := range []struct {
		name string
		mkfs []string
		want bool
	}{
		{"made with a journal, as mkfs.ext4 does by default", nil, false},
		{"made without a journal", []string{"-O", "^has_journal"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			img, mnt := filepath.Join(dir, "fs.img"), filepath.Join(dir, "mnt")
			if err := os.Mkdir(mnt, 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(img)
			if err != nil {
				t.Fatal(err)
			}
			err = f.Truncate(64 << 20)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			mustRun(t, "mkfs.ext4", append([]string{"-q", "-F"}, append(tc.mkfs, img)...)...)
			mustRun(t, "mount", "-o", "loop", img, mnt)
			// Runs before t.TempDir's removal: cleanups run last first.
			t.Cleanup(func() {
				if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
					t.Errorf("umount %s: %v: %s", mnt, err, out)
				}
			})
			data := filepath.Join(mnt, "agent")
			if err := os.Mkdir(data, 0o711); err != nil {
				t.Fatal(err)
			}
			dev, noJournal, err := ext4NoJournal(data)
			if err != nil {
				t.Fatal(err)
			}
			if noJournal != tc.want {
				t.Errorf("ext4 without a journal = %v, want %v", noJournal, tc.want)
			}
			if !strings.HasPrefix(dev, "loop") {
				t.Errorf("device = %q, want the loop device it is mounted from", dev)
			}
		})
	}
}

// requireLoopMounts skips the test unless it can make and mount ext4 file
// systems on loop devices (root and mkfs.ext4), or fails it under CI=true,
// which runs as root and installs mkfs.ext4.
func requireLoopMounts(t *testing.T) {
	t.Helper()
	testcluster.RequireRoot(t, "loop mounts need root")
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no mkfs.ext4, and CI=true must run this test: %v", err)
		}
		t.Skip("no mkfs.ext4 (Debian's e2fsprogs)")
	}
}

func mustRun(t *testing.T, name string, args ...string) {
	t.Helper()
	if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
}

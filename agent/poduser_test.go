package agent

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

func TestParsePodUser(t *testing.T) {
	dir := t.TempDir()
	passwd := filepath.Join(dir, "passwd")
	group := filepath.Join(dir, "group")
	if err := os.WriteFile(passwd, []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65533:nobody:/:/bin/false\nbroken:x:abc:1::/:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(group, []byte("root:x:0:\nnogroup:x:65533:\nstaff:x:50:\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		in      string
		want    *PodUser
		wantErr string
	}{
		{name: "uid and gid", in: "1234:2345", want: &PodUser{UID: 1234, GID: 2345}},
		{name: "a uid without an entry keeps it as its group", in: "1234", want: &PodUser{UID: 1234, GID: 1234}},
		{name: "a uid with an entry takes its primary group", in: "65534", want: &PodUser{UID: 65534, GID: 65533}},
		{name: "a user name", in: "nobody", want: &PodUser{UID: 65534, GID: 65533}},
		{name: "a user name and a group name", in: "nobody:staff", want: &PodUser{UID: 65534, GID: 50}},
		{name: "a user name and a gid", in: "nobody:7", want: &PodUser{UID: 65534, GID: 7}},
		{name: "an unknown user", in: "ghost", wantErr: `--pod-user "ghost": no user "ghost" in ` + passwd},
		{name: "an unknown group", in: "1:ghosts", wantErr: `no group "ghosts" in ` + group},
		{name: "a user whose entry is broken", in: "broken", wantErr: `no user "broken"`},
		{name: "empty", in: "", wantErr: "want UID, UID:GID, NAME or NAME:GROUP"},
		{name: "an empty group", in: "1234:", wantErr: "want UID, UID:GID, NAME or NAME:GROUP"},
		{name: "a uid out of range", in: "4294967296", wantErr: `no user "4294967296"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePodUser(tt.in, passwd, group)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parsePodUser(%q) = %v, %v; want error containing %q", tt.in, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePodUser(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestPodCredential(t *testing.T) {
	id := func(n int64) *int64 { return &n }
	yes := true
	// 1234 and 2345 have no entry in any usual /etc/passwd.
	agentGID := uint32(os.Getgid())
	tests := []struct {
		name    string
		sc      *api.SecurityContext
		podUser *PodUser
		want    *syscall.Credential
		wantErr string
	}{
		{name: "nothing set keeps the agent's user", want: nil},
		{name: "the agent's pod user", podUser: &PodUser{UID: 1234, GID: 2345}, want: cred(1234, 2345)},
		{name: "runAsUser and runAsGroup win over the pod user", sc: &api.SecurityContext{RunAsUser: id(1000), RunAsGroup: id(1001)}, podUser: &PodUser{UID: 1234, GID: 2345}, want: cred(1000, 1001)},
		{name: "runAsUser alone takes the pod user's group when the UIDs agree", sc: &api.SecurityContext{RunAsUser: id(1234)}, podUser: &PodUser{UID: 1234, GID: 2345}, want: cred(1234, 2345)},
		{name: "runAsUser alone without an entry takes the agent's group", sc: &api.SecurityContext{RunAsUser: id(1234)}, want: cred(1234, agentGID)},
		{name: "runAsGroup alone changes only the group", sc: &api.SecurityContext{RunAsGroup: id(2345)}, want: cred(uint32(os.Getuid()), 2345)},
		{name: "runAsNonRoot with a user", sc: &api.SecurityContext{RunAsUser: id(1234), RunAsNonRoot: &yes}, want: cred(1234, agentGID)},
		{name: "runAsNonRoot as root", sc: &api.SecurityContext{RunAsUser: id(0), RunAsNonRoot: &yes}, wantErr: "runAsNonRoot"},
		{name: "a negative runAsUser", sc: &api.SecurityContext{RunAsUser: id(-1)}, wantErr: "runAsUser -1 is out of range"},
		{name: "the kernel's no-ID as runAsGroup", sc: &api.SecurityContext{RunAsGroup: id(1<<32 - 1)}, wantErr: "runAsGroup 4294967295 is out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := podCredential(tt.sc, tt.podUser)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("podCredential = %+v, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("podCredential = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func cred(uid, gid uint32) *syscall.Credential {
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}, NoSetGroups: os.Geteuid() != 0}
}

func TestProcessRunsAsRunAsUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root starts processes as another user")
	}
	// t.TempDir's parent is private to root; the agent's working
	// directories sit where the pod's user can reach them.
	dir, err := os.MkdirTemp("", "pod-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	runAsUser, runAsGroup := int64(1234), int64(2345)
	c := &api.Container{SecurityContext: &api.SecurityContext{RunAsUser: &runAsUser, RunAsGroup: &runAsGroup}}
	p := startIn(t, NewProcessRuntime(), dir, c, "sh", "-c", `echo "$(id -u):$(id -g):$(id -G)" > ids && echo written > file && cat ids`)
	if code, err := p.Wait(); code != 0 || err != nil {
		out, _ := os.ReadFile(p.cmd.Stdout.(*os.File).Name())
		t.Fatalf("Wait() = %d, %v; output %s", code, err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "ids"))
	if err != nil || strings.TrimSpace(string(got)) != "1234:2345:2345" {
		t.Errorf("uid:gid:groups = %q, %v; want 1234:2345:2345", got, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "file")); err != nil || string(b) != "written\n" {
		t.Errorf("file written in the working directory = %q, %v", b, err)
	}
}

func TestProcessRuntimeWithPodUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root starts processes as another user")
	}
	dir, err := os.MkdirTemp("", "pod-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	r, warnings, err := NewProcessRuntimeWith(ProcessOptions{PodUser: &PodUser{UID: 4321, GID: 5432}})
	if err != nil || len(warnings) != 0 {
		t.Fatalf("NewProcessRuntimeWith = %q, %v", warnings, err)
	}
	p := startIn(t, r, dir, nil, "sh", "-c", `echo "$(id -u):$(id -g)" > ids`)
	if code, err := p.Wait(); code != 0 || err != nil {
		t.Fatalf("Wait() = %d, %v", code, err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "ids")); err != nil || strings.TrimSpace(string(got)) != "4321:5432" {
		t.Errorf("uid:gid = %q, %v; want 4321:5432", got, err)
	}
}

func TestSearchableBy(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to make directories of other owners")
	}
	open, err := os.MkdirTemp("", "searchable-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(open) })
	if err := os.Chmod(open, 0o755); err != nil {
		t.Fatal(err)
	}
	private := filepath.Join(open, "private")
	groupOnly := filepath.Join(open, "group")
	for dir, mode := range map[string]os.FileMode{private: 0o700, groupOnly: 0o710} {
		if err := os.Mkdir(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 0, 2345); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name    string
		dir     string
		uid     uint32
		gid     uint32
		wantErr bool
	}{
		{name: "under a directory open to all", dir: filepath.Join(open, "work"), uid: 1234, gid: 1234},
		{name: "under a directory private to root", dir: filepath.Join(private, "work"), uid: 1234, gid: 1234, wantErr: true},
		{name: "under a directory open to the pod's group", dir: filepath.Join(groupOnly, "work"), uid: 1234, gid: 2345},
		{name: "under a directory open to another group", dir: filepath.Join(groupOnly, "work"), uid: 1234, gid: 1234, wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := searchableBy(tt.dir, tt.uid, tt.gid); (err != nil) != tt.wantErr {
				t.Errorf("searchableBy(%s, %d, %d) = %v, want error %v", tt.dir, tt.uid, tt.gid, err, tt.wantErr)
			}
		})
	}
}

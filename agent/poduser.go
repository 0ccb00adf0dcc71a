package agent

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/jobcluster/jobcluster/api"
	"golang.org/x/sys/unix"
)

// PodUser is a user and group that pod processes run as.
type PodUser struct {
	UID uint32
	GID uint32
}

// passwdFile and groupFile are read to resolve user and group names.
const (
	passwdFile = "/etc/passwd"
	groupFile  = "/etc/group"
)

// ParsePodUser parses the value of the agent's --pod-user flag: "UID",
// "UID:GID", "NAME" or "NAME:GROUP", where a name is looked up in
// /etc/passwd and a group name in /etc/group. Without a group, the user's
// primary group from /etc/passwd is used, or the UID when it has no entry.
func ParsePodUser(s string) (*PodUser, error) {
	return parsePodUser(s, passwdFile, groupFile)
}

func parsePodUser(s, passwd, group string) (*PodUser, error) {
	userPart, groupPart, hasGroup := strings.Cut(strings.TrimSpace(s), ":")
	if userPart == "" || (hasGroup && groupPart == "") {
		return nil, fmt.Errorf("--pod-user %q: want UID, UID:GID, NAME or NAME:GROUP, for example 65534:65534 or nobody", s)
	}
	var u PodUser
	if id, err := parseID(userPart); err == nil {
		u.UID, u.GID = id, id
		if gid, found := lookupIDFile(passwd, userPart, 2, 3); found {
			u.GID = gid
		}
	} else {
		uid, found := lookupIDFile(passwd, userPart, 0, 2)
		gid, _ := lookupIDFile(passwd, userPart, 0, 3)
		if !found {
			return nil, fmt.Errorf("--pod-user %q: no user %q in %s: give a numeric UID:GID or create the user", s, userPart, passwd)
		}
		u.UID, u.GID = uid, gid
	}
	if hasGroup {
		if id, err := parseID(groupPart); err == nil {
			u.GID = id
		} else {
			gid, found := lookupIDFile(group, groupPart, 0, 2)
			if !found {
				return nil, fmt.Errorf("--pod-user %q: no group %q in %s: give a numeric GID or create the group", s, groupPart, group)
			}
			u.GID = gid
		}
	}
	return &u, nil
}

// parseID parses a numeric user or group ID.
func parseID(s string) (uint32, error) {
	n, err := strconv.ParseUint(s, 10, 32)
	return uint32(n), err
}

// lookupIDFile finds, in a colon-separated file like /etc/passwd, the first
// line whose field keyField equals key and returns its numeric field
// valueField. found is false when no line matches or the field is not a
// number.
func lookupIDFile(path, key string, keyField, valueField int) (value uint32, found bool) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Split(sc.Text(), ":")
		if len(fields) <= max(keyField, valueField) || fields[keyField] != key {
			continue
		}
		id, err := parseID(fields[valueField])
		return id, err == nil
	}
	return 0, false
}

// errRunAsRoot refuses a container that must not run as root but would.
var errRunAsRoot = errors.New("container has runAsNonRoot and would run as root (uid 0): set runAsUser or start the agent with --pod-user")

// podCredential decides who a container's process runs as: runAsUser and
// runAsGroup of its security context first, then the agent's pod user,
// then the agent's own user. A runAsUser without runAsGroup takes the
// user's primary group from /etc/passwd, as a container takes it from its
// image, else the pod user's group when the UIDs agree, else the agent's
// group. nil means the agent's own user and groups, unchanged.
func podCredential(sc *api.SecurityContext, podUser *PodUser) (*syscall.Credential, error) {
	if sc == nil {
		sc = &api.SecurityContext{}
	}
	uid, gid := uint32(os.Getuid()), uint32(os.Getgid())
	set := podUser != nil
	if podUser != nil {
		uid, gid = podUser.UID, podUser.GID
	}
	if sc.RunAsUser != nil {
		runAs, err := credentialID("runAsUser", *sc.RunAsUser)
		if err != nil {
			return nil, err
		}
		switch primary, found := lookupIDFile(passwdFile, strconv.FormatUint(uint64(runAs), 10), 2, 3); {
		case found:
			gid = primary
		case podUser != nil && podUser.UID == runAs:
			gid = podUser.GID
		default:
			gid = uint32(os.Getgid())
		}
		uid, set = runAs, true
	}
	if sc.RunAsGroup != nil {
		runAs, err := credentialID("runAsGroup", *sc.RunAsGroup)
		if err != nil {
			return nil, err
		}
		gid, set = runAs, true
	}
	if sc.GetRunAsNonRoot() && uid == 0 {
		return nil, errRunAsRoot
	}
	if !set {
		return nil, nil
	}
	// Supplementary groups are dropped: the process has only its own
	// group, as in a container. An agent that is not root cannot change
	// them and keeps its own.
	return &syscall.Credential{Uid: uid, Gid: gid, Groups: []uint32{}, NoSetGroups: os.Geteuid() != 0}, nil
}

// credentialID checks a runAsUser or runAsGroup value.
func credentialID(field string, id int64) (uint32, error) {
	// 2^32-1 is the kernel's "no ID".
	if id < 0 || id >= 1<<32-1 {
		return 0, fmt.Errorf("%s %d is out of range", field, id)
	}
	return uint32(id), nil
}

// searchableBy checks that uid, with group gid, can reach dir: every
// directory above it must let that user search it. The child would
// otherwise fail to enter its working directory with a bare "permission
// denied".
func searchableBy(dir string, uid, gid uint32) error {
	for d := filepath.Dir(filepath.Clean(dir)); ; d = filepath.Dir(d) {
		var st unix.Stat_t
		if err := unix.Stat(d, &st); err != nil {
			return fmt.Errorf("working directory %s: %w", dir, err)
		}
		bit := uint32(0o001)
		switch {
		case st.Uid == uid:
			bit = 0o100
		case st.Gid == gid:
			bit = 0o010
		}
		if st.Mode&bit == 0 {
			return fmt.Errorf("working directory %s: uid %d cannot enter %s (mode %o): make it searchable, for example chmod o+x %s", dir, uid, d, st.Mode&0o777, d)
		}
		if d == filepath.Dir(d) {
			return nil
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The flags and the --notify-config file together: flag webhooks come
// first with every event and the shared secret, a relative secretFile is
// read beside the config file, and a URL given both ways is refused.
func TestNotifyFlagsAndConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	shared := write("shared.secret", "shared\n")
	write("ops.secret", "s3cret\n")
	good := write("good.yaml", "webhooks:\n- url: https://ops.example.com/hook\n  secretFile: ops.secret\n  events: [JobFailed, JobPending]\n- url: http://127.0.0.1:9000/all\n")
	t.Chdir(t.TempDir()) // the secret is found beside the file, not here
	f := notifyFlags{configFile: good, webhooks: []string{"http://127.0.0.1:9001/flag"}, secretFile: shared}
	targets, err := f.targets()
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 3 || targets[0].URL != "http://127.0.0.1:9001/flag" || string(targets[0].Secret) != "shared" || targets[0].Events != nil ||
		string(targets[1].Secret) != "s3cret" || len(targets[1].Events) != 2 || targets[2].Events != nil || targets[2].Secret != nil {
		t.Errorf("targets %+v", targets)
	}

	for _, tt := range []struct {
		name  string
		flags notifyFlags
		want  string
	}{
		{"a URL both a flag and in the file", notifyFlags{configFile: good, webhooks: []string{"http://127.0.0.1:9000/all"}},
			"webhooks[1].url \"http://127.0.0.1:9000/all\" is also a --notify-webhook"},
		{"a problem in the file names the file", notifyFlags{configFile: write("bad.yaml", "webhooks:\n- url: http://a/x\n  events: [JobFial]\n")},
			"--notify-config " + filepath.Join(dir, "bad.yaml") + ": webhooks[0].events[0]: unknown event \"JobFial\": use one of JobFailed,"},
		{"no such file", notifyFlags{configFile: filepath.Join(dir, "none.yaml")}, "--notify-config: open "},
		{"a shared secret and no flag webhook", notifyFlags{configFile: good, secretFile: shared}, "--notify-secret-file needs at least one --notify-webhook"},
		{"an empty shared secret", notifyFlags{webhooks: []string{"http://a/x"}, secretFile: write("empty.secret", "\n")}, "is empty"},
		{"a flag webhook that is no URL", notifyFlags{webhooks: []string{"a/x"}}, "--notify-webhook \"a/x\": want an http:// or https:// URL"},
		{"a negative pending threshold", notifyFlags{pendingAfter: -time.Second}, "--notify-pending-after -1s: want a positive duration"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.flags.targets(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want %q", err, tt.want)
			}
		})
	}
}

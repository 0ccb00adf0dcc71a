package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestNotifyConfigFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	secret := write("ops.secret", "s3cret\n")
	good := write("good.yaml", "webhooks:\n- url: https://ops.example.com/hook\n  secretFile: "+secret+"\n  events: [JobFailed, JobPending]\n- url: http://127.0.0.1:9000/all\n")
	f := notifyFlags{configFile: good, webhooks: []string{"http://127.0.0.1:9001/flag"}}
	targets, err := f.targets()
	if err != nil {
		t.Fatal(err)
	}
	if len(targets) != 3 || string(targets[1].Secret) != "s3cret" || len(targets[1].Events) != 2 || targets[2].Events != nil || targets[2].Secret != nil {
		t.Errorf("targets %+v", targets)
	}
	for _, tt := range []struct{ body, want string }{
		{"webhooks:\n- url: http://a/x\n  events: [JobFial]\n", "webhooks[0].events[0]: unknown event \"JobFial\": use one of JobFailed,"},
		{"webhooks:\n- url: ftp://a/x\n", "webhooks[0].url \"ftp://a/x\": want an http:// or https:// URL"},
		{"webhooks:\n- url: http://a/x\n  secretFile: /nonexistent\n", "webhooks[0].secretFile: open /nonexistent"},
		{"webhooks:\n- url: http://a/x\n  event: [JobFailed]\n", "unknown field \"event\""},
		{"webhooks: []\n", "webhooks: no webhook listed"},
		{"webhooks:\n- url: http://a/x\n- url: http://a/x\n", "webhooks[1].url \"http://a/x\" is listed twice"},
	} {
		f := notifyFlags{configFile: write("bad.yaml", tt.body)}
		if _, err := f.targets(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: %v, want %q", tt.body, err, tt.want)
		}
	}
}

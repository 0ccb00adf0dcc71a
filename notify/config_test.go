package notify

import (
	"io/fs"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseConfig(t *testing.T) {
	files := map[string]string{"/ops.secret": "s3cret\n", "/blank.secret": " \n"}
	readFile := func(path string) ([]byte, error) {
		if s, ok := files[path]; ok {
			return []byte(s), nil
		}
		return nil, &fs.PathError{Op: "open", Path: path, Err: fs.ErrNotExist}
	}
	for _, tt := range []struct {
		name string
		// setup
		file string
		// want
		targets  []Target
		problems []string // each a line of the error, after "f.yaml: "
	}{
		{
			name: "two webhooks, one with a secret and events",
			file: `webhooks:
- url: https://ops.example.com/hook
  secretFile: /ops.secret
  events: [JobFailed, CronJobMissed, NodeNotReady, JobPending]
- url: http://127.0.0.1:9000/all
`,
			targets: []Target{
				{URL: "https://ops.example.com/hook", Secret: []byte("s3cret"), Events: []string{"JobFailed", "CronJobMissed", "NodeNotReady", "JobPending"}},
				{URL: "http://127.0.0.1:9000/all"},
			},
		},
		{
			name:    "an event listed twice counts once",
			file:    "webhooks:\n- url: http://a/x\n  events: [JobFailed, JobFailed]\n",
			targets: []Target{{URL: "http://a/x", Events: []string{"JobFailed"}}},
		},
		{
			name:     "a misspelt event",
			file:     "webhooks:\n- url: http://a/x\n- url: http://b/x\n  events: [JobFial]\n",
			problems: []string{`webhooks[1].events[0]: unknown event "JobFial": use one of JobFailed, JobComplete, JobPending, CronJobFailed, CronJobSkipped, CronJobMissed, NodeNotReady`},
		},
		{
			name:     "every problem at once",
			file:     "webhooks:\n- url: ftp://a/x\n  event: [JobFailed]\n- secretFile: /missing\n  events: []\n",
			problems: []string{`webhooks[0].event: unknown field: use url, secretFile or events`, `webhooks[0].url "ftp://a/x": want an http:// or https:// URL`, `webhooks[1].url: missing: give the http:// or https:// URL to post to`, `webhooks[1].secretFile: open /missing: file does not exist`, `webhooks[1].events: empty, so nothing would be posted: list events, or leave events out for every event`},
		},
		{
			name:     "a URL listed twice",
			file:     "webhooks:\n- url: http://a/x\n- url: http://a/x\n",
			problems: []string{`webhooks[1].url "http://a/x" is listed twice (also webhooks[0]): list each URL once, with every event it is to get`},
		},
		{
			name:     "a blank secret file",
			file:     "webhooks:\n- url: http://a/x\n  secretFile: /blank.secret\n",
			problems: []string{`webhooks[0].secretFile /blank.secret is empty: write the secret into it, or leave secretFile out to post unsigned`},
		},
		{
			name:     "events not a list",
			file:     "webhooks:\n- url: http://a/x\n  events: JobFailed\n",
			problems: []string{`webhooks[0].events: want a list like [JobFailed, NodeNotReady], or leave events out for every event`},
		},
		{
			name:     "an empty file",
			file:     "",
			problems: []string{`webhooks: no webhook listed: add "webhooks:" with at least one "- url: https://..."`},
		},
		{
			name:     "an empty list",
			file:     "webhooks: []\n",
			problems: []string{`webhooks: no webhook listed: add "webhooks:" with at least one "- url: https://..."`},
		},
		{
			name:     "a misspelt top-level field",
			file:     "webhook:\n- url: http://a/x\n",
			problems: []string{`webhook: unknown field: the file holds only webhooks`, `webhooks: missing: add "webhooks:" with at least one "- url: https://..."`},
		},
		{
			name:     "a webhook that is a bare URL",
			file:     "webhooks:\n- http://a/x\n",
			problems: []string{`webhooks[0]: want a mapping with url, and optionally secretFile and events`},
		},
		{
			name:     "a list at the top",
			file:     "- url: http://a/x\n",
			problems: []string{`want a mapping with a webhooks list: add "webhooks:" with at least one "- url: https://..."`},
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseConfig("f.yaml", []byte(tt.file), readFile)
			var problems []string
			if err != nil {
				for _, line := range strings.Split(err.Error(), "\n") {
					problems = append(problems, strings.TrimPrefix(line, "f.yaml: "))
				}
			}
			if diff := cmp.Diff(tt.problems, problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.targets, got); diff != "" {
				t.Errorf("targets (-want +got):\n%s", diff)
			}
		})
	}
	if _, err := ParseConfig("f.yaml", []byte("webhooks: [\n"), readFile); err == nil || !strings.HasPrefix(err.Error(), "f.yaml: not YAML: ") {
		t.Errorf("broken YAML: %v", err)
	}
}

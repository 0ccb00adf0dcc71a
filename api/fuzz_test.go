package api

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzDecodeManifests checks that no input makes DecodeManifests panic,
// that a refused file yields no objects, and that every accepted object is
// valid and survives printing and decoding again.
func FuzzDecodeManifests(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "../examples/*.yaml", "../examples/*/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, seed := range []string{
		jobYAML,
		jobYAML + "---\n" + jobYAML,
		"apiVersion: v1\nkind: List\nitems: [{apiVersion: batch/v1, kind: Job, metadata: {name: a}}]\n",
		`{"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"}, "spec": {"schedule": "@every 1m", "timeZone": "UTC"}}`,
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: x, labels: {a: b}}\nspec: {completions: 1e3, parallelism: 2.0}\n",
		"apiVersion: batch/v1\nkind: Job\nmetadata: {name: r, uid: u1, annotations: {note: \"a \\u00e9 \\\"q\\\"\"}, creationTimestamp: \"2024-01-02T03:04:05.123Z\"}\n" +
			"spec:\n  completionMode: Indexed\n  completions: 4\n  template:\n    spec:\n      restartPolicy: OnFailure\n" +
			"      containers: [{name: c, command: [sh, -c, 'a && b'], env: [{name: X, value: \"\\t\"}], resources: {requests: {cpu: 0.5}, limits: {memory: 1e3}}}]\n" +
			"status: {active: 1, conditions: [{type: Complete, status: \"True\", lastTransitionTime: \"2024-01-02T03:04:05+02:00\"}]}\n",
		"a: &a [*a]\n",
		"--- |\n  text\n...\n",
		"",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := DecodeManifests(data)
		if err != nil {
			if objs != nil {
				t.Fatalf("objects returned with error %v", err)
			}
			return
		}
		for _, obj := range objs {
			if err := Validate(obj); err != nil {
				t.Fatalf("accepted object is invalid: %v", err)
			}
			out, err := MarshalJSON(obj)
			if err != nil {
				t.Fatalf("MarshalJSON: %v", err)
			}
			back, err := DecodeManifests(out)
			if err != nil {
				t.Fatalf("printed object does not decode: %v\n%s", err, out)
			}
			if len(back) != 1 || !proto.Equal(obj, back[0]) {
				t.Fatalf("object changed in a round trip:\n%s", out)
			}
		}
	})
}

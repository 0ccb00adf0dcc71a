package api

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// errLines splits a joined error into its lines; nil gives nil.
func errLines(err error) []string {
	if err == nil {
		return nil
	}
	return strings.Split(err.Error(), "\n")
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// jobYAML is a valid Job manifest; tests replace parts of it.
const jobYAML = `apiVersion: batch/v1
kind: Job
metadata:
  name: pi
spec:
  completions: 3
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: pi
        image: perl
        command: ["perl", "-e", "print 3.14"]
`

func TestDecodeExamples(t *testing.T) {
	tests := []struct {
		name string
		file string
		want []*Object
	}{
		{
			name: "job with completions 5 and parallelism 2 gets Kubernetes defaults",
			file: "job.yaml",
			want: []*Object{{Kind: &Object_Job{Job: &Job{
				ApiVersion: "batch/v1",
				Kind:       "Job",
				Metadata:   &ObjectMeta{Name: "multi-completion-batch-job"},
				Spec: &JobSpec{
					Completions:    proto.Int32(5),
					Parallelism:    proto.Int32(2),
					BackoffLimit:   proto.Int32(6),
					CompletionMode: proto.String("NonIndexed"),
					Suspend:        proto.Bool(false),
					// Kubernetes defaults it since 1.29.
					PodReplacementPolicy: proto.String("TerminatingOrFailed"),
					Template: &PodTemplateSpec{
						Metadata: &ObjectMeta{Labels: map[string]string{
							"app":                          "batch-job",
							"job-name":                     "multi-completion-batch-job",
							"batch.kubernetes.io/job-name": "multi-completion-batch-job",
						}},
						Spec: &PodSpec{
							RestartPolicy:                 "OnFailure",
							TerminationGracePeriodSeconds: proto.Int64(30),
							Containers: []*Container{{
								Name:    "main",
								Image:   "luksa/batch-job",
								Command: []string{"sh", "-c", "echo started; sleep 1; echo finished"},
								Env:     []*EnvVar{{Name: "GREETING", Value: "hello"}},
								Resources: &ResourceRequirements{
									Requests: map[string]string{"cpu": "100m", "memory": "16Mi"},
									Limits:   map[string]string{"cpu": "1", "memory": "64Mi"},
								},
							}},
						},
					},
				},
			}}}},
		},
		{
			name: "batch/v1beta1 CronJob is stored as batch/v1 with defaults",
			file: "cronjob.yaml",
			want: []*Object{{Kind: &Object_CronJob{CronJob: &CronJob{
				ApiVersion: "batch/v1",
				Kind:       "CronJob",
				Metadata:   &ObjectMeta{Name: "batch-job-every-fifteen-minutes"},
				Spec: &CronJobSpec{
					Schedule:                   "0,15,30,45 * * * *",
					StartingDeadlineSeconds:    proto.Int64(15),
					ConcurrencyPolicy:          "Allow",
					Suspend:                    proto.Bool(false),
					SuccessfulJobsHistoryLimit: proto.Int32(3),
					FailedJobsHistoryLimit:     proto.Int32(1),
					JobTemplate: &JobTemplateSpec{Spec: &JobSpec{
						Completions:          proto.Int32(1),
						Parallelism:          proto.Int32(1),
						BackoffLimit:         proto.Int32(6),
						CompletionMode:       proto.String("NonIndexed"),
						Suspend:              proto.Bool(false),
						PodReplacementPolicy: proto.String("TerminatingOrFailed"),
						Template: &PodTemplateSpec{
							Metadata: &ObjectMeta{Labels: map[string]string{"app": "periodic-batch-job"}},
							Spec: &PodSpec{
								RestartPolicy:                 "OnFailure",
								TerminationGracePeriodSeconds: proto.Int64(30),
								Containers:                    []*Container{{Name: "main", Command: []string{"date"}}},
							},
						},
					}},
				},
			}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeManifests(readTestdata(t, tt.file))
			if err != nil {
				t.Fatalf("DecodeManifests: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, protocmp.Transform()); diff != "" {
				t.Errorf("objects differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeManifests(t *testing.T) {
	tests := []struct {
		name      string
		input     string
		wantNames []string // KindOf/NameOf of each object
		wantErr   []string // every line of the error
	}{
		{
			name:      "empty documents and comments are skipped",
			input:     string(readTestdata(t, "multi.yaml")),
			wantNames: []string{"Job/pi", "CronJob/hello"},
		},
		{
			name:      "JSON document",
			input:     `{"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "command": ["true"]}]}}}}`,
			wantNames: []string{"Job/j"},
		},
		{
			name: "kind List holds several objects",
			input: `apiVersion: v1
kind: List
items:
- ` + strings.ReplaceAll(strings.TrimSpace(jobYAML), "\n", "\n  ") + `
- ` + strings.ReplaceAll(strings.TrimSpace(strings.Replace(jobYAML, "name: pi\n", "name: pi2\n", 1)), "\n", "\n  ") + `
`,
			wantNames: []string{"Job/pi", "Job/pi2"},
		},
		{
			name:      "quantities as numbers and strings",
			input:     strings.Replace(jobYAML, "        image: perl\n", "        image: perl\n        resources:\n          requests: {cpu: 0.5, memory: 1e3}\n          limits: {cpu: 1, memory: \"1Gi\"}\n", 1),
			wantNames: []string{"Job/pi"},
		},
		{
			name:      "namespace and status are accepted",
			input:     strings.Replace(jobYAML, "  name: pi\n", "  name: pi\n  namespace: default\n", 1) + "status:\n  succeeded: 2\n  startTime: \"2024-05-01T10:00:00Z\"\n",
			wantNames: []string{"Job/pi"},
		},
		{
			name:    "unknown field in a container",
			input:   strings.Replace(jobYAML, "        image: perl", "        imag: perl", 1),
			wantErr: []string{`unknown field "spec.template.spec.containers[0].imag"`},
		},
		{
			name:  "unknown fields at several depths are all reported",
			input: strings.Replace(strings.Replace(jobYAML, "kind: Job\n", "kind: Job\nfoo: 1\n", 1), "  completions: 3\n", "  completions: 3\n  replicas: 2\n", 1),
			wantErr: []string{
				`unknown field "foo"`,
				`unknown field "spec.replicas"`,
			},
		},
		{
			name:    "string for an integer",
			input:   strings.Replace(jobYAML, "completions: 3", "completions: five", 1),
			wantErr: []string{`spec.completions: Invalid value: "five": expected integer`},
		},
		{
			name:    "fraction for an integer",
			input:   strings.Replace(jobYAML, "completions: 3", "completions: 2.5", 1),
			wantErr: []string{`spec.completions: Invalid value: 2.5: expected integer`},
		},
		{
			name:    "integer beyond int32",
			input:   strings.Replace(jobYAML, "completions: 3", "completions: 3000000000", 1),
			wantErr: []string{`spec.completions: Invalid value: 3000000000: must be an integer between -2147483648 and 2147483647`},
		},
		{
			name:    "string for a list and number for a string",
			input:   strings.Replace(jobYAML, `command: ["perl", "-e", "print 3.14"]`, "command: perl\n        env: [{name: PORT, value: 8080}]", 1),
			wantErr: []string{`spec.template.spec.containers[0].command: Invalid value: "perl": expected list`, `spec.template.spec.containers[0].env[0].value: Invalid value: 8080: expected string`},
		},
		{
			name:    "object for a boolean",
			input:   strings.Replace(jobYAML, "  completions: 3\n", "  completions: 3\n  suspend: {a: 1}\n", 1),
			wantErr: []string{`spec.suspend: Invalid value: {"a":1}: expected boolean`},
		},
		{
			name:    "bad timestamp",
			input:   jobYAML + "status:\n  startTime: yesterday\n",
			wantErr: []string{`status.startTime: Invalid value: "yesterday": expected RFC 3339 timestamp, e.g. "2006-01-02T15:04:05Z"`},
		},
		{
			name:    "negative completions is a validation error",
			input:   strings.Replace(jobYAML, "completions: 3", "completions: -1", 1),
			wantErr: []string{`spec.completions: Invalid value: -1: must be greater than or equal to 0`},
		},
		{
			name:  "one bad document of two fails the whole file",
			input: jobYAML + "---\n" + strings.Replace(strings.Replace(jobYAML, "name: pi\n", "name: pi2\n", 1), "completions: 3", "completions: -1", 1),
			wantErr: []string{
				`document 2 (Job "pi2"): spec.completions: Invalid value: -1: must be greater than or equal to 0`,
			},
		},
		{
			name:    "missing kind",
			input:   "apiVersion: batch/v1\nmetadata: {name: x}\n",
			wantErr: []string{`Object 'Kind' is missing in '{"apiVersion":"batch/v1","metadata":{"name":"x"}}'`},
		},
		{
			name:    "missing apiVersion",
			input:   "kind: Job\n",
			wantErr: []string{`Object 'apiVersion' is missing in '{"kind":"Job"}'`},
		},
		{
			name:    "unsupported kind",
			input:   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n",
			wantErr: []string{`no matches for kind "Deployment" in version "apps/v1": jobcluster takes batch/v1 Job and CronJob (batch/v1beta1 CronJob too), and v1 ConfigMap and Secret`},
		},
		{
			name:    "duplicate key reports its line in the file",
			input:   jobYAML + "---\n" + strings.Replace(jobYAML, "  completions: 3\n", "  completions: 3\n  completions: 4\n", 1),
			wantErr: []string{`document 2: yaml: line 21: key "completions" already set in map`},
		},
		{
			name:    "a mis-indented key is reported on its own line, counted in the file",
			input:   jobYAML + "---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\n\n  # labels follow\n labels: {}\n",
			wantErr: []string{`document 2: yaml: line 21: did not find expected key`},
		},
		{
			name:    "a key indented deeper than its siblings is reported on its own line",
			input:   "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: x\nspec:\n  template:\n    spec:\n     containers: []\n      restartPolicy: Never\n",
			wantErr: []string{`yaml: line 9: did not find expected key`},
		},
		{
			name:    "the same name twice in one file",
			input:   jobYAML + "---\n" + jobYAML,
			wantErr: []string{`document 2 (Job "pi"): metadata.name: Duplicate value: "pi"`},
		},
		{
			name:    "content after a document separator",
			input:   jobYAML + "--- {a: 1}\n",
			wantErr: []string{`yaml: line 14: invalid YAML document separator: {a: 1}`},
		},
		{
			name:    "a document that is not an object",
			input:   "- a\n- b\n",
			wantErr: []string{`expected an object with apiVersion and kind, got ["a","b"]`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := DecodeManifests([]byte(tt.input))
			if diff := cmp.Diff(tt.wantErr, errLines(err)); diff != "" {
				t.Errorf("error lines differ (-want +got):\n%s", diff)
			}
			if err != nil && got != nil {
				t.Errorf("DecodeManifests returned %d objects with an error, want none", len(got))
			}
			var names []string
			for _, obj := range got {
				names = append(names, KindOf(obj)+"/"+NameOf(obj))
			}
			if diff := cmp.Diff(tt.wantNames, names); diff != "" {
				t.Errorf("objects differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeManifestsNoObjects(t *testing.T) {
	for _, input := range []string{"", "# just a comment\n", "---\n---\n", "~\n"} {
		t.Run(input, func(t *testing.T) {
			got, err := DecodeManifests([]byte(input))
			if !errors.Is(err, ErrNoObjects) || got != nil {
				t.Errorf("DecodeManifests(%q) = %v, %v; want nil, ErrNoObjects", input, got, err)
			}
		})
	}
}

func TestDecodeManifestsRefusesInputOverTheLimit(t *testing.T) {
	// A valid Job padded with a comment to one byte over the limit.
	over := []byte(jobYAML + "#" + strings.Repeat("x", MaxManifestBytes-len(jobYAML)) + "\n")
	got, err := DecodeManifests(over)
	if err == nil || got != nil || !strings.Contains(err.Error(), "over the limit of 3145728 (3 MiB)") {
		t.Fatalf("DecodeManifests(%d bytes) = %v, %v; want a refusal naming the limit", len(over), got, err)
	}
	if _, err := DecodeManifests([]byte(jobYAML)); err != nil {
		t.Fatalf("the same Job unpadded: %v", err)
	}
}

func TestDecodeErrorsAreFieldErrors(t *testing.T) {
	_, err := DecodeManifests([]byte(jobYAML + "---\n" + strings.Replace(strings.Replace(jobYAML, "name: pi\n", "name: pi2\n", 1), "restartPolicy: Never", "restartPolicy: Always", 1)))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %v holds no *FieldError", err)
	}
	want := &FieldError{Type: ErrorTypeNotSupported, Field: "spec.template.spec.restartPolicy", BadValue: "Always", Detail: `supported values: "OnFailure", "Never"`}
	if diff := cmp.Diff(want, fe); diff != "" {
		t.Errorf("field error differs (-want +got):\n%s", diff)
	}
}

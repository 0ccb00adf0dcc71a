package api

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// validJob returns a defaulted Job that passes validation.
func validJob() *Job {
	j := &Job{
		Metadata: &ObjectMeta{Name: "pi"},
		Spec: &JobSpec{
			Completions: proto.Int32(5),
			Parallelism: proto.Int32(2),
			Template: &PodTemplateSpec{Spec: &PodSpec{
				RestartPolicy: "Never",
				Containers: []*Container{{
					Name:    "main",
					Image:   "perl",
					Command: []string{"perl", "-e", "print 3.14"},
				}},
			}},
		},
	}
	setJobDefaults(j)
	return j
}

// validCronJob returns a defaulted CronJob that passes validation.
func validCronJob() *CronJob {
	c := &CronJob{
		Metadata: &ObjectMeta{Name: "hello"},
		Spec: &CronJobSpec{
			Schedule: "*/5 * * * *",
			JobTemplate: &JobTemplateSpec{Spec: &JobSpec{
				Template: &PodTemplateSpec{Spec: &PodSpec{
					RestartPolicy: "OnFailure",
					Containers:    []*Container{{Name: "hello", Command: []string{"date"}}},
				}},
			}},
		},
	}
	setCronJobDefaults(c)
	return c
}

func TestValidateJob(t *testing.T) {
	const containers = "spec.template.spec.containers"
	tests := []struct {
		name   string
		mutate func(j *Job)
		want   []string
	}{
		{name: "valid job", mutate: func(*Job) {}},
		{
			name:   "name missing",
			mutate: func(j *Job) { j.Metadata.Name = "" },
			want:   []string{"metadata.name: Required value"},
		},
		{
			name:   "name not a DNS label",
			mutate: func(j *Job) { j.Metadata.Name = "My_Job"; delete(j.Spec.Template.Metadata.Labels, LabelJobName) },
			want: []string{`metadata.name: Invalid value: "My_Job": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')`,
				`spec.template.metadata.labels[batch.kubernetes.io/job-name]: Invalid value: "pi": must be 'My_Job'`},
		},
		{
			name: "negative counts",
			mutate: func(j *Job) {
				j.Spec.Completions = proto.Int32(-1)
				j.Spec.Parallelism = proto.Int32(-2)
				j.Spec.BackoffLimit = proto.Int32(-3)
			},
			want: []string{
				"spec.parallelism: Invalid value: -2: must be greater than or equal to 0",
				"spec.completions: Invalid value: -1: must be greater than or equal to 0",
				"spec.backoffLimit: Invalid value: -3: must be greater than or equal to 0",
			},
		},
		{
			name:   "zero active deadline",
			mutate: func(j *Job) { j.Spec.ActiveDeadlineSeconds = proto.Int64(0) },
			want:   []string{"spec.activeDeadlineSeconds: Invalid value: 0: must be greater than 0"},
		},
		{
			name:   "indexed without completions",
			mutate: func(j *Job) { j.Spec.CompletionMode = proto.String("Indexed"); j.Spec.Completions = nil },
			want:   []string{"spec.completions: Required value: when completion mode is Indexed"},
		},
		{
			name: "indexed with too many completions",
			mutate: func(j *Job) {
				j.Spec.CompletionMode = proto.String("Indexed")
				j.Spec.Completions = proto.Int32(100001)
			},
			want: []string{"spec.completions: Invalid value: 100001: must be less than or equal to 100000 when completion mode is Indexed"},
		},
		{
			name:   "unknown completion mode",
			mutate: func(j *Job) { j.Spec.CompletionMode = proto.String("Sometimes") },
			want:   []string{`spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"`},
		},
		{
			name:   "restartPolicy Always",
			mutate: func(j *Job) { j.Spec.Template.Spec.RestartPolicy = "Always" },
			want:   []string{`spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`},
		},
		{
			name:   "restartPolicy missing",
			mutate: func(j *Job) { j.Spec.Template.Spec.RestartPolicy = "" },
			want:   []string{`spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"`},
		},
		{
			name:   "no containers",
			mutate: func(j *Job) { j.Spec.Template.Spec.Containers = nil },
			want:   []string{containers + ": Required value"},
		},
		{
			name: "image without command",
			mutate: func(j *Job) {
				j.Spec.Template.Spec.Containers[0].Image = "luksa/batch-job"
				j.Spec.Template.Spec.Containers[0].Command = nil
			},
			want: nil, // a container runtime runs it
		},
		{
			name: "image without command on the process runtime",
			mutate: func(j *Job) {
				j.Spec.Template.Spec.RuntimeClassName = proto.String("process")
				j.Spec.Template.Spec.Containers[0].Image = "luksa/batch-job"
				j.Spec.Template.Spec.Containers[0].Command = nil
			},
			want: []string{containers + `[0].command: Required value: runtimeClassName "process" runs commands, not images: add the command to run, or use runtimeClassName "docker" to run image "luksa/batch-job"`},
		},
		{
			name:   "unknown runtime class",
			mutate: func(j *Job) { j.Spec.Template.Spec.RuntimeClassName = proto.String("gvisor") },
			want:   []string{"spec.template.spec.runtimeClassName: Unsupported value: \"gvisor\": supported values: \"process\", \"docker\""},
		},
		{
			name: "volumes and mounts",
			mutate: func(j *Job) {
				spec := j.Spec.Template.Spec
				spec.Volumes = []*Volume{
					{Name: "scratch", EmptyDir: &EmptyDirVolumeSource{}},
					{Name: "host", HostPath: &HostPathVolumeSource{Path: "data"}},
					{Name: "both", EmptyDir: &EmptyDirVolumeSource{}, HostPath: &HostPathVolumeSource{Path: "/x"}},
					{Name: "scratch", EmptyDir: &EmptyDirVolumeSource{}},
				}
				spec.Containers[0].VolumeMounts = []*VolumeMount{
					{Name: "scratch", MountPath: "/scratch"},
					{Name: "nowhere", MountPath: "rel"},
					{Name: "scratch", MountPath: "/scratch", SubPath: "../up"},
				}
			},
			want: []string{
				"spec.template.spec.volumes[1].hostPath.path: Invalid value: \"data\": must be an absolute path",
				"spec.template.spec.volumes[2].hostPath: Forbidden: may not specify more than 1 volume type",
				"spec.template.spec.volumes[3].name: Duplicate value: \"scratch\"",
				containers + "[0].volumeMounts[1].name: Invalid value: \"nowhere\": volume not found: declare it under spec.volumes",
				containers + "[0].volumeMounts[1].mountPath: Invalid value: \"rel\": must be an absolute path",
				containers + "[0].volumeMounts[2].mountPath: Invalid value: \"/scratch\": must be unique",
				containers + "[0].volumeMounts[2].subPath: Invalid value: \"../up\": must be a relative path without '..'",
			},
		},
		{
			name: "configMap and secret volumes",
			mutate: func(j *Job) {
				mode, bad := int32(0o400), int32(0o1000)
				j.Spec.Template.Spec.Volumes = []*Volume{
					{Name: "config", ConfigMap: &ConfigMapVolumeSource{Name: "app", DefaultMode: &mode, Items: []*KeyToPath{{Key: "a", Path: "conf/a.yaml"}}}},
					{Name: "creds", Secret: &SecretVolumeSource{SecretName: "db"}},
					{Name: "noname", ConfigMap: &ConfigMapVolumeSource{}},
					{Name: "bad", Secret: &SecretVolumeSource{SecretName: "db", DefaultMode: &bad, Items: []*KeyToPath{
						{Key: "k", Path: "../up"}, {Path: "x"}, {Key: "k", Path: "x", Mode: &bad}}}},
					{Name: "two", ConfigMap: &ConfigMapVolumeSource{Name: "app"}, Secret: &SecretVolumeSource{SecretName: "db"}},
				}
			},
			want: []string{
				"spec.template.spec.volumes[2].configMap.name: Required value",
				"spec.template.spec.volumes[3].secret.defaultMode: Invalid value: \"512\": must be a number between 0 and 0777 (octal), both inclusive",
				"spec.template.spec.volumes[3].secret.items[0].path: Invalid value: \"../up\": must be a relative path without '..'",
				"spec.template.spec.volumes[3].secret.items[1].key: Required value",
				"spec.template.spec.volumes[3].secret.items[2].path: Duplicate value: \"x\"",
				"spec.template.spec.volumes[3].secret.items[2].mode: Invalid value: \"512\": must be a number between 0 and 0777 (octal), both inclusive",
				"spec.template.spec.volumes[4].secret: Forbidden: may not specify more than 1 volume type",
			},
		},
		{
			name: "neither image nor command",
			mutate: func(j *Job) {
				j.Spec.Template.Spec.Containers[0].Image = ""
				j.Spec.Template.Spec.Containers[0].Command = nil
			},
			want: []string{containers + "[0].image: Required value"},
		},
		{
			name: "container names missing, invalid and duplicated",
			mutate: func(j *Job) {
				c := j.Spec.Template.Spec.Containers[0]
				j.Spec.Template.Spec.Containers = append(j.Spec.Template.Spec.Containers,
					&Container{Name: "main", Command: c.Command}, &Container{Command: c.Command}, &Container{Name: "Side", Command: c.Command})
			},
			want: []string{
				containers + `[1].name: Duplicate value: "main"`,
				containers + "[2].name: Required value",
				containers + `[3].name: Invalid value: "Side": ` + dns1123LabelMsg,
			},
		},
		{
			name: "bad environment variable names",
			mutate: func(j *Job) {
				j.Spec.Template.Spec.Containers[0].Env = []*EnvVar{{Name: "GOOD_1"}, {Name: "1BAD"}, {Value: "x"}}
			},
			want: []string{
				containers + `[0].env[1].name: Invalid value: "1BAD": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')`,
				containers + "[0].env[2].name: Required value",
			},
		},
		{
			name: "resources",
			mutate: func(j *Job) {
				j.Spec.Template.Spec.Containers[0].Resources = &ResourceRequirements{
					Requests: map[string]string{"cpu": "2", "memory": "lots", "nvidia.com/gpu": "1"},
					Limits:   map[string]string{"cpu": "1", "memory": "-1Gi"},
				}
			},
			want: []string{
				containers + `[0].resources.requests[memory]: Invalid value: "lots": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'`,
				containers + `[0].resources.requests[nvidia.com/gpu]: Unsupported value: "nvidia.com/gpu": supported values: "cpu", "memory"`,
				containers + `[0].resources.limits[memory]: Invalid value: "-1Gi": must be greater than or equal to 0`,
				containers + `[0].resources.requests[cpu]: Invalid value: "2": must be less than or equal to cpu limit of 1`,
			},
		},
		{
			name:   "bad labels",
			mutate: func(j *Job) { j.Metadata.Labels = map[string]string{"a b": "ok", "tier": "front end"} },
			want: []string{
				`metadata.labels: Invalid value: "a b": ` + qualifiedNameMsg,
				`metadata.labels: Invalid value: "front end": ` + labelValueMsg,
			},
		},
		{
			name:   "selector matching the template labels",
			mutate: func(j *Job) { j.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{LabelJobName: "pi"}} },
		},
		{
			name:   "selector not matching the template labels",
			mutate: func(j *Job) { j.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{"app": "web"}} },
			want:   []string{"spec.template.metadata.labels: Invalid value: " + `{"batch.kubernetes.io/job-name":"pi","job-name":"pi"}: ` + "`selector` does not match template `labels`"},
		},
		{
			name: "selector with a controller uid of its own",
			mutate: func(j *Job) {
				j.Spec.Selector = &LabelSelector{MatchLabels: map[string]string{LabelBatchControllerUID: "abc"}}
				j.Spec.Template.Metadata.Labels[LabelBatchControllerUID] = "abc"
			},
			want: []string{`spec.selector: Invalid value: {"matchLabels":{"batch.kubernetes.io/controller-uid":"abc"}}: ` + "`selector` not auto-generated"},
		},
		{
			name: "generated selector once the uid is known",
			mutate: func(j *Job) {
				j.Metadata.Uid = "0a1b"
				setJobDefaults(j)
			},
		},
		{
			name:   "manual selector needs a selector",
			mutate: func(j *Job) { j.Spec.ManualSelector = proto.Bool(true) },
			want:   []string{"spec.selector: Required value: when manualSelector is true"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := validJob()
			tt.mutate(j)
			if diff := cmp.Diff(tt.want, errLines(ValidateJob(j))); diff != "" {
				t.Errorf("errors differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestValidateCronJob(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(c *CronJob)
		want   []string
	}{
		{name: "valid cronjob", mutate: func(*CronJob) {}},
		{name: "six fields with seconds", mutate: func(c *CronJob) { c.Spec.Schedule = "*/10 * * * * *" }},
		{name: "every 30 seconds", mutate: func(c *CronJob) { c.Spec.Schedule = "@every 30s" }},
		{name: "hourly", mutate: func(c *CronJob) { c.Spec.Schedule = "@hourly" }},
		{name: "time zone", mutate: func(c *CronJob) { c.Spec.TimeZone = proto.String("America/New_York") }},
		{
			name:   "minute out of range",
			mutate: func(c *CronJob) { c.Spec.Schedule = "61 * * * *" },
			want:   []string{`spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61`},
		},
		{
			name:   "missing schedule",
			mutate: func(c *CronJob) { c.Spec.Schedule = "" },
			want:   []string{"spec.schedule: Required value"},
		},
		{
			name:   "TZ in schedule",
			mutate: func(c *CronJob) { c.Spec.Schedule = "TZ=UTC 0 * * * *" },
			want:   []string{`spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`},
		},
		{
			name:   "CRON_TZ in schedule",
			mutate: func(c *CronJob) { c.Spec.Schedule = "CRON_TZ=Europe/Paris 0 * * * *" },
			want:   []string{`spec.schedule: Invalid value: "CRON_TZ=Europe/Paris 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead`},
		},
		{
			name:   "unknown time zone",
			mutate: func(c *CronJob) { c.Spec.TimeZone = proto.String("Mars/Base") },
			want:   []string{`spec.timeZone: Invalid value: "Mars/Base": unknown time zone Mars/Base`},
		},
		{
			name:   "Local time zone",
			mutate: func(c *CronJob) { c.Spec.TimeZone = proto.String("Local") },
			want:   []string{`spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones`},
		},
		{
			name:   "name longer than 52",
			mutate: func(c *CronJob) { c.Metadata.Name = strings.Repeat("a", 53) },
			want:   []string{`metadata.name: Invalid value: "` + strings.Repeat("a", 53) + `": must be no more than 52 characters`},
		},
		{
			name: "bad policy and limits",
			mutate: func(c *CronJob) {
				c.Spec.ConcurrencyPolicy = "Sometimes"
				c.Spec.StartingDeadlineSeconds = proto.Int64(-1)
				c.Spec.FailedJobsHistoryLimit = proto.Int32(-1)
			},
			want: []string{
				`spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"`,
				"spec.startingDeadlineSeconds: Invalid value: -1: must be greater than or equal to 0",
				"spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0",
			},
		},
		{
			name: "job template is validated as a Job spec",
			mutate: func(c *CronJob) {
				c.Spec.JobTemplate.Spec.Completions = proto.Int32(-1)
				c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = "Always"
			},
			want: []string{
				"spec.jobTemplate.spec.completions: Invalid value: -1: must be greater than or equal to 0",
				`spec.jobTemplate.spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validCronJob()
			tt.mutate(c)
			if diff := cmp.Diff(tt.want, errLines(ValidateCronJob(c))); diff != "" {
				t.Errorf("errors differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetDefaultsJobCounts(t *testing.T) {
	tests := []struct {
		name                        string
		completions, parallelism    *int32
		wantCompletions, wantParall *int32
	}{
		{name: "both unset run one pod", wantCompletions: proto.Int32(1), wantParall: proto.Int32(1)},
		{name: "only parallelism is a work queue", parallelism: proto.Int32(3), wantParall: proto.Int32(3)},
		{name: "only completions runs one at a time", completions: proto.Int32(5), wantCompletions: proto.Int32(5), wantParall: proto.Int32(1)},
		{name: "both set stay", completions: proto.Int32(5), parallelism: proto.Int32(0), wantCompletions: proto.Int32(5), wantParall: proto.Int32(0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obj := &Object{Kind: &Object_Job{Job: &Job{Spec: &JobSpec{Completions: tt.completions, Parallelism: tt.parallelism}}}}
			SetDefaults(obj)
			spec := obj.GetJob().GetSpec()
			if diff := cmp.Diff(tt.wantCompletions, spec.Completions); diff != "" {
				t.Errorf("completions differ (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantParall, spec.Parallelism); diff != "" {
				t.Errorf("parallelism differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetDefaultsSelectorOnceUIDKnown(t *testing.T) {
	j := validJob()
	if j.Spec.Selector != nil {
		t.Fatalf("selector before the uid is known: %v", j.Spec.Selector)
	}
	j.Metadata.Uid = "7f3a"
	SetDefaults(&Object{Kind: &Object_Job{Job: j}})
	again := proto.Clone(j).(*Job)
	SetDefaults(&Object{Kind: &Object_Job{Job: again}})

	want := &LabelSelector{MatchLabels: map[string]string{LabelBatchControllerUID: "7f3a"}}
	if diff := cmp.Diff(want, j.Spec.Selector, protocmp.Transform()); diff != "" {
		t.Errorf("selector differs (-want +got):\n%s", diff)
	}
	wantLabels := map[string]string{
		LabelJobName: "pi", LabelBatchJobName: "pi",
		LabelControllerUID: "7f3a", LabelBatchControllerUID: "7f3a",
	}
	if diff := cmp.Diff(wantLabels, j.Spec.Template.Metadata.Labels); diff != "" {
		t.Errorf("template labels differ (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(j, again, protocmp.Transform()); diff != "" {
		t.Errorf("defaulting twice changed the job (-once +twice):\n%s", diff)
	}
}

func TestCronLocation(t *testing.T) {
	for _, tc := range []struct {
		name, zone, want, wantErr string
	}{
		{name: "unset is UTC", want: "UTC"},
		{name: "a named zone", zone: "Asia/Tokyo", want: "Asia/Tokyo"},
		{name: "an unknown zone", zone: "Mars/Olympus", wantErr: `invalid timeZone "Mars/Olympus"`},
		{name: "the server's own zone", zone: "Local", wantErr: `invalid timeZone "Local"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &CronJob{Spec: &CronJobSpec{}}
			if tc.zone != "" {
				c.Spec.TimeZone = proto.String(tc.zone)
			}
			loc, err := CronLocation(c)
			var got, gotErr string
			if err != nil {
				gotErr = err.Error()
			} else {
				got = loc.String()
			}
			if got != tc.want || gotErr != tc.wantErr {
				t.Errorf("CronLocation(%q) = %q, %q; want %q, %q", tc.zone, got, gotErr, tc.want, tc.wantErr)
			}
		})
	}
}

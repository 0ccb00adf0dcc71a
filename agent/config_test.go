package agent

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

func TestEnvFromConfigSecretsAndTheDownwardAPI(t *testing.T) {
	set := &api.PodSet{
		ConfigMaps: []*api.ConfigMap{{Metadata: &api.ObjectMeta{Namespace: "ns", Name: "app"}, Data: map[string]string{"mode": "fast", "bad key": "x", "LEVEL": "3"}}},
		Secrets:    []*api.Secret{{Metadata: &api.ObjectMeta{Namespace: "ns", Name: "db"}, Data: map[string][]byte{"password": []byte("s3cret")}}},
	}
	cfg := newPodConfig(set)
	pod := &api.Pod{
		Metadata: &api.ObjectMeta{Name: "p-1", Namespace: "ns", Uid: "u1", Labels: map[string]string{"app": "web"}},
		Spec: &api.PodSpec{NodeName: "a1", Containers: []*api.Container{{
			Name: "main", Command: []string{"echo", "$(MODE)"},
			Resources: &api.ResourceRequirements{Limits: map[string]string{"memory": "64Mi", "cpu": "500m"}},
			EnvFrom:   []*api.EnvFromSource{{ConfigMapRef: &api.ConfigMapEnvSource{Name: "app"}, Prefix: "APP_"}},
			Env: []*api.EnvVar{
				{Name: "MODE", ValueFrom: &api.EnvVarSource{ConfigMapKeyRef: &api.ConfigMapKeySelector{Name: "app", Key: "mode"}}},
				{Name: "PASSWORD", ValueFrom: &api.EnvVarSource{SecretKeyRef: &api.SecretKeySelector{Name: "db", Key: "password"}}},
				{Name: "MAYBE", ValueFrom: &api.EnvVarSource{ConfigMapKeyRef: &api.ConfigMapKeySelector{Name: "absent", Key: "k", Optional: proto.Bool(true)}}},
				{Name: "POD", ValueFrom: &api.EnvVarSource{FieldRef: &api.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				{Name: "NS", ValueFrom: &api.EnvVarSource{FieldRef: &api.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
				{Name: "APP", ValueFrom: &api.EnvVarSource{FieldRef: &api.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
				{Name: "NODE", ValueFrom: &api.EnvVarSource{FieldRef: &api.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				{Name: "IP", ValueFrom: &api.EnvVarSource{FieldRef: &api.ObjectFieldSelector{FieldPath: "status.podIP"}}},
				{Name: "MEM_MI", ValueFrom: &api.EnvVarSource{ResourceFieldRef: &api.ResourceFieldSelector{Resource: "limits.memory", Divisor: proto.String("1Mi")}}},
				{Name: "CPUS", ValueFrom: &api.EnvVarSource{ResourceFieldRef: &api.ResourceFieldSelector{Resource: "limits.cpu"}}},
			},
		}}},
	}
	if msg := cfg.missing(pod); msg != "" {
		t.Fatalf("missing = %q, want nothing", msg)
	}
	env, argv, err := containerEnv(pod, pod.Spec.Containers[0], envContext{node: "a1", hostIP: "10.0.0.7", config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	want := map[string]string{"APP_mode": "fast", "APP_LEVEL": "3", "MODE": "fast", "PASSWORD": "s3cret", "POD": "p-1", "NS": "ns",
		"APP": "web", "NODE": "a1", "IP": "10.0.0.7", "MEM_MI": "64", "CPUS": "1"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	for _, k := range []string{"MAYBE", "APP_bad key"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s is set; want it left out", k)
		}
	}
	if diff := cmp.Diff([]string{"echo", "fast"}, argv); diff != "" {
		t.Errorf("argv (-want +got):\n%s", diff)
	}
}

func TestMissingConfigInKubeletsWords(t *testing.T) {
	cfg := newPodConfig(&api.PodSet{ConfigMaps: []*api.ConfigMap{{Metadata: &api.ObjectMeta{Namespace: "default", Name: "app"}, Data: map[string]string{"a": "1"}}}})
	pod := func(env ...*api.EnvVar) *api.Pod {
		return &api.Pod{Metadata: &api.ObjectMeta{Name: "p", Namespace: "default"}, Spec: &api.PodSpec{Containers: []*api.Container{{Name: "main", Env: env}}}}
	}
	for _, tt := range []struct {
		name string
		env  *api.EnvVar
		want string
	}{
		{"missing configmap", &api.EnvVar{Name: "A", ValueFrom: &api.EnvVarSource{ConfigMapKeyRef: &api.ConfigMapKeySelector{Name: "nope", Key: "a"}}}, `configmap "nope" not found`},
		{"missing key", &api.EnvVar{Name: "A", ValueFrom: &api.EnvVarSource{ConfigMapKeyRef: &api.ConfigMapKeySelector{Name: "app", Key: "b"}}}, "couldn't find key b in ConfigMap default/app"},
		{"missing secret", &api.EnvVar{Name: "A", ValueFrom: &api.EnvVarSource{SecretKeyRef: &api.SecretKeySelector{Name: "db", Key: "p"}}}, `secret "db" not found`},
		{"optional and missing", &api.EnvVar{Name: "A", ValueFrom: &api.EnvVarSource{SecretKeyRef: &api.SecretKeySelector{Name: "db", Key: "p", Optional: proto.Bool(true)}}}, ""},
		{"present", &api.EnvVar{Name: "A", ValueFrom: &api.EnvVarSource{ConfigMapKeyRef: &api.ConfigMapKeySelector{Name: "app", Key: "a"}}}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := cfg.missing(pod(tt.env)); got != tt.want {
				t.Errorf("missing = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestConfigVolumes(t *testing.T) {
	cfg := newPodConfig(&api.PodSet{
		ConfigMaps: []*api.ConfigMap{{Metadata: &api.ObjectMeta{Namespace: "default", Name: "app"},
			Data: map[string]string{"app.yaml": "level:3", "b": "2"}, BinaryData: map[string][]byte{"blob": {0, 1}}}},
		Secrets: []*api.Secret{{Metadata: &api.ObjectMeta{Namespace: "default", Name: "db"}, Data: map[string][]byte{"password": []byte("s3cret")}}},
	})
	mode := int32(0o400)
	withVolume := func(v *api.Volume) *api.Pod {
		return &api.Pod{Metadata: &api.ObjectMeta{Name: "p", Namespace: "default"},
			Spec: &api.PodSpec{Containers: []*api.Container{{Name: "main"}}, Volumes: []*api.Volume{v}}}
	}
	tests := []struct {
		name        string
		volume      *api.Volume
		wantMissing string
		wantFiles   string // path:mode:content, in order
	}{
		{"every key of a ConfigMap, text and binary", &api.Volume{Name: "c", ConfigMap: &api.ConfigMapVolumeSource{Name: "app"}}, "",
			"app.yaml:644:level:3 b:644:2 blob:644:\x00\x01"},
		{"listed items, own paths and modes", &api.Volume{Name: "c", ConfigMap: &api.ConfigMapVolumeSource{Name: "app", DefaultMode: &mode,
			Items: []*api.KeyToPath{{Key: "b", Path: "conf/b.txt"}, {Key: "app.yaml", Path: "app.yaml", Mode: proto.Int32(0o640)}}}}, "",
			"conf/b.txt:400:2 app.yaml:640:level:3"},
		{"a Secret", &api.Volume{Name: "s", Secret: &api.SecretVolumeSource{SecretName: "db"}}, "", "password:644:s3cret"},
		{"a missing ConfigMap", &api.Volume{Name: "c", ConfigMap: &api.ConfigMapVolumeSource{Name: "nope"}}, `configmap "nope" not found`, ""},
		{"a missing optional Secret", &api.Volume{Name: "s", Secret: &api.SecretVolumeSource{SecretName: "nope", Optional: proto.Bool(true)}}, "", ""},
		{"a missing key", &api.Volume{Name: "s", Secret: &api.SecretVolumeSource{SecretName: "db", Items: []*api.KeyToPath{{Key: "user", Path: "u"}}}},
			"references non-existent secret key: user", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := withVolume(tt.volume)
			if got := cfg.missing(pod); got != tt.wantMissing {
				t.Fatalf("missing = %q, want %q", got, tt.wantMissing)
			}
			if tt.wantMissing != "" {
				return
			}
			dir := filepath.Join(t.TempDir(), "vol")
			if err := writeProjected(dir, cfg.projectedFiles(pod, tt.volume)); err != nil {
				t.Fatal(err)
			}
			var got []string
			_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
				if err != nil || d.IsDir() {
					return err
				}
				info, _ := d.Info()
				b, _ := os.ReadFile(p)
				rel, _ := filepath.Rel(dir, p)
				got = append(got, fmt.Sprintf("%s:%o:%s", rel, info.Mode().Perm(), b))
				return nil
			})
			want := strings.Fields(tt.wantFiles)
			slices.Sort(want)
			slices.Sort(got)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("files %q, want %q", got, want)
			}
		})
	}
}

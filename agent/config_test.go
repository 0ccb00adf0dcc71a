package agent

import (
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

package fsm

import (
	"context"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

func configMap(ns, name string, data map[string]string) *api.ConfigMap {
	return &api.ConfigMap{ApiVersion: "v1", Kind: "ConfigMap", Metadata: &api.ObjectMeta{Namespace: ns, Name: name, Uid: "uid-" + name}, Data: data}
}

func TestConfigMapsAndSecretsByNamespace(t *testing.T) {
	h := newHarness(t)
	h.must((&api.UpsertConfigMap{ConfigMap: configMap("a", "cfg", map[string]string{"k": "1"}), CreateOnly: true}).Command(),
		(&api.UpsertConfigMap{ConfigMap: configMap("b", "cfg", map[string]string{"k": "2"}), CreateOnly: true}).Command(),
		(&api.UpsertSecret{Secret: &api.Secret{Metadata: &api.ObjectMeta{Namespace: "a", Name: "s"}, Data: map[string][]byte{"p": []byte("x")}}, CreateOnly: true}).Command())
	if errs := h.apply((&api.UpsertConfigMap{ConfigMap: configMap("a", "cfg", nil), CreateOnly: true}).Command()); errs[0] == nil {
		t.Error("a second create of a/cfg was accepted")
	}
	s := h.state()
	if s.ConfigMap("a", "cfg").GetData()["k"] != "1" || s.ConfigMap("b", "cfg").GetData()["k"] != "2" || s.Secret("b", "s") != nil {
		t.Errorf("configmaps %v %v, secret b/s %v", s.ConfigMap("a", "cfg"), s.ConfigMap("b", "cfg"), s.Secret("b", "s"))
	}
	h.must((&api.DeleteConfigMap{Namespace: "a", Name: "cfg"}).Command())
	if h.state().ConfigMap("a", "cfg") != nil || h.state().ConfigMap("b", "cfg") == nil {
		t.Error("deleting a/cfg did not delete exactly a/cfg")
	}
	if got := len(restored(t, h.f).State().Secrets()); got != 1 {
		t.Errorf("%d secrets after a snapshot restore, want 1", got)
	}
}

// An agent's pod set carries the config its pods use and is sent again
// when that config appears or changes.
func TestConfigOfPodsWatchesWhatPodsUse(t *testing.T) {
	h := newHarness(t)
	pod := &api.Pod{Metadata: &api.ObjectMeta{Name: "p", Namespace: "a"}, Spec: &api.PodSpec{Containers: []*api.Container{{
		Name:    "main",
		Env:     []*api.EnvVar{{Name: "K", ValueFrom: &api.EnvVarSource{ConfigMapKeyRef: &api.ConfigMapKeySelector{Name: "cfg", Key: "k"}}}},
		EnvFrom: []*api.EnvFromSource{{SecretRef: &api.SecretEnvSource{Name: "creds"}}},
	}}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cms, secrets, changed := h.state().ConfigOfPods(ctx, []*api.Pod{pod})
	if len(cms) != 0 || len(secrets) != 0 {
		t.Fatalf("config of the pod before it exists: %v %v", cms, secrets)
	}
	h.must((&api.UpsertConfigMap{ConfigMap: configMap("a", "cfg", map[string]string{"k": "1"})}).Command())
	select {
	case <-changed:
	case <-time.After(5 * time.Second):
		t.Fatal("creating the ConfigMap a pod waits for did not wake the watch")
	}
	cms, _, _ = h.state().ConfigOfPods(ctx, []*api.Pod{pod})
	if len(cms) != 1 || cms[0].GetData()["k"] != "1" {
		t.Errorf("config of the pod = %v, want a/cfg", cms)
	}
	// Another namespace's ConfigMap of the same name is not the pod's.
	pod.Metadata.Namespace = "b"
	if cms, _, _ := h.state().ConfigOfPods(ctx, []*api.Pod{pod}); len(cms) != 0 {
		t.Errorf("a pod of namespace b got %v", cms)
	}
}

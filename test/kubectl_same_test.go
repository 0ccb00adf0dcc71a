package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// TestSameManifestsThroughCLIAndKubectl submits every example manifest
// twice, with `jobcluster submit` into one namespace and with `kubectl
// create -f` into another (a v1beta1 CronJob as batch/v1), and finds the stored objects identical but for
// what the cluster generates (uid, resourceVersion, times, the selector
// carrying the uid) and the status.
func TestSameManifestsThroughCLIAndKubectl(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, HTTP: true})
	k := newKubectl(t, c.Servers[1].HTTPAddr)
	files, err := filepath.Glob(filepath.Join("..", "examples", "*.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("examples: %v, %v", files, err)
	}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := api.DecodeManifests(b)
		if err != nil || len(objs) != 1 {
			t.Fatalf("%s: %d objects, %v", f, len(objs), err)
		}
		kind, name := strings.ToLower(api.KindOf(objs[0])), api.NameOf(objs[0])
		cliNS, kubectlNS := fmt.Sprintf("via-cli-%d", i), fmt.Sprintf("via-kubectl-%d", i)
		c.MustCLI("submit", "-n", cliNS, f)
		// kubectl 1.32 knows no batch/v1beta1, as upstream; our CLI takes
		// the book's v1beta1 CronJob, and stores what kubectl's batch/v1
		// copy gives.
		kf := filepath.Join(t.TempDir(), filepath.Base(f))
		if err := os.WriteFile(kf, []byte(strings.Replace(string(b), "apiVersion: batch/v1beta1", "apiVersion: batch/v1", 1)), 0o600); err != nil {
			t.Fatal(err)
		}
		k.must("create", "-n", kubectlNS, "-f", kf)
		got := map[string]any{}
		for _, ns := range []string{cliNS, kubectlNS} {
			var doc map[string]any
			if err := json.Unmarshal([]byte(k.must("get", kind, name, "-n", ns, "-o", "json")), &doc); err != nil {
				t.Fatal(err)
			}
			got[ns] = withoutGenerated(doc)
		}
		if !reflect.DeepEqual(got[cliNS], got[kubectlNS]) {
			a, _ := json.MarshalIndent(got[cliNS], "", "  ")
			b, _ := json.MarshalIndent(got[kubectlNS], "", "  ")
			t.Errorf("%s: stored through the CLI:\n%s\nthrough kubectl:\n%s", filepath.Base(f), a, b)
		}
	}
}

// withoutGenerated drops from an object what the cluster generates for each
// copy: identity, versions, times, the status, and the uid in selectors
// and labels.
func withoutGenerated(doc map[string]any) map[string]any {
	delete(doc, "status")
	meta, _ := doc["metadata"].(map[string]any)
	for _, f := range []string{"uid", "resourceVersion", "creationTimestamp", "namespace", "generation", "managedFields"} {
		delete(meta, f)
	}
	b, _ := json.Marshal(doc)
	uid := fmt.Sprint(mustField(doc, "spec", "selector", "matchLabels", "batch.kubernetes.io/controller-uid"))
	s := string(b)
	if uid != "<nil>" {
		s = strings.ReplaceAll(s, uid, "UID")
	}
	var out map[string]any
	_ = json.Unmarshal([]byte(s), &out)
	return out
}

func mustField(doc map[string]any, path ...string) any {
	var v any = doc
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

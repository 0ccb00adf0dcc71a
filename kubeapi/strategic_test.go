package kubeapi

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestStrategicMergePatch(t *testing.T) {
	const cronJob = `{"metadata":{"name":"c","finalizers":["a","b"],"labels":{"x":"1"}},
	  "spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{
	    "containers":[{"name":"main","image":"i","env":[{"name":"A","value":"1"},{"name":"B","value":"2"}]},
	                  {"name":"side","image":"s"}],
	    "volumes":[{"name":"v","emptyDir":{}}],
	    "tolerations":[{"key":"k1"},{"key":"k2"}]}}}}}}`
	tests := []struct {
		name  string
		kind  string
		doc   string
		patch string
		want  string // the result, or the error's text after "error: "
	}{
		{
			name:  "kubectl apply changing one env value keeps the other elements",
			kind:  "CronJob",
			doc:   cronJob,
			patch: `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"$setElementOrder/containers":[{"name":"main"},{"name":"side"}],"containers":[{"$setElementOrder/env":[{"name":"A"},{"name":"B"}],"env":[{"name":"B","value":"3"}],"name":"main"}]}}}}}}`,
			want:  `{"metadata":{"finalizers":["a","b"],"labels":{"x":"1"},"name":"c"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"env":[{"name":"A","value":"1"},{"name":"B","value":"3"}],"image":"i","name":"main"},{"image":"s","name":"side"}],"tolerations":[{"key":"k1"},{"key":"k2"}],"volumes":[{"emptyDir":{},"name":"v"}]}}}},"schedule":"* * * * *"}}`,
		},
		{
			name:  "an element removed from the config is deleted, a new one added in order",
			kind:  "CronJob",
			doc:   cronJob,
			patch: `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"$setElementOrder/env":[{"name":"C"},{"name":"B"}],"env":[{"$patch":"delete","name":"A"},{"name":"C","value":"c"}],"name":"main"}]}}}}}}`,
			want:  `{"metadata":{"finalizers":["a","b"],"labels":{"x":"1"},"name":"c"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"env":[{"name":"C","value":"c"},{"name":"B","value":"2"}],"image":"i","name":"main"},{"image":"s","name":"side"}],"tolerations":[{"key":"k1"},{"key":"k2"}],"volumes":[{"emptyDir":{},"name":"v"}]}}}},"schedule":"* * * * *"}}`,
		},
		{
			name:  "a list without a merge key is replaced",
			kind:  "CronJob",
			doc:   cronJob,
			patch: `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"tolerations":[{"key":"k3"}]}}}}}}`,
			want:  `{"metadata":{"finalizers":["a","b"],"labels":{"x":"1"},"name":"c"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"env":[{"name":"A","value":"1"},{"name":"B","value":"2"}],"image":"i","name":"main"},{"image":"s","name":"side"}],"tolerations":[{"key":"k3"}],"volumes":[{"emptyDir":{},"name":"v"}]}}}},"schedule":"* * * * *"}}`,
		},
		{
			name:  "$patch replace in a list replaces it",
			kind:  "CronJob",
			doc:   cronJob,
			patch: `{"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"$patch":"replace"},{"name":"only","image":"o"}]}}}}}}`,
			want:  `{"metadata":{"finalizers":["a","b"],"labels":{"x":"1"},"name":"c"},"spec":{"jobTemplate":{"spec":{"template":{"spec":{"containers":[{"image":"o","name":"only"}],"tolerations":[{"key":"k1"},{"key":"k2"}],"volumes":[{"emptyDir":{},"name":"v"}]}}}},"schedule":"* * * * *"}}`,
		},
		{
			name:  "finalizers merge as a set and $deleteFromPrimitiveList removes",
			kind:  "CronJob",
			doc:   `{"metadata":{"finalizers":["a","b"]}}`,
			patch: `{"metadata":{"$deleteFromPrimitiveList/finalizers":["a"],"finalizers":["b","c"]}}`,
			want:  `{"metadata":{"finalizers":["b","c"]}}`,
		},
		{
			name:  "$retainKeys drops a volume's old source",
			kind:  "Job",
			doc:   `{"spec":{"template":{"spec":{"volumes":[{"name":"v","emptyDir":{}}]}}}}`,
			patch: `{"spec":{"template":{"spec":{"volumes":[{"$retainKeys":["hostPath","name"],"hostPath":{"path":"/d"},"name":"v"}]}}}}`,
			want:  `{"spec":{"template":{"spec":{"volumes":[{"hostPath":{"path":"/d"},"name":"v"}]}}}}`,
		},
		{
			name:  "$patch replace and delete on objects; null deletes a field",
			kind:  "Job",
			doc:   `{"metadata":{"labels":{"a":"1","b":"2"},"annotations":{"x":"y"}},"spec":{"suspend":true}}`,
			patch: `{"metadata":{"labels":{"$patch":"replace","c":"3"},"annotations":{"$patch":"delete"}},"spec":{"suspend":null}}`,
			want:  `{"metadata":{"labels":{"c":"3"}},"spec":{}}`,
		},
		{
			name:  "the server's own elements stay after the element they followed",
			kind:  "Pod",
			doc:   `{"spec":{"containers":[{"name":"a"},{"name":"server"},{"name":"b"}]}}`,
			patch: `{"spec":{"$setElementOrder/containers":[{"name":"b"},{"name":"a"}]}}`,
			want:  `{"spec":{"containers":[{"name":"b"},{"name":"a"},{"name":"server"}]}}`,
		},
		{
			name:  "an element without its merge key is refused",
			kind:  "Job",
			doc:   `{}`,
			patch: `{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}`,
			want:  `error: spec.template.spec.containers[0]: the element has no merge key "name"`,
		},
		{
			name:  "an unknown directive is refused",
			kind:  "Job",
			doc:   `{}`,
			patch: `{"spec":{"$bogus":1}}`,
			want:  `error: spec: unknown strategic merge patch directive "$bogus"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var doc, patch any
			if err := json.Unmarshal([]byte(tt.doc), &doc); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal([]byte(tt.patch), &patch); err != nil {
				t.Fatal(err)
			}
			out, err := strategicMergePatch(tt.kind, doc, patch)
			if want, ok := strings.CutPrefix(tt.want, "error: "); ok {
				if err == nil || err.Error() != want {
					t.Fatalf("error %v, want %q", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(out)
			var want any
			_ = json.Unmarshal([]byte(tt.want), &want)
			wantJSON, _ := json.Marshal(want)
			if string(got) != string(wantJSON) {
				t.Errorf("got  %s\nwant %s", got, wantJSON)
			}
		})
	}
}

package kubeapi

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
)

func TestAggregatedDiscovery(t *testing.T) {
	const kubectlAccept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
	tests := []struct {
		path, accept string
		wantType     string
		wantGroups   []string // the groups' names, aggregated only; the first is checked
		wantResource string
		wantVerb     string
	}{
		{"/apis", kubectlAccept, mediaTypeAggregated, []string{"batch", "metrics.k8s.io"}, "jobs", "update"},
		{"/api", kubectlAccept, mediaTypeAggregated, []string{""}, "pods", "watch"},
		{"/apis", "application/json", "application/json", nil, "", ""},
		{"/api", "", "application/json", nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.path+" "+tt.accept, func(t *testing.T) {
			w := serve(t, &fakeControl{}, http.MethodGet, tt.path, "", "", "Accept", tt.accept)
			if got := w.Header().Get("Content-Type"); w.Code != http.StatusOK || got != tt.wantType {
				t.Fatalf("code %d, Content-Type %q; want 200 and %q", w.Code, got, tt.wantType)
			}
			if tt.wantType != mediaTypeAggregated {
				return
			}
			var list apidiscoveryv2.APIGroupDiscoveryList
			if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, g := range list.Items {
				names = append(names, g.Name)
			}
			if !slices.Equal(names, tt.wantGroups) || len(list.Items[0].Versions) != 1 {
				t.Fatalf("groups %+v; want the groups %q", list.Items, tt.wantGroups)
			}
			var found bool
			for _, r := range list.Items[0].Versions[0].Resources {
				if r.Resource == tt.wantResource {
					found = slices.Contains(r.Verbs, tt.wantVerb)
				}
			}
			if !found {
				t.Errorf("%s has no resource %s with verb %s: %s", tt.path, tt.wantResource, tt.wantVerb, w.Body)
			}
		})
	}
}

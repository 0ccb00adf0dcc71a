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
		wantGroup    string // the first group's name, aggregated only
		wantResource string
		wantVerb     string
	}{
		{"/apis", kubectlAccept, mediaTypeAggregated, "batch", "jobs", "update"},
		{"/api", kubectlAccept, mediaTypeAggregated, "", "pods", "watch"},
		{"/apis", "application/json", "application/json", "", "", ""},
		{"/api", "", "application/json", "", "", ""},
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
			if len(list.Items) != 1 || list.Items[0].Name != tt.wantGroup || len(list.Items[0].Versions) != 1 {
				t.Fatalf("groups %+v; want the one group %q", list.Items, tt.wantGroup)
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

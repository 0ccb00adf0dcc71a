package kubeapi

import (
	"encoding/json"
	"net/http"
	"strings"

	apidiscoveryv2 "k8s.io/api/apidiscovery/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mediaTypeAggregated is aggregated discovery, in which kubectl (1.30 on)
// and client-go read every group's resources from /api and /apis alone.
const mediaTypeAggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

// wantsAggregated says whether the client's Accept header asks for
// aggregated discovery v2 before the legacy documents.
func wantsAggregated(r *http.Request) bool {
	for _, accept := range strings.Split(r.Header.Get("Accept"), ",") {
		params := map[string]string{}
		parts := strings.Split(accept, ";")
		for _, p := range parts[1:] {
			if k, v, ok := strings.Cut(strings.TrimSpace(p), "="); ok {
				params[k] = v
			}
		}
		if strings.TrimSpace(parts[0]) == "application/json" && params["g"] == "apidiscovery.k8s.io" && params["v"] == "v2" && params["as"] == "APIGroupDiscoveryList" {
			return true
		}
	}
	return false
}

// aggregatedDiscovery is the aggregated document of the core group (for
// /api) or of the named groups (for /apis), from the one table of kinds.
func aggregatedDiscovery(core bool) *apidiscoveryv2.APIGroupDiscoveryList {
	list := &apidiscoveryv2.APIGroupDiscoveryList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupDiscoveryList", APIVersion: "apidiscovery.k8s.io/v2"}}
	groups := map[string]int{}
	for _, k := range kinds {
		if (k.group == "") != core {
			continue
		}
		i, ok := groups[k.group]
		if !ok {
			i = len(list.Items)
			groups[k.group] = i
			list.Items = append(list.Items, apidiscoveryv2.APIGroupDiscovery{
				ObjectMeta: metav1.ObjectMeta{Name: k.group},
				Versions:   []apidiscoveryv2.APIVersionDiscovery{{Version: k.version, Freshness: apidiscoveryv2.DiscoveryFreshnessCurrent}},
			})
		}
		scope := apidiscoveryv2.ScopeCluster
		if k.namespaced {
			scope = apidiscoveryv2.ScopeNamespace
		}
		res := apidiscoveryv2.APIResourceDiscovery{
			Resource:         k.plural,
			ResponseKind:     &metav1.GroupVersionKind{Group: k.group, Version: k.version, Kind: k.kind},
			Scope:            scope,
			SingularResource: k.singular,
			Verbs:            k.verbs(),
			ShortNames:       k.shortNames,
			Categories:       k.categories,
		}
		if k.service == "pod" {
			res.Subresources = []apidiscoveryv2.APISubresourceDiscovery{{
				Subresource: "log", ResponseKind: &metav1.GroupVersionKind{Version: "v1", Kind: "Pod"}, Verbs: []string{"get"},
			}}
		}
		v := &list.Items[i].Versions[0]
		v.Resources = append(v.Resources, res)
	}
	return list
}

// writeAggregated answers with the aggregated document in its media type.
func writeAggregated(w http.ResponseWriter, core bool) {
	b, err := json.Marshal(aggregatedDiscovery(core))
	if err != nil {
		writeStatus(w, internalError(err))
		return
	}
	w.Header().Set("Content-Type", mediaTypeAggregated)
	w.Header().Set("Vary", "Accept")
	_, _ = w.Write(b)
}

package kubeapi

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kind is one resource this API serves, and the name our service calls it.
type kind struct {
	group      string // "" for the core group
	version    string
	plural     string
	singular   string
	kind       string // Kubernetes kind, e.g. Job
	service    string // our service's kind: job, cronjob, pod, node, event
	namespaced bool
	shortNames []string
	categories []string
}

func (k kind) resource() resource { return resource{group: k.group, plural: k.plural} }

// groupVersion is "v1" or "batch/v1".
func (k kind) groupVersion() string {
	if k.group == "" {
		return k.version
	}
	return k.group + "/" + k.version
}

// verbs are the verbs served for k: every kind is read and watched, what
// our Delete takes is deleted, and Jobs, CronJobs, ConfigMaps and Secrets
// are also created, patched and updated.
func (k kind) verbs() metav1.Verbs {
	switch {
	case k.metricsKind():
		return metav1.Verbs{"get", "list"}
	case k.creatable():
		return metav1.Verbs{"create", "delete", "get", "list", "patch", "update", "watch"}
	case k.deletable():
		return metav1.Verbs{"delete", "get", "list", "watch"}
	}
	return metav1.Verbs{"get", "list", "watch"}
}

// creatable says whether POST creates k: only what `jobcluster submit`
// accepts.
func (k kind) creatable() bool {
	return k.service == "job" || k.service == "cronjob" || k.service == "configmap" || k.service == "secret"
}

// deletable says whether DELETE removes k: what `jobcluster delete` takes.
func (k kind) deletable() bool { return k.service != "event" && !k.metricsKind() }

// ownsOthers says whether deleting k deletes objects it created: a Job's
// pods, a CronJob's Jobs.
func (k kind) ownsOthers() bool { return k.service == "job" || k.service == "cronjob" }

// kinds is the one table of resources served; discovery, routing and error
// messages all read it.
var kinds = []kind{
	{group: "batch", version: "v1", plural: "jobs", singular: "job", kind: "Job", service: "job", namespaced: true, categories: []string{"all"}},
	{group: "batch", version: "v1", plural: "cronjobs", singular: "cronjob", kind: "CronJob", service: "cronjob", namespaced: true, shortNames: []string{"cj"}, categories: []string{"all"}},
	{version: "v1", plural: "pods", singular: "pod", kind: "Pod", service: "pod", namespaced: true, shortNames: []string{"po"}, categories: []string{"all"}},
	{version: "v1", plural: "nodes", singular: "node", kind: "Node", service: "node", shortNames: []string{"no"}},
	{version: "v1", plural: "events", singular: "event", kind: "Event", service: "event", namespaced: true, shortNames: []string{"ev"}},
	{version: "v1", plural: "configmaps", singular: "configmap", kind: "ConfigMap", service: "configmap", namespaced: true, shortNames: []string{"cm"}},
	{version: "v1", plural: "secrets", singular: "secret", kind: "Secret", service: "secret", namespaced: true},
	{group: "metrics.k8s.io", version: "v1beta1", plural: "pods", singular: "", kind: "PodMetrics", service: podMetrics, namespaced: true},
	{group: "metrics.k8s.io", version: "v1beta1", plural: "nodes", singular: "", kind: "NodeMetrics", service: nodeMetrics},
}

// kindFor finds the served kind for a group version and plural.
func kindFor(groupVersion, plural string) (kind, bool) {
	for _, k := range kinds {
		if k.groupVersion() == groupVersion && k.plural == plural {
			return k, true
		}
	}
	return kind{}, false
}

// coreVersions is the legacy /api document.
func coreVersions() *metav1.APIVersions {
	return &metav1.APIVersions{
		TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
		Versions: []string{"v1"},
		ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
			{ClientCIDR: "0.0.0.0/0", ServerAddress: ""},
		},
	}
}

// groupList is the legacy /apis document: every named group of kinds.
func groupList() *metav1.APIGroupList {
	out := &metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	seen := map[string]bool{}
	for _, k := range kinds {
		if k.group == "" || seen[k.group] {
			continue
		}
		seen[k.group] = true
		gv := metav1.GroupVersionForDiscovery{GroupVersion: k.groupVersion(), Version: k.version}
		out.Groups = append(out.Groups, metav1.APIGroup{Name: k.group, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv})
	}
	return out
}

// resourceList is the /api/v1 or /apis/batch/v1 document, or nil when
// groupVersion is not served.
func resourceList(groupVersion string) *metav1.APIResourceList {
	var out *metav1.APIResourceList
	for _, k := range kinds {
		if k.groupVersion() != groupVersion {
			continue
		}
		if out == nil {
			out = &metav1.APIResourceList{
				TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
				GroupVersion: groupVersion,
			}
		}
		out.APIResources = append(out.APIResources, metav1.APIResource{
			Name:         k.plural,
			SingularName: k.singular,
			Namespaced:   k.namespaced,
			Kind:         k.kind,
			Verbs:        k.verbs(),
			ShortNames:   k.shortNames,
			Categories:   k.categories,
		})
		if k.service == "pod" {
			out.APIResources = append(out.APIResources, metav1.APIResource{
				Name: "pods/log", Namespaced: true, Kind: "Pod", Verbs: metav1.Verbs{"get"},
			})
		}
	}
	return out
}

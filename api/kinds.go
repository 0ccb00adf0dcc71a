package api

import (
	"fmt"
	"strings"
)

// Resource is one kind of object the cluster serves, with every name the
// command line, the server's messages and a Kubernetes API give it. The
// fields follow Kubernetes' APIResource.
type Resource struct {
	// Kind is the Kubernetes kind ("Job").
	Kind string
	// Group is the API group ("batch"), empty for the core group.
	Group string
	// Version is the API version within the group ("v1").
	Version string
	// Plural is the resource name, as in API paths ("jobs").
	Plural string
	// Singular is the lowercase kind ("job"), the name requests carry.
	Singular string
	// ShortNames are kubectl's abbreviations ("cj").
	ShortNames []string
	// Namespaced is false for cluster-wide kinds (nodes).
	Namespaced bool
}

// The kinds of object the cluster serves.
var (
	JobResource = &Resource{Kind: "Job", Group: "batch", Version: "v1",
		Plural: "jobs", Singular: "job", Namespaced: true}
	CronJobResource = &Resource{Kind: "CronJob", Group: "batch", Version: "v1",
		Plural: "cronjobs", Singular: "cronjob", ShortNames: []string{"cj"}, Namespaced: true}
	PodResource = &Resource{Kind: "Pod", Version: "v1",
		Plural: "pods", Singular: "pod", ShortNames: []string{"po"}, Namespaced: true}
	NodeResource = &Resource{Kind: "Node", Version: "v1",
		Plural: "nodes", Singular: "node", ShortNames: []string{"no"}}
	EventResource = &Resource{Kind: "Event", Version: "v1",
		Plural: "events", Singular: "event", ShortNames: []string{"ev"}, Namespaced: true}
	ConfigMapResource = &Resource{Kind: "ConfigMap", Version: "v1",
		Plural: "configmaps", Singular: "configmap", ShortNames: []string{"cm"}, Namespaced: true}
	SecretResource = &Resource{Kind: "Secret", Version: "v1",
		Plural: "secrets", Singular: "secret", Namespaced: true}
)

// resources lists every Resource, in the order messages name them.
var resources = []*Resource{JobResource, CronJobResource, PodResource, NodeResource, EventResource, ConfigMapResource, SecretResource}

// resourceNames maps every lowercase spelling of a kind to its Resource.
var resourceNames = func() map[string]*Resource {
	names := make(map[string]*Resource)
	for _, r := range resources {
		for _, n := range r.names() {
			names[n] = r
		}
	}
	return names
}()

// Resources lists every kind the cluster serves: jobs, cronjobs, pods,
// nodes and events, in that order.
func Resources() []*Resource {
	return append([]*Resource(nil), resources...)
}

// LookupResource finds a kind by any spelling kubectl accepts, in any
// case: singular or plural ("job", "jobs"), the Kubernetes kind ("Job"),
// a short name ("cj"), or either name qualified by the group
// ("job.batch", "jobs.batch").
func LookupResource(name string) (*Resource, bool) {
	r, ok := resourceNames[strings.ToLower(name)]
	return r, ok
}

// names lists the lowercase spellings LookupResource accepts for r.
func (r *Resource) names() []string {
	names := append([]string{r.Singular, r.Plural, strings.ToLower(r.Kind)}, r.ShortNames...)
	if r.Group != "" {
		names = append(names, r.Singular+"."+r.Group, r.Plural+"."+r.Group)
	}
	return names
}

// APIVersion is the apiVersion of objects of this kind ("batch/v1", "v1").
func (r *Resource) APIVersion() string {
	if r.Group == "" {
		return r.Version
	}
	return r.Group + "/" + r.Version
}

// GroupResource is the plural qualified by the group ("jobs.batch",
// "pods"), as Kubernetes names a resource in its messages.
func (r *Resource) GroupResource() string {
	if r.Group == "" {
		return r.Plural
	}
	return r.Plural + "." + r.Group
}

// GroupKind is the lowercase kind qualified by the group ("job.batch",
// "pod"), as kubectl writes it before an object's name in "-o name" output
// and in "created" and "deleted" lines.
func (r *Resource) GroupKind() string {
	if r.Group == "" {
		return r.Singular
	}
	return r.Singular + "." + r.Group
}

// NotFound is the message for a missing object of this kind:
// `jobs.batch "pi" not found`.
func (r *Resource) NotFound(name string) string {
	return fmt.Sprintf("%s %q not found", r.GroupResource(), name)
}

// AlreadyExists is the message for creating an object whose name is
// taken: `jobs.batch "pi" already exists`.
func (r *Resource) AlreadyExists(name string) string {
	return fmt.Sprintf("%s %q already exists", r.GroupResource(), name)
}

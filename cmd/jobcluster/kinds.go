package main

import (
	"fmt"
	"strings"
)

// resource describes one kind of object as the command line and the server
// name it.
type resource struct {
	// kind is the lowercase singular kind used in requests ("job").
	kind string
	// plural is the Kubernetes resource name used in messages ("jobs.batch").
	plural string
	// singular is the "-o name" and "created" prefix ("job.batch").
	singular string
	// namespaced is false for cluster-wide kinds (nodes).
	namespaced bool
}

var (
	resJob     = resource{kind: "job", plural: "jobs.batch", singular: "job.batch", namespaced: true}
	resCronJob = resource{kind: "cronjob", plural: "cronjobs.batch", singular: "cronjob.batch", namespaced: true}
	resPod     = resource{kind: "pod", plural: "pods", singular: "pod", namespaced: true}
	resNode    = resource{kind: "node", plural: "nodes", singular: "node"}
	resEvent   = resource{kind: "event", plural: "events", singular: "event", namespaced: true}
)

// resourceAliases maps every spelling kubectl accepts to its resource.
var resourceAliases = map[string]resource{
	"job": resJob, "jobs": resJob, "job.batch": resJob, "jobs.batch": resJob,
	"cronjob": resCronJob, "cronjobs": resCronJob, "cj": resCronJob,
	"cronjob.batch": resCronJob, "cronjobs.batch": resCronJob,
	"pod": resPod, "pods": resPod, "po": resPod,
	"node": resNode, "nodes": resNode, "no": resNode,
	"event": resEvent, "events": resEvent, "ev": resEvent,
}

// parseResource resolves a kind as typed on the command line or sent by
// the server ("jobs", "cj", "Job").
func parseResource(name string) (resource, error) {
	r, ok := resourceAliases[strings.ToLower(name)]
	if !ok {
		return resource{}, fmt.Errorf("the server doesn't have a resource type %q", name)
	}
	return r, nil
}

// parseResourceArgs reads the "KIND [NAME...]" or "KIND/NAME..." arguments
// of get, describe and delete, and checks that the kind is one of allowed.
func parseResourceArgs(args []string, allowed ...resource) (resource, []string, error) {
	if len(args) == 0 {
		return resource{}, nil, fmt.Errorf("you must specify the type of resource: %s", allowedList(allowed))
	}
	if strings.Contains(args[0], "/") {
		return parseSlashArgs(args, allowed)
	}
	r, err := parseResource(args[0])
	if err != nil {
		return resource{}, nil, err
	}
	if !resourceAllowed(r, allowed) {
		return resource{}, nil, fmt.Errorf("%s are not supported here, use one of: %s", r.plural, allowedList(allowed))
	}
	return r, args[1:], nil
}

// parseSlashArgs reads arguments of the form KIND/NAME, all of one kind.
func parseSlashArgs(args []string, allowed []resource) (resource, []string, error) {
	var (
		first resource
		names []string
	)
	for i, arg := range args {
		kind, name, ok := strings.Cut(arg, "/")
		if !ok || name == "" {
			return resource{}, nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'jobcluster get job/NAME' instead of 'jobcluster get job job/NAME')")
		}
		r, err := parseResource(kind)
		if err != nil {
			return resource{}, nil, err
		}
		if !resourceAllowed(r, allowed) {
			return resource{}, nil, fmt.Errorf("%s are not supported here, use one of: %s", r.plural, allowedList(allowed))
		}
		if i > 0 && r != first {
			return resource{}, nil, fmt.Errorf("arguments in resource/name form must all have the same type, got %s and %s", first.kind, r.kind)
		}
		first = r
		names = append(names, name)
	}
	return first, names, nil
}

func resourceAllowed(r resource, allowed []resource) bool {
	for _, a := range allowed {
		if a == r {
			return true
		}
	}
	return false
}

func allowedList(allowed []resource) string {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = strings.TrimSuffix(a.plural, ".batch")
	}
	return strings.Join(names, ", ")
}

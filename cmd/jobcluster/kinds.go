package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// parseResource resolves a kind as typed on the command line or sent by
// the server ("jobs", "cj", "Job").
func parseResource(name string) (*api.Resource, error) {
	r, ok := api.LookupResource(name)
	if !ok {
		return nil, fmt.Errorf("the server doesn't have a resource type %q", name)
	}
	return r, nil
}

// parseResourceArgs reads the "KIND [NAME...]" or "KIND/NAME..." arguments
// of get, describe and delete, and checks that the kind is one of allowed.
func parseResourceArgs(args []string, allowed ...*api.Resource) (*api.Resource, []string, error) {
	if len(args) == 0 {
		return nil, nil, fmt.Errorf("you must specify the type of resource: %s", allowedList(allowed))
	}
	if strings.Contains(args[0], "/") {
		return parseSlashArgs(args, allowed)
	}
	r, err := parseResource(args[0])
	if err != nil {
		return nil, nil, err
	}
	if !slices.Contains(allowed, r) {
		return nil, nil, fmt.Errorf("%s are not supported here, use one of: %s", r.GroupResource(), allowedList(allowed))
	}
	return r, args[1:], nil
}

// parseSlashArgs reads arguments of the form KIND/NAME, all of one kind.
func parseSlashArgs(args []string, allowed []*api.Resource) (*api.Resource, []string, error) {
	var (
		first *api.Resource
		names []string
	)
	for i, arg := range args {
		kind, name, ok := strings.Cut(arg, "/")
		if !ok || name == "" {
			return nil, nil, fmt.Errorf("there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'jobcluster get job/NAME' instead of 'jobcluster get job job/NAME')")
		}
		r, err := parseResource(kind)
		if err != nil {
			return nil, nil, err
		}
		if !slices.Contains(allowed, r) {
			return nil, nil, fmt.Errorf("%s are not supported here, use one of: %s", r.GroupResource(), allowedList(allowed))
		}
		if i > 0 && r != first {
			return nil, nil, fmt.Errorf("arguments in resource/name form must all have the same type, got %s and %s", first.Singular, r.Singular)
		}
		first = r
		names = append(names, name)
	}
	return first, names, nil
}

// allowedList names the kinds a command offers: "jobs, cronjobs".
func allowedList(allowed []*api.Resource) string {
	names := make([]string, len(allowed))
	for i, a := range allowed {
		names[i] = a.Plural
	}
	return strings.Join(names, ", ")
}

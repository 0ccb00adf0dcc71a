package main

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

// completionTimeout bounds the server call of a shell completion: a
// completion that hangs is worse than none.
const completionTimeout = 2 * time.Second

// completeKindsAndNames completes the first argument with the kinds
// allowed (their plural names, and KIND/ forms) and the later ones with
// the names of that kind's objects, read from the servers in -n's
// namespace. Without a reachable server it offers no names.
func completeKindsAndNames(copts *clientOptions, allowed ...*api.Resource) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			if kind, prefix, ok := strings.Cut(toComplete, "/"); ok {
				r, err := parseResource(kind)
				if err != nil {
					return nil, cobra.ShellCompDirectiveNoFileComp
				}
				var out []cobra.Completion
				for _, n := range objectNames(cmd, copts, r) {
					if strings.HasPrefix(n, prefix) {
						out = append(out, cobra.Completion(kind+"/"+n))
					}
				}
				return out, cobra.ShellCompDirectiveNoFileComp
			}
			var out []cobra.Completion
			for _, r := range allowed {
				out = append(out, cobra.Completion(r.Plural))
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
		if strings.Contains(args[0], "/") {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		r, err := parseResource(args[0])
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return completions(objectNames(cmd, copts, r)), cobra.ShellCompDirectiveNoFileComp
	}
}

// completeNames completes every argument with names of objects of kind r.
func completeNames(copts *clientOptions, r *api.Resource) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, _ string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return completions(objectNames(cmd, copts, r)), cobra.ShellCompDirectiveNoFileComp
	}
}

// objectNames lists the names of kind r's objects, nil on any error.
func objectNames(cmd *cobra.Command, copts *clientOptions, r *api.Resource) []string {
	o := *copts
	o.timeout = completionTimeout
	var names []string
	_ = o.withClient(cmd, func(ctx context.Context, c *client) error {
		objs, err := listObjects(ctx, c, &api.ListRequest{Kind: r.Singular, Namespace: c.namespace})
		if err != nil {
			return err
		}
		for _, obj := range objs {
			names = append(names, api.NameOf(obj))
		}
		return nil
	})
	return names
}

// setCompletions gives the commands that name objects their completion
// of kinds and names.
func setCompletions(root *cobra.Command, copts *clientOptions) {
	all := []*api.Resource{api.JobResource, api.PodResource, api.CronJobResource, api.NodeResource, api.EventResource, api.ConfigMapResource, api.SecretResource}
	byCommand := map[string]cobra.CompletionFunc{
		"get":      completeKindsAndNames(copts, all...),
		"describe": completeKindsAndNames(copts, api.JobResource, api.PodResource, api.CronJobResource, api.NodeResource, api.ConfigMapResource, api.SecretResource),
		"delete":   completeKindsAndNames(copts, api.JobResource, api.CronJobResource, api.PodResource, api.NodeResource, api.ConfigMapResource, api.SecretResource),
		"wait":     completeKindsAndNames(copts, api.JobResource, api.PodResource, api.CronJobResource, api.NodeResource),
		"suspend":  completeKindsAndNames(copts, api.JobResource, api.CronJobResource),
		"resume":   completeKindsAndNames(copts, api.JobResource, api.CronJobResource),
		"label":    completeKindsAndNames(copts, api.JobResource, api.CronJobResource),
		"annotate": completeKindsAndNames(copts, api.JobResource, api.CronJobResource),
		"logs":     completeNames(copts, api.PodResource),
	}
	for _, cmd := range root.Commands() {
		if f, ok := byCommand[cmd.Name()]; ok && cmd.ValidArgsFunction == nil {
			cmd.ValidArgsFunction = f
		}
	}
}

func completions(names []string) []cobra.Completion {
	out := make([]cobra.Completion, len(names))
	for i, n := range names {
		out[i] = cobra.Completion(n)
	}
	return out
}

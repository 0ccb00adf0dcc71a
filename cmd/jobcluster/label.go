package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// metaEdit is what `label` or `annotate` changes: keys set to values and
// keys removed ("key-").
type metaEdit struct {
	set    map[string]string
	remove []string
}

// parseMetaEdits reads kubectl's KEY=VALUE and KEY- arguments.
func parseMetaEdits(args []string) (metaEdit, error) {
	e := metaEdit{set: map[string]string{}}
	for _, a := range args {
		if k, ok := strings.CutSuffix(a, "-"); ok && !strings.Contains(a, "=") {
			e.remove = append(e.remove, k)
			continue
		}
		k, v, ok := strings.Cut(a, "=")
		if !ok || k == "" {
			return e, fmt.Errorf("invalid argument %q: use KEY=VALUE to set, KEY- to remove", a)
		}
		e.set[k] = v
	}
	if len(e.set) == 0 && len(e.remove) == 0 {
		return e, errors.New("at least one KEY=VALUE or KEY- is required")
	}
	return e, nil
}

// apply changes m; an existing key gets a new value only with overwrite,
// as kubectl refuses otherwise. It reports whether m changed.
func (e metaEdit) apply(m map[string]string, overwrite bool, what string) (bool, error) {
	changed := false
	for _, k := range slices.Sorted(maps.Keys(e.set)) {
		old, exists := m[k]
		if exists && old != e.set[k] && !overwrite {
			return false, fmt.Errorf("'%s' already has a value (%s), and --overwrite is false", k, old)
		}
		changed = changed || !exists || old != e.set[k]
		m[k] = e.set[k]
	}
	for _, k := range e.remove {
		if _, ok := m[k]; ok {
			delete(m, k)
			changed = true
		}
	}
	return changed, nil
}

func newLabelCmd(copts *clientOptions) *cobra.Command { return newMetaCmd(copts, "label") }

func newAnnotateCmd(copts *clientOptions) *cobra.Command { return newMetaCmd(copts, "annotate") }

// newMetaCmd builds `label` or `annotate`.
func newMetaCmd(copts *clientOptions, verb string) *cobra.Command {
	var overwrite bool
	what := map[string]string{"label": "labels", "annotate": "annotations"}[verb]
	cmd := &cobra.Command{
		Use:   verb + " (job|cronjob) NAME KEY=VALUE... [KEY-...]",
		Short: "Set or remove the " + what + " of a job or cronjob",
		Long: "Set or remove " + what + ` of a Job or CronJob, as kubectl ` + verb + ` does: KEY=VALUE
sets (an existing value changes only with --overwrite), KEY- removes.`,
		Example: fmt.Sprintf("  jobcluster %s job pi team=ml\n  jobcluster %s cronjob/nightly team=ops --overwrite\n  jobcluster %s job pi team-", verb, verb, verb),
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, rest, err := parseKindAndName(args, api.JobResource, api.CronJobResource)
			if err != nil {
				return err
			}
			name, edits := rest[0], rest[1:]
			e, err := parseMetaEdits(edits)
			if err != nil {
				return err
			}
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				obj, err := getObject(ctx, c, r, name)
				if err != nil {
					return err
				}
				updated := proto.Clone(obj).(*api.Object)
				meta := api.MetadataOf(updated)
				target := &meta.Labels
				if verb == "annotate" {
					target = &meta.Annotations
				}
				if *target == nil {
					*target = map[string]string{}
				}
				before := len(*target)
				changed, err := e.apply(*target, overwrite, what)
				if err != nil {
					return err
				}
				// kubectl label says "not labeled" for no change and
				// "unlabeled" when keys went; annotate always "annotated".
				done := pastTense(verb)
				if verb == "label" && len(*target) < before {
					done = "unlabeled"
				}
				if !changed {
					if verb == "label" {
						done = "not labeled"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s/%s %s\n", r.GroupKind(), name, done)
					return nil
				}
				meta.ResourceVersion = "" // as kubectl's patch: a status change meanwhile is no conflict
				if j := updated.GetJob(); j != nil {
					j.Status = nil
				}
				if cj := updated.GetCronJob(); cj != nil {
					cj.Status = nil
				}
				var resp *api.SubmitResponse
				err = c.write(ctx, func(ctx context.Context, cl api.ControlClient) error {
					var err error
					resp, err = cl.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{updated}, Apply: true, Namespace: c.namespace})
					return err
				})
				if err != nil {
					return err
				}
				if res := resp.GetResults(); len(res) == 1 && res[0].GetError() != "" {
					return resultError(res[0].GetCode(), res[0].GetError())
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s/%s %s\n", r.GroupKind(), name, done)
				return nil
			})
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "allow changing the value of a key that has one")
	return cmd
}

func pastTense(verb string) string {
	if verb == "label" {
		return "labeled"
	}
	return "annotated"
}

// parseKindAndName reads "KIND NAME REST..." or "KIND/NAME REST...".
func parseKindAndName(args []string, allowed ...*api.Resource) (*api.Resource, []string, error) {
	if kind, name, ok := strings.Cut(args[0], "/"); ok {
		r, _, err := parseResourceArgs([]string{kind}, allowed...)
		if err != nil {
			return nil, nil, err
		}
		return r, append([]string{name}, args[1:]...), nil
	}
	r, rest, err := parseResourceArgs(args, allowed...)
	if err != nil {
		return nil, nil, err
	}
	if len(rest) < 2 {
		return nil, nil, errors.New("give a name and at least one KEY=VALUE or KEY-")
	}
	return r, rest, nil
}

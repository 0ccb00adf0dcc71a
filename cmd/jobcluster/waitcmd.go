package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

// waitPoll is how often `wait` reads the objects it waits for.
const waitPoll = 200 * time.Millisecond

// waitCondition is what `wait --for` asks of an object.
type waitCondition struct {
	deleted   bool
	condition string // a condition type, lowercased, whose status must be want
	want      string
	path      string // a jsonpath template, with want its value ("" for any)
}

// parseWaitFor reads kubectl's --for=delete, --for=condition=TYPE[=VALUE]
// and --for=jsonpath={PATH}[=VALUE].
func parseWaitFor(s string) (waitCondition, error) {
	switch {
	case s == "delete":
		return waitCondition{deleted: true}, nil
	case strings.HasPrefix(s, "condition="):
		typ, want, ok := strings.Cut(strings.TrimPrefix(s, "condition="), "=")
		if !ok {
			want = "True"
		}
		if typ == "" {
			return waitCondition{}, errors.New("--for=condition= needs a condition type, e.g. --for=condition=complete")
		}
		return waitCondition{condition: strings.ToLower(typ), want: want}, nil
	case strings.HasPrefix(s, "jsonpath="):
		expr := strings.TrimPrefix(s, "jsonpath=")
		path, want := expr, ""
		if i := strings.LastIndex(expr, "}="); i >= 0 {
			path, want = expr[:i+1], expr[i+2:]
		} else if !strings.HasPrefix(expr, "{") {
			if p, w, ok := strings.Cut(expr, "="); ok {
				path, want = p, w
			}
		}
		if _, err := newJSONPath("for", relaxedBraces(path)); err != nil {
			return waitCondition{}, err
		}
		return waitCondition{path: relaxedBraces(path), want: want}, nil
	}
	return waitCondition{}, fmt.Errorf("unrecognized condition: %q: use --for=delete, --for=condition=TYPE[=VALUE] or --for=jsonpath={PATH}=VALUE", s)
}

// met reports whether obj (nil when not found) satisfies the condition.
func (w waitCondition) met(obj *api.Object) bool {
	switch {
	case w.deleted:
		return obj == nil
	case obj == nil:
		return false
	case w.path != "":
		jp, err := newJSONPath("for", w.path)
		if err != nil {
			return false
		}
		v, err := objectJSON(obj)
		if err != nil {
			return false
		}
		results, err := jp.FindResults(v)
		if err != nil || len(results) == 0 || len(results[0]) == 0 {
			return false
		}
		return w.want == "" || fmt.Sprint(results[0][0].Interface()) == w.want
	}
	for _, c := range conditionsOf(obj) {
		if strings.ToLower(c[0]) == w.condition && strings.EqualFold(c[1], w.want) {
			return true
		}
	}
	return false
}

// conditionsOf lists an object's conditions as type and status.
func conditionsOf(obj *api.Object) [][2]string {
	var out [][2]string
	switch o := obj.GetKind().(type) {
	case *api.Object_Job:
		for _, c := range o.Job.GetStatus().GetConditions() {
			out = append(out, [2]string{c.GetType(), c.GetStatus()})
		}
	case *api.Object_Pod:
		for _, c := range api.PodConditions(o.Pod) {
			out = append(out, [2]string{c.GetType(), c.GetStatus()})
		}
	case *api.Object_Node:
		for _, c := range o.Node.GetStatus().GetConditions() {
			out = append(out, [2]string{c.GetType(), c.GetStatus()})
		}
	}
	return out
}

func newWaitCmd(copts *clientOptions) *cobra.Command {
	var forFlag, selector string
	var all bool
	cmd := &cobra.Command{
		Use:   "wait (KIND NAME... | KIND/NAME... | KIND -l SELECTOR | KIND --all) --for=(delete|condition=TYPE[=VALUE]|jsonpath={PATH}=VALUE)",
		Short: "Wait until objects meet a condition",
		Long: `Wait until each object meets the condition, as kubectl wait does, printing
"job.batch/pi condition met" for each. --timeout bounds the wait (30s by
default); it fails naming the objects still waited for.`,
		Example: `  jobcluster wait --for=condition=complete job/pi --timeout=5m
  jobcluster wait --for=delete job pi
  jobcluster wait --for=jsonpath='{.status.phase}'=Running pod -l job-name=pi`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cond, err := parseWaitFor(forFlag)
			if err != nil {
				return err
			}
			r, names, err := parseResourceArgs(args, api.JobResource, api.PodResource, api.CronJobResource, api.NodeResource)
			if err != nil {
				return err
			}
			if len(names) == 0 && selector == "" && !all {
				return errors.New("resource(s) were provided, but no name was specified")
			}
			return copts.withClient(cmd, func(ctx context.Context, c *client) error {
				if len(names) == 0 {
					objs, err := listObjects(ctx, c, &api.ListRequest{Kind: r.Singular, LabelSelector: selector, Namespace: c.namespace})
					if err != nil {
						return err
					}
					if len(objs) == 0 {
						return errors.New("no matching resources found")
					}
					for _, o := range objs {
						names = append(names, api.NameOf(o))
					}
				}
				return waitFor(ctx, cmd, c, r, names, cond)
			})
		},
	}
	cmd.Flags().StringVar(&forFlag, "for", "", "the condition: delete, condition=TYPE[=VALUE] or jsonpath={PATH}=VALUE")
	cmd.Flags().StringVarP(&selector, "selector", "l", "", "wait for the objects whose labels match")
	cmd.Flags().BoolVar(&all, "all", false, "wait for every object of the kind in the namespace")
	_ = cmd.MarkFlagRequired("for")
	return cmd
}

// waitFor polls each named object until it meets cond, printing kubectl's
// line for each as it does: nothing for an object already gone when the
// wait for its delete begins.
func waitFor(ctx context.Context, cmd *cobra.Command, c *client, r *api.Resource, names []string, cond waitCondition) error {
	pending := append([]string(nil), names...)
	for first := true; ; first = false {
		var still []string
		for _, name := range pending {
			obj, err := getObject(ctx, c, r, name)
			var se *serverError
			switch {
			case errors.As(err, &se) && strings.Contains(err.Error(), "not found"):
				obj = nil
				if !cond.deleted {
					return err
				}
			case err != nil:
				return err
			}
			if cond.met(obj) {
				if !first || obj != nil {
					fmt.Fprintf(cmd.OutOrStdout(), "%s/%s condition met\n", r.GroupKind(), name)
				}
				continue
			}
			still = append(still, name)
		}
		if pending = still; len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("timed out waiting for the condition on %s/%s", r.Plural, strings.Join(pending, ", "+r.Plural+"/"))
		case <-time.After(waitPoll):
		}
	}
}

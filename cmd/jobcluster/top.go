package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

func newTopCmd(copts *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Show the CPU and memory pods and nodes use, as the agents measure it",
		Long: `Show what pods and nodes use, as kubectl top does: the average CPU over
the agents' last measuring window (5 s) and the working set of memory at
its end. A pod shows up once it has run for a whole window.`,
	}
	cmd.AddCommand(newTopPodsCmd(copts), newTopNodesCmd(copts))
	return cmd
}

// topOptions are the flags kubectl top takes.
type topOptions struct {
	selector      string
	sortBy        string
	noHeaders     bool
	allNamespaces bool
}

func (o *topOptions) register(cmd *cobra.Command, pods bool) {
	cmd.Flags().StringVarP(&o.selector, "selector", "l", "", "label selector to filter on, e.g. -l key1=value1,key2=value2")
	cmd.Flags().StringVar(&o.sortBy, "sort-by", "", "sort by cpu or memory, highest first")
	cmd.Flags().BoolVar(&o.noHeaders, "no-headers", false, "print no header line")
	if pods {
		cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "the pods of every namespace, with a NAMESPACE column")
	}
}

func (o *topOptions) check() error {
	if o.sortBy != "" && o.sortBy != "cpu" && o.sortBy != "memory" {
		return fmt.Errorf("--sort-by accepts only cpu or memory, not %q", o.sortBy)
	}
	return nil
}

func (o *topOptions) fetch(cmd *cobra.Command, copts *clientOptions, kind string, args []string, show func(*api.TopResponse) error) error {
	if err := o.check(); err != nil {
		return err
	}
	req := &api.TopRequest{Kind: kind, LabelSelector: o.selector, AllNamespaces: o.allNamespaces}
	if len(args) == 1 {
		if o.selector != "" {
			return errors.New("only one of NAME or --selector can be provided")
		}
		req.Name = args[0]
	}
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		req.Namespace = c.namespace
		var resp *api.TopResponse
		err := c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
			var err error
			resp, err = cl.Top(ctx, req)
			return err
		})
		if err != nil {
			return err
		}
		return show(resp)
	})
}

func newTopPodsCmd(copts *clientOptions) *cobra.Command {
	o := &topOptions{}
	cmd := &cobra.Command{
		Use:     "pods [NAME | -l label]",
		Aliases: []string{"pod", "po"},
		Short:   "Show what pods use",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.fetch(cmd, copts, "pods", args, func(resp *api.TopResponse) error {
				var pods []*api.PodUsage
				for _, n := range resp.GetNodes() {
					pods = append(pods, n.GetPods()...)
				}
				if len(pods) == 0 {
					return topNothing(cmd, args, "pods", copts.ns(), o.allNamespaces)
				}
				return printTopPods(cmd.OutOrStdout(), pods, o)
			})
		},
	}
	o.register(cmd, true)
	return cmd
}

func newTopNodesCmd(copts *clientOptions) *cobra.Command {
	o := &topOptions{}
	cmd := &cobra.Command{
		Use:     "nodes [NAME | -l label]",
		Aliases: []string{"node", "no"},
		Short:   "Show what nodes use",
		Args:    cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.fetch(cmd, copts, "nodes", args, func(resp *api.TopResponse) error {
				if len(resp.GetNodes()) == 0 {
					return topNothing(cmd, args, "nodes", "", false)
				}
				return printTopNodes(cmd.OutOrStdout(), resp.GetNodes(), o)
			})
		},
	}
	o.register(cmd, false)
	return cmd
}

// topNothing says, as kubectl top does, that there is nothing to show.
func topNothing(cmd *cobra.Command, args []string, kind, ns string, all bool) error {
	if len(args) == 1 {
		return fmt.Errorf("%s %q not found or not measured yet (agents measure every 5 s)", strings.TrimSuffix(kind, "s"), args[0])
	}
	if kind == "pods" && !all {
		return fmt.Errorf("metrics not available yet: no running pod in namespace %q measured", ns)
	}
	return fmt.Errorf("metrics not available yet: no %s measured", kind)
}

func cpuText(millis int64) string { return fmt.Sprintf("%dm", millis) }
func memText(bytes int64) string  { return fmt.Sprintf("%dMi", bytes/(1<<20)) }

func printTopPods(out io.Writer, pods []*api.PodUsage, o *topOptions) error {
	slices.SortFunc(pods, func(a, b *api.PodUsage) int {
		switch o.sortBy {
		case "cpu":
			return cmp.Compare(b.GetCpuMillicores(), a.GetCpuMillicores())
		case "memory":
			return cmp.Compare(b.GetMemoryBytes(), a.GetMemoryBytes())
		}
		return cmp.Or(strings.Compare(a.GetNamespace(), b.GetNamespace()), strings.Compare(a.GetName(), b.GetName()))
	})
	header := []string{"NAME", "CPU(cores)", "MEMORY(bytes)"}
	if o.allNamespaces {
		header = append([]string{"NAMESPACE"}, header...)
	}
	var rows [][]string
	for _, p := range pods {
		row := []string{p.GetName(), cpuText(p.GetCpuMillicores()), memText(p.GetMemoryBytes())}
		if o.allNamespaces {
			row = append([]string{api.NamespaceOr(p.GetNamespace())}, row...)
		}
		rows = append(rows, row)
	}
	return writeTopTable(out, header, rows, o.noHeaders)
}

func printTopNodes(out io.Writer, nodes []*api.NodeUsage, o *topOptions) error {
	slices.SortFunc(nodes, func(a, b *api.NodeUsage) int {
		switch o.sortBy {
		case "cpu":
			return cmp.Compare(b.GetCpuMillicores(), a.GetCpuMillicores())
		case "memory":
			return cmp.Compare(b.GetMemoryBytes(), a.GetMemoryBytes())
		}
		return strings.Compare(a.GetNode(), b.GetNode())
	})
	percent := func(v, of int64) string {
		if of <= 0 {
			return "<unknown>"
		}
		return fmt.Sprintf("%d%%", v*100/of)
	}
	var rows [][]string
	for _, n := range nodes {
		rows = append(rows, []string{n.GetNode(),
			cpuText(n.GetCpuMillicores()), percent(n.GetCpuMillicores(), n.GetCpuAllocatableMillicores()),
			memText(n.GetMemoryBytes()), percent(n.GetMemoryBytes(), n.GetMemoryAllocatableBytes())})
	}
	return writeTopTable(out, []string{"NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"}, rows, o.noHeaders)
}

// writeTopTable writes the table, its columns sized with the header as
// kubectl sizes them, and without the header line under --no-headers.
func writeTopTable(out io.Writer, header []string, rows [][]string, noHeaders bool) error {
	var b strings.Builder
	if err := writeTable(&b, header, rows); err != nil {
		return err
	}
	text := b.String()
	if noHeaders {
		_, text, _ = strings.Cut(text, "\n")
	}
	_, err := io.WriteString(out, text)
	return err
}

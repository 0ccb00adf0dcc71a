package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
)

type logsOptions struct {
	follow    bool
	previous  bool
	tail      int64
	container string
}

func newLogsCmd(copts *clientOptions) *cobra.Command {
	o := &logsOptions{}
	cmd := &cobra.Command{
		Use:   "logs (POD | job/NAME) [-f] [--previous]",
		Short: "Print the output of a pod",
		Long: `Print what a pod's container wrote to stdout and stderr. The server fetches
it from the agent that runs (or ran) the pod. For job/NAME one pod of the Job
is chosen, a running one if any.

With -f the output is followed until the pod ends; this is unbounded unless
--timeout is given.`,
		Example: `  jobcluster logs pi-7x2kq
  jobcluster logs -f job/pi
  jobcluster logs --previous pi-7x2kq`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd, copts, args[0])
		},
	}
	cmd.Flags().BoolVarP(&o.follow, "follow", "f", false, "keep printing output as the pod writes it")
	cmd.Flags().BoolVarP(&o.previous, "previous", "p", false, "print the output of the previous run of a restarted container")
	cmd.Flags().Int64Var(&o.tail, "tail", -1, "print only the last N lines (-1: all)")
	cmd.Flags().StringVarP(&o.container, "container", "c", "", "the pod's container (default its first)")
	return cmd
}

func (o *logsOptions) run(cmd *cobra.Command, copts *clientOptions, target string) error {
	return copts.withClient(cmd, func(ctx context.Context, c *client) error {
		return o.print(ctx, cmd, c, target)
	})
}

// print copies the logs of the pod target names to stdout.
func (o *logsOptions) print(ctx context.Context, cmd *cobra.Command, c *client, target string) error {
	pod, err := resolveLogsPod(ctx, c, cmd.ErrOrStderr(), target)
	if err != nil {
		return err
	}
	if o.follow && !timeoutSet(cmd) {
		ctx = cmd.Context()
	}
	var (
		stream grpc.ServerStreamingClient[api.LogChunk]
		first  *api.LogChunk
	)
	err = c.openStream(ctx, func(ctx context.Context, cl api.ControlClient) error {
		req := &api.LogsRequest{Pod: pod, Follow: o.follow, Previous: o.previous, Namespace: c.namespace, Container: o.container}
		if o.tail >= 0 {
			req.TailLines = &o.tail
		}
		s, err := cl.Logs(ctx, req)
		if err != nil {
			return err
		}
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		stream, first = s, chunk
		return nil
	})
	if err != nil || stream == nil {
		return err
	}
	out := cmd.OutOrStdout()
	for chunk := first; ; {
		if n := chunk.GetNotice(); n != "" {
			fmt.Fprintln(cmd.ErrOrStderr(), n)
		}
		if _, err := out.Write(chunk.GetData()); err != nil {
			return fmt.Errorf("write logs: %w", err)
		}
		chunk, err = stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if _, ok := status.FromError(err); ok {
				return statusError(err)
			}
			return fmt.Errorf("read logs of pod %s: %w", pod, err)
		}
	}
}

// resolveLogsPod turns "POD", "pod/POD" or "job/NAME" into a pod name.
// For a Job it picks a running pod if there is one, else the newest, and
// says so on stderr when there was a choice, as kubectl does.
func resolveLogsPod(ctx context.Context, c *client, errOut io.Writer, target string) (string, error) {
	kind, name, ok := strings.Cut(target, "/")
	if !ok {
		return target, nil
	}
	r, err := parseResource(kind)
	if err != nil {
		return "", err
	}
	switch r {
	case api.PodResource:
		return name, nil
	case api.JobResource:
	default:
		return "", fmt.Errorf("cannot get logs from %s, use a pod or job/NAME", r.GroupResource())
	}
	objs, err := listObjects(ctx, c, &api.ListRequest{Kind: api.PodResource.Singular, LabelSelector: api.LabelJobName + "=" + name, Namespace: c.namespace})
	if err != nil {
		return "", err
	}
	if len(objs) == 0 {
		return "", fmt.Errorf("no pods found for %s/%s", api.JobResource.GroupKind(), name)
	}
	pods := make([]*api.Pod, len(objs))
	for i, obj := range objs {
		pods[i] = obj.GetPod()
	}
	sort.SliceStable(pods, func(i, j int) bool { return preferForLogs(pods[i], pods[j]) })
	chosen := pods[0].GetMetadata().GetName()
	if len(pods) > 1 {
		fmt.Fprintf(errOut, "Found %d pods, using pod/%s\n", len(pods), chosen)
	}
	return chosen, nil
}

// preferForLogs orders running pods first, then newer before older.
func preferForLogs(a, b *api.Pod) bool {
	ar, br := a.GetStatus().GetPhase() == api.PodRunning, b.GetStatus().GetPhase() == api.PodRunning
	if ar != br {
		return ar
	}
	return a.GetMetadata().GetCreationTimestamp().AsTime().After(b.GetMetadata().GetCreationTimestamp().AsTime())
}

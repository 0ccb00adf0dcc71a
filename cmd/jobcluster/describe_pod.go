package main

import (
	"context"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// pod renders a Pod as kubectl describe pod does.
func (d describer) pod(p *api.Pod, events []*api.Event) string {
	w := newPrefixWriter()
	meta, spec, st := p.GetMetadata(), p.GetSpec(), p.GetStatus()
	w.write(0, "Name:\t%s\n", meta.GetName())
	w.write(0, "Namespace:\t%s\n", namespace(meta))
	node := "<none>"
	if spec.GetNodeName() != "" {
		node = spec.GetNodeName()
		if st.GetHostIp() != "" {
			node += "/" + st.GetHostIp()
		}
	}
	w.write(0, "Node:\t%s\n", node)
	if st.GetStartTime() != nil {
		w.write(0, "Start Time:\t%s\n", d.timestamp(st.GetStartTime()))
	}
	w.labels(0, "Labels", meta.GetLabels())
	w.labels(0, "Annotations", meta.GetAnnotations())
	if del := meta.GetDeletionTimestamp(); del != nil && !api.IsPodTerminal(p) {
		w.write(0, "Status:\tTerminating (lasts %s)\n", age(del, d.now))
	} else {
		w.write(0, "Status:\t%s\n", orNone(st.GetPhase()))
	}
	if st.GetReason() != "" {
		w.write(0, "Reason:\t%s\n", st.GetReason())
	}
	if st.GetMessage() != "" {
		w.write(0, "Message:\t%s\n", st.GetMessage())
	}
	if owner := controlledBy(meta); owner != "" {
		w.write(0, "Controlled By:\t%s\n", owner)
	}
	w.write(0, "Containers:\n")
	for _, c := range spec.GetContainers() {
		w.write(1, "%s:\n", c.GetName())
		d.container(w, c, containerStatus(st, c.GetName()))
	}
	if conds := api.PodConditions(p); len(conds) > 0 {
		w.flush()
		w.write(0, "Conditions:\n")
		w.write(1, "Type\tStatus\n")
		for _, c := range conds {
			w.write(1, "%s\t%s\n", c.GetType(), c.GetStatus())
		}
		w.flush()
	}
	w.write(0, "Restart Policy:\t%s\n", orNone(spec.GetRestartPolicy()))
	w.labels(0, "Node-Selectors", spec.GetNodeSelector())
	w.events(d, events)
	return w.String()
}

// containerStatus finds the status of the named container; a container
// that has not reported yet gets an empty one, shown as Waiting.
func containerStatus(st *api.PodStatus, name string) *api.ContainerStatus {
	for _, cs := range st.GetContainerStatuses() {
		if cs.GetName() == name {
			return cs
		}
	}
	return &api.ContainerStatus{Name: name}
}

// describeLogLines is how many of a pod's last log lines describe shows.
const describeLogLines = 10

// podLogTail is the end of a pod's log, from its agent or the servers'
// kept tail, or "" when there is none to read.
func podLogTail(ctx context.Context, c *client, pod string, lines int64) string {
	var out strings.Builder
	_ = c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
		s, err := cl.Logs(ctx, &api.LogsRequest{Pod: pod, Namespace: c.namespace, TailLines: &lines})
		if err != nil {
			return err
		}
		for {
			chunk, err := s.Recv()
			if err != nil {
				return nil
			}
			out.Write(chunk.GetData())
		}
	})
	return out.String()
}

// indentLines prefixes every line of s.
func indentLines(s, prefix string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(prefix + l + "\n")
	}
	return b.String()
}

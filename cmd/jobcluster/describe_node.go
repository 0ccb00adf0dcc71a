package main

import (
	"fmt"

	"github.com/jobcluster/jobcluster/api"
)

// node renders a Node as kubectl describe node does, with the pods bound
// to it that have not finished.
func (d describer) node(n *api.Node, pods []*api.Pod, events []*api.Event) string {
	w := newPrefixWriter()
	meta, st := n.GetMetadata(), n.GetStatus()
	w.write(0, "Name:\t%s\n", meta.GetName())
	w.write(0, "Roles:\t%s\n", nodeRoles(n))
	w.labels(0, "Labels", meta.GetLabels())
	w.labels(0, "Annotations", meta.GetAnnotations())
	w.write(0, "CreationTimestamp:\t%s\n", d.timestamp(meta.GetCreationTimestamp()))
	w.write(0, "Unschedulable:\t%t\n", n.GetSpec().GetUnschedulable())
	if len(st.GetConditions()) == 0 {
		w.write(0, "Conditions:\t<none>\n")
	} else {
		w.flush()
		w.write(0, "Conditions:\n")
		w.write(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
		w.write(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
		for _, c := range st.GetConditions() {
			w.write(1, "%s\t%s\t%s\t%s\t%s\t%s\n", c.GetType(), c.GetStatus(),
				d.timestamp(c.GetLastHeartbeatTime()), d.timestamp(c.GetLastTransitionTime()), c.GetReason(), c.GetMessage())
		}
		w.flush()
	}
	if len(st.GetAddresses()) > 0 {
		w.write(0, "Addresses:\n")
		for _, a := range st.GetAddresses() {
			w.write(1, "%s:\t%s\n", a.GetType(), a.GetAddress())
		}
	}
	if info := st.GetNodeInfo(); info != nil {
		w.write(0, "System Info:\n")
		w.write(1, "Container Runtime Version:\t%s\n", info.GetContainerRuntimeVersion())
	}
	if rt := meta.GetAnnotations()[annotationRuntimes]; rt != "" {
		w.write(0, "Runtimes:\t%s\n", rt)
	}
	w.resourceList(0, "Capacity", st.GetCapacity())
	w.resourceList(0, "Allocatable", st.GetAllocatable())
	d.nodePods(w, n, pods)
	w.events(d, events)
	return w.String()
}

// nodePods prints the "Non-terminated Pods" table with each pod's requests
// and their share of what the node can allocate.
func (d describer) nodePods(w *prefixWriter, n *api.Node, pods []*api.Pod) {
	w.write(0, "Non-terminated Pods:\t(%d in total)\n", len(pods))
	if len(pods) == 0 {
		return
	}
	allocatable := n.GetStatus().GetAllocatable()
	cpuTotal, _ := api.ParseCPUMillis(allocatable["cpu"])
	memTotal, _ := api.ParseBytes(allocatable["memory"])
	w.flush()
	w.write(1, "Namespace\tName\tCPU Requests\tMemory Requests\tAge\n")
	w.write(1, "---------\t----\t------------\t---------------\t---\n")
	for _, p := range pods {
		cpu, mem := api.PodRequests(p.GetSpec())
		w.write(1, "%s\t%s\t%s\t%s\t%s\n", namespace(p.GetMetadata()), p.GetMetadata().GetName(),
			withShare(formatMillicores(cpu), cpu, cpuTotal), withShare(formatBytes(mem), mem, memTotal),
			age(p.GetMetadata().GetCreationTimestamp(), d.now))
	}
	w.flush()
}

// nodePodsSelector selects the pods bound to node that have not finished,
// as kubectl describe node asks for them.
func nodePodsSelector(node string) string {
	return "spec.nodeName=" + node + ",status.phase!=Succeeded,status.phase!=Failed"
}

// nodePods keeps the pods bound to the node that have not finished.
func nodePods(objs []*api.Object, node string) []*api.Pod {
	var pods []*api.Pod
	for _, obj := range objs {
		p := obj.GetPod()
		if p != nil && p.GetSpec().GetNodeName() == node && !api.IsPodTerminal(p) {
			pods = append(pods, p)
		}
	}
	return pods
}

// withShare appends the percentage of total, as kubectl does: "500m (25%)".
func withShare(text string, value, total int64) string {
	if total <= 0 {
		return text
	}
	return fmt.Sprintf("%s (%d%%)", text, value*100/total)
}

func formatMillicores(m int64) string {
	if m%1000 == 0 {
		return fmt.Sprint(m / 1000)
	}
	return fmt.Sprintf("%dm", m)
}

// formatBytes writes a byte count in the largest binary unit that divides
// it exactly ("128Mi"), as Kubernetes prints quantities.
func formatBytes(b int64) string {
	units := []string{"", "Ki", "Mi", "Gi", "Ti"}
	i := 0
	for b != 0 && b%1024 == 0 && i < len(units)-1 {
		b /= 1024
		i++
	}
	return fmt.Sprintf("%d%s", b, units[i])
}

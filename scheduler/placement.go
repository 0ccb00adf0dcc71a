package scheduler

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// Reasons a node cannot take a pod, worded like the kube-scheduler's.
const (
	unfitUnschedulable = "node(s) were unschedulable"
	unfitNotReady      = "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
	unfitSelector      = "node(s) didn't match Pod's node affinity/selector"
	unfitPods          = "Too many pods"
	unfitCPU           = "Insufficient cpu"
	unfitMemory        = "Insufficient memory"
	unfitImages        = "node(s) cannot run container images"
	noNodes            = "no nodes available to schedule pods"
)

// Placer chooses nodes for pods within one pass; it remembers what it
// placed so the next pod sees it. It is not safe for concurrent use.
type Placer struct {
	nodes  []*nodeLoad // sorted by name
	byName map[string]*nodeLoad
	// parsed holds the quantities read in this pass: the pods of one Job
	// repeat the same few, and parsing one costs microseconds.
	parsed map[string]int64
}

// nodeLoad is one node with what is bound to it.
type nodeLoad struct {
	name          string
	ready         bool
	unschedulable bool
	labels        map[string]string
	runtimes      []string  // default first
	capacity      resources // limited only where has is true
	used          resources
	pods          int64 // non-terminal pods bound to it
}

// resources counts cpu in millicores, memory in bytes and pods.
type resources struct {
	cpu, memory, pods          int64
	hasCPU, hasMemory, hasPods bool
}

// NewPlacer takes every node and every non-terminal pod already bound to a
// node (spec.nodeName set). Terminal pods and pods of unknown nodes are
// ignored.
func NewPlacer(nodes []*api.Node, bound []*api.Pod) *Placer {
	p := &Placer{byName: make(map[string]*nodeLoad, len(nodes)), parsed: map[string]int64{}}
	for _, n := range nodes {
		name := n.GetMetadata().GetName()
		if _, dup := p.byName[name]; dup {
			continue
		}
		alloc := n.GetStatus().GetAllocatable()
		if len(alloc) == 0 {
			alloc = n.GetStatus().GetCapacity()
		}
		nl := &nodeLoad{
			name:          name,
			ready:         NodeReady(n),
			unschedulable: n.GetSpec().GetUnschedulable(),
			labels:        n.GetMetadata().GetLabels(),
			runtimes:      NodeRuntimes(n),
			capacity:      parseResources(alloc),
		}
		p.nodes = append(p.nodes, nl)
		p.byName[name] = nl
	}
	sort.Slice(p.nodes, func(i, j int) bool { return p.nodes[i].name < p.nodes[j].name })
	for _, pod := range bound {
		if n := p.byName[pod.GetSpec().GetNodeName()]; n != nil && !api.IsPodTerminal(pod) {
			n.add(p.requests(pod))
		}
	}
	return p
}

// Place returns the node chosen for pod, or "" and a Kubernetes-style
// reason such as "0/3 nodes are available: 1 node(s) didn't match Pod's
// node affinity/selector, 2 Insufficient cpu.". Among the nodes that fit it
// picks the one with the fewest pods, then the most free cpu, then the
// first name. A pod that already names its node keeps it.
func (p *Placer) Place(pod *api.Pod) (node string, reason string) {
	req := p.requests(pod)
	if name := pod.GetSpec().GetNodeName(); name != "" {
		if n := p.byName[name]; n != nil {
			n.add(req)
		}
		return name, ""
	}
	if len(p.nodes) == 0 {
		return "", noNodes
	}
	unfit := make(map[string]int)
	var best *nodeLoad
	for _, n := range p.nodes {
		if reasons := n.unfit(pod, req); len(reasons) > 0 {
			for _, r := range reasons {
				unfit[r]++
			}
			continue
		}
		if best == nil || n.preferredTo(best) {
			best = n
		}
	}
	if best == nil {
		return "", fitError(len(p.nodes), unfit)
	}
	best.add(req)
	return best.name, ""
}

// unfit lists why the node cannot take the pod, checking in the
// kube-scheduler's filter order and stopping at the first failing filter.
func (n *nodeLoad) unfit(pod *api.Pod, req resources) []string {
	if n.unschedulable {
		return []string{unfitUnschedulable}
	}
	if !n.ready {
		return []string{unfitNotReady}
	}
	for k, v := range pod.GetSpec().GetNodeSelector() {
		if got, ok := n.labels[k]; !ok || got != v {
			return []string{unfitSelector}
		}
	}
	if rt := api.PodRuntime(pod); !runsRuntime(n.runtimes, rt) {
		return []string{unfitRuntime(rt)}
	}
	var reasons []string
	c := n.capacity
	if c.hasPods && n.pods+1 > c.pods {
		reasons = append(reasons, unfitPods)
	}
	if c.hasCPU && req.cpu > 0 && req.cpu > c.cpu-n.used.cpu {
		reasons = append(reasons, unfitCPU)
	}
	if c.hasMemory && req.memory > 0 && req.memory > c.memory-n.used.memory {
		reasons = append(reasons, unfitMemory)
	}
	return reasons
}

func (n *nodeLoad) add(req resources) {
	n.pods++
	n.used.cpu += req.cpu
	n.used.memory += req.memory
}

// preferredTo spreads pods: fewer pods first, then more free cpu, then name.
func (n *nodeLoad) preferredTo(o *nodeLoad) bool {
	if n.pods != o.pods {
		return n.pods < o.pods
	}
	if nf, of := n.freeCPU(), o.freeCPU(); nf != of {
		return nf > of
	}
	return n.name < o.name
}

func (n *nodeLoad) freeCPU() int64 {
	if !n.capacity.hasCPU {
		return math.MaxInt64
	}
	return n.capacity.cpu - n.used.cpu
}

// fitError words a failed placement like the kube-scheduler's FitError:
// counted reasons, sorted as strings.
func fitError(nodes int, unfit map[string]int) string {
	counted := make([]string, 0, len(unfit))
	for r, c := range unfit {
		counted = append(counted, fmt.Sprintf("%d %s", c, r))
	}
	sort.Strings(counted)
	return fmt.Sprintf("0/%d nodes are available: %s.", nodes, strings.Join(counted, ", "))
}

// NodeReady tells whether a Node's Ready condition is True.
func NodeReady(n *api.Node) bool {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == api.NodeReady {
			return c.GetStatus() == api.ConditionTrue
		}
	}
	return false
}

// parseResources reads a node's cpu, memory and pods; a missing or
// unreadable entry leaves that resource unlimited.
func parseResources(m map[string]string) resources {
	var r resources
	var err error
	r.cpu, err = api.ParseCPUMillis(m["cpu"])
	r.hasCPU = err == nil
	r.memory, err = api.ParseBytes(m["memory"])
	r.hasMemory = err == nil
	r.pods, err = api.ParseBytes(m["pods"])
	r.hasPods = err == nil
	return r
}

// requests sums the containers' requests; a container without a request
// for a resource but with a limit requests its limit, as in Kubernetes.
// Unreadable quantities count as zero. Each distinct quantity is read
// once per pass.
func (p *Placer) requests(pod *api.Pod) resources {
	var r resources
	for _, c := range pod.GetSpec().GetContainers() {
		get := func(name string) string {
			if q, ok := c.GetResources().GetRequests()[name]; ok {
				return q
			}
			return c.GetResources().GetLimits()[name]
		}
		r.cpu = saturatingAdd(r.cpu, p.quantity("cpu", get("cpu"), api.ParseCPUMillis))
		r.memory = saturatingAdd(r.memory, p.quantity("memory", get("memory"), api.ParseBytes))
	}
	return r
}

// quantity parses q of a resource once per pass; a quantity that does not
// parse counts as zero.
func (p *Placer) quantity(resource, q string, parse func(string) (int64, error)) int64 {
	if q == "" {
		return 0
	}
	key := resource + "=" + q
	n, ok := p.parsed[key]
	if !ok {
		n, _ = parse(q)
		p.parsed[key] = n
	}
	return n
}

func saturatingAdd(a, b int64) int64 {
	if a > math.MaxInt64-b {
		return math.MaxInt64
	}
	return a + b
}

// NodeLoad is what a node offers pods and what its unfinished pods
// request: cpu in millicores, memory in bytes, and pods. An offer the node
// does not state is zero.
type NodeLoad struct {
	Name                         string
	Ready                        bool
	CPUMillis, MemoryBytes, Pods int64
	UsedCPUMillis, UsedMemory    int64
	UsedPods                     int64
}

// Loads reports every node's offer and use as the placer sees them, by
// name.
func (p *Placer) Loads() []NodeLoad {
	out := make([]NodeLoad, len(p.nodes))
	for i, n := range p.nodes {
		out[i] = NodeLoad{
			Name: n.name, Ready: n.ready,
			CPUMillis: n.capacity.cpu, MemoryBytes: n.capacity.memory, Pods: n.capacity.pods,
			UsedCPUMillis: n.used.cpu, UsedMemory: n.used.memory, UsedPods: n.pods,
		}
	}
	return out
}

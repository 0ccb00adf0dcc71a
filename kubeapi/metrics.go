package kubeapi

import (
	"context"
	"fmt"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jobcluster/jobcluster/api"
)

// The metrics.k8s.io kinds are answered from the agents' measurements
// (the Top call), as metrics-server answers them, so kubectl top works.
const (
	podMetrics  = "podmetrics"
	nodeMetrics = "nodemetrics"
)

// metricsKind says whether k is one of the metrics.k8s.io kinds.
func (k kind) metricsKind() bool { return k.service == podMetrics || k.service == nodeMetrics }

// usageJSON is a ResourceList of usage in Kubernetes' quantities.
func usageJSON(cpuMillis, memBytes int64) map[string]string {
	return map[string]string{"cpu": fmt.Sprintf("%dm", cpuMillis), "memory": fmt.Sprintf("%dKi", memBytes/1024)}
}

type metricsItem struct {
	Metadata   metav1.ObjectMeta `json:"metadata"`
	Timestamp  metav1.Time       `json:"timestamp"`
	Window     metav1.Duration   `json:"window"`
	Usage      map[string]string `json:"usage,omitempty"`
	Containers []containerUsage  `json:"containers,omitempty"`
}

type containerUsage struct {
	Name  string            `json:"name"`
	Usage map[string]string `json:"usage"`
}

// metrics answers a get or list of PodMetrics or NodeMetrics. A pod's
// usage is measured for the whole pod: it is given as its first
// container's.
func (h *Handler) metrics(ctx context.Context, w http.ResponseWriter, r *http.Request, k kind, req apiPath) {
	top := &api.TopRequest{Kind: "nodes", Name: req.name, LabelSelector: r.URL.Query().Get("labelSelector")}
	if k.service == podMetrics {
		top.Kind = "pods"
		top.Namespace = req.namespace
		top.AllNamespaces = req.namespace == ""
	}
	resp, err := h.c.Top(ctx, top)
	if err != nil {
		writeStatus(w, statusFor(err, k.resource(), req.name))
		return
	}
	var items []metricsItem
	for _, n := range resp.GetNodes() {
		ts := metav1.NewTime(n.GetTimestamp().AsTime())
		window := metav1.Duration{Duration: time.Duration(n.GetWindowMillis()) * time.Millisecond}
		if k.service == nodeMetrics {
			items = append(items, metricsItem{Metadata: metav1.ObjectMeta{Name: n.GetNode(), CreationTimestamp: metav1.Now()},
				Timestamp: ts, Window: window, Usage: usageJSON(n.GetCpuMillicores(), n.GetMemoryBytes())})
			continue
		}
		for _, p := range n.GetPods() {
			container := p.GetName()
			if pod, err := h.c.Get(ctx, &api.GetRequest{Kind: "pod", Name: p.GetName(), Namespace: api.NamespaceOr(p.GetNamespace())}); err == nil {
				if cs := pod.GetPod().GetSpec().GetContainers(); len(cs) > 0 {
					container = cs[0].GetName()
				}
			}
			items = append(items, metricsItem{
				Metadata:   metav1.ObjectMeta{Name: p.GetName(), Namespace: api.NamespaceOr(p.GetNamespace()), CreationTimestamp: metav1.Now()},
				Timestamp:  ts,
				Window:     window,
				Containers: []containerUsage{{Name: container, Usage: usageJSON(p.GetCpuMillicores(), p.GetMemoryBytes())}},
			})
		}
	}
	kindName := map[string]string{podMetrics: "PodMetrics", nodeMetrics: "NodeMetrics"}[k.service]
	if req.name != "" {
		if len(items) == 0 {
			writeStatus(w, failure(http.StatusNotFound, metav1.StatusReasonNotFound,
				fmt.Sprintf("%s.metrics.k8s.io %q not found", k.plural, req.name)))
			return
		}
		writeJSON(w, http.StatusOK, struct {
			Kind       string `json:"kind"`
			APIVersion string `json:"apiVersion"`
			metricsItem
		}{kindName, "metrics.k8s.io/v1beta1", items[0]})
		return
	}
	if items == nil {
		items = []metricsItem{}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind": kindName + "List", "apiVersion": "metrics.k8s.io/v1beta1",
		"metadata": map[string]any{}, "items": items,
	})
}

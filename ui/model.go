package ui

import (
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// Job states, as the STATUS column of `jobcluster get jobs` names them.
const (
	stateRunning   = "Running"
	stateComplete  = "Complete"
	stateFailed    = "Failed"
	stateSuspended = "Suspended"
)

// jobStates are the states the Jobs page filters by, in display order.
var jobStates = []string{stateRunning, stateComplete, stateFailed, stateSuspended}

// jobRow is one Job as the pages show it.
type jobRow struct {
	Namespace string
	Name      string
	State     string
	Suspended bool
	// Finished is set once the Job is Complete or Failed; it can then no
	// longer be suspended or resumed.
	Finished bool
	// Succeeded, Failed and Active count pods; Want is the completions
	// the Job needs (1 without spec.completions).
	Succeeded, Failed, Active, Want int32
	Completions                     string
	// Progress is the share of Want that succeeded, 0 to 100; the other
	// percentages size the bar's segments.
	Progress                           int64
	SucceededPct, FailedPct, ActivePct int64
	Started                            bool
	Duration                           time.Duration
	Created                            time.Time
	Labels                             []string
	CronJob                            string
	// summary is what the row is ordered by (api.CompareJobs).
	summary api.JobSummary
}

func newJobRow(j *api.Job, now time.Time) jobRow {
	sum := api.SummarizeJob(j)
	r := jobRow{
		Namespace: sum.Namespace,
		Name:      sum.Name,
		State:     sum.State.String(),
		Suspended: j.GetSpec().GetSuspend(),
		Succeeded: sum.Succeeded, Failed: sum.Failed, Active: sum.Active,
		Want:     sum.Want,
		Progress: sum.Progress(),
		Created:  asTime(j.GetMetadata().GetCreationTimestamp()),
		Labels:   labelList(j.GetMetadata().GetLabels()),
		Started:  sum.Started != 0,
		Duration: sum.Duration(now),
		summary:  sum,
	}
	r.Finished = sum.State == api.JobStateComplete || sum.State == api.JobStateFailed
	r.Completions = fmt.Sprintf("%d/%d", r.Succeeded, r.Want)
	// The bar is as wide as the larger of what the Job needs and what its
	// pods amount to, so failures and active pods show beside successes.
	whole := max(int64(r.Want), int64(r.Succeeded)+int64(r.Failed)+int64(r.Active), 1)
	r.SucceededPct = min(int64(r.Succeeded), int64(r.Want)) * 100 / whole
	if r.State == stateComplete {
		r.SucceededPct = max(r.SucceededPct, 100-int64(r.Failed)*100/whole)
	}
	r.FailedPct = int64(r.Failed) * 100 / whole
	r.ActivePct = int64(r.Active) * 100 / whole
	for _, o := range j.GetMetadata().GetOwnerReferences() {
		if o.GetKind() == api.CronJobResource.Kind {
			r.CronJob = o.GetName()
		}
	}
	return r
}

// podRow is one pod of a Job.
type podRow struct {
	Name      string
	Node      string
	Phase     string
	Status    string
	Restarts  int32
	ExitCodes string
	Started   time.Time
	Created   time.Time
}

func newPodRow(p *api.Pod) podRow {
	st := p.GetStatus()
	r := podRow{
		Name:    p.GetMetadata().GetName(),
		Node:    p.GetSpec().GetNodeName(),
		Phase:   st.GetPhase(),
		Status:  podStatus(p),
		Started: asTime(st.GetStartTime()),
		Created: asTime(p.GetMetadata().GetCreationTimestamp()),
	}
	var codes []string
	for _, cs := range st.GetContainerStatuses() {
		r.Restarts += cs.GetRestartCount()
		if t := cs.GetLastState().GetTerminated(); t != nil {
			codes = append(codes, fmt.Sprint(t.GetExitCode()))
		}
		if t := cs.GetState().GetTerminated(); t != nil {
			codes = append(codes, fmt.Sprint(t.GetExitCode()))
		}
	}
	r.ExitCodes = strings.Join(codes, ", ")
	return r
}

// podStatus is the pod's phase, replaced by the reason the cluster or its
// container gave, as the STATUS column of `get pods` shows it.
func podStatus(p *api.Pod) string {
	st := p.GetStatus()
	reason := st.GetPhase()
	if st.GetReason() != "" {
		reason = st.GetReason()
	}
	for _, cs := range st.GetContainerStatuses() {
		switch state := cs.GetState(); {
		case state.GetWaiting().GetReason() != "":
			reason = state.GetWaiting().GetReason()
		case state.GetTerminated().GetReason() != "":
			reason = state.GetTerminated().GetReason()
		}
	}
	if st.GetPhase() == api.PodFailed && st.GetReason() != "" {
		reason = st.GetReason()
	}
	if p.GetMetadata().GetDeletionTimestamp() != nil && !api.IsPodTerminal(p) {
		reason = "Terminating"
	}
	if reason == "" {
		reason = api.PodPending
	}
	return reason
}

var podColumns = columns[podRow]{
	"name":     byString(func(r podRow) string { return r.Name }),
	"node":     byString(func(r podRow) string { return r.Node }),
	"status":   byString(func(r podRow) string { return r.Status }),
	"restarts": byInt(func(r podRow) int32 { return r.Restarts }),
	"exit":     byString(func(r podRow) string { return r.ExitCodes }),
	"started":  byTime(func(r podRow) time.Time { return r.Started }),
}

// eventRow is one event.
type eventRow struct {
	Last    time.Time
	Type    string
	Reason  string
	Object  string
	Link    string
	Message string
	Count   int32
}

func newEventRow(e *api.Event) eventRow {
	last := asTime(e.GetLastTimestamp())
	if last.IsZero() {
		last = asTime(e.GetFirstTimestamp())
	}
	ref := e.GetInvolvedObject()
	r := eventRow{
		Last: last, Type: e.GetType(), Reason: e.GetReason(), Message: e.GetMessage(), Count: e.GetCount(),
		Object: strings.ToLower(ref.GetKind()) + "/" + ref.GetName(),
	}
	switch ref.GetKind() {
	case api.JobResource.Kind:
		r.Link = Prefix + "jobs/" + url.PathEscape(ref.GetName())
	case api.CronJobResource.Kind:
		r.Link = Prefix + "cronjobs/" + url.PathEscape(ref.GetName())
	case api.NodeResource.Kind:
		r.Link = Prefix + "nodes"
	}
	return r
}

var eventColumns = columns[eventRow]{
	"last":    byTime(func(r eventRow) time.Time { return r.Last }),
	"type":    byString(func(r eventRow) string { return r.Type }),
	"reason":  byString(func(r eventRow) string { return r.Reason }),
	"object":  byString(func(r eventRow) string { return r.Object }),
	"message": byString(func(r eventRow) string { return r.Message }),
}

// eventRows turns listed events into rows.
func eventRows(objs []*api.Object) []eventRow {
	rows := make([]eventRow, 0, len(objs))
	for _, o := range objs {
		if e := o.GetEvent(); e != nil {
			rows = append(rows, newEventRow(e))
		}
	}
	return rows
}

// conditionRow is one condition of a Job or node.
type conditionRow struct {
	Type, Status, Reason, Message string
	Changed                       time.Time
}

var conditionColumns = columns[conditionRow]{
	"type":    byString(func(r conditionRow) string { return r.Type }),
	"status":  byString(func(r conditionRow) string { return r.Status }),
	"reason":  byString(func(r conditionRow) string { return r.Reason }),
	"changed": byTime(func(r conditionRow) time.Time { return r.Changed }),
}

// nodeRow is one agent's node with what is bound to it.
type nodeRow struct {
	Name   string
	Ready  string
	Labels []string
	// CPU in millicores and memory in bytes: requested by the pods
	// running there, and allocatable.
	CPUUsed, CPUAlloc int64
	MemUsed, MemAlloc int64
	Pods              []nodePod
	PodCap            int64
	Unschedulable     bool
}

// nodePod is a pod running on a node, with its Job.
type nodePod struct {
	Namespace, Name, Job, Status string
}

func newNodeRow(n *api.Node, pods []*api.Pod) nodeRow {
	alloc := n.GetStatus().GetAllocatable()
	if len(alloc) == 0 {
		alloc = n.GetStatus().GetCapacity()
	}
	r := nodeRow{
		Name:          n.GetMetadata().GetName(),
		Ready:         nodeReady(n),
		Labels:        labelList(n.GetMetadata().GetLabels()),
		Unschedulable: n.GetSpec().GetUnschedulable(),
	}
	r.CPUAlloc, _ = api.ParseCPUMillis(alloc["cpu"])
	r.MemAlloc, _ = api.ParseBytes(alloc["memory"])
	fmt.Sscan(alloc["pods"], &r.PodCap)
	for _, p := range pods {
		if p.GetSpec().GetNodeName() != r.Name || api.IsPodTerminal(p) {
			continue
		}
		cpu, mem := api.PodRequests(p.GetSpec())
		r.CPUUsed += cpu
		r.MemUsed += mem
		r.Pods = append(r.Pods, nodePod{Namespace: api.NamespaceOf(p.GetMetadata()), Name: p.GetMetadata().GetName(), Job: p.GetMetadata().GetLabels()[api.LabelJobName], Status: podStatus(p)})
	}
	return r
}

// nodeReady is Ready or NotReady from the node's Ready condition, Unknown
// without one.
func nodeReady(n *api.Node) string {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == api.NodeReady {
			if c.GetStatus() == api.ConditionTrue {
				return "Ready"
			}
			return "NotReady"
		}
	}
	return "Unknown"
}

var nodeColumns = columns[nodeRow]{
	"name":   byString(func(r nodeRow) string { return r.Name }),
	"ready":  byString(func(r nodeRow) string { return r.Ready }),
	"cpu":    byInt(func(r nodeRow) int64 { return share(r.CPUUsed, r.CPUAlloc) }),
	"memory": byInt(func(r nodeRow) int64 { return share(r.MemUsed, r.MemAlloc) }),
	"pods":   byInt(func(r nodeRow) int64 { return int64(len(r.Pods)) }),
}

// share is part as a percentage of whole, 0 when whole is unknown.
func share(part, whole int64) int64 {
	if whole <= 0 {
		return 0
	}
	return part * 100 / whole
}

// labelList writes labels as sorted "key=value" strings.
func labelList(labels map[string]string) []string {
	out := make([]string, 0, len(labels))
	for k, v := range labels {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

func asTime(ts *timestamppb.Timestamp) time.Time {
	if ts == nil {
		return time.Time{}
	}
	return ts.AsTime()
}

// formatMillicores writes CPU as Kubernetes quantities do: "2", "500m".
func formatMillicores(m int64) string {
	if m%1000 == 0 {
		return fmt.Sprint(m / 1000)
	}
	return fmt.Sprintf("%dm", m)
}

// formatBytes writes a byte count for people: "512Mi", "23.5Gi".
func formatBytes(b int64) string {
	units := []string{"", "Ki", "Mi", "Gi", "Ti", "Pi"}
	v, i := float64(b), 0
	for v >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	if v == float64(int64(v)) {
		return fmt.Sprintf("%d%s", int64(v), units[i])
	}
	return fmt.Sprintf("%.1f%s", v, units[i])
}

package main

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// Labels and annotations the node table reads.
const (
	labelNodeVersion  = "jobcluster.io/version"
	labelNodeRoleBase = "node-role.kubernetes.io/"
	// annotationRuntimes lists a node's runtimes, its default first; the
	// node controller (scheduler.RuntimesAnnotation) writes it.
	annotationRuntimes = "jobcluster.io/runtimes"
)

// printer is how "get" lays out one kind of object as a table.
type printer struct {
	// header names the columns; wide the extra ones of -o wide.
	header, wide []string
	// row is one object's cells, with the wide ones when asked.
	row func(obj *api.Object, now time.Time, wide bool) []string
}

// printers holds the table of every kind "get" lists, with kubectl's columns.
var printers = map[*api.Resource]printer{
	api.JobResource: {
		header: []string{"NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"},
		wide:   []string{"CONTAINERS", "IMAGES", "SELECTOR"},
		row:    func(o *api.Object, now time.Time, wide bool) []string { return jobRow(o.GetJob(), now, wide) },
	},
	api.PodResource: {
		header: []string{"NAME", "READY", "STATUS", "RESTARTS", "AGE"},
		wide:   []string{"IP", "NODE"},
		row:    func(o *api.Object, now time.Time, wide bool) []string { return podRow(o.GetPod(), now, wide) },
	},
	api.CronJobResource: {
		header: []string{"NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST SCHEDULE", "AGE"},
		wide:   []string{"CONTAINERS", "IMAGES", "SELECTOR"},
		row:    func(o *api.Object, now time.Time, wide bool) []string { return cronJobRow(o.GetCronJob(), now, wide) },
	},
	api.NodeResource: {
		header: []string{"NAME", "STATUS", "ROLES", "AGE", "VERSION"},
		wide:   []string{"INTERNAL-IP", "CONTAINER-RUNTIME"},
		row:    func(o *api.Object, now time.Time, wide bool) []string { return nodeRow(o.GetNode(), now, wide) },
	},
	api.ConfigMapResource: {
		header: []string{"NAME", "DATA", "AGE"},
		row:    func(o *api.Object, now time.Time, _ bool) []string { return configMapRow(o.GetConfigMap(), now) },
	},
	api.SecretResource: {
		header: []string{"NAME", "TYPE", "DATA", "AGE"},
		row:    func(o *api.Object, now time.Time, _ bool) []string { return secretRow(o.GetSecret(), now) },
	},
	api.EventResource: {
		header: []string{"LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"},
		row:    func(o *api.Object, now time.Time, _ bool) []string { return eventRow(o.GetEvent(), now) },
	},
}

// table lays out objects of one resource as kubectl's "get" does. Objects
// of another kind are left out.
func table(r *api.Resource, objs []*api.Object, now time.Time, wide bool) (header []string, rows [][]string) {
	p := printers[r]
	header = p.header
	if wide {
		header = append(slices.Clip(header), p.wide...)
	}
	for _, obj := range objs {
		if api.ResourceOf(obj) != r || p.row == nil {
			continue
		}
		rows = append(rows, p.row(obj, now, wide))
	}
	return header, rows
}

func jobRow(j *api.Job, now time.Time, wide bool) []string {
	row := []string{j.GetMetadata().GetName(), jobStatus(j), jobCompletions(j), jobDuration(j, now), age(j.GetMetadata().GetCreationTimestamp(), now)}
	if wide {
		names, images := containerCells(j.GetSpec().GetTemplate().GetSpec().GetContainers())
		row = append(row, names, images, formatSelector(j.GetSpec().GetSelector()))
	}
	return row
}

// jobStatus is the STATUS column of a Job, with kubectl 1.31's precedence.
func jobStatus(j *api.Job) string {
	st := j.GetStatus()
	switch {
	case api.JobConditionTrue(st, api.JobComplete):
		return "Complete"
	case api.JobConditionTrue(st, api.JobFailed):
		return "Failed"
	case j.GetMetadata().GetDeletionTimestamp() != nil:
		return "Terminating"
	case api.JobConditionTrue(st, api.JobSuspended):
		return "Suspended"
	case api.JobConditionTrue(st, api.JobFailureTarget):
		return "FailureTarget"
	case api.JobConditionTrue(st, api.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	default:
		return "Running"
	}
}

// jobCompletions is the COMPLETIONS column: succeeded of the completions
// wanted, or of one when only parallelism is set (a work queue).
func jobCompletions(j *api.Job) string {
	succeeded := j.GetStatus().GetSucceeded()
	if completions, set := api.JobCompletions(j); set {
		return fmt.Sprintf("%d/%d", succeeded, completions)
	}
	if p := j.GetSpec().GetParallelism(); p > 1 {
		return fmt.Sprintf("%d/1 of %d", succeeded, p)
	}
	return fmt.Sprintf("%d/1", succeeded)
}

// jobDuration is how long the Job ran, or has been running; empty before it
// started.
func jobDuration(j *api.Job, now time.Time) string {
	st := j.GetStatus()
	switch {
	case st.GetStartTime() == nil:
		return ""
	case st.GetCompletionTime() == nil:
		return humanDuration(now.Sub(st.GetStartTime().AsTime()))
	default:
		return humanDuration(st.GetCompletionTime().AsTime().Sub(st.GetStartTime().AsTime()))
	}
}

func cronJobRow(cj *api.CronJob, now time.Time, wide bool) []string {
	spec := cj.GetSpec()
	if spec == nil {
		spec = &api.CronJobSpec{}
	}
	timeZone := "<none>"
	if spec.TimeZone != nil {
		timeZone = spec.GetTimeZone()
	}
	suspend := "<unset>"
	if spec.Suspend != nil {
		suspend = boolWord(spec.GetSuspend())
	}
	lastSchedule := "<none>"
	if t := cj.GetStatus().GetLastScheduleTime(); t != nil {
		lastSchedule = age(t, now)
	}
	row := []string{cj.GetMetadata().GetName(), spec.GetSchedule(), timeZone, suspend,
		fmt.Sprint(len(cj.GetStatus().GetActive())), lastSchedule, age(cj.GetMetadata().GetCreationTimestamp(), now)}
	if wide {
		names, images := containerCells(spec.GetJobTemplate().GetSpec().GetTemplate().GetSpec().GetContainers())
		row = append(row, names, images, formatSelector(spec.GetJobTemplate().GetSpec().GetSelector()))
	}
	return row
}

func nodeRow(n *api.Node, now time.Time, wide bool) []string {
	version := n.GetMetadata().GetLabels()[labelNodeVersion]
	if version == "" {
		version = "<none>"
	}
	row := []string{n.GetMetadata().GetName(), nodeStatus(n), nodeRoles(n), age(n.GetMetadata().GetCreationTimestamp(), now), version}
	if wide {
		row = append(row, nodeInternalIP(n), nodeRuntime(n))
	}
	return row
}

// nodeRuntime is the node's container runtime version, as kubectl shows
// it (docker://20.10.24), followed by the runtimes the agent runs when it
// runs more than one; <unknown> for an agent that advertises none.
func nodeRuntime(n *api.Node) string {
	version := n.GetStatus().GetNodeInfo().GetContainerRuntimeVersion()
	runtimes := n.GetMetadata().GetAnnotations()[annotationRuntimes]
	switch {
	case version == "" && runtimes == "":
		return "<unknown>"
	case version == "":
		return runtimes
	case runtimes == "" || !strings.Contains(runtimes, ","):
		return version
	}
	return version + " (" + runtimes + ")"
}

// nodeStatus is Ready or NotReady from the Ready condition, Unknown without
// one, with SchedulingDisabled added for a cordoned node.
func nodeStatus(n *api.Node) string {
	status := "Unknown"
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() != api.NodeReady {
			continue
		}
		status = "NotReady"
		if c.GetStatus() == api.ConditionTrue {
			status = "Ready"
		}
	}
	if n.GetSpec().GetUnschedulable() {
		status += ",SchedulingDisabled"
	}
	return status
}

// nodeRoles reads roles from node-role.kubernetes.io/ROLE labels.
func nodeRoles(n *api.Node) string {
	var roles []string
	for k := range n.GetMetadata().GetLabels() {
		if role, ok := strings.CutPrefix(k, labelNodeRoleBase); ok && role != "" {
			roles = append(roles, role)
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	sort.Strings(roles)
	return strings.Join(roles, ",")
}

func nodeInternalIP(n *api.Node) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == "InternalIP" {
			return a.GetAddress()
		}
	}
	return "<none>"
}

func eventRow(e *api.Event, now time.Time) []string {
	last := e.GetLastTimestamp()
	if last == nil {
		last = e.GetFirstTimestamp()
	}
	involved := e.GetInvolvedObject()
	return []string{age(last, now), e.GetType(), e.GetReason(),
		strings.ToLower(involved.GetKind()) + "/" + involved.GetName(), strings.TrimSpace(e.GetMessage())}
}

// containerCells lists container names and images, comma separated.
func containerCells(containers []*api.Container) (names, images string) {
	var n, i []string
	for _, c := range containers {
		n = append(n, c.GetName())
		i = append(i, c.GetImage())
	}
	return strings.Join(n, ","), strings.Join(i, ",")
}

// formatSelector writes a label selector as kubectl does
// ("app=x,tier in (a,b)"), "<none>" when empty.
func formatSelector(s *api.LabelSelector) string {
	var parts []string
	for k, v := range s.GetMatchLabels() {
		parts = append(parts, k+"="+v)
	}
	for _, e := range s.GetMatchExpressions() {
		values := append([]string(nil), e.GetValues()...)
		sort.Strings(values)
		switch e.GetOperator() {
		case "In":
			parts = append(parts, fmt.Sprintf("%s in (%s)", e.GetKey(), strings.Join(values, ",")))
		case "NotIn":
			parts = append(parts, fmt.Sprintf("%s notin (%s)", e.GetKey(), strings.Join(values, ",")))
		case "Exists":
			parts = append(parts, e.GetKey())
		case "DoesNotExist":
			parts = append(parts, "!"+e.GetKey())
		}
	}
	if len(parts) == 0 {
		return "<none>"
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}

func boolWord(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

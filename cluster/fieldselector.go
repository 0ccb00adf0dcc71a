package cluster

import (
	"fmt"
	"slices"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// fieldSelector is a parsed field selector as kubectl sends it: terms of
// `field=value`, `field==value` or `field!=value` joined by commas, all
// of which must hold.
type fieldSelector []fieldTerm

type fieldTerm struct {
	field, value string
	not          bool
}

// selectableFields are the fields each kind may be selected by, as in
// Kubernetes (metadata.name and metadata.namespace for every kind).
var selectableFields = map[*api.Resource][]string{
	api.JobResource:     {"status.successful"},
	api.CronJobResource: {},
	api.PodResource:     {"spec.nodeName", "status.phase", "spec.restartPolicy"},
	api.NodeResource:    {"spec.unschedulable"},
	api.EventResource: {"involvedObject.kind", "involvedObject.name", "involvedObject.namespace",
		"involvedObject.uid", "reason", "type"},
}

// parseFieldSelector parses s for kind r; an empty s selects everything.
func parseFieldSelector(r *api.Resource, s string) (fieldSelector, error) {
	var sel fieldSelector
	for term := range strings.SplitSeq(s, ",") {
		term = strings.TrimSpace(term)
		if term == "" {
			continue
		}
		var t fieldTerm
		var ok bool
		if t.field, t.value, ok = strings.Cut(term, "!="); ok {
			t.not = true
		} else if t.field, t.value, ok = strings.Cut(term, "=="); !ok {
			if t.field, t.value, ok = strings.Cut(term, "="); !ok {
				return nil, fmt.Errorf("invalid field selector %q: want field=value, field==value or field!=value", term)
			}
		}
		t.field = strings.TrimSpace(t.field)
		t.value = strings.TrimSpace(t.value)
		if t.field != "metadata.name" && t.field != "metadata.namespace" && !slices.Contains(selectableFields[r], t.field) {
			return nil, fmt.Errorf("field label not supported: %s (%s can be selected by metadata.name, metadata.namespace%s)",
				t.field, r.Plural, fieldList(selectableFields[r]))
		}
		sel = append(sel, t)
	}
	return sel, nil
}

func fieldList(fields []string) string {
	if len(fields) == 0 {
		return ""
	}
	return ", " + strings.Join(fields, ", ")
}

// liveOnly reports whether the selector keeps only pods that have not
// finished: it excludes both Succeeded and Failed, as kubectl describe
// node's "status.phase!=Succeeded,status.phase!=Failed" does, or asks
// for Pending or Running. node is the one a spec.nodeName term names,
// empty for any.
func (sel fieldSelector) liveOnly() (node string, ok bool) {
	var notSucceeded, notFailed bool
	for _, t := range sel {
		switch {
		case t.field == "spec.nodeName" && !t.not:
			node = t.value
		case t.field != "status.phase":
		case t.not && t.value == api.PodSucceeded:
			notSucceeded = true
		case t.not && t.value == api.PodFailed:
			notFailed = true
		case !t.not && (t.value == api.PodPending || t.value == api.PodRunning):
			notSucceeded, notFailed = true, true
		}
	}
	return node, notSucceeded && notFailed
}

// matches reports whether obj has every selected field value.
func (sel fieldSelector) matches(obj *api.Object) bool {
	for _, t := range sel {
		if (fieldValue(obj, t.field) == t.value) == t.not {
			return false
		}
	}
	return true
}

// fieldValue is one selectable field of obj as a string.
func fieldValue(obj *api.Object, field string) string {
	meta := api.MetadataOf(obj)
	switch field {
	case "metadata.name":
		return meta.GetName()
	case "metadata.namespace":
		if obj.GetNode() != nil {
			return ""
		}
		return api.NamespaceOf(meta)
	}
	switch o := obj.GetKind().(type) {
	case *api.Object_Job:
		if field == "status.successful" {
			return fmt.Sprint(o.Job.GetStatus().GetSucceeded())
		}
	case *api.Object_Pod:
		switch field {
		case "spec.nodeName":
			return o.Pod.GetSpec().GetNodeName()
		case "status.phase":
			return o.Pod.GetStatus().GetPhase()
		case "spec.restartPolicy":
			return o.Pod.GetSpec().GetRestartPolicy()
		}
	case *api.Object_Node:
		if field == "spec.unschedulable" {
			return fmt.Sprint(o.Node.GetSpec().GetUnschedulable())
		}
	case *api.Object_Event:
		ref := o.Event.GetInvolvedObject()
		switch field {
		case "involvedObject.kind":
			return ref.GetKind()
		case "involvedObject.name":
			return ref.GetName()
		case "involvedObject.namespace":
			return ref.GetNamespace()
		case "involvedObject.uid":
			return ref.GetUid()
		case "reason":
			return o.Event.GetReason()
		case "type":
			return o.Event.GetType()
		}
	}
	return ""
}

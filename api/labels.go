package api

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"
)

// Well-known labels and annotations, spelled as Kubernetes spells them.
const (
	// LabelJobName carries a pod's Job name; LabelBatchJobName is set too.
	LabelJobName      = "job-name"
	LabelBatchJobName = "batch.kubernetes.io/job-name"
	// LabelControllerUID carries the owning Job's uid; LabelBatchControllerUID
	// is set too and is the one the Job's selector matches.
	LabelControllerUID      = "controller-uid"
	LabelBatchControllerUID = "batch.kubernetes.io/controller-uid"
	// LabelCompletionIndex is both a label and an annotation on the pods
	// of an Indexed Job.
	LabelCompletionIndex = "batch.kubernetes.io/job-completion-index"
	// AnnotationCronJobScheduledTimestamp is set on a Job made by a CronJob
	// to the scheduled time it was made for (RFC 3339).
	AnnotationCronJobScheduledTimestamp = "batch.kubernetes.io/cronjob-scheduled-timestamp"
	// AnnotationCronJobInstantiate is "manual" on a Job made by hand from a
	// CronJob's template.
	AnnotationCronJobInstantiate = "cronjob.kubernetes.io/instantiate"
)

// EnvCompletionIndex is the environment variable holding the completion
// index of a pod of an Indexed Job.
const EnvCompletionIndex = "JOB_COMPLETION_INDEX"

// Pod phases.
const (
	PodPending   = "Pending"
	PodRunning   = "Running"
	PodSucceeded = "Succeeded"
	PodFailed    = "Failed"
)

// Job condition types.
const (
	JobComplete           = "Complete"
	JobFailed             = "Failed"
	JobSuspended          = "Suspended"
	JobFailureTarget      = "FailureTarget"
	JobSuccessCriteriaMet = "SuccessCriteriaMet"
)

// Condition statuses.
const (
	ConditionTrue    = "True"
	ConditionFalse   = "False"
	ConditionUnknown = "Unknown"
)

// NodeReady is the type of a node's readiness condition.
const NodeReady = "Ready"

// PodScheduled is the type of the pod condition telling whether the pod is
// bound to a node.
const PodScheduled = "PodScheduled"

// Event types.
const (
	EventTypeNormal  = "Normal"
	EventTypeWarning = "Warning"
)

// Reasons of Job conditions and of pods' status.
const (
	// ReasonNodeLost is the reason of a pod that failed because its node died.
	ReasonNodeLost = "NodeLost"
	// ReasonBackoffLimitExceeded ends a Job whose pods failed too often.
	ReasonBackoffLimitExceeded = "BackoffLimitExceeded"
	// ReasonDeadlineExceeded ends a Job, or a pod, that ran longer than its
	// activeDeadlineSeconds.
	ReasonDeadlineExceeded = "DeadlineExceeded"
	// ReasonCompletionsReached completes a Job whose pods succeeded as often
	// as it asked.
	ReasonCompletionsReached = "CompletionsReached"
	// ReasonJobSuspended is the reason of a pod stopped because its Job was
	// suspended.
	ReasonJobSuspended = "JobSuspended"
	// ReasonUnschedulable is the reason of a pod's PodScheduled condition
	// while no node fits it.
	ReasonUnschedulable = "Unschedulable"
	// ReasonSuccessfulCreate is the reason of the event telling that a
	// controller created an object.
	ReasonSuccessfulCreate = "SuccessfulCreate"
)

// Completion modes and restart policies.
const (
	CompletionModeNonIndexed = "NonIndexed"
	CompletionModeIndexed    = "Indexed"
	RestartPolicyOnFailure   = "OnFailure"
	RestartPolicyNever       = "Never"
)

// MaxIndexedCompletions is the largest completions (and parallelism) an
// Indexed Job may have, as in Kubernetes.
const MaxIndexedCompletions = 100000

// KindOf returns the kind of the object inside obj ("Job", "CronJob",
// "Pod", "Node", "Event"), or "" when it holds none.
func KindOf(obj *Object) string {
	if r := ResourceOf(obj); r != nil {
		return r.Kind
	}
	return ""
}

// ResourceOf returns the Resource of the object inside obj, or nil when it
// holds none.
func ResourceOf(obj *Object) *Resource {
	switch obj.GetKind().(type) {
	case *Object_Job:
		return JobResource
	case *Object_CronJob:
		return CronJobResource
	case *Object_Pod:
		return PodResource
	case *Object_Node:
		return NodeResource
	case *Object_Event:
		return EventResource
	case *Object_ConfigMap:
		return ConfigMapResource
	case *Object_Secret:
		return SecretResource
	}
	return nil
}

// NameOf returns metadata.name of the object inside obj.
func NameOf(obj *Object) string { return MetadataOf(obj).GetName() }

// MetadataOf returns the metadata of the object inside obj (nil when it
// holds none).
func MetadataOf(obj *Object) *ObjectMeta {
	switch k := obj.GetKind().(type) {
	case *Object_Job:
		return k.Job.GetMetadata()
	case *Object_CronJob:
		return k.CronJob.GetMetadata()
	case *Object_Pod:
		return k.Pod.GetMetadata()
	case *Object_Node:
		return k.Node.GetMetadata()
	case *Object_Event:
		return k.Event.GetMetadata()
	case *Object_ConfigMap:
		return k.ConfigMap.GetMetadata()
	case *Object_Secret:
		return k.Secret.GetMetadata()
	}
	return nil
}

// MessageOf returns the object inside obj, or nil when it holds none.
func MessageOf(obj *Object) proto.Message {
	switch k := obj.GetKind().(type) {
	case *Object_Job:
		return k.Job
	case *Object_CronJob:
		return k.CronJob
	case *Object_Pod:
		return k.Pod
	case *Object_Node:
		return k.Node
	case *Object_Event:
		return k.Event
	case *Object_ConfigMap:
		return k.ConfigMap
	case *Object_Secret:
		return k.Secret
	}
	return nil
}

// FindJobCondition returns the condition of the given type, nil when absent.
func FindJobCondition(st *JobStatus, condType string) *JobCondition {
	for _, c := range st.GetConditions() {
		if c.GetType() == condType {
			return c
		}
	}
	return nil
}

// JobConditionTrue reports whether the condition of the given type has
// status True.
func JobConditionTrue(st *JobStatus, condType string) bool {
	return FindJobCondition(st, condType).GetStatus() == ConditionTrue
}

// JobFinished reports whether the Job has a Complete or Failed condition
// with status True, and which.
func JobFinished(j *Job) (condType string, finished bool) {
	for _, c := range j.GetStatus().GetConditions() {
		if (c.GetType() == JobComplete || c.GetType() == JobFailed) && c.GetStatus() == ConditionTrue {
			return c.GetType(), true
		}
	}
	return "", false
}

// IsPodTerminal reports whether the pod has reached Succeeded or Failed.
func IsPodTerminal(p *Pod) bool {
	phase := p.GetStatus().GetPhase()
	return phase == PodSucceeded || phase == PodFailed
}

// JobCompletions returns spec.completions and whether it is set.
func JobCompletions(j *Job) (int32, bool) {
	if j.GetSpec() == nil || j.GetSpec().Completions == nil {
		return 0, false
	}
	return *j.GetSpec().Completions, true
}

// JobParallelism returns spec.parallelism, 1 (the default) when unset.
func JobParallelism(j *Job) int32 {
	if j.GetSpec() == nil || j.GetSpec().Parallelism == nil {
		return 1
	}
	return *j.GetSpec().Parallelism
}

// FormatCompletedIndexes writes indexes the way status.completedIndexes
// holds them: "0-2,5,7-9". Runs of three or more become ranges, two
// neighbours stay a list ("1,2"), as in Kubernetes. Negative indexes are
// ignored; the input need not be sorted.
func FormatCompletedIndexes(indexes []int) string {
	sorted := slices.DeleteFunc(slices.Clone(indexes), func(i int) bool { return i < 0 })
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var b strings.Builder
	for i := 0; i < len(sorted); {
		first := sorted[i]
		j := i
		for j+1 < len(sorted) && sorted[j+1] == sorted[j]+1 {
			j++
		}
		i = j + 1
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		last := sorted[j]
		b.WriteString(strconv.Itoa(first))
		switch {
		case last == first+1:
			b.WriteString("," + strconv.Itoa(last))
		case last > first:
			b.WriteString("-" + strconv.Itoa(last))
		}
	}
	return b.String()
}

// ParseCompletedIndexes reads a status.completedIndexes string back into
// sorted indexes. Every index must be below MaxIndexedCompletions.
func ParseCompletedIndexes(s string) ([]int, error) {
	if s == "" {
		return nil, nil
	}
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := parseIndex(lo)
		if err != nil {
			return nil, fmt.Errorf("parse completed indexes %q: %w", s, err)
		}
		last := first
		if isRange {
			if last, err = parseIndex(hi); err != nil {
				return nil, fmt.Errorf("parse completed indexes %q: %w", s, err)
			}
		}
		if last < first || (len(out) > 0 && first <= out[len(out)-1]) {
			return nil, fmt.Errorf("parse completed indexes %q: %q is out of order", s, part)
		}
		for i := first; i <= last; i++ {
			out = append(out, i)
		}
	}
	return out, nil
}

func parseIndex(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n >= MaxIndexedCompletions || strings.HasPrefix(s, "+") {
		return 0, fmt.Errorf("invalid index %q", s)
	}
	return n, nil
}

// Kubernetes' name and label rules, with its messages.
var (
	dns1123LabelRE   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	qualifiedNameRE  = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	labelValueRE     = regexp.MustCompile(`^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$`)
	dns1123SubdomRE  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	envVarNameRE     = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
	dns1123LabelMsg  = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
	dns1123SubdomMsg = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
	qualifiedNameMsg = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
	labelValueMsg    = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
	envVarNameMsg    = "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)

// dns1123Label lists what is wrong with a DNS-1123 label (max 63).
func dns1123Label(s string) []string {
	var msgs []string
	if len(s) > 63 {
		msgs = append(msgs, "must be no more than 63 characters")
	}
	if !dns1123LabelRE.MatchString(s) {
		msgs = append(msgs, dns1123LabelMsg)
	}
	return msgs
}

// qualifiedName lists what is wrong with a label or annotation key:
// an optional DNS subdomain prefix and "/", then a name of at most 63.
func qualifiedName(s string) []string {
	var msgs []string
	name := s
	if prefix, rest, ok := strings.Cut(s, "/"); ok {
		name = rest
		switch {
		case prefix == "":
			msgs = append(msgs, "prefix part must be non-empty")
		case len(prefix) > 253:
			msgs = append(msgs, "prefix part must be no more than 253 characters")
		case !dns1123SubdomRE.MatchString(prefix):
			msgs = append(msgs, "prefix part "+dns1123SubdomMsg)
		}
	}
	switch {
	case name == "":
		msgs = append(msgs, "name part must be non-empty")
	case len(name) > 63:
		msgs = append(msgs, "name part must be no more than 63 characters")
	}
	if name != "" && !qualifiedNameRE.MatchString(name) {
		msgs = append(msgs, qualifiedNameMsg)
	}
	return msgs
}

// validateLabels checks label keys and values like Kubernetes.
func validateLabels(field string, labels map[string]string) []error {
	var errs []error
	for _, k := range sortedKeys(labels) {
		for _, msg := range qualifiedName(k) {
			errs = append(errs, invalid(field, k, msg))
		}
		v := labels[k]
		if len(v) > 63 {
			errs = append(errs, invalid(field, v, "must be no more than 63 characters"))
		}
		if !labelValueRE.MatchString(v) {
			errs = append(errs, invalid(field, v, labelValueMsg))
		}
	}
	return errs
}

// validateAnnotationKeys checks annotation keys; values are free text.
func validateAnnotationKeys(field string, annotations map[string]string) []error {
	var errs []error
	for _, k := range sortedKeys(annotations) {
		for _, msg := range qualifiedName(strings.ToLower(k)) {
			errs = append(errs, invalid(field, k, msg))
		}
	}
	return errs
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

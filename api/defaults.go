package api

import (
	"math"

	"google.golang.org/protobuf/proto"
)

// Default values Kubernetes gives to unset fields.
const (
	DefaultBackoffLimit                  = 6
	DefaultTerminationGracePeriodSeconds = 30
	DefaultSuccessfulJobsHistoryLimit    = 3
	DefaultFailedJobsHistoryLimit        = 1
)

// A CronJob's concurrency policies: Allow runs Jobs side by side, Forbid
// skips a run while the last Job is active, Replace stops it for the new.
const (
	ConcurrencyPolicyAllow   = "Allow"
	ConcurrencyPolicyForbid  = "Forbid"
	ConcurrencyPolicyReplace = "Replace"
)

// SetDefaults fills unset fields of a Job or CronJob the way Kubernetes'
// defaulting does. For a Job: completions and parallelism both 1 when both
// are unset, parallelism 1 when only it is unset (a work queue, with only
// parallelism, keeps completions unset), backoffLimit 6 (the largest
// int32 with backoffLimitPerIndex), podReplacementPolicy
// TerminatingOrFailed (Failed with a podFailurePolicy), onPodConditions
// status True, completionMode
// NonIndexed, suspend false, terminationGracePeriodSeconds 30, container
// requests taken from limits when unset, and the pod template labels
// job-name and batch.kubernetes.io/job-name. Once metadata.uid is set
// (by the server) and the selector is not manual, the selector matches
// batch.kubernetes.io/controller-uid and the template carries that label.
// For a CronJob: concurrencyPolicy Allow, suspend false, history limits 3
// and 1, and its job template's spec defaulted like a Job's. SetDefaults
// may be applied again; it changes nothing the second time.
func SetDefaults(obj *Object) {
	switch k := obj.GetKind().(type) {
	case *Object_Job:
		setJobDefaults(k.Job)
	case *Object_CronJob:
		setCronJobDefaults(k.CronJob)
	case *Object_ConfigMap:
		setConfigMapDefaults(k.ConfigMap)
	case *Object_Secret:
		setSecretDefaults(k.Secret)
	}
}

func setJobDefaults(j *Job) {
	if j == nil {
		return
	}
	if j.ApiVersion == "" {
		j.ApiVersion = "batch/v1"
	}
	if j.Kind == "" {
		j.Kind = "Job"
	}
	if j.Metadata == nil {
		j.Metadata = &ObjectMeta{}
	}
	if j.Spec == nil {
		j.Spec = &JobSpec{}
	}
	setJobSpecDefaults(j.Spec)
	tmpl := j.Spec.Template
	if tmpl.Metadata == nil {
		tmpl.Metadata = &ObjectMeta{}
	}
	if name := j.Metadata.Name; name != "" {
		setLabelIfAbsent(tmpl.Metadata, LabelJobName, name)
		setLabelIfAbsent(tmpl.Metadata, LabelBatchJobName, name)
	}
	uid := j.Metadata.Uid
	if uid == "" || j.Spec.GetManualSelector() {
		return
	}
	if j.Spec.Selector == nil {
		j.Spec.Selector = &LabelSelector{}
	}
	if j.Spec.Selector.MatchLabels == nil {
		j.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := j.Spec.Selector.MatchLabels[LabelBatchControllerUID]; !ok {
		j.Spec.Selector.MatchLabels[LabelBatchControllerUID] = uid
	}
	setLabelIfAbsent(tmpl.Metadata, LabelControllerUID, uid)
	setLabelIfAbsent(tmpl.Metadata, LabelBatchControllerUID, uid)
}

func setLabelIfAbsent(meta *ObjectMeta, key, value string) {
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	if _, ok := meta.Labels[key]; !ok {
		meta.Labels[key] = value
	}
}

func setJobSpecDefaults(spec *JobSpec) {
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = proto.Int32(1)
	}
	if spec.Parallelism == nil {
		spec.Parallelism = proto.Int32(1)
	}
	if spec.BackoffLimit == nil {
		// With a limit per index the Job-wide limit is off unless set.
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = proto.Int32(math.MaxInt32)
		} else {
			spec.BackoffLimit = proto.Int32(DefaultBackoffLimit)
		}
	}
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = proto.String(PodReplacementPolicyFailed)
		} else {
			spec.PodReplacementPolicy = proto.String(PodReplacementPolicyTerminatingOrFailed)
		}
	}
	for _, rule := range spec.GetPodFailurePolicy().GetRules() {
		for _, pattern := range rule.GetOnPodConditions() {
			if pattern.Status == "" {
				pattern.Status = "True"
			}
		}
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = proto.String(CompletionModeNonIndexed)
	}
	if spec.Suspend == nil {
		spec.Suspend = proto.Bool(false)
	}
	if spec.Template == nil {
		spec.Template = &PodTemplateSpec{}
	}
	if spec.Template.Spec == nil {
		spec.Template.Spec = &PodSpec{}
	}
	setPodSpecDefaults(spec.Template.Spec)
}

func setPodSpecDefaults(spec *PodSpec) {
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = proto.Int64(DefaultTerminationGracePeriodSeconds)
	}
	for _, c := range spec.Containers {
		limits := c.GetResources().GetLimits()
		for _, name := range sortedKeys(limits) {
			if _, ok := c.Resources.Requests[name]; ok {
				continue
			}
			if c.Resources.Requests == nil {
				c.Resources.Requests = map[string]string{}
			}
			c.Resources.Requests[name] = limits[name]
		}
	}
}

func setCronJobDefaults(c *CronJob) {
	if c == nil {
		return
	}
	if c.ApiVersion == "" {
		c.ApiVersion = "batch/v1"
	}
	if c.Kind == "" {
		c.Kind = "CronJob"
	}
	if c.Metadata == nil {
		c.Metadata = &ObjectMeta{}
	}
	if c.Spec == nil {
		c.Spec = &CronJobSpec{}
	}
	spec := c.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = ConcurrencyPolicyAllow
	}
	if spec.Suspend == nil {
		spec.Suspend = proto.Bool(false)
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = proto.Int32(DefaultSuccessfulJobsHistoryLimit)
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = proto.Int32(DefaultFailedJobsHistoryLimit)
	}
	if spec.JobTemplate == nil {
		spec.JobTemplate = &JobTemplateSpec{}
	}
	if spec.JobTemplate.Spec == nil {
		spec.JobTemplate.Spec = &JobSpec{}
	}
	setJobSpecDefaults(spec.JobTemplate.Spec)
}

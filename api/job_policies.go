package api

// The actions of a podFailurePolicy rule (Kubernetes' PodFailurePolicyAction).
const (
	// PodFailurePolicyActionFailJob fails the whole Job at once.
	PodFailurePolicyActionFailJob = "FailJob"
	// PodFailurePolicyActionFailIndex fails the pod's index of an Indexed
	// Job with backoffLimitPerIndex, without retrying it.
	PodFailurePolicyActionFailIndex = "FailIndex"
	// PodFailurePolicyActionIgnore replaces the pod without counting the
	// failure against any back-off limit.
	PodFailurePolicyActionIgnore = "Ignore"
	// PodFailurePolicyActionCount counts the failure, as if no rule matched.
	PodFailurePolicyActionCount = "Count"
)

// The operators of a podFailurePolicy rule's onExitCodes.
const (
	PodFailurePolicyOnExitCodesOpIn    = "In"
	PodFailurePolicyOnExitCodesOpNotIn = "NotIn"
)

// The values of a Job's spec.podReplacementPolicy.
const (
	// PodReplacementPolicyTerminatingOrFailed is the default without a
	// podFailurePolicy.
	PodReplacementPolicyTerminatingOrFailed = "TerminatingOrFailed"
	// PodReplacementPolicyFailed starts a replacement only once the pod it
	// replaces has fully stopped; the default with a podFailurePolicy.
	PodReplacementPolicyFailed = "Failed"
)

// JobControllerName is the one value of spec.managedBy jobcluster runs: its
// own job controller, which Kubernetes names so.
const JobControllerName = "kubernetes.io/job-controller"

// Annotations the job controller keeps on the pods of an Indexed Job with
// backoffLimitPerIndex: how many earlier pods of the same index failed and
// counted, and how many failed and were ignored by a podFailurePolicy rule.
const (
	AnnotationJobIndexFailureCount        = "batch.kubernetes.io/job-index-failure-count"
	AnnotationJobIndexIgnoredFailureCount = "batch.kubernetes.io/job-index-ignored-failure-count"
)

// PodDisruptionTarget is the pod condition Kubernetes sets on a pod that is
// being evicted or was lost with its node; a podFailurePolicy rule with
// onPodConditions matches it. jobcluster sets it on NodeLost pods.
const PodDisruptionTarget = "DisruptionTarget"

// Reasons of Job conditions added by the Job policies, as Kubernetes names
// them.
const (
	JobReasonPodFailurePolicy         = "PodFailurePolicy"
	JobReasonFailedIndexes            = "FailedIndexes"
	JobReasonMaxFailedIndexesExceeded = "MaxFailedIndexesExceeded"
	JobReasonSuccessPolicy            = "SuccessPolicy"
)

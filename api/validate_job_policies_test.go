package api

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
)

// indexedJob is validJob in Indexed mode.
func indexedJob(j *Job) {
	j.Spec.CompletionMode = proto.String(CompletionModeIndexed)
}

func exitCodes(op string, values ...int32) *PodFailurePolicyOnExitCodesRequirement {
	return &PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: values}
}

func withRules(rules ...*PodFailurePolicyRule) func(j *Job) {
	return func(j *Job) {
		j.Spec.PodFailurePolicy = &PodFailurePolicy{Rules: rules}
		j.Spec.PodReplacementPolicy = proto.String(PodReplacementPolicyFailed)
	}
}

func TestValidateJobPolicies(t *testing.T) {
	const pfp = "spec.podFailurePolicy.rules[0]"
	tests := []struct {
		name   string
		mutate []func(j *Job)
		want   []string
	}{
		{
			name: "a FailJob rule on exit code 42 and an Ignore rule on disruptions are valid",
			mutate: []func(j *Job){withRules(
				&PodFailurePolicyRule{Action: "FailJob", OnExitCodes: exitCodes("In", 42)},
				&PodFailurePolicyRule{Action: "Ignore", OnPodConditions: []*PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget", Status: "True"}}},
			)},
		},
		{
			name:   "podFailurePolicy requires restartPolicy Never",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "Count", OnExitCodes: exitCodes("In", 1)}), func(j *Job) { j.Spec.Template.Spec.RestartPolicy = "OnFailure" }},
			want:   []string{`spec.template.spec.restartPolicy: Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified`},
		},
		{
			name:   "an action is required",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{OnExitCodes: exitCodes("In", 1)})},
			want:   []string{pfp + `.action: Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]`},
		},
		{
			name:   "an unknown action is not supported",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "Retry", OnExitCodes: exitCodes("In", 1)})},
			want:   []string{pfp + `.action: Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"`},
		},
		{
			name:   "FailIndex needs backoffLimitPerIndex",
			mutate: []func(j *Job){indexedJob, withRules(&PodFailurePolicyRule{Action: "FailIndex", OnExitCodes: exitCodes("In", 1)})},
			want:   []string{pfp + `.action: Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set`},
		},
		{
			name:   "onExitCodes needs an operator In or NotIn",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "Count", OnExitCodes: exitCodes("", 1)}, &PodFailurePolicyRule{Action: "Count", OnExitCodes: exitCodes("Gt", 1)})},
			want: []string{
				pfp + `.onExitCodes.operator: Required value: valid values: ["In" "NotIn"]`,
				`spec.podFailurePolicy.rules[1].onExitCodes.operator: Unsupported value: "Gt": supported values: "In", "NotIn"`,
			},
		},
		{
			name:   "exit code 0 is not allowed with In",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "FailJob", OnExitCodes: exitCodes("In", 0, 1)})},
			want:   []string{pfp + `.onExitCodes.values[0]: Invalid value: 0: must not be 0 for the In operator`},
		},
		{
			name:   "exit codes must be unique and ordered",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "FailJob", OnExitCodes: exitCodes("NotIn", 3, 1, 3)})},
			want: []string{
				pfp + `.onExitCodes.values[2]: Duplicate value: 3`,
				pfp + `.onExitCodes.values: Invalid value: [3,1,3]: must be ordered`,
			},
		},
		{
			name:   "at least one exit code is required",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "FailJob", OnExitCodes: exitCodes("In")})},
			want:   []string{pfp + `.onExitCodes.values: Invalid value: []: at least one value is required`},
		},
		{
			name: "the container named must be in the template",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "FailJob", OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{
				ContainerName: proto.String("sidecar"), Operator: "In", Values: []int32{42}}})},
			want: []string{pfp + `.onExitCodes.containerName: Invalid value: "sidecar": must be one of the container or initContainer names in the pod template`},
		},
		{
			name: "a rule has exit codes or pod conditions, not both",
			mutate: []func(j *Job){withRules(
				&PodFailurePolicyRule{Action: "Ignore", OnExitCodes: exitCodes("In", 1), OnPodConditions: []*PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget", Status: "True"}}},
				&PodFailurePolicyRule{Action: "Ignore"},
			)},
			want: []string{
				pfp + `: Invalid value: specifying both OnExitCodes and OnPodConditions is not supported`,
				`spec.podFailurePolicy.rules[1]: Invalid value: specifying one of OnExitCodes and OnPodConditions is required`,
			},
		},
		{
			name: "pod condition patterns need a qualified type and a known status",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "Ignore", OnPodConditions: []*PodFailurePolicyOnPodConditionsPattern{
				{Type: "Disruption Target", Status: "True"}, {Type: "DisruptionTarget", Status: "Maybe"}}})},
			want: []string{
				pfp + `.onPodConditions[0].type: Invalid value: "Disruption Target": ` + qualifiedNameMsg,
				pfp + `.onPodConditions[1].status: Unsupported value: "Maybe": supported values: "False", "True", "Unknown"`,
			},
		},
		{
			name: "too many rules",
			mutate: []func(j *Job){func(j *Job) {
				rules := make([]*PodFailurePolicyRule, 21)
				for i := range rules {
					rules[i] = &PodFailurePolicyRule{Action: "Count", OnExitCodes: exitCodes("In", 1)}
				}
				withRules(rules...)(j)
			}},
			want: []string{`spec.podFailurePolicy.rules: Too many: 21: must have at most 20 items`},
		},
		{
			name:   "podReplacementPolicy must be Failed with a podFailurePolicy",
			mutate: []func(j *Job){withRules(&PodFailurePolicyRule{Action: "Count", OnExitCodes: exitCodes("In", 1)}), func(j *Job) { j.Spec.PodReplacementPolicy = proto.String("TerminatingOrFailed") }},
			want:   []string{`spec.podReplacementPolicy: Unsupported value: "TerminatingOrFailed": supported values: "Failed"`},
		},
		{
			name:   "podReplacementPolicy takes Failed or TerminatingOrFailed",
			mutate: []func(j *Job){func(j *Job) { j.Spec.PodReplacementPolicy = proto.String("Never") }},
			want:   []string{`spec.podReplacementPolicy: Unsupported value: "Never": supported values: "Failed", "TerminatingOrFailed"`},
		},
		{
			name: "backoffLimitPerIndex and maxFailedIndexes need Indexed",
			mutate: []func(j *Job){func(j *Job) {
				j.Spec.BackoffLimitPerIndex = proto.Int32(1)
				j.Spec.MaxFailedIndexes = proto.Int32(1)
			}},
			want: []string{
				`spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode`,
				`spec.maxFailedIndexes: Invalid value: 1: requires indexed completion mode`,
			},
		},
		{
			name:   "maxFailedIndexes needs backoffLimitPerIndex",
			mutate: []func(j *Job){indexedJob, func(j *Job) { j.Spec.MaxFailedIndexes = proto.Int32(1) }},
			want:   []string{`spec.backoffLimitPerIndex: Required value: when maxFailedIndexes is specified`},
		},
		{
			name: "maxFailedIndexes is at most completions",
			mutate: []func(j *Job){indexedJob, func(j *Job) {
				j.Spec.BackoffLimitPerIndex = proto.Int32(1)
				j.Spec.MaxFailedIndexes = proto.Int32(6)
			}},
			want: []string{`spec.maxFailedIndexes: Invalid value: 6: must be less than or equal to completions`},
		},
		{
			name: "negative limits per index",
			mutate: []func(j *Job){indexedJob, func(j *Job) {
				j.Spec.BackoffLimitPerIndex = proto.Int32(-1)
				j.Spec.MaxFailedIndexes = proto.Int32(-1)
			}},
			want: []string{
				`spec.backoffLimitPerIndex: Invalid value: -1: must be greater than or equal to 0`,
				`spec.maxFailedIndexes: Invalid value: -1: must be greater than or equal to 0`,
			},
		},
		{
			name: "successPolicy needs Indexed",
			mutate: []func(j *Job){func(j *Job) {
				j.Spec.SuccessPolicy = &SuccessPolicy{Rules: []*SuccessPolicyRule{{SucceededCount: proto.Int32(1)}}}
			}},
			want: []string{`spec.successPolicy: Invalid value: {"rules":[{"succeededCount":1}]}: requires indexed completion mode`},
		},
		{
			name:   "successPolicy needs rules",
			mutate: []func(j *Job){indexedJob, func(j *Job) { j.Spec.SuccessPolicy = &SuccessPolicy{} }},
			want:   []string{`spec.successPolicy.rules: Required value: at least one rules must be specified when the successPolicy is specified`},
		},
		{
			name: "a success rule needs a count or indexes",
			mutate: []func(j *Job){indexedJob, func(j *Job) {
				j.Spec.SuccessPolicy = &SuccessPolicy{Rules: []*SuccessPolicyRule{{}}}
			}},
			want: []string{`spec.successPolicy.rules[0]: Required value: at least one of succeededCount or succeededIndexes must be specified`},
		},
		{
			name: "succeededIndexes must parse within completions",
			mutate: []func(j *Job){indexedJob, func(j *Job) {
				j.Spec.SuccessPolicy = &SuccessPolicy{Rules: []*SuccessPolicyRule{
					{SucceededIndexes: proto.String("0-2,5")},
					{SucceededIndexes: proto.String("3,1")},
					{SucceededIndexes: proto.String("1-2-3")},
					{SucceededIndexes: proto.String("a")},
				}}
			}},
			want: []string{
				`spec.successPolicy.rules[0].succeededIndexes: Invalid value: "0-2,5": error parsing succeededIndexes: too large index: "5"`,
				`spec.successPolicy.rules[1].succeededIndexes: Invalid value: "3,1": error parsing succeededIndexes: non-increasing order, previous: 3, current: 1`,
				`spec.successPolicy.rules[2].succeededIndexes: Invalid value: "1-2-3": error parsing succeededIndexes: the fragment "1-2-3" violates the requirement that an index interval can have at most two parts separated by '-'`,
				`spec.successPolicy.rules[3].succeededIndexes: Invalid value: "a": error parsing succeededIndexes: cannot convert string to integer for index: "a"`,
			},
		},
		{
			name: "succeededCount is at most completions and the indexes named",
			mutate: []func(j *Job){indexedJob, func(j *Job) {
				j.Spec.SuccessPolicy = &SuccessPolicy{Rules: []*SuccessPolicyRule{
					{SucceededCount: proto.Int32(6)},
					{SucceededIndexes: proto.String("0,1"), SucceededCount: proto.Int32(3)},
				}}
			}},
			want: []string{
				`spec.successPolicy.rules[0].succeededCount: Invalid value: 6: must be less than or equal to 5 (the number of specified completions)`,
				`spec.successPolicy.rules[1].succeededCount: Invalid value: 3: must be less than or equal to 2 (the number of indexes in the specified succeededIndexes field)`,
			},
		},
		{
			name:   "managedBy our own controller is accepted",
			mutate: []func(j *Job){func(j *Job) { j.Spec.ManagedBy = proto.String("kubernetes.io/job-controller") }},
		},
		{
			name:   "managedBy another controller is refused",
			mutate: []func(j *Job){func(j *Job) { j.Spec.ManagedBy = proto.String("kueue.x-k8s.io/multikueue") }},
			want:   []string{`spec.managedBy: Invalid value: "kueue.x-k8s.io/multikueue": not supported by jobcluster: only "kubernetes.io/job-controller" runs Jobs here, no other controller can`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := validJob()
			for _, m := range tt.mutate {
				m(j)
			}
			if diff := cmp.Diff(tt.want, errLines(ValidateJob(j))); diff != "" {
				t.Errorf("errors differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetDefaultsJobPolicies(t *testing.T) {
	tests := []struct {
		name string
		spec *JobSpec
		want func(s *JobSpec)
	}{
		{
			name: "without a podFailurePolicy pods are replaced once terminating",
			spec: &JobSpec{},
			want: func(s *JobSpec) { s.PodReplacementPolicy = proto.String("TerminatingOrFailed") },
		},
		{
			name: "with a podFailurePolicy pods are replaced once failed and a condition status is True",
			spec: &JobSpec{PodFailurePolicy: &PodFailurePolicy{Rules: []*PodFailurePolicyRule{{
				Action: "Ignore", OnPodConditions: []*PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget"}}}}}},
			want: func(s *JobSpec) {
				s.PodReplacementPolicy = proto.String("Failed")
				s.PodFailurePolicy.Rules[0].OnPodConditions[0].Status = "True"
			},
		},
		{
			name: "with backoffLimitPerIndex the Job-wide backoffLimit is off",
			spec: &JobSpec{BackoffLimitPerIndex: proto.Int32(1)},
			want: func(s *JobSpec) {
				s.BackoffLimit = proto.Int32(math.MaxInt32)
				s.PodReplacementPolicy = proto.String("TerminatingOrFailed")
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := proto.Clone(tt.spec).(*JobSpec)
			setJobSpecDefaults(got)
			want := proto.Clone(tt.spec).(*JobSpec)
			tt.want(want)
			want.Completions, want.Parallelism = proto.Int32(1), proto.Int32(1)
			if want.BackoffLimit == nil {
				want.BackoffLimit = proto.Int32(DefaultBackoffLimit)
			}
			want.CompletionMode, want.Suspend = proto.String(CompletionModeNonIndexed), proto.Bool(false)
			want.Template = &PodTemplateSpec{Spec: &PodSpec{TerminationGracePeriodSeconds: proto.Int64(DefaultTerminationGracePeriodSeconds)}}
			if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
				t.Errorf("defaults differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUpdateJobPolicies(t *testing.T) {
	stored := func() *Job {
		j := validJob()
		indexedJob(j)
		j.Spec.BackoffLimitPerIndex = proto.Int32(1)
		j.Spec.MaxFailedIndexes = proto.Int32(2)
		j.Metadata.Uid = "u1"
		setJobDefaults(j)
		return j
	}
	tests := []struct {
		name    string
		mutate  func(j *Job)
		wantErr []string
	}{
		{name: "maxFailedIndexes may change", mutate: func(j *Job) { j.Spec.MaxFailedIndexes = proto.Int32(3) }},
		{name: "podReplacementPolicy may change", mutate: func(j *Job) { j.Spec.PodReplacementPolicy = proto.String("Failed") }},
		{
			name:    "backoffLimitPerIndex is immutable",
			mutate:  func(j *Job) { j.Spec.BackoffLimitPerIndex = proto.Int32(2) },
			wantErr: []string{"spec.backoffLimitPerIndex: Invalid value: 2: field is immutable"},
		},
		{
			name: "successPolicy is immutable",
			mutate: func(j *Job) {
				j.Spec.SuccessPolicy = &SuccessPolicy{Rules: []*SuccessPolicyRule{{SucceededCount: proto.Int32(1)}}}
			},
			wantErr: []string{`spec.successPolicy: Invalid value: {"rules":[{"succeededCount":1}]}: field is immutable`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			updated := validJob()
			indexedJob(updated)
			updated.Spec.BackoffLimitPerIndex = proto.Int32(1)
			updated.Spec.MaxFailedIndexes = proto.Int32(2)
			tt.mutate(updated)
			_, _, err := UpdateJob(stored(), updated)
			if diff := cmp.Diff(tt.wantErr, errLines(err)); diff != "" {
				t.Errorf("errors differ (-want +got):\n%s", diff)
			}
		})
	}
}

func TestJobPoliciesPrintInKubernetesShape(t *testing.T) {
	j := validJob()
	indexedJob(j)
	j.Spec.BackoffLimitPerIndex = proto.Int32(1)
	j.Spec.MaxFailedIndexes = proto.Int32(1)
	j.Spec.PodFailurePolicy = &PodFailurePolicy{Rules: []*PodFailurePolicyRule{
		{Action: "FailJob", OnExitCodes: &PodFailurePolicyOnExitCodesRequirement{ContainerName: proto.String("main"), Operator: "In", Values: []int32{42}}},
		{Action: "Ignore", OnPodConditions: []*PodFailurePolicyOnPodConditionsPattern{{Type: "DisruptionTarget", Status: "True"}}},
	}}
	j.Spec.SuccessPolicy = &SuccessPolicy{Rules: []*SuccessPolicyRule{{SucceededIndexes: proto.String("0-2"), SucceededCount: proto.Int32(2)}}}
	j.Spec.PodReplacementPolicy = proto.String("Failed")
	j.Status = &JobStatus{Ready: proto.Int32(1), Terminating: proto.Int32(2), FailedIndexes: proto.String("3")}
	indented, err := MarshalJSON(j)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := json.Compact(&out, indented); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`"podFailurePolicy":{"rules":[{"action":"FailJob","onExitCodes":{"containerName":"main","operator":"In","values":[42]}},{"action":"Ignore","onPodConditions":[{"type":"DisruptionTarget","status":"True"}]}]}`,
		`"backoffLimitPerIndex":1`, `"maxFailedIndexes":1`, `"podReplacementPolicy":"Failed"`,
		`"successPolicy":{"rules":[{"succeededIndexes":"0-2","succeededCount":2}]}`,
		`"failedIndexes":"3"`, `"ready":1`, `"terminating":2`,
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("JSON lacks %s:\n%s", want, indented)
		}
	}
}

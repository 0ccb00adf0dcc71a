package api

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Limits of the Job policies, as Kubernetes' validation sets them.
const (
	maxFailedIndexesLimit                   = 100_000
	completionsSoftLimit                    = 100_000
	parallelismLimitForHighCompletions      = 10_000
	maxFailedIndexesLimitForHighCompletions = 10_000
	maxPodFailurePolicyRules                = 20
	maxOnExitCodesValues                    = 255
	maxOnPodConditionsPatterns              = 20
	maxManagedByLength                      = 63
	maxSucceededIndexesLength               = 64 * 1024
	maxSuccessPolicyRules                   = 20
)

// Sorted like Kubernetes lists them in its messages.
var (
	podFailurePolicyActions   = []string{PodFailurePolicyActionCount, PodFailurePolicyActionFailIndex, PodFailurePolicyActionFailJob, PodFailurePolicyActionIgnore}
	onExitCodesOperators      = []string{PodFailurePolicyOnExitCodesOpIn, PodFailurePolicyOnExitCodesOpNotIn}
	onPodConditionsStatuses   = []string{"False", "True", "Unknown"}
	podReplacementPolicies    = []string{PodReplacementPolicyFailed, PodReplacementPolicyTerminatingOrFailed}
	podReplacementWithFailure = []string{PodReplacementPolicyFailed}
)

// validateJobPolicies checks podFailurePolicy, backoffLimitPerIndex,
// maxFailedIndexes, successPolicy, podReplacementPolicy and managedBy with
// Kubernetes' messages.
func validateJobPolicies(path string, spec *JobSpec) []error {
	var errs fieldErrors
	errs.add(nonNegative(path+".backoffLimitPerIndex", spec.BackoffLimitPerIndex)...)
	if spec.MaxFailedIndexes != nil {
		errs.add(nonNegative(path+".maxFailedIndexes", spec.MaxFailedIndexes)...)
		if spec.BackoffLimitPerIndex == nil {
			errs.add(required(path+".backoffLimitPerIndex", "when maxFailedIndexes is specified"))
		}
	}
	errs.add(validateManagedBy(path+".managedBy", spec.ManagedBy)...)
	if spec.GetCompletionMode() == CompletionModeIndexed {
		errs.add(validatePerIndexLimits(path, spec)...)
	} else {
		if spec.BackoffLimitPerIndex != nil {
			errs.add(invalid(path+".backoffLimitPerIndex", *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			errs.add(invalid(path+".maxFailedIndexes", *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	if spec.PodFailurePolicy != nil {
		errs.add(validatePodFailurePolicy(path+".podFailurePolicy", spec)...)
	}
	if spec.SuccessPolicy != nil {
		if spec.GetCompletionMode() != CompletionModeIndexed {
			errs.add(invalid(path+".successPolicy", jsonValue{ToMap(spec.SuccessPolicy)}, "requires indexed completion mode"))
		} else {
			errs.add(validateSuccessPolicy(path+".successPolicy", spec)...)
		}
	}
	if rp := spec.PodReplacementPolicy; rp != nil {
		switch {
		case spec.PodFailurePolicy != nil && *rp != PodReplacementPolicyFailed:
			errs.add(notSupported(path+".podReplacementPolicy", *rp, podReplacementWithFailure...))
		case spec.PodFailurePolicy == nil && !slices.Contains(podReplacementPolicies, *rp):
			errs.add(notSupported(path+".podReplacementPolicy", *rp, podReplacementPolicies...))
		}
	}
	if spec.PodFailurePolicy != nil && spec.GetTemplate().GetSpec().GetRestartPolicy() == RestartPolicyOnFailure {
		errs.add(invalid(path+".template.spec.restartPolicy", RestartPolicyOnFailure,
			fmt.Sprintf("only %q is supported when podFailurePolicy is specified", RestartPolicyNever)))
	}
	return errs
}

// validateManagedBy accepts only our own job controller. Kubernetes leaves
// a Job managed by another controller alone, but no other controller can
// create pods or write Job status in jobcluster, so such a Job would wait
// forever; it is refused at once instead.
func validateManagedBy(path string, managedBy *string) []error {
	if managedBy == nil {
		return nil
	}
	v := *managedBy
	if len(v) > maxManagedByLength {
		return []error{tooLong(path, v, maxManagedByLength)}
	}
	if v != JobControllerName {
		return []error{invalid(path, v, fmt.Sprintf("not supported by jobcluster: only %q runs Jobs here, no other controller can", JobControllerName))}
	}
	return nil
}

func validatePerIndexLimits(path string, spec *JobSpec) []error {
	var errs fieldErrors
	mfi := spec.MaxFailedIndexes
	if spec.Completions != nil && mfi != nil && *mfi > *spec.Completions {
		errs.add(invalid(path+".maxFailedIndexes", *mfi, "must be less than or equal to completions"))
	}
	if mfi != nil && *mfi > maxFailedIndexesLimit {
		errs.add(invalid(path+".maxFailedIndexes", *mfi, fmt.Sprintf("must be less than or equal to %d", maxFailedIndexesLimit)))
	}
	if spec.Completions != nil && *spec.Completions > completionsSoftLimit && spec.BackoffLimitPerIndex != nil {
		const high = "must be less than or equal to %d when completions are above %d and used with backoff limit per index"
		if mfi == nil {
			errs.add(required(path+".maxFailedIndexes", fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
		}
		if spec.Parallelism != nil && *spec.Parallelism > parallelismLimitForHighCompletions {
			errs.add(invalid(path+".parallelism", *spec.Parallelism, fmt.Sprintf(high, parallelismLimitForHighCompletions, completionsSoftLimit)))
		}
		if mfi != nil && *mfi > maxFailedIndexesLimitForHighCompletions {
			errs.add(invalid(path+".maxFailedIndexes", *mfi, fmt.Sprintf(high, maxFailedIndexesLimitForHighCompletions, completionsSoftLimit)))
		}
	}
	return errs
}

func validatePodFailurePolicy(path string, spec *JobSpec) []error {
	var errs fieldErrors
	rules := spec.GetPodFailurePolicy().GetRules()
	if len(rules) > maxPodFailurePolicyRules {
		errs.add(tooMany(path+".rules", len(rules), maxPodFailurePolicyRules))
	}
	containers := make(map[string]bool)
	for _, c := range spec.GetTemplate().GetSpec().GetContainers() {
		containers[c.GetName()] = true
	}
	for i, rule := range rules {
		errs.add(validatePodFailurePolicyRule(fmt.Sprintf("%s.rules[%d]", path, i), spec, rule, containers)...)
	}
	return errs
}

func validatePodFailurePolicyRule(path string, spec *JobSpec, rule *PodFailurePolicyRule, containers map[string]bool) []error {
	var errs fieldErrors
	switch action := rule.GetAction(); {
	case action == "":
		errs.add(required(path+".action", "valid values: "+quotedList(podFailurePolicyActions)))
	case action == PodFailurePolicyActionFailIndex:
		if spec.BackoffLimitPerIndex == nil {
			errs.add(invalid(path+".action", action, "requires the backoffLimitPerIndex to be set"))
		}
	case !slices.Contains(podFailurePolicyActions, action):
		errs.add(notSupported(path+".action", action, podFailurePolicyActions...))
	}
	if rule.OnExitCodes != nil {
		errs.add(validateOnExitCodes(path+".onExitCodes", rule.OnExitCodes, containers)...)
	}
	if len(rule.OnPodConditions) > 0 {
		errs.add(validateOnPodConditions(path+".onPodConditions", rule.OnPodConditions)...)
	}
	if rule.OnExitCodes != nil && len(rule.OnPodConditions) > 0 {
		errs.add(invalid(path, omitValue, "specifying both OnExitCodes and OnPodConditions is not supported"))
	}
	if rule.OnExitCodes == nil && len(rule.OnPodConditions) == 0 {
		errs.add(invalid(path, omitValue, "specifying one of OnExitCodes and OnPodConditions is required"))
	}
	return errs
}

func validateOnExitCodes(path string, req *PodFailurePolicyOnExitCodesRequirement, containers map[string]bool) []error {
	var errs fieldErrors
	switch op := req.GetOperator(); {
	case op == "":
		errs.add(required(path+".operator", "valid values: "+quotedList(onExitCodesOperators)))
	case !slices.Contains(onExitCodesOperators, op):
		errs.add(notSupported(path+".operator", op, onExitCodesOperators...))
	}
	if req.ContainerName != nil && !containers[req.GetContainerName()] {
		errs.add(invalid(path+".containerName", req.GetContainerName(), "must be one of the container or initContainer names in the pod template"))
	}
	values := req.GetValues()
	switch {
	case len(values) == 0:
		errs.add(invalid(path+".values", jsonValue{[]int32{}}, "at least one value is required"))
	case len(values) > maxOnExitCodesValues:
		errs.add(tooMany(path+".values", len(values), maxOnExitCodesValues))
	}
	seen := make(map[int32]bool, len(values))
	for j, v := range values {
		p := fmt.Sprintf("%s.values[%d]", path, j)
		if req.GetOperator() == PodFailurePolicyOnExitCodesOpIn && v == 0 {
			errs.add(invalid(p, v, "must not be 0 for the In operator"))
		}
		if seen[v] {
			errs.add(duplicate(p, v))
		}
		seen[v] = true
	}
	if !slices.IsSorted(values) {
		errs.add(invalid(path+".values", jsonValue{values}, "must be ordered"))
	}
	return errs
}

func validateOnPodConditions(path string, patterns []*PodFailurePolicyOnPodConditionsPattern) []error {
	var errs fieldErrors
	if len(patterns) > maxOnPodConditionsPatterns {
		errs.add(tooMany(path, len(patterns), maxOnPodConditionsPatterns))
	}
	for j, pat := range patterns {
		p := fmt.Sprintf("%s[%d]", path, j)
		for _, msg := range qualifiedName(pat.GetType()) {
			errs.add(invalid(p+".type", pat.GetType(), msg))
		}
		switch st := pat.GetStatus(); {
		case st == "":
			errs.add(required(p+".status", "valid values: "+quotedList(onPodConditionsStatuses)))
		case !slices.Contains(onPodConditionsStatuses, st):
			errs.add(notSupported(p+".status", st, onPodConditionsStatuses...))
		}
	}
	return errs
}

func validateSuccessPolicy(path string, spec *JobSpec) []error {
	var errs fieldErrors
	rules := spec.GetSuccessPolicy().GetRules()
	if len(rules) == 0 {
		errs.add(required(path+".rules", "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		errs.add(tooMany(path+".rules", len(rules), maxSuccessPolicyRules))
	}
	completions := spec.GetCompletions() // required for Indexed, checked elsewhere
	for i, rule := range rules {
		p := fmt.Sprintf("%s.rules[%d]", path, i)
		if rule.SucceededCount == nil && rule.SucceededIndexes == nil {
			errs.add(required(p, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		var total int32
		if rule.SucceededIndexes != nil {
			s := rule.GetSucceededIndexes()
			if len(s) > maxSucceededIndexesLength {
				errs.add(tooLong(p+".succeededIndexes", s, maxSucceededIndexesLength))
			}
			var err error
			if total, err = CountIndexes(s, completions); err != nil {
				errs.add(invalid(p+".succeededIndexes", s, "error parsing succeededIndexes: "+err.Error()))
			}
		}
		if rule.SucceededCount != nil {
			n := rule.GetSucceededCount()
			errs.add(nonNegative(p+".succeededCount", rule.SucceededCount)...)
			if n > completions {
				errs.add(invalid(p+".succeededCount", n, fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			}
			if rule.SucceededIndexes != nil && n > total {
				errs.add(invalid(p+".succeededCount", n, fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
			}
		}
	}
	return errs
}

// CountIndexes checks a list of indexes in Kubernetes' completedIndexes
// format ("0,2-4"), strictly increasing and below completions, and returns
// how many indexes it names. Its errors are worded as Kubernetes words them.
func CountIndexes(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var total int32
	last := int32(-1)
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, err := parseIndexInterval(part, completions)
		if err != nil {
			return 0, err
		}
		if last >= lo {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", last, lo)
		}
		total += hi - lo + 1
		last = hi
	}
	return total, nil
}

func parseIndexInterval(s string, completions int32) (int32, int32, error) {
	parts := strings.Split(s, "-")
	if len(parts) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", s)
	}
	bounds := make([]int32, len(parts))
	for i, part := range parts {
		n, err := strconv.Atoi(part)
		if err != nil {
			return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", part)
		}
		if n >= int(completions) {
			return 0, 0, fmt.Errorf("too large index: %q", part)
		}
		bounds[i] = int32(n)
	}
	if len(bounds) == 1 {
		return bounds[0], bounds[0], nil
	}
	if bounds[0] >= bounds[1] {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", bounds[0], bounds[1])
	}
	return bounds[0], bounds[1], nil
}

// quotedList writes values as Go's %q prints a string slice, which is how
// Kubernetes lists valid values in a Required message: ["In" "NotIn"].
func quotedList(values []string) string {
	return fmt.Sprintf("%q", values)
}

package scheduler

import (
	"fmt"

	"github.com/jobcluster/jobcluster/api"
)

// matchSuccessPolicy reports whether the succeeded indexes of an Indexed
// Job meet a rule of its successPolicy, and the condition message naming
// the first rule that does (Kubernetes' matchSuccessPolicy). A rule with
// succeededIndexes needs all of them, or succeededCount of them, to have
// succeeded; a rule with only succeededCount needs that many indexes.
func matchSuccessPolicy(policy *api.SuccessPolicy, completions int32, done map[int]bool) (string, bool) {
	if policy == nil || len(done) == 0 {
		return "", false
	}
	for i, rule := range policy.GetRules() {
		if rule.SucceededIndexes != nil {
			required := parseIndexes(rule.GetSucceededIndexes(), completions)
			if len(required) == 0 {
				continue // validation refuses such rules; stored ones are skipped
			}
			var met int32
			for idx := range required {
				if done[idx] {
					met++
				}
			}
			if rule.SucceededCount == nil && int(met) == len(required) ||
				rule.SucceededCount != nil && met >= rule.GetSucceededCount() {
				return fmt.Sprintf("Matched rules at index %d", i), true
			}
			continue
		}
		if rule.SucceededCount != nil && int32(len(done)) >= rule.GetSucceededCount() {
			return fmt.Sprintf("Matched rules at index %d", i), true
		}
	}
	return "", false
}

package api

import (
	"fmt"
	"time"
)

// AnnotationJitter spreads a CronJob's runs: each scheduled time runs
// after a delay within this window ("30s", "5m"), the same delay however
// often it is decided.
const AnnotationJitter = "jobcluster.io/jitter"

// MaxJitter bounds the jitter window.
const MaxJitter = 24 * time.Hour

// CronJitter is a CronJob's jitter window, zero when it has none.
func CronJitter(cj *CronJob) (time.Duration, error) {
	v, ok := cj.GetMetadata().GetAnnotations()[AnnotationJitter]
	if !ok {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 || d > MaxJitter {
		return 0, fmt.Errorf("must be a duration between 0s and 24h, such as 30s or 5m")
	}
	return d, nil
}

func validateJitter(cj *CronJob) []error {
	if _, err := CronJitter(cj); err != nil {
		return []error{invalid("metadata.annotations["+AnnotationJitter+"]", cj.GetMetadata().GetAnnotations()[AnnotationJitter], err.Error())}
	}
	return nil
}

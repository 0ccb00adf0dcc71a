package api

import "time"

// AnnotationNotBefore is set by the cron controller on the pod template of
// a Job it decided ahead of the scheduled time: the time its pods start,
// and not before (RFC 3339). The servers hold such pods on their agents
// until the leader releases them at that time; on any other Job it means
// nothing.
const AnnotationNotBefore = "jobcluster.io/not-before"

// NotBefore is the time an annotation map (a pod's or a pod template's)
// names under AnnotationNotBefore; false when it names none.
func NotBefore(annotations map[string]string) (time.Time, bool) {
	v, ok := annotations[AnnotationNotBefore]
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// FormatNotBefore is t as AnnotationNotBefore holds it.
func FormatNotBefore(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

package api

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

func TestNotifyAnnotation(t *testing.T) {
	for _, tt := range []struct {
		name string
		// setup: the annotation's value, absent when nil
		value *string
		// want: the events announced, or the validation problem
		events  []string
		problem string
	}{
		{name: "no annotation", events: []string{EventJobFailed, EventCronJobFailed, EventCronJobSkipped, EventCronJobMissed, EventJobPending}},
		{name: "on-pending alone", value: proto.String("on-pending"), events: []string{EventJobPending}},
		{name: "failures and completions, spaced", value: proto.String("on-failure, on-complete"), events: []string{EventJobFailed, EventCronJobFailed, EventJobComplete}},
		{name: "none", value: proto.String("none")},
		{name: "a misspelt choice", value: proto.String("on-failure,on-pendng"),
			problem: `"on-pendng" is not one of on-failure, on-complete, on-skip, on-miss, on-pending, none`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			meta := &ObjectMeta{Name: "j"}
			if tt.value != nil {
				meta.Annotations = map[string]string{AnnotationNotify: *tt.value}
			}
			errs := validateNotify(meta)
			if tt.problem != "" {
				if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.problem) {
					t.Fatalf("validation %v, want %q", errs, tt.problem)
				}
				return
			}
			if len(errs) != 0 {
				t.Fatalf("validation %v", errs)
			}
			for _, e := range Events {
				want := false
				for _, w := range tt.events {
					want = want || w == e
				}
				if got := Notifies(meta.GetAnnotations(), e); got != want {
					t.Errorf("Notifies(%s) = %v, want %v", e, got, want)
				}
			}
		})
	}
}

package api

import (
	"fmt"
	"maps"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// jobMutableFields are the JobSpec fields apply may change, by JSON name.
var jobMutableFields = map[string]bool{
	"parallelism":             true,
	"suspend":                 true,
	"activeDeadlineSeconds":   true,
	"backoffLimit":            true,
	"ttlSecondsAfterFinished": true,
	"maxFailedIndexes":        true,
	"podReplacementPolicy":    true,
}

// cronJobMutableFields are the CronJobSpec fields apply may change.
var cronJobMutableFields = map[string]bool{
	"schedule":                   true,
	"timeZone":                   true,
	"suspend":                    true,
	"concurrencyPolicy":          true,
	"startingDeadlineSeconds":    true,
	"successfulJobsHistoryLimit": true,
	"failedJobsHistoryLimit":     true,
	"jobTemplate":                true,
}

// UpdateJob applies an updated manifest to a stored Job. It returns a copy
// of old with the mutable spec fields (parallelism, suspend,
// activeDeadlineSeconds, backoffLimit, ttlSecondsAfterFinished,
// maxFailedIndexes, podReplacementPolicy, as Kubernetes allows) and the
// metadata labels and annotations taken from updated, and whether that
// changed anything. Status and the rest of metadata stay as stored. A
// change to any other spec field is an error naming each one:
// `spec.completions: Invalid value: 3: field is immutable`.
func UpdateJob(old, updated *Job) (*Job, bool, error) {
	// Default both as the server stores them, with the stored uid, so the
	// generated selector and template labels compare equal.
	was := proto.Clone(old).(*Job)
	setJobDefaults(was)
	now := proto.Clone(updated).(*Job)
	if now.Metadata == nil {
		now.Metadata = &ObjectMeta{}
	}
	now.Metadata.Uid = was.GetMetadata().GetUid()
	setJobDefaults(now)

	out := proto.Clone(old).(*Job)
	if out.Spec == nil {
		out.Spec = &JobSpec{}
	}
	if out.Metadata == nil {
		out.Metadata = &ObjectMeta{}
	}
	changed, err := updateSpec("spec", was.Spec.ProtoReflect(), now.Spec.ProtoReflect(), out.Spec.ProtoReflect(), jobMutableFields)
	if err != nil {
		return nil, false, err
	}
	if updateMeta(out.Metadata, updated.GetMetadata()) {
		changed = true
	}
	return out, changed, nil
}

// UpdateCronJob applies an updated manifest to a stored CronJob: schedule,
// timeZone, suspend, concurrencyPolicy, startingDeadlineSeconds, the
// history limits, the whole jobTemplate and the metadata labels and
// annotations are taken from updated; status stays as stored. It reports
// whether anything changed.
func UpdateCronJob(old, updated *CronJob) (*CronJob, bool, error) {
	was := proto.Clone(old).(*CronJob)
	setCronJobDefaults(was)
	now := proto.Clone(updated).(*CronJob)
	setCronJobDefaults(now)

	out := proto.Clone(old).(*CronJob)
	if out.Spec == nil {
		out.Spec = &CronJobSpec{}
	}
	if out.Metadata == nil {
		out.Metadata = &ObjectMeta{}
	}
	changed, err := updateSpec("spec", was.Spec.ProtoReflect(), now.Spec.ProtoReflect(), out.Spec.ProtoReflect(), cronJobMutableFields)
	if err != nil {
		return nil, false, err
	}
	if updateMeta(out.Metadata, updated.GetMetadata()) {
		changed = true
	}
	return out, changed, nil
}

// updateSpec compares the stored spec was with the updated spec now field
// by field, copies changed mutable fields into out and reports changes to
// immutable ones.
func updateSpec(path string, was, now, out protoreflect.Message, mutable map[string]bool) (bool, error) {
	var (
		errs    fieldErrors
		changed bool
	)
	fields := was.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if fieldEqual(was, now, fd) {
			continue
		}
		if !mutable[jsonName(fd)] {
			errs.add(immutable(path+"."+jsonName(fd), was, now, fd)...)
			continue
		}
		changed = true
		if now.Has(fd) {
			out.Set(fd, now.Get(fd))
		} else {
			out.Clear(fd)
		}
	}
	if err := errs.join(); err != nil {
		return false, err
	}
	return changed, nil
}

// updateMeta takes labels and annotations from updated and reports whether
// they differ.
func updateMeta(out, updated *ObjectMeta) bool {
	changed := !maps.Equal(out.Labels, updated.GetLabels()) || !maps.Equal(out.Annotations, updated.GetAnnotations())
	out.Labels = maps.Clone(updated.GetLabels())
	out.Annotations = maps.Clone(updated.GetAnnotations())
	return changed
}

// fieldEqual reports whether one field has the same value in both messages.
func fieldEqual(a, b protoreflect.Message, fd protoreflect.FieldDescriptor) bool {
	x, y := a.New(), b.New()
	if a.Has(fd) {
		x.Set(fd, a.Get(fd))
	}
	if b.Has(fd) {
		y.Set(fd, b.Get(fd))
	}
	return proto.Equal(x.Interface(), y.Interface())
}

// immutable reports a changed immutable field at the deepest place that
// differs, so that the message points at what the user edited.
func immutable(path string, was, now protoreflect.Message, fd protoreflect.FieldDescriptor) []error {
	isMessage := fd.Message() != nil && fd.Message().FullName() != timestampName && !fd.IsMap()
	switch {
	case isMessage && !fd.IsList() && was.Has(fd) && now.Has(fd):
		return immutableMessage(path, was.Get(fd).Message(), now.Get(fd).Message())
	case isMessage && fd.IsList() && was.Get(fd).List().Len() == now.Get(fd).List().Len():
		var errs []error
		a, b := was.Get(fd).List(), now.Get(fd).List()
		for i := range a.Len() {
			errs = append(errs, immutableMessage(fmt.Sprintf("%s[%d]", path, i), a.Get(i).Message(), b.Get(i).Message())...)
		}
		return errs
	}
	var shown any
	if now.Has(fd) {
		shown = fieldValue(fd, now.Get(fd))
		if _, ok := shown.(ordered); ok || fd.IsList() {
			shown = jsonValue{plain(shown)}
		}
	}
	return []error{invalid(path, shown, "field is immutable")}
}

func immutableMessage(path string, was, now protoreflect.Message) []error {
	var errs []error
	fields := was.Descriptor().Fields()
	for i := range fields.Len() {
		if sub := fields.Get(i); !fieldEqual(was, now, sub) {
			errs = append(errs, immutable(path+"."+jsonName(sub), was, now, sub)...)
		}
	}
	return errs
}

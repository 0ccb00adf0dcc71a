package api

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// maxCronJobNameLength leaves room for "-<seconds since epoch>" in the
// names of the Jobs a CronJob makes, within the 63 of a label.
const maxCronJobNameLength = 52

// cronParser reads five-field schedules, six with leading seconds, and
// descriptors such as @hourly and @every 30s.
var cronParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// ParseSchedule parses a CronJob schedule the way validation accepts it:
// five fields, six with leading seconds, or a descriptor (@hourly,
// @every 30s).
func ParseSchedule(schedule string) (cron.Schedule, error) {
	s, err := cronParser.Parse(schedule)
	if err != nil {
		return nil, fmt.Errorf("parse schedule %q: %w", schedule, err)
	}
	return s, nil
}

// CronLocation loads the time zone a CronJob's schedule is read in: its
// spec.timeZone, UTC when unset. "Local", the server's own zone, is
// refused, as by validation.
func CronLocation(c *CronJob) (*time.Location, error) {
	tz := c.GetSpec().GetTimeZone()
	loc, err := time.LoadLocation(tz)
	if err != nil || tz == "Local" {
		return nil, fmt.Errorf("invalid timeZone %q", tz)
	}
	return loc, nil
}

// Validate checks a Job or CronJob like the Kubernetes API server does and
// returns every problem at once, as errors.Join of *FieldError. Other kinds
// are not validated.
func Validate(obj *Object) error {
	return fieldErrors(validateObject(obj)).join()
}

// ValidateJob checks a Job; see Validate.
func ValidateJob(j *Job) error {
	return fieldErrors(validateJob(j)).join()
}

// ValidateCronJob checks a CronJob; see Validate.
func ValidateCronJob(c *CronJob) error {
	return fieldErrors(validateCronJob(c)).join()
}

func validateObject(obj *Object) []error {
	switch k := obj.GetKind().(type) {
	case *Object_Job:
		return slices.Concat(validateJob(k.Job), validateNotify(k.Job.GetMetadata()), validateObjectSize(obj))
	case *Object_CronJob:
		return slices.Concat(validateCronJob(k.CronJob), validateJitter(k.CronJob), validateNotify(k.CronJob.GetMetadata()), validateObjectSize(obj))
	case *Object_ConfigMap:
		return append(validateConfigMap(k.ConfigMap), validateObjectSize(obj)...)
	case *Object_Secret:
		return append(validateSecret(k.Secret), validateObjectSize(obj)...)
	}
	return nil
}

func validateJob(j *Job) []error {
	var errs fieldErrors
	name := j.GetMetadata().GetName()
	if name == "" {
		errs.add(required("metadata.name", ""))
	} else {
		for _, msg := range dns1123Label(name) {
			errs.add(invalid("metadata.name", name, msg))
		}
	}
	errs.add(validateMeta("metadata", j.GetMetadata())...)
	errs.add(validateJobSpec("spec", j.GetSpec(), name, j.GetMetadata().GetUid())...)
	return errs
}

func validateCronJob(c *CronJob) []error {
	var errs fieldErrors
	name := c.GetMetadata().GetName()
	switch {
	case name == "":
		errs.add(required("metadata.name", ""))
	case !dns1123LabelRE.MatchString(name):
		errs.add(invalid("metadata.name", name, dns1123LabelMsg))
	}
	if len(name) > maxCronJobNameLength {
		errs.add(invalid("metadata.name", name, fmt.Sprintf("must be no more than %d characters", maxCronJobNameLength)))
	}
	errs.add(validateMeta("metadata", c.GetMetadata())...)
	spec := c.GetSpec()
	errs.add(validateSchedule("spec.schedule", spec.GetSchedule())...)
	if spec != nil && spec.TimeZone != nil {
		switch tz := *spec.TimeZone; {
		case tz == "":
			errs.add(invalid("spec.timeZone", tz, "timeZone must be nil or non-empty string"))
		case strings.EqualFold(tz, "Local"):
			errs.add(invalid("spec.timeZone", tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
		default:
			if _, err := time.LoadLocation(tz); err != nil {
				errs.add(invalid("spec.timeZone", tz, err.Error()))
			}
		}
	}
	switch p := spec.GetConcurrencyPolicy(); p {
	case "", ConcurrencyPolicyAllow, ConcurrencyPolicyForbid, ConcurrencyPolicyReplace:
	default:
		errs.add(notSupported("spec.concurrencyPolicy", p, ConcurrencyPolicyAllow, ConcurrencyPolicyForbid, ConcurrencyPolicyReplace))
	}
	if spec != nil {
		errs.add(nonNegative("spec.startingDeadlineSeconds", spec.StartingDeadlineSeconds)...)
		errs.add(nonNegative("spec.successfulJobsHistoryLimit", spec.SuccessfulJobsHistoryLimit)...)
		errs.add(nonNegative("spec.failedJobsHistoryLimit", spec.FailedJobsHistoryLimit)...)
	}
	tmpl := spec.GetJobTemplate()
	errs.add(validateMeta("spec.jobTemplate.metadata", tmpl.GetMetadata())...)
	errs.add(validateJobSpec("spec.jobTemplate.spec", tmpl.GetSpec(), "", "")...)
	return errs
}

func validateSchedule(field, schedule string) []error {
	switch {
	case schedule == "":
		return []error{required(field, "")}
	case strings.Contains(schedule, "TZ"):
		return []error{invalid(field, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead")}
	}
	if _, err := cronParser.Parse(schedule); err != nil {
		return []error{invalid(field, schedule, err.Error())}
	}
	return nil
}

func validateMeta(path string, meta *ObjectMeta) []error {
	var errs fieldErrors
	if ns := meta.GetNamespace(); ns != "" {
		for _, msg := range dns1123Label(ns) {
			errs.add(invalid(path+".namespace", ns, msg))
		}
	}
	errs.add(validateLabels(path+".labels", meta.GetLabels())...)
	errs.add(validateAnnotationKeys(path+".annotations", meta.GetAnnotations())...)
	errs.add(validateAnnotationsSize(path+".annotations", meta.GetAnnotations())...)
	return errs
}

func nonNegative[T int32 | int64](field string, v *T) []error {
	if v != nil && *v < 0 {
		return []error{invalid(field, *v, "must be greater than or equal to 0")}
	}
	return nil
}

func positive[T int32 | int64](field string, v *T) []error {
	if v != nil && *v <= 0 {
		return []error{invalid(field, *v, "must be greater than 0")}
	}
	return nil
}

// validateJobSpec checks a Job's spec; jobName and uid are empty in a
// CronJob's job template.
func validateJobSpec(path string, spec *JobSpec, jobName, uid string) []error {
	if spec == nil {
		spec = &JobSpec{}
	}
	var errs fieldErrors
	errs.add(nonNegative(path+".parallelism", spec.Parallelism)...)
	errs.add(nonNegative(path+".completions", spec.Completions)...)
	errs.add(nonNegative(path+".backoffLimit", spec.BackoffLimit)...)
	errs.add(nonNegative(path+".ttlSecondsAfterFinished", spec.TtlSecondsAfterFinished)...)
	errs.add(positive(path+".activeDeadlineSeconds", spec.ActiveDeadlineSeconds)...)
	switch mode := spec.GetCompletionMode(); {
	case spec.CompletionMode == nil || mode == CompletionModeNonIndexed:
	case mode == CompletionModeIndexed:
		const tooMany = "must be less than or equal to %d when completion mode is Indexed"
		if spec.Completions == nil {
			errs.add(required(path+".completions", "when completion mode is Indexed"))
		} else if *spec.Completions > MaxIndexedCompletions {
			errs.add(invalid(path+".completions", *spec.Completions, fmt.Sprintf(tooMany, MaxIndexedCompletions)))
		}
		if spec.Parallelism != nil && *spec.Parallelism > MaxIndexedCompletions {
			errs.add(invalid(path+".parallelism", *spec.Parallelism, fmt.Sprintf(tooMany, MaxIndexedCompletions)))
		}
	default:
		errs.add(notSupported(path+".completionMode", mode, CompletionModeNonIndexed, CompletionModeIndexed))
	}
	errs.add(validateJobPolicies(path, spec)...)
	errs.add(validateSelector(path, spec, jobName, uid)...)
	errs.add(validatePodTemplate(path+".template", spec.GetTemplate())...)
	return errs
}

// validateSelector accepts a selector the user wrote only if it selects
// the pod template's labels. Without manualSelector the controller-uid
// labels are the server's to set.
func validateSelector(path string, spec *JobSpec, jobName, uid string) []error {
	var errs fieldErrors
	labels := spec.GetTemplate().GetMetadata().GetLabels()
	labelsPath := path + ".template.metadata.labels"
	if !spec.GetManualSelector() && jobName != "" {
		for _, key := range []string{LabelJobName, LabelBatchJobName} {
			if v, ok := labels[key]; ok && v != jobName {
				errs.add(invalid(labelsPath+"["+key+"]", v, fmt.Sprintf("must be '%s'", jobName)))
			}
		}
	}
	sel := spec.GetSelector()
	selPath := path + ".selector"
	if sel == nil {
		if spec.GetManualSelector() {
			errs.add(required(selPath, "when manualSelector is true"))
		}
		return errs
	}
	before := len(errs)
	errs.add(validateLabels(selPath+".matchLabels", sel.GetMatchLabels())...)
	for i, req := range sel.GetMatchExpressions() {
		p := fmt.Sprintf("%s.matchExpressions[%d]", selPath, i)
		for _, msg := range qualifiedName(req.GetKey()) {
			errs.add(invalid(p+".key", req.GetKey(), msg))
		}
		switch req.GetOperator() {
		case "In", "NotIn":
			if len(req.GetValues()) == 0 {
				errs.add(required(p+".values", "must be specified when `operator` is 'In' or 'NotIn'"))
			}
		case "Exists", "DoesNotExist":
			if len(req.GetValues()) > 0 {
				errs.add(forbidden(p+".values", "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"))
			}
		default:
			errs.add(notSupported(p+".operator", req.GetOperator(), "In", "NotIn", "Exists", "DoesNotExist"))
		}
	}
	shown := jsonValue{ToMap(sel)}
	if len(sel.GetMatchLabels()) == 0 && len(sel.GetMatchExpressions()) == 0 {
		errs.add(invalid(selPath, shown, "empty selector is invalid for a Job"))
	}
	if !spec.GetManualSelector() {
		for _, key := range []string{LabelControllerUID, LabelBatchControllerUID} {
			if v, ok := sel.GetMatchLabels()[key]; ok && v != uid {
				errs.add(invalid(selPath, shown, "`selector` not auto-generated"))
				break
			}
		}
	}
	if len(errs) == before && !selectorMatches(sel, labels) {
		errs.add(invalid(labelsPath, jsonValue{labels}, "`selector` does not match template `labels`"))
	}
	return errs
}

// selectorMatches reports whether the selector selects the labels.
func selectorMatches(sel *LabelSelector, labels map[string]string) bool {
	for k, v := range sel.GetMatchLabels() {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	for _, req := range sel.GetMatchExpressions() {
		v, ok := labels[req.GetKey()]
		in := ok && slices.Contains(req.GetValues(), v)
		switch req.GetOperator() {
		case "In":
			if !in {
				return false
			}
		case "NotIn":
			if in {
				return false
			}
		case "Exists":
			if !ok {
				return false
			}
		case "DoesNotExist":
			if ok {
				return false
			}
		}
	}
	return true
}

func validatePodTemplate(path string, tmpl *PodTemplateSpec) []error {
	var errs fieldErrors
	errs.add(validateLabels(path+".metadata.labels", tmpl.GetMetadata().GetLabels())...)
	errs.add(validateAnnotationKeys(path+".metadata.annotations", tmpl.GetMetadata().GetAnnotations())...)
	spec := tmpl.GetSpec()
	if spec == nil {
		spec = &PodSpec{}
	}
	path += ".spec"
	switch rp := spec.GetRestartPolicy(); rp {
	case RestartPolicyOnFailure, RestartPolicyNever:
	case "":
		errs.add(required(path+".restartPolicy", `valid values: "OnFailure", "Never"`))
	default:
		errs.add(notSupported(path+".restartPolicy", rp, RestartPolicyOnFailure, RestartPolicyNever))
	}
	if len(spec.GetContainers()) == 0 {
		errs.add(required(path+".containers", ""))
	}
	names := map[string]bool{}
	for i, c := range spec.GetContainers() {
		errs.add(validateContainer(fmt.Sprintf("%s.containers[%d]", path, i), c, names)...)
	}
	errs.add(validateVolumes(path, spec)...)
	switch rc := spec.GetRuntimeClassName(); rc {
	case "", RuntimeDocker:
	case RuntimeProcess:
		for i, c := range spec.GetContainers() {
			if len(c.GetCommand()) == 0 && c.GetImage() != "" {
				errs.add(required(fmt.Sprintf("%s.containers[%d].command", path, i), fmt.Sprintf("runtimeClassName %q runs commands, not images: add the command to run, or use runtimeClassName %q to run image %q", rc, RuntimeDocker, c.GetImage())))
			}
		}
	default:
		errs.add(notSupported(path+".runtimeClassName", rc, RuntimeProcess, RuntimeDocker))
	}
	errs.add(positive(path+".activeDeadlineSeconds", spec.ActiveDeadlineSeconds)...)
	errs.add(nonNegative(path+".terminationGracePeriodSeconds", spec.TerminationGracePeriodSeconds)...)
	errs.add(validateLabels(path+".nodeSelector", spec.GetNodeSelector())...)
	if h := spec.GetHostname(); h != "" {
		for _, msg := range dns1123Label(h) {
			errs.add(invalid(path+".hostname", h, msg))
		}
	}
	return errs
}

func validateContainer(path string, c *Container, names map[string]bool) []error {
	var errs fieldErrors
	switch name := c.GetName(); {
	case name == "":
		errs.add(required(path+".name", ""))
	case len(dns1123Label(name)) > 0:
		for _, msg := range dns1123Label(name) {
			errs.add(invalid(path+".name", name, msg))
		}
	case names[name]:
		errs.add(duplicate(path+".name", name))
	default:
		names[name] = true
	}
	switch {
	case len(c.GetCommand()) > 0:
		if c.GetCommand()[0] == "" {
			errs.add(invalid(path+".command[0]", "", "the program to run may not be empty"))
		}
	case c.GetImage() != "":
		// A container runtime runs the image's own entrypoint.
	default:
		errs.add(required(path+".image", ""))
	}
	switch p := c.GetImagePullPolicy(); p {
	case "", "Always", "IfNotPresent", "Never":
	default:
		errs.add(notSupported(path+".imagePullPolicy", p, "Always", "IfNotPresent", "Never"))
	}
	for i, env := range c.GetEnv() {
		p := fmt.Sprintf("%s.env[%d].name", path, i)
		switch {
		case env.GetName() == "":
			errs.add(required(p, ""))
		case !envVarNameRE.MatchString(env.GetName()):
			errs.add(invalid(p, env.GetName(), envVarNameMsg))
		}
	}
	errs.add(validateResources(path+".resources", c.GetResources())...)
	return errs
}

// validateVolumes checks the pod's volumes (emptyDir or hostPath, one
// each) and that every container mounts only declared ones at absolute
// paths.
func validateVolumes(path string, spec *PodSpec) []error {
	var errs fieldErrors
	declared := map[string]bool{}
	for i, v := range spec.GetVolumes() {
		vp := fmt.Sprintf("%s.volumes[%d]", path, i)
		switch name := v.GetName(); {
		case name == "":
			errs.add(required(vp+".name", ""))
		case len(dns1123Label(name)) > 0:
			for _, msg := range dns1123Label(name) {
				errs.add(invalid(vp+".name", name, msg))
			}
		case declared[name]:
			errs.add(duplicate(vp+".name", name))
		default:
			declared[name] = true
		}
		var types []string
		for name, set := range map[string]bool{"emptyDir": v.GetEmptyDir() != nil, "hostPath": v.GetHostPath() != nil, "configMap": v.GetConfigMap() != nil, "secret": v.GetSecret() != nil} {
			if set {
				types = append(types, name)
			}
		}
		slices.SortFunc(types, func(a, b string) int {
			order := []string{"emptyDir", "hostPath", "configMap", "secret"}
			return slices.Index(order, a) - slices.Index(order, b)
		})
		switch {
		case len(types) > 1:
			// Kubernetes names the second type it finds.
			errs.add(forbidden(vp+"."+types[1], "may not specify more than 1 volume type"))
		case len(types) == 0:
			errs.add(required(vp, "must specify a volume type: emptyDir, hostPath, configMap or secret"))
		case v.GetHostPath() != nil && !strings.HasPrefix(v.GetHostPath().GetPath(), "/"):
			errs.add(invalid(vp+".hostPath.path", v.GetHostPath().GetPath(), "must be an absolute path"))
		case v.GetConfigMap() != nil:
			cm := v.GetConfigMap()
			if cm.GetName() == "" {
				errs.add(required(vp+".configMap.name", ""))
			}
			validateProjection(&errs, vp+".configMap", cm.GetItems(), cm.DefaultMode)
		case v.GetSecret() != nil:
			sec := v.GetSecret()
			if sec.GetSecretName() == "" {
				errs.add(required(vp+".secret.secretName", ""))
			}
			validateProjection(&errs, vp+".secret", sec.GetItems(), sec.DefaultMode)
		}
	}
	for i, c := range spec.GetContainers() {
		seen := map[string]bool{}
		for j, m := range c.GetVolumeMounts() {
			mp := fmt.Sprintf("%s.containers[%d].volumeMounts[%d]", path, i, j)
			if !declared[m.GetName()] {
				errs.add(invalid(mp+".name", m.GetName(), "volume not found: declare it under spec.volumes"))
			}
			switch p := m.GetMountPath(); {
			case p == "":
				errs.add(required(mp+".mountPath", ""))
			case !strings.HasPrefix(p, "/"):
				errs.add(invalid(mp+".mountPath", p, "must be an absolute path"))
			case seen[p]:
				errs.add(invalid(mp+".mountPath", p, "must be unique"))
			default:
				seen[p] = true
			}
			if sp := m.GetSubPath(); strings.HasPrefix(sp, "/") || slices.Contains(strings.Split(sp, "/"), "..") {
				errs.add(invalid(mp+".subPath", sp, "must be a relative path without '..'"))
			}
		}
	}
	return errs
}

// validateProjection checks the items and modes of a configMap or secret
// volume as Kubernetes does: relative paths without "..", each once, and
// modes between 0 and 0777.
func validateProjection(errs *fieldErrors, path string, items []*KeyToPath, defaultMode *int32) {
	if defaultMode != nil && (*defaultMode < 0 || *defaultMode > 0o777) {
		errs.add(invalid(path+".defaultMode", fmt.Sprint(*defaultMode), "must be a number between 0 and 0777 (octal), both inclusive"))
	}
	seen := map[string]bool{}
	for i, it := range items {
		ip := fmt.Sprintf("%s.items[%d]", path, i)
		if it.GetKey() == "" {
			errs.add(required(ip+".key", ""))
		}
		switch p := it.GetPath(); {
		case p == "":
			errs.add(required(ip+".path", ""))
		case strings.HasPrefix(p, "/") || slices.Contains(strings.Split(p, "/"), ".."):
			errs.add(invalid(ip+".path", p, "must be a relative path without '..'"))
		case seen[p]:
			errs.add(duplicate(ip+".path", p))
		default:
			seen[p] = true
		}
		if it.Mode != nil && (*it.Mode < 0 || *it.Mode > 0o777) {
			errs.add(invalid(ip+".mode", fmt.Sprint(*it.Mode), "must be a number between 0 and 0777 (octal), both inclusive"))
		}
	}
}

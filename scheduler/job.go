package scheduler

import (
	"maps"
	"slices"
	"time"

	"github.com/jobcluster/jobcluster/api"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// MaxPodChangesPerPass bounds the pods one pass over a Job creates, and
// the pods it stops, as Kubernetes' job controller bounds a sync
// (MaxPodCreateDeletePerSync): a Job of any parallelism is worked through
// in passes of bounded memory and Raft traffic, and other Jobs get their
// passes in between.
const MaxPodChangesPerPass = 500

// JobInput is everything one pass over one Job needs.
type JobInput struct {
	// Job has its defaults applied (parallelism and backoffLimit set,
	// completionMode set).
	Job *api.Job
	// Pods is every pod of this Job still stored, in any phase, including
	// pods being stopped, except those given in Succeeded.
	Pods []*api.Pod
	// Succeeded sums up the Job's other Succeeded pods: all the
	// controller reads of them. A pod is in Pods or counted here, never
	// both.
	Succeeded api.SucceededSum
	// Now is the time of the pass.
	Now time.Time
}

// StopPod asks for one pod to be stopped. The node kills it and it ends
// Failed with this reason and message.
type StopPod struct {
	Name    string
	Reason  string
	Message string
}

// Event is something to record about the object reconciled.
type Event struct {
	Type    string // api.EventTypeNormal or api.EventTypeWarning
	Reason  string
	Message string
}

// Plan is what one pass over a Job decided. A pass either creates or stops
// pods, never both.
type Plan struct {
	// Create holds new pods without names: metadata.generateName is set
	// and the caller names and stamps them.
	Create []*api.Pod
	// Stop lists pods to stop.
	Stop []StopPod
	// Status is the full new status when it differs from the Job's, else nil.
	Status *api.JobStatus
	// Events to record about the Job. SuccessfulCreate is left to the
	// caller, which knows the pods' names.
	Events []Event
	// DeleteJob is set once ttlSecondsAfterFinished has elapsed: the Job
	// and its pods are to be deleted.
	DeleteJob bool
	// NextCheck is the earliest future time at which a pass would decide
	// something new without any state change (a failure back-off ends, a
	// deadline or the ttl passes); zero if there is none.
	NextCheck time.Time
}

// ReconcileJob decides, for one Job and its pods at in.Now, which pods to
// create or stop and what the Job's status becomes, following the
// Kubernetes job controller.
func ReconcileJob(in JobInput) Plan {
	if done, at := jobFinished(in.Job.GetStatus()); done {
		var plan Plan
		plan.DeleteJob, plan.NextCheck = ttlExpiry(in.Job, at, in.Now)
		return plan
	}
	p := newJobPass(in)
	p.run()
	p.fillStatus()
	if !proto.Equal(p.status, in.Job.GetStatus()) {
		p.plan.Status = p.status
	}
	return p.plan
}

// jobPass holds the working state of one ReconcileJob call.
type jobPass struct {
	job         *api.Job
	spec        *api.JobSpec // never nil
	now         time.Time
	status      *api.JobStatus // the new status, a copy
	pods        podCounts
	parallelism int32
	completions *int32 // nil for a work queue
	indexed     bool
	done        map[int]bool // Indexed: indexes that succeeded
	succeeded   int32
	failed      int32
	stopped     map[string]bool // pods this pass stops
	created     int
	plan        Plan
	// failedPods holds every Failed pod and verdicts what each means
	// under the Job's podFailurePolicy.
	failedPods []*api.Pod
	verdicts   map[*api.Pod]verdict
	// perIndex is set for an Indexed Job with backoffLimitPerIndex.
	perIndex *perIndex
}

func newJobPass(in JobInput) *jobPass {
	spec := in.Job.GetSpec()
	if spec == nil {
		spec = &api.JobSpec{}
	}
	p := &jobPass{
		spec:        spec,
		job:         in.Job,
		now:         in.Now,
		status:      &api.JobStatus{},
		pods:        countPods(in.Pods, in.Succeeded),
		parallelism: 1, // the default, when spec.parallelism is unset
		completions: spec.Completions,
		stopped:     make(map[string]bool),
	}
	if in.Job.GetStatus() != nil {
		p.status = proto.Clone(in.Job.GetStatus()).(*api.JobStatus)
	}
	if spec.Parallelism != nil {
		p.parallelism = max(spec.GetParallelism(), 0)
	}
	p.indexed = spec.GetCompletionMode() == api.CompletionModeIndexed && p.completions != nil
	p.judgeFailures(in.Pods)
	// Counts never go down: a pod deleted from the store keeps counting.
	p.failed = max(p.status.Failed, int32(len(p.pods.failed)))
	if p.indexed {
		p.done = succeededIndexes(p.status.CompletedIndexes, p.pods.succeeded, *p.completions)
		p.succeeded = int32(len(p.done))
		if spec.BackoffLimitPerIndex != nil {
			p.perIndex = newPerIndex(spec.GetBackoffLimitPerIndex(), *p.completions, p.status.GetFailedIndexes(), p.failedPods, p.verdicts, p.done)
		}
	} else {
		p.succeeded = max(p.status.Succeeded, int32(p.pods.succeeded.Count))
	}
	return p
}

func (p *jobPass) run() {
	suspended := p.spec.GetSuspend()
	resuming := !suspended && api.JobConditionTrue(p.status, api.JobSuspended)
	if p.status.StartTime == nil && !suspended {
		p.status.StartTime = timestamppb.New(p.now)
	}
	if o := p.outcome(suspended || resuming); o != nil {
		p.finish(o)
		return
	}
	if suspended {
		p.suspend()
		return
	}
	if resuming {
		setCondition(p.status, api.JobSuspended, api.ConditionFalse, reasonJobResumed, messageJobResumed, p.now)
		p.event(api.EventTypeNormal, "Resumed", messageJobResumed)
		// The deadline counts from the resumption: it does not run while
		// the Job is suspended.
		p.status.StartTime = timestamppb.New(p.now)
	}
	p.manage()
}

// outcome is where a Job is heading once its active pods are gone.
type outcome struct {
	interim, final  string // condition types
	reason, message string
}

// outcome returns how the Job ends, or nil while it still runs. Failure is
// checked before success, like Kubernetes does. The deadline is not checked
// while the Job is suspended or being resumed.
func (p *jobPass) outcome(paused bool) *outcome {
	if c := api.FindJobCondition(p.status, api.JobFailureTarget); c.GetStatus() == api.ConditionTrue {
		return &outcome{api.JobFailureTarget, api.JobFailed, c.Reason, c.Message}
	}
	if c := api.FindJobCondition(p.status, api.JobSuccessCriteriaMet); c.GetStatus() == api.ConditionTrue {
		return &outcome{api.JobSuccessCriteriaMet, api.JobComplete, c.Reason, c.Message}
	}
	if msg := failJobMessage(p.failedPods, p.verdicts); msg != "" {
		return &outcome{api.JobFailureTarget, api.JobFailed, api.JobReasonPodFailurePolicy, msg}
	}
	if p.pastBackoffLimit() {
		return &outcome{api.JobFailureTarget, api.JobFailed, api.ReasonBackoffLimitExceeded, messageBackoffLimitExceeded}
	}
	if end, ok := p.deadline(); ok && !paused && !p.now.Before(end) {
		return &outcome{api.JobFailureTarget, api.JobFailed, api.ReasonDeadlineExceeded, messageJobDeadline}
	}
	if p.perIndex != nil {
		if o := p.perIndex.outcome(p.spec, p.succeeded); o != nil {
			return o
		}
	}
	if p.indexed {
		if msg, ok := matchSuccessPolicy(p.spec.GetSuccessPolicy(), *p.completions, p.done); ok {
			return &outcome{api.JobSuccessCriteriaMet, api.JobComplete, api.JobReasonSuccessPolicy, msg}
		}
	}
	if p.completions != nil && p.succeeded >= *p.completions ||
		p.completions == nil && p.succeeded > 0 && len(p.pods.active) == 0 {
		return &outcome{api.JobSuccessCriteriaMet, api.JobComplete, api.ReasonCompletionsReached, messageCompletionsReached}
	}
	return nil
}

func (p *jobPass) pastBackoffLimit() bool {
	limit := int32(api.DefaultBackoffLimit)
	if bl := p.spec.BackoffLimit; bl != nil {
		limit = *bl
	}
	if p.failed > limit {
		return true
	}
	if p.spec.GetTemplate().GetSpec().GetRestartPolicy() != api.RestartPolicyOnFailure {
		return false
	}
	// Restarts in place count as failures (pastBackoffLimitOnFailure).
	if limit == 0 {
		return p.pods.restarts > 0
	}
	return p.pods.restarts >= int64(limit)
}

// deadline returns when the Job's activeDeadlineSeconds runs out.
func (p *jobPass) deadline() (time.Time, bool) {
	ads := p.spec.ActiveDeadlineSeconds
	if ads == nil || p.status.StartTime == nil {
		return time.Time{}, false
	}
	return p.status.StartTime.AsTime().Add(seconds(*ads)), true
}

// finish drives a Job to its end: the interim condition first, then every
// active pod stopped, then, once none is left, the final condition.
func (p *jobPass) finish(o *outcome) {
	setCondition(p.status, o.interim, api.ConditionTrue, o.reason, o.message, p.now)
	stopReason, stopMessage := o.reason, o.message
	if o.final == api.JobComplete {
		stopReason, stopMessage = reasonExcessPod, messageExcessPod
	}
	p.stop(p.pods.active, stopReason, stopMessage)
	if p.pods.activeAll() > 0 {
		return
	}
	setCondition(p.status, o.final, api.ConditionTrue, o.reason, o.message, p.now)
	if o.final == api.JobComplete {
		p.status.CompletionTime = timestamppb.New(p.now)
		p.event(api.EventTypeNormal, "Completed", "Job completed")
	} else {
		p.event(api.EventTypeWarning, o.reason, o.message)
	}
	if _, next := ttlExpiry(p.job, p.now, p.now); !next.IsZero() {
		p.wake(next)
	}
}

func (p *jobPass) suspend() {
	p.stop(p.pods.active, api.ReasonJobSuspended, messageJobSuspended)
	p.status.StartTime = nil
	if setCondition(p.status, api.JobSuspended, api.ConditionTrue, api.ReasonJobSuspended, messageJobSuspended, p.now) {
		p.event(api.EventTypeNormal, "Suspended", messageJobSuspended)
	}
}

// manage keeps the right number of pods running: it stops pods past their
// deadline or no longer wanted, else creates the missing ones.
func (p *jobPass) manage() {
	if end, ok := p.deadline(); ok {
		p.wake(end)
	}
	p.stopPastPodDeadline()
	p.stopSurplus()
	if len(p.plan.Stop) > 0 {
		return
	}
	p.create()
}

func (p *jobPass) stopPastPodDeadline() {
	var past []*api.Pod
	for _, pod := range p.pods.active {
		started := pod.GetStatus().GetStartTime()
		if pod.GetSpec().ActiveDeadlineSeconds == nil || started == nil || !isRunning(pod) {
			continue
		}
		end := started.AsTime().Add(seconds(pod.GetSpec().GetActiveDeadlineSeconds()))
		if p.now.Before(end) {
			p.wake(end)
			continue
		}
		past = append(past, pod)
	}
	p.stop(past, api.ReasonDeadlineExceeded, messagePodDeadline)
}

// stopSurplus stops active pods beyond what the Job wants, and for an
// Indexed Job pods whose index is invalid, done or held twice.
func (p *jobPass) stopSurplus() {
	var remaining []*api.Pod
	for _, pod := range p.pods.active {
		if !p.stopped[pod.GetMetadata().GetName()] {
			remaining = append(remaining, pod)
		}
	}
	var surplus []*api.Pod
	if p.indexed {
		surplus = surplusIndexed(remaining, *p.completions, p.closedIndexes())
		gone := make(map[*api.Pod]bool, len(surplus))
		for _, pod := range surplus {
			gone[pod] = true
		}
		remaining = slices.DeleteFunc(remaining, func(pod *api.Pod) bool { return gone[pod] })
	}
	if extra := len(remaining) - p.wantActive(len(remaining)); extra > 0 {
		sortForRemoval(remaining)
		surplus = append(surplus, remaining[:extra]...)
	}
	p.stop(surplus, reasonExcessPod, messageExcessPod)
}

// wantActive is how many pods should be active given how many are.
func (p *jobPass) wantActive(active int) int {
	if p.completions == nil {
		// A work queue is done once one pod succeeded: let the others
		// finish, start nothing new.
		if p.succeeded > 0 {
			return active
		}
		return int(p.parallelism)
	}
	return int(max(min(p.parallelism, *p.completions-p.succeeded), 0))
}

func (p *jobPass) create() {
	n := min(p.wantActive(len(p.pods.active))-p.pods.activeAll(), MaxPodChangesPerPass)
	if n <= 0 {
		return
	}
	// With backoffLimitPerIndex each index backs off on its own.
	if end := failureBackoffEnd(p.pods.succeeded, p.pods.failed); p.perIndex == nil && end.After(p.now) {
		p.wake(end)
		return
	}
	if !p.indexed {
		for range n {
			p.plan.Create = append(p.plan.Create, p.newPod())
		}
		p.created = n
		return
	}
	taken := make(map[int]bool)
	for _, pod := range append(slices.Clone(p.pods.active), p.pods.stopping...) {
		taken[api.PodCompletionIndex(pod)] = true
	}
	for _, i := range p.readyIndexes(freeIndexes(*p.completions, p.closedIndexes(), taken, n)) {
		pod := p.newPod()
		setPodIndex(pod, p.job.GetMetadata().GetName(), i)
		if p.perIndex != nil {
			p.perIndex.annotate(pod, i, p.verdicts)
		}
		p.plan.Create = append(p.plan.Create, pod)
		p.created++
	}
}

// newPod builds a pod from the Job's template, owned by the Job.
func (p *jobPass) newPod() *api.Pod {
	meta := p.job.GetMetadata()
	tmpl := p.spec.GetTemplate()
	labels := maps.Clone(tmpl.GetMetadata().GetLabels())
	if labels == nil {
		labels = make(map[string]string)
	}
	labels[api.LabelJobName] = meta.GetName()
	labels[api.LabelBatchJobName] = meta.GetName()
	labels[api.LabelControllerUID] = meta.GetUid()
	labels[api.LabelBatchControllerUID] = meta.GetUid()
	spec := &api.PodSpec{}
	if tmpl.GetSpec() != nil {
		spec = proto.Clone(tmpl.GetSpec()).(*api.PodSpec)
	}
	return &api.Pod{
		ApiVersion: api.PodResource.APIVersion(),
		Kind:       api.PodResource.Kind,
		Metadata: &api.ObjectMeta{
			GenerateName: meta.GetName() + "-",
			Namespace:    meta.GetNamespace(),
			Labels:       labels,
			Annotations:  maps.Clone(tmpl.GetMetadata().GetAnnotations()),
			OwnerReferences: []*api.OwnerReference{{
				ApiVersion:         api.JobResource.APIVersion(),
				Kind:               api.JobResource.Kind,
				Name:               meta.GetName(),
				Uid:                meta.GetUid(),
				Controller:         proto.Bool(true),
				BlockOwnerDeletion: proto.Bool(true),
			}},
		},
		Spec:   spec,
		Status: &api.PodStatus{Phase: api.PodPending},
	}
}

// stop asks for pods to be stopped, each once per pass, at most
// MaxPodChangesPerPass in one pass; the next pass stops the rest.
func (p *jobPass) stop(pods []*api.Pod, reason, message string) {
	for _, pod := range pods {
		name := pod.GetMetadata().GetName()
		if p.stopped[name] {
			continue
		}
		if len(p.stopped) >= MaxPodChangesPerPass {
			return
		}
		p.stopped[name] = true
		p.plan.Stop = append(p.plan.Stop, StopPod{Name: name, Reason: reason, Message: message})
		p.event(api.EventTypeNormal, "SuccessfulDelete", "Deleted pod: "+name)
	}
}

func (p *jobPass) event(typ, reason, message string) {
	p.plan.Events = append(p.plan.Events, Event{Type: typ, Reason: reason, Message: message})
}

// wake records a future time at which the Job needs another pass.
func (p *jobPass) wake(t time.Time) {
	if t.After(p.now) && (p.plan.NextCheck.IsZero() || t.Before(p.plan.NextCheck)) {
		p.plan.NextCheck = t
	}
}

// fillStatus writes the pod counts as they will be once the plan is applied.
func (p *jobPass) fillStatus() {
	var ready int32
	for _, pod := range p.pods.active {
		if isRunning(pod) && !p.stopped[pod.GetMetadata().GetName()] {
			ready++
		}
	}
	s := p.status
	s.Active = int32(len(p.pods.active) - len(p.stopped) + p.created)
	s.Terminating = proto.Int32(int32(len(p.pods.stopping) + len(p.stopped)))
	s.Ready = proto.Int32(ready)
	s.Succeeded = p.succeeded
	s.Failed = p.failed
	if p.indexed {
		s.CompletedIndexes = formatIndexes(p.done)
	}
	if p.perIndex != nil {
		s.FailedIndexes = proto.String(formatIndexes(p.perIndex.failed))
	}
}

// judgeFailures decides what each Failed pod means under the Job's
// podFailurePolicy; only the failures that count stay in p.pods.failed.
func (p *jobPass) judgeFailures(pods []*api.Pod) {
	p.verdicts = make(map[*api.Pod]verdict)
	p.pods.failed = nil
	for _, pod := range pods {
		if pod.GetStatus().GetPhase() != api.PodFailed {
			continue
		}
		v := judgeFailure(p.spec, pod)
		p.failedPods = append(p.failedPods, pod)
		p.verdicts[pod] = v
		if v.counts {
			p.pods.failed = append(p.pods.failed, pod)
		}
	}
}

// closedIndexes are the indexes of an Indexed Job that get no more pods:
// those that succeeded and those that failed for good.
func (p *jobPass) closedIndexes() map[int]bool {
	if p.perIndex == nil || len(p.perIndex.failed) == 0 {
		return p.done
	}
	closed := maps.Clone(p.done)
	maps.Copy(closed, p.perIndex.failed)
	return closed
}

// readyIndexes keeps the indexes whose per-index back-off has ended and
// asks for a pass when the others' ends.
func (p *jobPass) readyIndexes(indexes []int) []int {
	if p.perIndex == nil {
		return indexes
	}
	var ready []int
	for _, i := range indexes {
		if end := p.perIndex.backoffEnd(i, p.verdicts); end.After(p.now) {
			p.wake(end)
			continue
		}
		ready = append(ready, i)
	}
	return ready
}

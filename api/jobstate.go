package api

// JobState is one word for where a Job stands, as the web UI shows it and
// the servers count Jobs: the first of Complete, Failed, Terminating,
// Suspended, FailureTarget and SuccessCriteriaMet that holds, else
// Running.
type JobState int

// Job states.
const (
	JobStateRunning JobState = iota
	JobStateComplete
	JobStateFailed
	JobStateSuspended
	JobStateTerminating
	JobStateFailureTarget
	JobStateSuccessCriteriaMet
	// JobStateCount is how many states there are.
	JobStateCount
)

var jobStateNames = [JobStateCount]string{
	JobStateRunning:            "Running",
	JobStateComplete:           JobComplete,
	JobStateFailed:             JobFailed,
	JobStateSuspended:          JobSuspended,
	JobStateTerminating:        "Terminating",
	JobStateFailureTarget:      JobFailureTarget,
	JobStateSuccessCriteriaMet: JobSuccessCriteriaMet,
}

func (s JobState) String() string {
	if s < 0 || s >= JobStateCount {
		return "Unknown"
	}
	return jobStateNames[s]
}

// JobStateOf is the state of Job j.
func JobStateOf(j *Job) JobState {
	st := j.GetStatus()
	switch {
	case JobConditionTrue(st, JobComplete):
		return JobStateComplete
	case JobConditionTrue(st, JobFailed):
		return JobStateFailed
	case j.GetMetadata().GetDeletionTimestamp() != nil:
		return JobStateTerminating
	case JobConditionTrue(st, JobSuspended):
		return JobStateSuspended
	case JobConditionTrue(st, JobFailureTarget):
		return JobStateFailureTarget
	case JobConditionTrue(st, JobSuccessCriteriaMet):
		return JobStateSuccessCriteriaMet
	}
	return JobStateRunning
}

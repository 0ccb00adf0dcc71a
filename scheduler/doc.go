// Package scheduler decides what should run: the Job controller
// (ReconcileJob), pod placement (Placer), CronJob schedule decisions
// (ReconcileCronJob) and node readiness and loss (ReconcileNodes).
//
// Everything here is a pure function of its inputs: no goroutines, no clock
// reads, no randomness and no I/O. The current time is always passed in, and
// every decision comes back as a plan for the caller to propose through Raft.
// Inputs are protobuf messages that are never modified; whatever a plan
// carries is a fresh copy.
//
// The semantics follow the Kubernetes job and cronjob controllers
// (pkg/controller/job, pkg/controller/cronjob) as of Kubernetes 1.31.
package scheduler

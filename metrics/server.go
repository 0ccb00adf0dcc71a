package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Server is what one jobcluster server measures. Its counters and
// histograms are fed by the cluster package; its gauges are read from the
// ServerState the server reports at each scrape. Safe for concurrent use.
type Server struct {
	// Outcomes, counted by every server from the log it applies.
	jobsFinished     *prometheus.CounterVec
	podsFinished     *prometheus.CounterVec
	podsCreated      prometheus.Counter
	cronDecisions    *prometheus.CounterVec
	cronJobsFinished *prometheus.CounterVec
	cronCreationSkew prometheus.Histogram
	cronStartSkew    prometheus.Histogram

	// Controller work, measured by the leader.
	jobSync         prometheus.Histogram
	cronSync        prometheus.Histogram
	nodeSync        prometheus.Histogram
	placements      *prometheus.CounterVec
	placementDelay  prometheus.Histogram
	entryCommands   prometheus.Histogram
	proposalLatency prometheus.Histogram
	leaseRenewals   prometheus.Counter
	nodesLost       prometheus.Counter

	// This server's Raft.
	fsmApply        prometheus.Histogram
	snapshots       prometheus.Counter
	snapshotPersist prometheus.Histogram
	restores        prometheus.Counter
}

// NewServer registers a server's families in reg; ObserveState adds its
// gauges. A registry holds one server's.
func NewServer(reg *Registry) *Server {
	s := &Server{
		jobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "jobs_finished_total",
			Help: "Jobs that reached Complete or Failed, by completion mode, result (succeeded, failed) and the condition's reason. Counted by every server from the log it applied since it started.",
		}, []string{"completion_mode", "result", "reason"}),
		podsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "job_pods_finished_total",
			Help: "Pods that reached Succeeded or Failed, by result and reason (NodeLost: their node's lease expired). Counted by every server from the log it applied.",
		}, []string{"result", "reason"}),
		podsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "job_pods_creation_total",
			Help: "Pods created for Jobs. Counted by every server from the log it applied.",
		}),
		cronDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cronjob_decisions_total",
			Help: "CronJob schedule times decided, by action (Created, Skipped, Missed, Replaced, ...). Counted by every server from the log it applied.",
		}, []string{"action"}),
		cronJobsFinished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "cronjob_jobs_finished_total",
			Help: "Jobs of each CronJob that finished, by result. Counted by every server from the log it applied.",
		}, []string{"cronjob", "result"}),
		cronCreationSkew: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "cronjob_job_creation_skew_duration_seconds",
			Help:    "Time from a CronJob's scheduled time to the creation of its Job, 0 for a run decided ahead of its time. Observed by every server from the log it applied.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}),
		cronStartSkew: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "cronjob_pod_start_skew_duration_seconds",
			Help:    "Time from a CronJob's scheduled time to the start of its Job's first container, as the agent's clock recorded it. Observed by every server from the log it applied.",
			Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600},
		}),
		jobSync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "job_sync_duration_seconds",
			Help:    "Time a job controller pass over every live Job takes, proposing and applying its decisions included. Leader only.",
			Buckets: slowBuckets,
		}),
		cronSync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "cronjob_sync_duration_seconds",
			Help:    "Time a cron controller pass over every CronJob takes. Leader only.",
			Buckets: slowBuckets,
		}),
		nodeSync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "node_sync_duration_seconds",
			Help:    "Time a node controller pass takes. Leader only.",
			Buckets: slowBuckets,
		}),
		placements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "scheduler_schedule_attempts_total",
			Help: "Attempts to place a pod on a node, by result (scheduled, unschedulable). Leader only.",
		}, []string{"result"}),
		placementDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "scheduler_pod_scheduling_duration_seconds",
			Help:    "Time from a pod's creation to its placement on a node. Leader only.",
			Buckets: slowBuckets,
		}),
		entryCommands: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "raft_proposal_batch_commands",
			Help:    "Commands gathered into one proposed Raft log entry. Leader only.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 8),
		}),
		proposalLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "raft_proposal_duration_seconds",
			Help:    "Time from proposing a Raft log entry to its being committed and applied on the leader.",
			Buckets: fastBuckets,
		}),
		leaseRenewals: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "lease_renewals_total",
			Help: "Agent leases renewed by heartbeats. Leader only.",
		}),
		nodesLost: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "nodes_lost_total",
			Help: "Nodes whose lease certainly expired while they had unfinished pods, which were failed NodeLost. Leader only.",
		}),
		fsmApply: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "raft_fsm_apply_duration_seconds",
			Help:    "Time this server's state machine takes to apply one Raft log entry.",
			Buckets: fastBuckets,
		}),
		snapshots: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "raft_snapshots_total",
			Help: "Snapshots of the state this server wrote.",
		}),
		snapshotPersist: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "raft_snapshot_persist_duration_seconds",
			Help:    "Time writing a snapshot of the state takes on this server.",
			Buckets: slowBuckets,
		}),
		restores: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "raft_snapshot_restores_total",
			Help: "Snapshots this server restored its state from.",
		}),
	}
	reg.reg.MustRegister(
		s.jobsFinished, s.podsFinished, s.podsCreated, s.cronDecisions, s.cronJobsFinished, s.cronCreationSkew, s.cronStartSkew,
		s.jobSync, s.cronSync, s.nodeSync, s.placements, s.placementDelay, s.entryCommands, s.proposalLatency,
		s.leaseRenewals, s.nodesLost,
		s.fsmApply, s.snapshots, s.snapshotPersist, s.restores,
	)
	return s
}

// ObserveState reads the server's gauges from state at each scrape. Call
// it once, when the server is running.
func (s *Server) ObserveState(reg *Registry, state func() ServerState) {
	reg.reg.MustRegister(newStateCollector(state))
}

// Pod and Job results, as Kubernetes labels them.
const (
	ResultSucceeded = "succeeded"
	ResultFailed    = "failed"
)

// JobFinished counts a Job that reached a final condition; cronJob names
// the CronJob that created it, if one did.
func (s *Server) JobFinished(completionMode, result, reason, cronJob string) {
	s.jobsFinished.WithLabelValues(completionMode, result, reason).Inc()
	if cronJob != "" {
		s.cronJobsFinished.WithLabelValues(cronJob, result).Inc()
	}
}

// PodFinished counts a pod that reached a final phase.
func (s *Server) PodFinished(result, reason string) {
	s.podsFinished.WithLabelValues(result, reason).Inc()
}

// PodsCreated counts pods created for Jobs.
func (s *Server) PodsCreated(n int) { s.podsCreated.Add(float64(n)) }

// CronDecided counts a CronJob's decision for one scheduled time; skew is
// how late its Job was created, or negative when it created none.
func (s *Server) CronDecided(action string, skew time.Duration) {
	s.cronDecisions.WithLabelValues(action).Inc()
	if skew >= 0 {
		s.cronCreationSkew.Observe(skew.Seconds())
	}
}

// CronPodStarted records how late after its scheduled time a CronJob's
// pod started.
func (s *Server) CronPodStarted(skew time.Duration) { s.cronStartSkew.Observe(max(skew, 0).Seconds()) }

// JobSynced records one job controller pass.
func (s *Server) JobSynced(d time.Duration) { s.jobSync.Observe(d.Seconds()) }

// CronSynced records one cron controller pass.
func (s *Server) CronSynced(d time.Duration) { s.cronSync.Observe(d.Seconds()) }

// NodesSynced records one node controller pass.
func (s *Server) NodesSynced(d time.Duration) { s.nodeSync.Observe(d.Seconds()) }

// Placed records a placement attempt; waited is how long the pod had
// waited since its creation when it found a node.
func (s *Server) Placed(scheduled bool, waited time.Duration) {
	if !scheduled {
		s.placements.WithLabelValues("unschedulable").Inc()
		return
	}
	s.placements.WithLabelValues("scheduled").Inc()
	s.placementDelay.Observe(max(waited, 0).Seconds())
}

// Proposed records one Raft log entry the leader proposed: the commands
// it carried and how long it took to be applied.
func (s *Server) Proposed(commands int, took time.Duration) {
	s.entryCommands.Observe(float64(commands))
	s.proposalLatency.Observe(took.Seconds())
}

// LeaseRenewed counts an agent heartbeat that renewed its lease.
func (s *Server) LeaseRenewed() { s.leaseRenewals.Inc() }

// NodesLost counts nodes found lost, their pods failed.
func (s *Server) NodesLost(n int) { s.nodesLost.Add(float64(n)) }

// Applied records the time one log entry took to apply.
func (s *Server) Applied(took time.Duration) { s.fsmApply.Observe(took.Seconds()) }

// SnapshotPersisted records a snapshot written.
func (s *Server) SnapshotPersisted(took time.Duration) {
	s.snapshots.Inc()
	s.snapshotPersist.Observe(took.Seconds())
}

// SnapshotRestored counts a snapshot restored.
func (s *Server) SnapshotRestored() { s.restores.Inc() }

package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// ServerState is a server's view at one scrape. Building it must cost
// nothing per stored Job: counts come from counters kept up to date as
// the log is applied, or from indexes of live objects only.
type ServerState struct {
	// Leader reports whether this server leads; LeaderKnown whether it
	// knows any leader.
	Leader, LeaderKnown bool
	Term                uint64
	// CommitIndex is the last log index this server knows committed;
	// AppliedIndex the last its state machine applied.
	CommitIndex, AppliedIndex uint64
	// LastContact is how long ago a follower last heard from the leader
	// (0 on the leader), negative when it never did.
	LastContact time.Duration
	// Members counts gossip members by role and status.
	Members map[MemberKey]int
	Jobs    JobCounts
	Pods    PodCounts
	// Unschedulable counts pods waiting for a node that none could take;
	// Unbound those not yet tried.
	Unschedulable, Unbound int
	Nodes                  []NodeState
	CronJobs               []CronJobState
}

// MemberKey is a gossip member's role and status.
type MemberKey struct{ Role, Status string }

// JobCounts counts stored Jobs by state.
type JobCounts struct{ Active, Suspended, Finished int }

// PodCounts counts stored pods by state.
type PodCounts struct{ Pending, Running, Finished int }

// NodeState is one node's readiness, what it offers and what its pods
// request.
type NodeState struct {
	Name                 string
	Ready                bool
	CPUMillis, CPUUsed   int64
	MemoryBytes, MemUsed int64
	Pods, PodsUsed       int64
}

// CronJobState is a CronJob's next scheduled time (zero when it has none:
// suspended, or its schedule does not parse).
type CronJobState struct {
	Name string
	Next time.Time
}

var (
	descLeader        = newDesc("raft_leader", "1 when this server is the Raft leader, else 0.")
	descLeaderKnown   = newDesc("raft_leader_known", "1 when this server knows a Raft leader, else 0.")
	descTerm          = newDesc("raft_term", "This server's current Raft term.")
	descCommitIndex   = newDesc("raft_commit_index", "Last Raft log index this server knows to be committed.")
	descAppliedIndex  = newDesc("raft_applied_index", "Last Raft log index this server's state machine applied.")
	descLastContact   = newDesc("raft_last_contact_seconds", "Time since this follower last heard from the leader (0 on the leader, -1 never).")
	descMembers       = newDesc("gossip_members", "Gossip members this server knows, by role and status.", "role", "status")
	descJobs          = newDesc("jobs", "Stored Jobs by state (active, suspended, finished).", "state")
	descPods          = newDesc("pods", "Stored pods by state (pending, running, finished).", "state")
	descPending       = newDesc("scheduler_pending_pods", "Pods waiting for a node, by reason (unschedulable: no node fits; unbound: not tried yet).", "reason")
	descNodeReady     = newDesc("node_ready", "1 when the node is Ready, else 0.", "node")
	descNodeCapacity  = newDesc("node_capacity", "What the node offers to pods, by resource (cpu in cores, memory in bytes, pods).", "node", "resource")
	descNodeAllocated = newDesc("node_allocated", "What the node's unfinished pods request, by resource (cpu in cores, memory in bytes, pods).", "node", "resource")
	descCronNext      = newDesc("cronjob_next_schedule_time_seconds", "Unix time of the CronJob's next scheduled run.", "cronjob")
)

func newDesc(name, help string, labels ...string) *prometheus.Desc {
	return prometheus.NewDesc(prometheus.BuildFQName(namespace, "", name), help, labels, nil)
}

// stateCollector turns a ServerState into gauges at each scrape.
type stateCollector struct{ state func() ServerState }

func newStateCollector(state func() ServerState) *stateCollector {
	return &stateCollector{state: state}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		descLeader, descLeaderKnown, descTerm, descCommitIndex, descAppliedIndex, descLastContact,
		descMembers, descJobs, descPods, descPending, descNodeReady, descNodeCapacity, descNodeAllocated, descCronNext,
	} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.state()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	gauge(descLeader, boolValue(st.Leader))
	gauge(descLeaderKnown, boolValue(st.LeaderKnown))
	gauge(descTerm, float64(st.Term))
	gauge(descCommitIndex, float64(st.CommitIndex))
	gauge(descAppliedIndex, float64(st.AppliedIndex))
	contact := -1.0
	if st.LastContact >= 0 {
		contact = st.LastContact.Seconds()
	}
	gauge(descLastContact, contact)
	for k, n := range st.Members {
		gauge(descMembers, float64(n), k.Role, k.Status)
	}
	gauge(descJobs, float64(st.Jobs.Active), "active")
	gauge(descJobs, float64(st.Jobs.Suspended), "suspended")
	gauge(descJobs, float64(st.Jobs.Finished), "finished")
	gauge(descPods, float64(st.Pods.Pending), "pending")
	gauge(descPods, float64(st.Pods.Running), "running")
	gauge(descPods, float64(st.Pods.Finished), "finished")
	gauge(descPending, float64(st.Unschedulable), "unschedulable")
	gauge(descPending, float64(st.Unbound), "unbound")
	for _, n := range st.Nodes {
		gauge(descNodeReady, boolValue(n.Ready), n.Name)
		gauge(descNodeCapacity, float64(n.CPUMillis)/1000, n.Name, "cpu")
		gauge(descNodeCapacity, float64(n.MemoryBytes), n.Name, "memory")
		gauge(descNodeCapacity, float64(n.Pods), n.Name, "pods")
		gauge(descNodeAllocated, float64(n.CPUUsed)/1000, n.Name, "cpu")
		gauge(descNodeAllocated, float64(n.MemUsed), n.Name, "memory")
		gauge(descNodeAllocated, float64(n.PodsUsed), n.Name, "pods")
	}
	for _, cj := range st.CronJobs {
		if !cj.Next.IsZero() {
			gauge(descCronNext, float64(cj.Next.UnixMilli())/1000, cj.Name)
		}
	}
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

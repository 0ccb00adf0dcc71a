package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Agent is what one agent measures. A nil *Agent measures nothing, so
// code under test may leave it out. Safe for concurrent use.
type Agent struct {
	starts        *prometheus.CounterVec
	startLatency  prometheus.Histogram
	restarts      prometheus.Counter
	logBytes      prometheus.Counter
	oomKills      prometheus.Counter
	fsync         prometheus.Histogram
	leaseRenewals *prometheus.CounterVec
	leaseExpiries prometheus.Counter
}

// AgentState is an agent's view at one scrape.
type AgentState struct {
	// PodsRunning counts the pods with a container running.
	PodsRunning int
	// LeaseHeld reports whether the agent may run pods now.
	LeaseHeld bool
}

var (
	descAgentPodsRunning = newDesc("agent_pods_running", "Pods with a container running on this agent.")
	descAgentLeaseHeld   = newDesc("agent_lease_held", "1 while this agent holds its lease and may run pods, else 0.")
)

// NewAgent registers an agent's families in reg; ObserveState adds its
// gauges. A registry holds one agent's.
func NewAgent(reg *Registry) *Agent {
	a := &Agent{
		starts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "agent_container_starts_total",
			Help: "Containers this agent started, by result (started; error: the runtime could not start it).",
		}, []string{"result"}),
		startLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "agent_container_start_duration_seconds",
			Help:    "Time the runtime takes to start a container.",
			Buckets: fastBuckets,
		}),
		restarts: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "agent_container_restarts_total",
			Help: "Containers restarted in place (restartPolicy OnFailure).",
		}),
		logBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "agent_log_bytes_total",
			Help: "Bytes of container output written to pod logs.",
		}),
		oomKills: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "agent_container_oom_kills_total",
			Help: "Containers that ended OOMKilled: killed for going over their memory limit (a runtime that enforces limits reports it).",
		}),
		fsync: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Name: "agent_journal_fsync_duration_seconds",
			Help:    "Time an fsync of the agent's pod journal takes.",
			Buckets: fastBuckets,
		}),
		leaseRenewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "agent_lease_renewals_total",
			Help: "Attempts to renew this agent's lease, by result (renewed, failed).",
		}, []string{"result"}),
		leaseExpiries: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Name: "agent_lease_expirations_total",
			Help: "Times this agent's lease ran out and it stopped its pods.",
		}),
	}
	reg.reg.MustRegister(a.starts, a.startLatency, a.restarts, a.logBytes, a.oomKills, a.fsync,
		a.leaseRenewals, a.leaseExpiries)
	return a
}

// ObserveState reads the agent's gauges from state at each scrape. Call
// it once, when the agent is running.
func (a *Agent) ObserveState(reg *Registry, state func() AgentState) {
	reg.reg.MustRegister(agentCollector(state))
}

// ContainerStarted records a container start (err nil) or a runtime's
// failure to start one, and how long it took.
func (a *Agent) ContainerStarted(took time.Duration, err error) {
	if a == nil {
		return
	}
	if err != nil {
		a.starts.WithLabelValues("error").Inc()
		return
	}
	a.starts.WithLabelValues("started").Inc()
	a.startLatency.Observe(took.Seconds())
}

// ContainerRestarted counts a container restarted in place.
func (a *Agent) ContainerRestarted() {
	if a != nil {
		a.restarts.Inc()
	}
}

// ContainerOOMKilled counts a container that ended OOMKilled.
func (a *Agent) ContainerOOMKilled() {
	if a != nil {
		a.oomKills.Inc()
	}
}

// LogWritten counts bytes written to a pod's log.
func (a *Agent) LogWritten(n int64) {
	if a != nil {
		a.logBytes.Add(float64(n))
	}
}

// JournalSynced records one fsync of the pod journal.
func (a *Agent) JournalSynced(took time.Duration) {
	if a != nil {
		a.fsync.Observe(took.Seconds())
	}
}

// LeaseRenewal records an attempt to renew the lease.
func (a *Agent) LeaseRenewal(ok bool) {
	if a == nil {
		return
	}
	if ok {
		a.leaseRenewals.WithLabelValues("renewed").Inc()
	} else {
		a.leaseRenewals.WithLabelValues("failed").Inc()
	}
}

// LeaseExpired counts the lease running out.
func (a *Agent) LeaseExpired() {
	if a != nil {
		a.leaseExpiries.Inc()
	}
}

type agentCollector func() AgentState

func (c agentCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descAgentPodsRunning
	ch <- descAgentLeaseHeld
}

func (c agentCollector) Collect(ch chan<- prometheus.Metric) {
	st := c()
	ch <- prometheus.MustNewConstMetric(descAgentPodsRunning, prometheus.GaugeValue, float64(st.PodsRunning))
	ch <- prometheus.MustNewConstMetric(descAgentLeaseHeld, prometheus.GaugeValue, boolValue(st.LeaseHeld))
}

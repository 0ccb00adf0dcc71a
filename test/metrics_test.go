package test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// scrape is one parsed /metrics page.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics reads a node's /metrics in the Prometheus text format.
func scrapeMetrics(t *testing.T, n *testcluster.Node) (scrape, error) {
	t.Helper()
	resp, err := http.Get("http://" + n.HTTPAddr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics on %s: %s", n.Name, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sum adds the samples of a counter, gauge or histogram (its count)
// whose labels include every pair in match.
func (s scrape) sum(name string, match ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	total := 0.0
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for i := 0; i+1 < len(match); i += 2 {
			ok = ok && labels[match[i]] == match[i+1]
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			total += m.GetCounter().GetValue()
		case m.Gauge != nil:
			total += m.GetGauge().GetValue()
		case m.Histogram != nil:
			total += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return total
}

// outcome is what the servers count from the log they apply, and so must
// agree on exactly.
type outcome struct {
	jobsSucceeded, jobsFailed       float64
	podsSucceeded, podsFailed       float64
	podsLost, podsCreated           float64
	cronCreated, cronSkews, cronOKs float64
	cronStarts                      float64
}

// withdrawnRuns counts the runs of a CronJob withdrawn unrun, by its
// Withdrawn events.
func withdrawnRuns(c *testcluster.Cluster, cron string) (float64, error) {
	var list struct {
		Items []struct {
			Reason         string `json:"reason"`
			Count          int    `json:"count"`
			InvolvedObject struct {
				Name string `json:"name"`
			} `json:"involvedObject"`
		} `json:"items"`
	}
	if err := c.GetJSON(&list, "events"); err != nil {
		return 0, err
	}
	n := 0
	for _, e := range list.Items {
		if e.Reason == "Withdrawn" && e.InvolvedObject.Name == cron {
			n += max(e.Count, 1)
		}
	}
	return float64(n), nil
}

func outcomeOf(s scrape) outcome {
	return outcome{
		jobsSucceeded: s.sum("jobcluster_jobs_finished_total", "result", "succeeded"),
		jobsFailed:    s.sum("jobcluster_jobs_finished_total", "result", "failed"),
		podsSucceeded: s.sum("jobcluster_job_pods_finished_total", "result", "succeeded"),
		podsFailed:    s.sum("jobcluster_job_pods_finished_total", "result", "failed"),
		podsLost:      s.sum("jobcluster_job_pods_finished_total", "result", "failed", "reason", "NodeLost"),
		podsCreated:   s.sum("jobcluster_job_pods_creation_total"),
		cronCreated:   s.sum("jobcluster_cronjob_decisions_total", "action", "Created"),
		cronSkews:     s.sum("jobcluster_cronjob_job_creation_skew_duration_seconds"),
		cronOKs:       s.sum("jobcluster_cronjob_jobs_finished_total", "cronjob", "metrics-tick", "result", "succeeded"),
		cronStarts:    s.sum("jobcluster_cronjob_pod_start_skew_duration_seconds"),
	}
}

// TestMetricsCountWhatHappened runs a Job that succeeds, one that fails, a
// CronJob and a Job whose agent is killed, on three servers and two agents
// with HTTP listeners, and checks that every server's /metrics counts each
// outcome exactly once, that the leader alone counted the lost node, that
// the surviving agent counted the containers it started, that /readyz
// answers, and that every metric the example alert rules and dashboard use
// is exposed.
func TestMetricsCountWhatHappened(t *testing.T) {
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, HTTP: true})
	a1, a2 := agentNamed(t, c, "a1"), agentNamed(t, c, "a2")
	for _, n := range append(slices.Clone(c.Servers), a1, a2) {
		wait.Within(t, 20*time.Second, n.Name+" ready", func() (bool, string) {
			code, body := httpGet(n.HTTPAddr, "/readyz?verbose")
			return code == http.StatusOK, fmt.Sprintf("%d %s", code, body)
		})
	}

	c.Submit(jobDoc("metrics-ok", "completions: 3\nparallelism: 3", "Never", "true"))
	c.Submit(jobDoc("metrics-fail", "backoffLimit: 0", "Never", "exit 1"))
	c.Submit(cronJob{name: "metrics-tick", schedule: "* * * * * *", successful: 20, failed: 20, script: "true"}.yaml())
	c.Submit(cronJob{name: "metrics-yearly", schedule: "0 0 1 1 *", successful: 1, failed: 1, script: "true"}.yaml())
	c.Submit(pinned(jobDoc("metrics-lost", "parallelism: 2\ncompletions: 2", "Never", "sleep 3600"), "a2"))
	c.WaitJob("metrics-ok", 30*time.Second)
	c.WaitJob("metrics-fail", 30*time.Second)
	cronRuns(t, c, "metrics-tick", 3, 30*time.Second)
	c.MustCLI("suspend", "cronjob", "metrics-tick")
	wait.Within(t, 30*time.Second, "both metrics-lost pods running on a2", func() (bool, string) {
		pods, err := c.Pods("metrics-lost")
		if err != nil {
			return false, err.Error()
		}
		return len(podsIn(pods, "Running")) == 2, fmt.Sprint(podStates(pods))
	})
	c.Kill(a2)
	wait.Within(t, 30*time.Second, "metrics-lost pods failed NodeLost", func() (bool, string) {
		pods, err := c.Pods("metrics-lost")
		if err != nil {
			return false, err.Error()
		}
		lost := 0
		for _, p := range pods {
			if p.Status.Phase == "Failed" && p.Status.Reason == "NodeLost" {
				lost++
			}
		}
		return lost == 2, fmt.Sprint(podStates(pods))
	})

	// What happened, read from the cluster once every CronJob run ended.
	var runs []testcluster.CronRun
	wait.Within(t, 30*time.Second, "every metrics-tick run to finish", func() (bool, string) {
		var err error
		if runs, err = c.CronRuns("metrics-tick"); err != nil {
			return false, err.Error()
		}
		for _, r := range runs {
			if r.Finished != "Complete" {
				return false, fmt.Sprintf("%s: %q", r.Name, r.Finished)
			}
		}
		return true, ""
	})
	var pods struct {
		Items []testcluster.Pod `json:"items"`
	}
	if err := c.GetJSON(&pods, "pods"); err != nil {
		t.Fatal(err)
	}
	cron := float64(len(runs))
	want := outcome{
		jobsSucceeded: 1 + cron, jobsFailed: 1,
		podsSucceeded: 3 + cron, podsFailed: 1 + 2, podsLost: 2,
		podsCreated: float64(len(pods.Items)),
		cronCreated: cron, cronSkews: cron, cronOKs: cron, cronStarts: cron,
	}
	if want.podsCreated < 3+1+cron+2 {
		t.Fatalf("%d pods stored, want at least %v: %v", len(pods.Items), 3+1+cron+2, podStates(pods.Items))
	}
	scrapes := map[string]scrape{}
	for _, s := range c.Servers {
		wait.Within(t, 20*time.Second, s.Name+" to count what happened", func() (bool, string) {
			got, err := scrapeMetrics(t, s)
			if err != nil {
				return false, err.Error()
			}
			// A run decided ahead of its time and withdrawn by the
			// suspend was created, with its pod, then deleted.
			withdrawn, err := withdrawnRuns(c, "metrics-tick")
			if err != nil {
				return false, err.Error()
			}
			want := want
			want.cronCreated += withdrawn
			want.cronSkews += withdrawn
			want.podsCreated += withdrawn
			scrapes[s.Name] = got
			return outcomeOf(got) == want, fmt.Sprintf("got %+v, want %+v (%v runs withdrawn)", outcomeOf(got), want, withdrawn)
		})
	}

	var leaders, nodesLost float64
	for _, s := range scrapes {
		leaders += s.sum("jobcluster_raft_leader")
		nodesLost += s.sum("jobcluster_nodes_lost_total")
	}
	if leaders != 1 || nodesLost != 1 {
		t.Errorf("summed over servers: jobcluster_raft_leader %v, jobcluster_nodes_lost_total %v; want 1 and 1", leaders, nodesLost)
	}
	leader := scrapes[c.WaitForLeader().Name]
	if got := leader.sum("jobcluster_node_ready", "node", "a2"); got != 0 {
		t.Errorf("leader: jobcluster_node_ready{node=a2} = %v, want 0", got)
	}
	if got := leader.sum("jobcluster_jobs", "state", "finished"); got != 2+cron {
		t.Errorf("leader: jobcluster_jobs{state=finished} = %v, want %v", got, 2+cron)
	}
	next := leader.sum("jobcluster_cronjob_next_schedule_time_seconds", "cronjob", "metrics-yearly")
	if at := time.Unix(int64(next), 0); !at.After(time.Now()) || at.After(time.Now().AddDate(1, 0, 1)) {
		t.Errorf("leader: jobcluster_cronjob_next_schedule_time_seconds{cronjob=metrics-yearly} = %v (%v), want the next 1 January", next, at)
	}
	if got := leader.sum("jobcluster_cronjob_next_schedule_time_seconds", "cronjob", "metrics-tick"); got != 0 {
		t.Errorf("leader: suspended metrics-tick has a next schedule time %v", got)
	}

	ranOnA1 := 0
	for _, p := range pods.Items {
		if p.Spec.NodeName == "a1" && p.Status.Phase != "Pending" {
			ranOnA1++
		}
	}
	agent, err := scrapeMetrics(t, a1)
	if err != nil {
		t.Fatal(err)
	}
	if got := agent.sum("jobcluster_agent_container_starts_total", "result", "started"); got != float64(ranOnA1) {
		t.Errorf("a1: jobcluster_agent_container_starts_total{result=started} = %v, want %d (its pods that ran)", got, ranOnA1)
	}
	if got := agent.sum("jobcluster_agent_lease_held"); got != 1 {
		t.Errorf("a1: jobcluster_agent_lease_held = %v, want 1", got)
	}
	if code, body := httpGet(a1.HTTPAddr, "/healthz"); code != http.StatusOK || body != "ok" {
		t.Errorf("a1 /healthz = %d %q, want 200 ok", code, body)
	}

	checkMonitoringExamples(t, leader, agent)
}

// podsIn lists the pods in phase.
func podsIn(pods []testcluster.Pod, phase string) []testcluster.Pod {
	var out []testcluster.Pod
	for _, p := range pods {
		if p.Status.Phase == phase {
			out = append(out, p)
		}
	}
	return out
}

func httpGet(addr, path string) (int, string) {
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metricName matches the jobcluster metrics a PromQL expression uses.
var metricName = regexp.MustCompile(`\bjobcluster_[a-z0-9_]+`)

// checkMonitoringExamples finds every jobcluster metric the example alert
// rules and Grafana dashboard use and checks that a server's or an
// agent's /metrics exposes it.
func checkMonitoringExamples(t *testing.T, pages ...scrape) {
	t.Helper()
	var rules struct {
		Groups []struct {
			Name  string `json:"name"`
			Rules []struct {
				Alert       string            `json:"alert"`
				Expr        string            `json:"expr"`
				For         string            `json:"for"`
				Labels      map[string]string `json:"labels"`
				Annotations map[string]string `json:"annotations"`
			} `json:"rules"`
		} `json:"groups"`
	}
	data, err := os.ReadFile("../examples/monitoring/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	exprs := map[string]string{} // expression -> where it is used
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" || r.Expr == "" {
				t.Errorf("alerts.yml: rule %q has no alert name or expression", r.Alert)
			}
			exprs[r.Expr] = "alert " + r.Alert
		}
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	data, err = os.ReadFile("../examples/monitoring/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			exprs[tg.Expr] = "panel " + p.Title
		}
	}
	if len(exprs) < 20 {
		t.Fatalf("found only %d expressions in the examples", len(exprs))
	}
	for expr, where := range exprs {
		names := metricName.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: %q uses no jobcluster metric", where, expr)
		}
		for _, name := range names {
			family := name
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if base, ok := strings.CutSuffix(name, suffix); ok && exposedAs(pages, base) == dto.MetricType_HISTOGRAM {
					family = base
				}
			}
			if exposedAs(pages, family) < 0 {
				t.Errorf("%s uses %s, which no /metrics page exposes", where, name)
			}
		}
	}
}

// exposedAs is the type of the named family in any of the pages, or -1.
func exposedAs(pages []scrape, name string) dto.MetricType {
	for _, p := range pages {
		if f, ok := p[name]; ok {
			return f.GetType()
		}
	}
	return -1
}

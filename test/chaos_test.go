package test

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

var (
	chaosSeed     = flag.Uint64("chaos.seed", 0, "seed of TestChaos's faults and workload; 0 picks one from the clock")
	chaosDuration = flag.Duration("chaos.duration", 30*time.Second, "how long TestChaos applies faults")
)

// The CronJobs of TestChaos: each second-granularity, so that a short run
// decides many scheduled times, with a starting deadline that outlasts
// every fault, so that no time may be left undecided.
var chaosCrons = []struct {
	name, schedule, policy string
	period, runs           time.Duration
}{
	{name: "forbid", schedule: "*/2 * * * * *", policy: "Forbid", period: 2 * time.Second, runs: 2500 * time.Millisecond},
	{name: "allow", schedule: "*/3 * * * * *", policy: "Allow", period: 3 * time.Second, runs: time.Second},
}

// TestChaos runs Jobs and CronJobs on 3 servers and 3 agents (one in a
// network namespace of its own) while seeded random faults strike one at
// a time: kill -9 and restart of a server or an agent, SIGSTOP and
// SIGCONT of one, a cut of the namespaced agent's link, and a CronJob
// suspended for a while. At the end it checks from the outside, from the
// pods' own run log and from what each server answers:
//   - every acknowledged Job exists and completed, with exactly its
//     completions succeeded and no pod failure counted (backoffLimit 0);
//   - no pod started twice, and no Job ran more pods at once than its
//     parallelism;
//   - every CronJob's ledger decides each scheduled time exactly once,
//     with no gap, and every server holds the same ledger and Jobs.
//
// -chaos.seed replays a run's faults and workload; -chaos.duration runs
// them longer.
func TestChaos(t *testing.T) {
	seed := *chaosSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())%1_000_000 + 1
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replay with: go test ./test -race -run 'TestChaos$' -chaos.seed=%d -chaos.duration=%s", seed, *chaosDuration)
		}
	})
	t.Logf("seed %d, faults for %s", seed, *chaosDuration)
	rng := rand.New(rand.NewPCG(seed, seed))

	ns := testcluster.NewNetns(t)
	c := testcluster.New(t, testcluster.Options{Servers: 3, Agents: 2, HostIP: ns.HostIP})
	c.AddAgentIn(ns, "a3")
	c.WaitNodeReady("a3")
	runs := testcluster.NewRunLog(t)

	for _, cj := range chaosCrons {
		c.Submit(cronJob{name: cj.name, schedule: cj.schedule, policy: cj.policy, successful: 3, failed: 100,
			startingDeadline: 60, script: runs.Script(runs.Ticking(cj.runs))}.yaml())
	}

	// The workload: Jobs submitted one after another while the faults
	// strike. A Job counts as acknowledged when submit said so.
	type submitted struct {
		name                     string
		parallelism, completions int
		acked                    bool
	}
	var (
		mu   sync.Mutex
		jobs []submitted
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	jobRng := rand.New(rand.NewPCG(seed, seed+1))
	wg.Go(func() {
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Duration(1500+jobRng.IntN(2000)) * time.Millisecond):
			}
			j := submitted{name: fmt.Sprintf("chaos-j%02d", i), parallelism: 1 + jobRng.IntN(3), completions: 2 + jobRng.IntN(4)}
			run := time.Duration(500+jobRng.IntN(2500)) * time.Millisecond
			manifest := jobDoc(j.name, fmt.Sprintf("parallelism: %d\ncompletions: %d\nbackoffLimit: 0", j.parallelism, j.completions),
				"Never", runs.Script(runs.Ticking(run)))
			r := c.CLIAt(c.Addrs(), manifest, "submit", "-")
			j.acked = r.Err == nil
			if !j.acked {
				t.Logf("%s submit %s not acknowledged: %v: %s", time.Now().Format("15:04:05.000"), j.name, r.Err, strings.TrimSpace(r.Stderr))
			}
			mu.Lock()
			jobs = append(jobs, j)
			mu.Unlock()
		}
	})

	f := &chaosFaults{t: t, c: c, ns: ns, rng: rng}
	end := time.Now().Add(*chaosDuration)
	for time.Now().Before(end) {
		f.strike()
		time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	f.healAll()
	t.Logf("faults: %s", strings.Join(f.log, "; "))

	// Quiesce: the CronJobs decide nothing more that runs, and every Job
	// ends.
	c.WaitForLeader()
	for _, cj := range chaosCrons {
		c.MustCLI("suspend", "cronjob", cj.name)
	}
	cutoff := time.Now()
	mu.Lock()
	all := slices.Clone(jobs)
	mu.Unlock()
	wait.Within(t, 90*time.Second, "every Job to finish", func() (bool, string) {
		states, err := chaosJobsAt(c, c.Addrs())
		if err != nil {
			return false, err.Error()
		}
		for name, s := range states {
			if !s.finished {
				return false, name + " still runs"
			}
		}
		return true, ""
	})

	// All servers hold the same Jobs and the same ledgers.
	states := chaosSameEverywhere(t, c, cutoff)

	for _, j := range all {
		s, ok := states[j.name]
		switch {
		case !ok && j.acked:
			t.Errorf("job %s was acknowledged and is lost", j.name)
		case !ok:
		case s.condition != "Complete" || s.succeeded != j.completions:
			t.Errorf("job %s ended %s with succeeded=%d failed=%d, want Complete with exactly %d (backoffLimit 0: no pod may fail for any other cause than a lost node)",
				j.name, s.condition, s.succeeded, s.failed, j.completions)
		}
	}

	// From the pods' own run log: no pod started twice, no Job beyond its
	// parallelism (a killed run counts until its last tick).
	log := readRuns(t, runs)
	assertEachPodStartedOnce(t, log)
	byJob := map[string][]testcluster.Interval{}
	for _, r := range log {
		job := r.Pod[:strings.LastIndexByte(r.Pod, '-')]
		byJob[job] = append(byJob[job], testcluster.Interval{Pod: r.Pod, Start: r.Start.UnixNano(), End: r.LastSeen.UnixNano()})
	}
	for _, j := range all {
		if n := testcluster.MaxOverlap(byJob[j.name]); n > j.parallelism {
			t.Errorf("job %s ran %d pods at once, beyond its parallelism %d", j.name, n, j.parallelism)
		}
	}
	for job, ivs := range byJob {
		if !strings.HasPrefix(job, "chaos-") && testcluster.MaxOverlap(ivs) > 1 {
			t.Errorf("cron job %s ran %d pods at once, beyond its parallelism 1", job, testcluster.MaxOverlap(ivs))
		}
	}
	var acked int
	for _, j := range all {
		if j.acked {
			acked++
		}
	}
	t.Logf("%d Jobs submitted (%d acknowledged), %d pod runs, %d faults", len(all), acked, len(log), len(f.log))
}

// chaosJobState is what the checks read of one Job.
type chaosJobState struct {
	uid                string
	finished           bool
	condition          string
	succeeded, failed  int
	scheduledTimestamp string
}

// chaosJobsAt lists the Jobs that the servers at addrs answer with.
func chaosJobsAt(c *testcluster.Cluster, addrs string) (map[string]chaosJobState, error) {
	r := c.CLIAt(addrs, "", "get", "jobs", "-o", "json")
	if r.Err != nil {
		return nil, fmt.Errorf("get jobs at %s: %v: %s", addrs, r.Err, r.Stderr)
	}
	var list struct {
		Items []testcluster.Job `json:"items"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		return nil, err
	}
	out := map[string]chaosJobState{}
	for _, j := range list.Items {
		cond, done := j.Finished()
		out[j.Metadata.Name] = chaosJobState{uid: j.Metadata.UID, finished: done, condition: cond,
			succeeded: j.Status.Succeeded, failed: j.Status.Failed,
			scheduledTimestamp: j.Metadata.Annotations[testcluster.ScheduledTimestamp]}
	}
	return out, nil
}

// chaosSameEverywhere waits until every server answers with the same Jobs
// and the same ledger up to cutoff, checks that each ledger decides every
// scheduled time once and without a gap, and returns the Jobs.
func chaosSameEverywhere(t *testing.T, c *testcluster.Cluster, cutoff time.Time) map[string]chaosJobState {
	t.Helper()
	upTo := func(l []ledgerEntry) []ledgerEntry {
		var out []ledgerEntry
		for _, e := range l {
			if !e.ScheduledTime.After(cutoff) {
				out = append(out, e)
			}
		}
		sort.Slice(out, func(i, k int) bool { return out[i].ScheduledTime.Before(out[k].ScheduledTime) })
		return out
	}
	var first map[string]chaosJobState
	firstLedger := map[string][]ledgerEntry{}
	for _, s := range c.Servers {
		wait.Within(t, 30*time.Second, s.Name+"'s Jobs and ledgers to match the other servers'", func() (bool, string) {
			states, err := chaosJobsAt(c, s.RPCAddr)
			if err != nil {
				return false, err.Error()
			}
			if first != nil && fmt.Sprint(states) != fmt.Sprint(first) {
				return false, fmt.Sprintf("jobs %v\nvs %v", states, first)
			}
			ledgers := map[string][]ledgerEntry{}
			for _, cj := range chaosCrons {
				l, err := ledgerAt(c, s.RPCAddr, cj.name)
				if err != nil {
					return false, err.Error()
				}
				ledgers[cj.name] = upTo(l)
				if f, ok := firstLedger[cj.name]; ok && fmt.Sprint(f) != fmt.Sprint(ledgers[cj.name]) {
					return false, fmt.Sprintf("%s's ledger %v\nvs %v", cj.name, ledgers[cj.name], f)
				}
			}
			if first == nil {
				first, firstLedger = states, ledgers
			}
			return true, ""
		})
	}
	for _, cj := range chaosCrons {
		l := firstLedger[cj.name]
		if len(l) < 5 {
			t.Errorf("%s's ledger holds %d decisions: %v", cj.name, len(l), l)
		}
		counts := map[string]int{}
		for i, e := range l {
			counts[e.Action]++
			if i > 0 {
				switch gap := e.ScheduledTime.Sub(l[i-1].ScheduledTime); {
				case gap == 0:
					t.Errorf("%s: scheduled time %s decided twice: %+v and %+v", cj.name, e.ScheduledTime.Format(time.TimeOnly), l[i-1], e)
				case gap != cj.period:
					t.Errorf("%s: no decision between %s and %s", cj.name, l[i-1].ScheduledTime.Format(time.TimeOnly), e.ScheduledTime.Format(time.TimeOnly))
				}
			}
			if (e.Action == "Created" || e.Action == "CaughtUp") && e.JobOutcome != "Complete" && e.JobOutcome != "Deleted" {
				// Deleted: a Job that succeeded beyond the history limit
				// (failed ones are all kept).
				t.Errorf("%s: the Job of %s, %s, ended %s", cj.name, e.ScheduledTime.Format(time.TimeOnly), e.Job, e.JobOutcome)
			}
		}
		t.Logf("%s: %d scheduled times decided %v", cj.name, len(l), counts)
	}
	return first
}

// chaosFaults strikes one random fault at a time and undoes it.
type chaosFaults struct {
	t   *testing.T
	c   *testcluster.Cluster
	ns  *testcluster.Netns
	rng *rand.Rand
	log []string
}

func (f *chaosFaults) pause(min, spread int) time.Duration {
	return time.Duration(min+f.rng.IntN(spread)) * time.Millisecond
}

func (f *chaosFaults) record(format string, args ...any) {
	msg := time.Now().Format("15:04:05.000") + " " + fmt.Sprintf(format, args...)
	f.log = append(f.log, msg)
	f.t.Log(msg)
}

// strike applies one fault, waits, and undoes it.
func (f *chaosFaults) strike() {
	c := f.c
	switch kind := f.rng.IntN(6); kind {
	case 0, 1:
		n := f.node(kind == 1)
		d := f.pause(1000, 3000)
		f.record("kill -9 %s for %s", n.Name, d)
		c.Kill(n)
		time.Sleep(d)
		c.Start(n)
	case 2, 3:
		n := f.node(kind == 3)
		d := f.pause(1000, 4000)
		f.record("SIGSTOP %s for %s", n.Name, d)
		c.Freeze(n)
		time.Sleep(d)
		c.Thaw(n)
	case 4:
		d := f.pause(2000, 4000)
		f.record("cut a3's link for %s", d)
		f.ns.Cut()
		time.Sleep(d)
		f.ns.Heal()
	case 5:
		cj := chaosCrons[f.rng.IntN(len(chaosCrons))].name
		d := f.pause(2000, 3000)
		if r := c.CLI("suspend", "cronjob", cj); r.Err != nil {
			f.record("suspend cronjob %s failed: %v", cj, strings.TrimSpace(r.Stderr))
		} else {
			f.record("suspend cronjob %s for %s", cj, d)
		}
		time.Sleep(d)
		// A resume must land, or the CronJob decides nothing but
		// Suspended for the rest of the run.
		wait.Within(f.t, 30*time.Second, "resume cronjob "+cj, func() (bool, string) {
			r := c.CLI("resume", "cronjob", cj)
			return r.Err == nil, r.Stderr
		})
	}
}

// node picks the server or agent a fault strikes.
func (f *chaosFaults) node(agent bool) *testcluster.Node {
	nodes := f.c.Servers
	if agent {
		nodes = f.c.Agents
	}
	return nodes[f.rng.IntN(len(nodes))]
}

// healAll makes sure every node runs and every link is up.
func (f *chaosFaults) healAll() {
	f.ns.Heal()
	for _, n := range append(slices.Clone(f.c.Servers), f.c.Agents...) {
		if !n.Running() {
			f.c.Start(n)
		}
	}
	for _, a := range f.c.Agents {
		f.c.WaitNodeReady(a.Name)
	}
}

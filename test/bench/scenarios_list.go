package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
)

// scenario is one measurement, run -n times on one fresh cluster.
type scenario struct {
	name  string
	about string
	run   func(ctx context.Context, e *env) error
	// agentArgs are extra flags of every agent of the scenario's cluster.
	agentArgs []string
	// sizes are the clusters the scenario runs on, one after another
	// (nil: 3 servers and 3 agents).
	sizes func(cfg config) []clusterSize
}

// clusterSize is how many servers and agents a scenario's cluster has.
type clusterSize struct{ servers, agents int }

func (s clusterSize) String() string { return fmt.Sprintf("%dx%d", s.servers, s.agents) }

// scenarios in the order a full run takes them.
var scenarios = []scenario{
	{name: "floor", about: "the machine's own costs beside an idle cluster: fork + exec of `true` and its child's CPU, the submit pod's command alone, an fsync, a pod's files, a loopback round trip", run: runFloor},
	{name: "submit", about: "submit call start -> the pod's process started, Jobs one after another", run: runSubmit},
	{name: "throughput", about: "a big Job of `true` pods, and many one-pod Jobs in one call, until Complete", run: runThroughput},
	{name: "agent-failover", about: "agent killed -> its pods running again elsewhere, never two copies at once", run: runAgentFailover},
	{name: "machine-loss", about: "an agent, its guard and its pods all stopped at once, as a hung machine: -> its pods running elsewhere once the lease expired", run: runMachineLoss},
	{name: "leader-failover", about: "leader killed -> a new Job accepted and its pod running", run: runLeaderFailover},
	{name: "cron", about: "every-second CronJob: scheduled second -> pod started; missed and doubled seconds, also across a leader kill", run: runCron},
	{name: "footprint", about: "idle server RSS; agent processes while pods run; a server holding -finished-jobs finished Jobs", run: runFootprint},
	{name: "huge", about: "one Job of parallelism -huge-pods: server peak RSS, Raft bytes, time until every pod exists, a small Job beside it, its delete", run: runHuge},
	{name: "docker", about: "Docker runtime: submit -> container started, and 200 one-container Jobs, each beside the engine's own create + start", run: runDocker, agentArgs: dockerAgentArgs},
	{name: "kubeapi", about: "through a follower's Kubernetes API: kubectl create -f -> pod started; a client-go informer over -watched-jobs Jobs: patch sent -> update event", run: runKubeAPI},
	{name: "ui", about: "the web UI's Jobs page over -ui-jobs Jobs in headless Chromium: navigation -> table rendered", run: runUI},
	{name: "scale", about: "-scale-servers servers and -scale-agents agents beside 3x3: gossip convergence, -scale-pods pods placed and started, get pods, leader failover, RSS", run: runScale, sizes: scaleSizes},
	{name: "restart-100k", about: "every server killed at once on a log of -finished-jobs finished Jobs -> each server serving reads, a new Job accepted", run: runRestartAll},
}

// selectScenarios picks scenarios by comma-separated names ("" or "all"
// for every one), keeping the full run's order.
func selectScenarios(names string) ([]scenario, error) {
	if names == "" || names == "all" {
		return scenarios, nil
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		want[strings.TrimSpace(n)] = true
	}
	var out []scenario
	for _, sc := range scenarios {
		if want[sc.name] {
			out = append(out, sc)
			delete(want, sc.name)
		}
	}
	if len(want) > 0 {
		var unknown []string
		for n := range want {
			unknown = append(unknown, n)
		}
		return nil, fmt.Errorf("unknown scenario %s; known: %s", strings.Join(unknown, ", "), strings.Join(scenarioNames(scenarios), ", "))
	}
	return out, nil
}

func scenarioNames(list []scenario) []string {
	var out []string
	for _, sc := range list {
		out = append(out, sc.name)
	}
	return out
}

// env is what a scenario works with.
type env struct {
	cfg       config
	c         *cluster
	rep       *report
	logger    *slog.Logger
	scenario  string
	iteration int
	dirs      int
}

// add records one sample of a metric of the running scenario.
func (e *env) add(metric, unit string, v float64, targets ...target) {
	e.rep.add(e.scenario, metric, unit, v, targets...)
}

// name is a object name unique within the scenario's cluster.
func (e *env) name(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, e.iteration+1)
}

// stampDir makes a fresh directory for pods to write their stamps in.
func (e *env) stampDir() (string, error) {
	e.dirs++
	dir := filepath.Join(e.c.dir, fmt.Sprintf("stamps-%d-%d", e.iteration+1, e.dirs))
	if err := os.Mkdir(dir, 0o755); err != nil {
		return "", fmt.Errorf("make stamp directory: %w", err)
	}
	return dir, nil
}

// Targets, from the figures in DESIGN.md.
func below(stat string, v float64) target   { return target{Stat: stat, Op: "<", Value: v} }
func atLeast(stat string, v float64) target { return target{Stat: stat, Op: ">=", Value: v} }
func none() target                          { return target{Stat: "max", Op: "<=", Value: 0} }

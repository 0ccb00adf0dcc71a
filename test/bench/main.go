// Command bench measures what users of jobcluster feel, on a loopback
// cluster of real processes: 3 servers and 3 agents, each on its own
// 127.88.x.y address with a fresh data directory. Every scenario starts a
// fresh cluster, runs -n times, and reads time from the pods themselves:
// pod commands append `date +%s%N` lines to files the benchmark reads.
//
//	go run ./test/bench [-run NAME[,NAME]] [-n N] [-out FILE] [-smoke]
//
// It prints a table (median, p90, p99 and max of each metric against the
// project's targets) and writes the same as JSON. The exit status is
// non-zero only when a scenario could not be measured because the cluster
// misbehaved (a Job that does not complete, a node that does not start);
// a missed target is reported, not failed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// config is the benchmark's flags.
type config struct {
	run          string
	n            int
	out          string
	smoke        bool
	keep         bool
	nodeLogLevel string
	verbose      bool
	submitJobs   int
	submitGap    time.Duration
	pods         int
	parallelism  int
	jobs         int
	cronSeconds  int
	finishedJobs int
	hugePods     int
	uiJobs       int
	watchedJobs  int
	secure       bool
	agentArgs    string
	serverArgs   string
	agentEnv     string
	serverEnv    string
	scaleServers int
	scaleAgents  int
	scalePods    int
	dropCaches   bool
}

func parseFlags(args []string) (config, error) {
	var c config
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.StringVar(&c.run, "run", "", "scenarios to run, comma separated (default all; with -smoke: floor,submit,throughput,leader-failover,huge,restart-100k,kubeapi)")
	fs.IntVar(&c.n, "n", 3, "repetitions of each scenario (1 with -smoke)")
	fs.StringVar(&c.out, "out", "bench-results/latest.json", "JSON results file")
	fs.BoolVar(&c.smoke, "smoke", false, "tiny sizes, one repetition, targets not judged: checks that the benchmark and the cluster work")
	fs.BoolVar(&c.keep, "keep", false, "keep the clusters' data directories and logs")
	fs.StringVar(&c.nodeLogLevel, "node-log-level", "info", "--log-level of the servers and agents (their logs are kept with -keep)")
	fs.BoolVar(&c.verbose, "v", false, "log progress in detail (pprof addresses of the servers, too)")
	fs.IntVar(&c.submitJobs, "submit-jobs", 50, "submit: Jobs submitted one after another per repetition")
	fs.DurationVar(&c.submitGap, "submit-gap", 0, "submit: pause before each submit, as submits come apart in use (0: each once the pod before started)")
	fs.IntVar(&c.pods, "pods", 10000, "throughput: pods of the big Job")
	fs.IntVar(&c.parallelism, "parallelism", 200, "throughput: parallelism of the big Job")
	fs.IntVar(&c.jobs, "jobs", 1000, "throughput: one-pod Jobs submitted in one call")
	fs.IntVar(&c.cronSeconds, "cron-seconds", 60, "cron: seconds each every-second CronJob runs")
	fs.IntVar(&c.finishedJobs, "finished-jobs", 100000, "footprint, restart-100k: finished Jobs to accumulate before measuring RSS, reading one Job, a follower's catch-up and a restart of every server (0 skips)")
	fs.IntVar(&c.hugePods, "huge-pods", 100000, "huge: parallelism and completions of the huge Job")
	fs.IntVar(&c.uiJobs, "ui-jobs", 10000, "ui: Jobs the web UI's Jobs page lists")
	fs.IntVar(&c.watchedJobs, "watched-jobs", 1000, "kubeapi: Jobs the client-go informer watches")
	fs.StringVar(&c.agentArgs, "agent-args", "", "extra flags for every agent, space separated (for example \"--cgroups=false\")")
	fs.StringVar(&c.agentEnv, "agent-env", "", "extra environment of every agent and its guard, space separated (for example \"GOMAXPROCS=1\")")
	fs.StringVar(&c.serverEnv, "server-env", "", "extra environment of every server, space separated (for example \"GOMAXPROCS=1\")")
	fs.StringVar(&c.serverArgs, "server-args", "", "extra flags for every server, space separated (for example \"--lease-ttl 2s\")")
	fs.IntVar(&c.scaleServers, "scale-servers", 5, "scale: servers of the large cluster")
	fs.IntVar(&c.scaleAgents, "scale-agents", 100, "scale: agents of the large cluster")
	fs.IntVar(&c.scalePods, "scale-pods", 10000, "scale: pods of the Job placed across the agents")
	fs.BoolVar(&c.dropCaches, "drop-caches", false, "sync and drop the kernel's page cache before each scenario's cluster starts (needs root): runs then start alike, whatever the runs before them left cached")
	fs.BoolVar(&c.secure, "secure", false, "run every cluster with mutual TLS and ACL tokens (the client uses the management token)")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if c.smoke {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		defaults := map[string]*int{"n": &c.n, "submit-jobs": &c.submitJobs, "pods": &c.pods, "parallelism": &c.parallelism, "jobs": &c.jobs, "cron-seconds": &c.cronSeconds, "finished-jobs": &c.finishedJobs, "huge-pods": &c.hugePods, "ui-jobs": &c.uiJobs, "watched-jobs": &c.watchedJobs, "scale-agents": &c.scaleAgents, "scale-pods": &c.scalePods}
		small := map[string]int{"n": 1, "submit-jobs": 5, "pods": 100, "parallelism": 20, "jobs": 20, "cron-seconds": 5, "finished-jobs": 200, "huge-pods": 200, "ui-jobs": 200, "watched-jobs": 100, "scale-agents": 10, "scale-pods": 200}
		for name, p := range defaults {
			if !set[name] {
				*p = small[name]
			}
		}
		if c.run == "" {
			c.run = "floor,submit,throughput,leader-failover,huge,restart-100k,kubeapi"
		}
	}
	if c.n < 1 {
		return c, errors.New("-n must be at least 1")
	}
	return c, nil
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) (code int) {
	cfg, err := parseFlags(args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	selected, err := selectScenarios(cfg.run)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}

	// The first Ctrl-C cancels the run, which stops the clusters on the way
	// out; a second one stops them at once and exits. A panic stops them
	// too before it propagates.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		logger.Warn("interrupted: stopping")
		cancel()
		<-sigs
		stopAll()
		os.Exit(130)
	}()
	defer func() {
		if p := recover(); p != nil {
			stopAll()
			panic(p)
		}
		stopAll()
	}()

	bin, err := buildBinary(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	rep := &report{Started: time.Now(), Machine: machine(), Judged: !cfg.smoke}
	rep.Flags = map[string]string{
		"run": strings.Join(scenarioNames(selected), ","), "n": fmt.Sprint(cfg.n), "smoke": fmt.Sprint(cfg.smoke),
		"submit-jobs": fmt.Sprint(cfg.submitJobs), "submit-gap": cfg.submitGap.String(), "pods": fmt.Sprint(cfg.pods), "parallelism": fmt.Sprint(cfg.parallelism),
		"jobs": fmt.Sprint(cfg.jobs), "cron-seconds": fmt.Sprint(cfg.cronSeconds), "finished-jobs": fmt.Sprint(cfg.finishedJobs),
		"huge-pods": fmt.Sprint(cfg.hugePods), "drop-caches": fmt.Sprint(cfg.dropCaches),
		"scale-servers": fmt.Sprint(cfg.scaleServers), "scale-agents": fmt.Sprint(cfg.scaleAgents), "scale-pods": fmt.Sprint(cfg.scalePods),
	}
	for _, sc := range selected {
		if ctx.Err() != nil {
			break
		}
		logger.Info("scenario", "name", sc.name)
		start := time.Now()
		err := runScenario(ctx, sc, cfg, bin, rep, logger)
		if err != nil {
			rep.fail(sc.name, err)
			logger.Error("scenario failed", "name", sc.name, "err", err)
		}
		logger.Info("scenario done", "name", sc.name, "took", time.Since(start).Round(time.Millisecond))
	}
	fmt.Println()
	rep.printTable(os.Stdout)
	if err := rep.writeJSON(cfg.out); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	fmt.Printf("\nresults written to %s\n", cfg.out)
	if len(rep.Errors) > 0 || ctx.Err() != nil {
		return 1
	}
	return 0
}

// runScenario runs one scenario -n times on a fresh cluster of each of
// its sizes, which it stops afterwards. On failure it adds the end of
// each node's log.
func runScenario(ctx context.Context, sc scenario, cfg config, bin string, rep *report, logger *slog.Logger) error {
	sizes := []clusterSize{{3, 3}}
	if sc.sizes != nil {
		sizes = sc.sizes(cfg)
	}
	for _, size := range sizes {
		name := sc.name
		if len(sizes) > 1 {
			name += " " + size.String()
		}
		if err := runOnCluster(ctx, sc, name, size, cfg, bin, rep, logger); err != nil {
			return err
		}
	}
	return nil
}

// runOnCluster runs one scenario -n times on one fresh cluster.
func runOnCluster(ctx context.Context, sc scenario, name string, size clusterSize, cfg config, bin string, rep *report, logger *slog.Logger) (err error) {
	if cfg.dropCaches {
		if err := dropPageCache(); err != nil {
			return err
		}
	}
	c, err := startCluster(ctx, bin, size.servers, size.agents, cfg, append(strings.Fields(cfg.agentArgs), sc.agentArgs...), logger)
	if c != nil {
		defer c.stop()
	}
	if err == nil {
		env := &env{cfg: cfg, c: c, rep: rep, logger: logger.With("scenario", name), scenario: name}
		for i := range cfg.n {
			if err = ctx.Err(); err != nil {
				break
			}
			env.iteration = i
			if err = sc.run(ctx, env); err != nil {
				err = fmt.Errorf("%s: repetition %d: %w", name, i+1, err)
				break
			}
		}
	}
	if err != nil && c != nil && ctx.Err() == nil {
		nodes := append(append([]*node{}, c.servers...), c.agents...)
		if len(nodes) > 12 {
			nodes = append(append([]*node{}, c.servers...), c.agents[:3]...)
		}
		for _, n := range nodes {
			fmt.Fprintf(os.Stderr, "---- end of the log of %s (%s)\n%s\n", n.name, n.logPath, n.logTail(2000))
		}
	}
	return err
}

// machine describes where the figures were measured.
func machine() map[string]string {
	m := map[string]string{
		"goos": runtime.GOOS, "goarch": runtime.GOARCH, "cpus": fmt.Sprint(runtime.NumCPU()),
		"go": runtime.Version(),
	}
	if h, err := os.Hostname(); err == nil {
		m["hostname"] = h
	}
	var u unix.Utsname
	if unix.Uname(&u) == nil {
		m["kernel"] = unix.ByteSliceToString(u.Release[:])
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m["cpu"] = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m["loadavg_at_start"] = strings.TrimSpace(string(b))
	}
	if out, err := exec.Command("git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m["commit"] = strings.TrimSpace(string(out))
	}
	return m
}

// dropPageCache writes back and drops the kernel's page cache. What runs
// before a scenario left cached changes its figures: on ext4 without a
// journal, a new inode's search skips each one freed in the last minutes
// whose inode table block is still cached, so the agents' CPU per pod
// grows with the files earlier runs removed, and falls back once the
// cache is dropped.
func dropPageCache() error {
	syscall.Sync()
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("1"), 0); err != nil {
		return fmt.Errorf("-drop-caches: %w (it needs root)", err)
	}
	return nil
}

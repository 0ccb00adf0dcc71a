package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// target is one condition a series must meet, on one of its statistics.
type target struct {
	Stat  string  `json:"stat"` // median, p90, p99, max, min
	Op    string  `json:"op"`   // "<", "<=", ">="
	Value float64 `json:"value"`
}

func (t target) String() string {
	return fmt.Sprintf("%s%s%s", t.Stat, t.Op, formatValue(t.Value))
}

func (t target) met(s summary) bool {
	v := map[string]float64{"median": s.Median, "p90": s.P90, "p99": s.P99, "max": s.Max, "min": s.Min}[t.Stat]
	switch t.Op {
	case "<":
		return v < t.Value
	case "<=":
		return v <= t.Value
	case ">=":
		return v >= t.Value
	}
	return false
}

// series is every sample of one metric of one scenario.
type series struct {
	Scenario string    `json:"scenario"`
	Metric   string    `json:"metric"`
	Unit     string    `json:"unit"`
	Targets  []target  `json:"targets,omitempty"`
	Samples  []float64 `json:"samples"`
}

// summary is the statistics of a series.
type summary struct {
	N      int     `json:"n"`
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	P99    float64 `json:"p99"`
	Max    float64 `json:"max"`
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[min(max(rank, 0), len(sorted)-1)]
}

func (s *series) summary() summary {
	sorted := slices.Clone(s.Samples)
	slices.Sort(sorted)
	sum := summary{N: len(sorted)}
	if len(sorted) == 0 {
		return sum
	}
	sum.Min, sum.Max = sorted[0], sorted[len(sorted)-1]
	sum.Median = percentile(sorted, 50)
	sum.P90 = percentile(sorted, 90)
	sum.P99 = percentile(sorted, 99)
	return sum
}

// verdict is "pass" or "miss" against the targets, "" without targets,
// and "n/a" when targets are not judged (smoke runs) or nothing was
// measured.
func (s *series) verdict(judge bool) string {
	if len(s.Targets) == 0 {
		return ""
	}
	sum := s.summary()
	if !judge || sum.N == 0 {
		return "n/a"
	}
	for _, t := range s.Targets {
		if !t.met(sum) {
			return "miss"
		}
	}
	return "pass"
}

// report collects the series and failures of a run. Safe for concurrent
// use.
type report struct {
	mu      sync.Mutex
	Started time.Time         `json:"started"`
	Machine map[string]string `json:"machine"`
	Flags   map[string]string `json:"flags"`
	Judged  bool              `json:"judged"`
	Series  []*series         `json:"-"`
	Errors  []scenarioError   `json:"errors"`
}

type scenarioError struct {
	Scenario string `json:"scenario"`
	Error    string `json:"error"`
}

// add records one sample, creating the series on first use.
func (r *report) add(scenario, metric, unit string, v float64, targets ...target) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.Series {
		if s.Scenario == scenario && s.Metric == metric {
			s.Samples = append(s.Samples, v)
			return
		}
	}
	r.Series = append(r.Series, &series{Scenario: scenario, Metric: metric, Unit: unit, Targets: targets, Samples: []float64{v}})
}

func (r *report) fail(scenario string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Errors = append(r.Errors, scenarioError{Scenario: scenario, Error: err.Error()})
}

// printTable writes the results table.
func (r *report) printTable(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "scenario\tmetric\tn\tmedian\tp90\tp99\tmax\ttarget\tresult\t")
	for _, s := range r.Series {
		sum := s.summary()
		var targets []string
		for _, t := range s.Targets {
			targets = append(targets, t.String())
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.Scenario, s.Metric+" ("+s.Unit+")", sum.N,
			formatValue(sum.Median), formatValue(sum.P90), formatValue(sum.P99), formatValue(sum.Max),
			strings.Join(targets, " "), s.verdict(r.Judged))
	}
	tw.Flush()
	for _, e := range r.Errors {
		fmt.Fprintf(w, "FAILED %s: %s\n", e.Scenario, e.Error)
	}
}

// formatValue prints about three significant digits.
func formatValue(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "-"
	case a == math.Trunc(a) || a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case a >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	default:
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
}

// writeJSON writes the report, each series with its statistics, to path.
func (r *report) writeJSON(path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	type row struct {
		*series
		summary
		Verdict string `json:"verdict,omitempty"`
	}
	out := struct {
		*report
		Results []row `json:"results"`
	}{report: r}
	for _, s := range r.Series {
		out.Results = append(out.Results, row{series: s, summary: s.summary(), Verdict: s.verdict(r.Judged)})
	}
	if out.Errors == nil {
		out.Errors = []scenarioError{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/chromedp/chromedp"
	"google.golang.org/protobuf/proto"
)

// runUI fills the cluster with -ui-jobs suspended Jobs (no pods, so only
// the page is measured) and opens the web UI's Jobs page in headless
// Chromium: from navigation start to the load event with the first page
// of the table rendered, and the server's time for the page alone.
func runUI(ctx context.Context, e *env) error {
	if e.iteration == 0 {
		if err := fillSuspendedJobs(ctx, e, "ui", e.cfg.uiJobs); err != nil {
			return err
		}
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		return errors.New("the ui scenario needs Debian's chromium on PATH")
	}
	// Chromium leaves its singleton socket's directory in TMPDIR, its
	// crash reports' settings in the config directory and dconf's cache
	// behind; they go in a directory of the run's own.
	tmp, err := os.MkdirTemp("", "jobcluster-bench-chromium-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.DisableGPU, chromedp.WindowSize(1280, 900),
		chromedp.Env("TMPDIR="+tmp, "HOME="+tmp, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache")))
	allocCtx, stopAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer stopAlloc()
	tab, stopTab := chromedp.NewContext(allocCtx)
	defer stopTab()
	if err := chromedp.Do(tab); err != nil {
		return fmt.Errorf("start chromium: %w", err)
	}
	leader, err := e.c.waitLeader(ctx)
	if err != nil {
		return err
	}
	url := "http://" + leader.httpAddr + "/ui/jobs"
	for range 5 {
		start := time.Now()
		resp, err := http.Get(url)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		served := time.Since(start)

		pctx, cancel := context.WithTimeout(tab, 30*time.Second)
		start = time.Now()
		err = chromedp.Do(pctx, chromedp.Navigate(url))
		rendered := time.Since(start)
		var rows int
		if err == nil {
			rows, err = chromedp.Run(pctx, chromedp.Evaluate[int](`document.querySelectorAll("#jobs tbody tr[data-job]").length`))
		}
		cancel()
		if err != nil {
			return fmt.Errorf("open %s: %w", url, err)
		}
		if rows == 0 {
			return fmt.Errorf("%s shows no Job", url)
		}
		e.add(fmt.Sprintf("jobs page with %d Jobs: navigate -> rendered", e.cfg.uiJobs), "ms", millis(rendered), below("median", 1000))
		e.add(fmt.Sprintf("jobs page with %d Jobs: server answer", e.cfg.uiJobs), "ms", millis(served))
	}
	return nil
}

// fillSuspendedJobs submits n suspended one-pod Jobs named prefix-00000
// on, labelled app=prefix-bench, 500 to a call.
func fillSuspendedJobs(ctx context.Context, e *env, prefix string, n int) error {
	const batch = 500
	for from := 0; from < n; from += batch {
		var manifests []map[string]any
		for i := from; i < min(from+batch, n); i++ {
			m := jobParams{name: fmt.Sprintf("%s-%05d", prefix, i), labels: map[string]string{"app": prefix + "-bench"}, parallelism: 1, completions: 1, command: []string{"true"}}.manifest()
			m["spec"].(map[string]any)["suspend"] = true
			manifests = append(manifests, m)
		}
		objs, err := decode(manifests...)
		if err != nil {
			return err
		}
		for _, o := range objs {
			o.GetJob().GetSpec().Suspend = proto.Bool(true)
		}
		if err := e.c.client.submit(ctx, objs); err != nil {
			return err
		}
	}
	return nil
}

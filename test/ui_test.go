package test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/test/testcluster"
)

// browser is a headless Chromium tab driven by a test.
type browser struct {
	t   *testing.T
	ctx context.Context
	// shots is where screenshots go, for review.
	shots string
}

// newBrowser starts headless Chromium (Debian's chromium on PATH) for the
// test and stops it when the test ends. Without chromium the test is
// skipped, except in CI, where that is a failure.
func newBrowser(t *testing.T) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("chromium not found on PATH (CI needs it: apt-get install chromium): %v", err)
		}
		t.Skipf("chromium not found on PATH, skipping the browser test: %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.DisableGPU,
		chromedp.WindowSize(1200, 800),
		// Chromium leaves its singleton socket's directory in TMPDIR, its
		// crash reports' settings in the config directory and dconf's
		// cache behind; these go with the test.
		chromedp.Env(chromiumScratchEnv(t.TempDir())...),
	)
	allocCtx, stopAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, stopTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		// Closing the tab stops the browser; the allocator then waits for
		// its process and removes its profile directory.
		stopTab()
		stopAlloc()
	})
	// The first call starts the browser under ctx itself: a browser started
	// under a shorter context would stop when that one ends.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	b := &browser{t: t, ctx: ctx, shots: t.ArtifactDir()}
	t.Logf("screenshots in %s", b.shots)
	return b
}

// chromiumScratchEnv points the directories Chromium writes outside its
// profile at dir.
func chromiumScratchEnv(dir string) []string {
	return []string{"TMPDIR=" + dir, "HOME=" + dir,
		"XDG_CONFIG_HOME=" + filepath.Join(dir, "config"), "XDG_CACHE_HOME=" + filepath.Join(dir, "cache")}
}

// do runs browser steps, failing the test if one fails.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %v", err)
	}
}

// js evaluates a JavaScript expression that returns a string.
func (b *browser) js(expr string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// waitJS polls a string expression on the page until ok accepts it.
func (b *browser) waitJS(what, expr string, ok func(string) bool) string {
	b.t.Helper()
	var got string
	wait.For(b.t, what, func() (bool, string) {
		v, err := b.js(expr)
		if err != nil {
			return false, err.Error()
		}
		got = v
		return ok(v), fmt.Sprintf("%s = %q", expr, v)
	})
	return got
}

// waitLoaded waits until the page a form's post brought has loaded and
// the text of selector satisfies ok, and returns that text. The browser
// shows a page's elements before it has loaded, and an element found then
// can be gone by the next step.
func (b *browser) waitLoaded(what, selector string, ok func(string) bool) string {
	b.t.Helper()
	got := b.waitJS(what, `document.readyState + "\n" + `+textOf(selector), func(s string) bool {
		state, text, _ := strings.Cut(s, "\n")
		return state == "complete" && ok(text)
	})
	_, text, _ := strings.Cut(got, "\n")
	return text
}

// open loads a page and waits until it has loaded.
func (b *browser) open(url string) {
	b.t.Helper()
	b.do(chromedp.Navigate(url))
}

// stay marks the loaded page, so that staysLoaded can tell it was never
// reloaded or left.
func (b *browser) stay() {
	b.t.Helper()
	if _, err := b.js(`String(window.stayed = "yes")`); err != nil {
		b.t.Fatal(err)
	}
}

func (b *browser) staysLoaded(what string) {
	b.t.Helper()
	if v, err := b.js(`String(window.stayed)`); err != nil || v != "yes" {
		b.t.Errorf("%s: the page was reloaded or left (mark %q, %v)", what, v, err)
	}
}

// screenshot saves the visible part of the page as name.png, or with full
// the whole page.
func (b *browser) screenshot(name string, full bool) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100) // quality 100 is PNG
	}
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(b.shots, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// textOf is the JavaScript for the text of the first element matching a
// CSS selector, "" when there is none.
func textOf(selector string) string {
	return fmt.Sprintf(`(document.querySelector(%q) || {textContent: ""}).textContent`, selector)
}

const uiJobManifest = `apiVersion: batch/v1
kind: Job
metadata:
  name: ui-ticks
  labels: {app: ui-test}
spec:
  completions: 2
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: main
        image: busybox
        command: [sh, -c, "for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.5; done"]
`

const uiInvalidManifest = `apiVersion: batch/v1
kind: Job
metadata:
  name: Not_A_Name
spec:
  completions: -1
  template:
    spec:
      containers: []
`

const uiCronManifest = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: ui-cron
spec:
  schedule: "0 9 * * 1-5"
  timeZone: America/New_York
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: [sh, -c, "echo good morning"]
`

// TestWebUIInBrowser drives the web UI of a real cluster (one server
// serving it, two agents) in headless Chromium, the way a user would,
// and checks that what the pages show and do agrees with the cluster.
func TestWebUIInBrowser(t *testing.T) {
	b := newBrowser(t)
	httpAddr, err := testcluster.FreePort("127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	c := testcluster.New(t, testcluster.Options{Servers: 1, Agents: 2, ServerArgs: []string{"--http-addr", httpAddr}})
	ui := "http://" + httpAddr + "/ui/"
	wait.For(t, "the web UI to answer", func() (bool, string) {
		resp, err := http.Get(ui)
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, resp.Status
	})

	t.Log("the overview shows the server leading and both agents ready")
	b.open(ui)
	b.waitJS("the server to show as leader", textOf("#servers tbody"), func(s string) bool { return strings.Contains(s, "Leader") })
	for _, a := range []string{"a1", "a2"} {
		b.waitJS(a+" to show Ready", textOf(`#agents tr[data-node="`+a+`"] .badge`), func(s string) bool { return s == "Ready" })
	}

	t.Log("an invalid manifest gets the CLI's validation errors")
	cli := c.CLIAt(c.Addrs(), uiInvalidManifest, "submit", "-")
	if cli.Err == nil {
		t.Fatalf("jobcluster submit accepted the invalid manifest: %s", cli.Stdout)
	}
	b.open(ui + "submit")
	b.do(chromedp.SetValue(chromedp.CSS("#manifest"), uiInvalidManifest), chromedp.Click(chromedp.CSS("#submit")))
	shown := b.waitLoaded("the validation errors", "#invalid", func(s string) bool { return s != "" })
	for _, line := range strings.Split(strings.TrimSpace(cli.Stderr), "\n") {
		line = strings.TrimPrefix(line, `error: error validating "STDIN": `)
		if !strings.Contains(shown, line) {
			t.Errorf("the page lacks the CLI's error %q; it shows %q", line, shown)
		}
	}

	t.Log("a manifest submitted through the page creates its Job")
	b.do(chromedp.SetValue(chromedp.CSS("#manifest"), uiJobManifest), chromedp.Click(chromedp.CSS("#submit")))
	b.waitLoaded("the submit result", "#results", func(s string) bool { return strings.Contains(s, "job.batch/ui-ticks created") })
	b.do(chromedp.Click(chromedp.CSS(`#results a`)))
	b.waitJS("the Job's page", `location.pathname`, func(s string) bool { return s == "/ui/jobs/ui-ticks" })

	t.Log("a pod's log streams while the pod runs")
	b.waitJS("a running pod", `String(document.querySelectorAll('#pods tr[data-pod]').length)`, func(s string) bool { return s != "0" })
	if _, err := b.js(`document.querySelector('a[data-log]').click(), "clicked"`); err != nil {
		t.Fatal(err)
	}
	b.waitJS("the log page", `location.search + " " + document.readyState`, func(s string) bool {
		return strings.Contains(s, "pod=") && strings.HasSuffix(s, "complete")
	})
	b.stay()
	first := b.waitJS("the first log line", textOf("#log"), func(s string) bool { return strings.Contains(s, "tick 1\n") })
	if strings.Contains(first, "tick 8") {
		t.Errorf("the log came in one piece, not as the pod wrote it: %q", first)
	}
	b.waitJS("the last log line", textOf("#log"), func(s string) bool { return strings.Contains(s, "tick 8\n") })
	b.waitJS("the log to end with the pod", textOf("#log-state"), func(s string) bool { return s == "ended" })

	t.Log("the progress bar reaches 100% without a reload")
	b.waitJS("the progress bar at 100%", `document.querySelector('.progress').getAttribute('aria-valuenow')`, func(s string) bool { return s == "100" })
	b.waitJS("the Job to show Complete", textOf("h1 .badge"), func(s string) bool { return s == "Complete" })
	b.staysLoaded("following the Job")
	b.screenshot("job", true)

	t.Log("suspending a CronJob on the page is what get cronjobs reports")
	c.Submit(uiCronManifest)
	b.open(ui + "cronjobs/ui-cron")
	b.waitJS("five next times", `String(document.querySelectorAll('#next-times time').length)`, func(s string) bool { return s == "5" })
	b.screenshot("cronjob", false)
	b.open(ui + "cronjobs")
	b.do(chromedp.Click(chromedp.CSS(`button[data-action="suspend-ui-cron"]`)))
	b.waitJS("the confirmation", textOf("#confirm-question"), func(s string) bool { return strings.Contains(s, "Suspend cronjob ui-cron?") })
	if row, _ := testcluster.TableRow(c.MustCLI("get", "cronjobs"), "ui-cron"); row["SUSPEND"] == "True" {
		t.Fatal("the CronJob was suspended before the confirmation")
	}
	b.do(chromedp.Click(chromedp.CSS("#confirm-ok")))
	b.waitJS("the outcome", textOf(".flash"), func(s string) bool { return s == "cronjob.batch/ui-cron suspended" })
	if row, ok := testcluster.TableRow(c.MustCLI("get", "cronjobs"), "ui-cron"); !ok || row["SUSPEND"] != "True" {
		t.Errorf("get cronjobs after suspending on the page: %v, want SUSPEND True", row)
	}
	b.waitJS("the page to show it suspended", textOf(`tr[data-cronjob="ui-cron"] td[data-suspended]`), func(s string) bool { return s == "Suspended" })
	b.screenshot("cronjobs", false)

	t.Log("a killed agent turns NotReady on the open page")
	b.open(ui + "nodes")
	b.waitJS("a2 Ready", textOf(`#nodes tr[data-node="a2"] .badge`), func(s string) bool { return s == "Ready" })
	b.stay()
	c.Kill(c.Agents[1])
	b.waitJS("a2 NotReady", textOf(`#nodes tr[data-node="a2"] .badge`), func(s string) bool { return s == "NotReady" })
	b.staysLoaded("watching the nodes")
	b.screenshot("nodes", false)

	t.Log("the Jobs list, on a laptop in dark mode and on a phone")
	b.open(ui + "jobs")
	b.waitJS("the Job in the list", textOf(`#jobs tr[data-job="ui-ticks"]`), func(s string) bool { return strings.Contains(s, "Complete") })
	b.screenshot("jobs", false)
	b.open(ui)
	b.waitJS("a2 NotReady on the overview", textOf(`#agents tr[data-node="a2"] .badge`), func(s string) bool { return s == "NotReady" })
	b.waitJS("the Job counted complete", textOf(`[data-state="Complete"]`), func(s string) bool { return s == "1" })
	b.screenshot("overview", false)
	if _, err := chromedp.Call(b.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
	}); err != nil {
		t.Fatalf("emulate dark mode: %v", err)
	}
	if bg, _ := b.js(`getComputedStyle(document.body).backgroundColor`); bg != "rgb(15, 20, 26)" {
		t.Errorf("dark mode background %q, want rgb(15, 20, 26)", bg)
	}
	b.screenshot("jobs-dark", false)
	b.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
	b.open(ui)
	b.waitJS("a2 NotReady on the overview", textOf(`#agents tr[data-node="a2"] .badge`), func(s string) bool { return s == "NotReady" })
	if w, _ := b.js(`String(document.documentElement.scrollWidth)`); w != "390" {
		t.Errorf("the overview is %s px wide on a 390 px phone, want no sideways scrolling", w)
	}
	b.screenshot("overview-phone", false)
}

package ui

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func ts(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(testNow.Add(d)) }

type jobOpts struct {
	completions               *int32
	succeeded, failed, active int32
	complete, suspended       bool
	labels                    map[string]string
	startedAgo, createdAgo    time.Duration
}

func job(name string, o jobOpts) *api.Object {
	j := &api.Job{
		Metadata: &api.ObjectMeta{Name: name, Labels: o.labels, CreationTimestamp: ts(-o.createdAgo)},
		Spec:     &api.JobSpec{Completions: o.completions, Suspend: proto.Bool(o.suspended)},
		Status:   &api.JobStatus{Succeeded: o.succeeded, Failed: o.failed, Active: o.active},
	}
	if o.startedAgo > 0 {
		j.Status.StartTime = ts(-o.startedAgo)
	}
	if o.complete {
		j.Status.CompletionTime = ts(0)
		j.Status.Conditions = append(j.Status.Conditions, &api.JobCondition{Type: api.JobComplete, Status: api.ConditionTrue, Reason: api.ReasonCompletionsReached, LastTransitionTime: ts(0)})
	}
	if o.suspended {
		j.Status.Conditions = append(j.Status.Conditions, &api.JobCondition{Type: api.JobSuspended, Status: api.ConditionTrue, Reason: "JobSuspended"})
	}
	return &api.Object{Kind: &api.Object_Job{Job: j}}
}

func pod(name, jobName, node string, exit *int32, restarts int32) *api.Object {
	p := &api.Pod{
		Metadata: &api.ObjectMeta{Name: name, Labels: map[string]string{api.LabelJobName: jobName}, CreationTimestamp: ts(-time.Minute)},
		Spec:     &api.PodSpec{NodeName: node, Containers: []*api.Container{{Name: "main", Resources: &api.ResourceRequirements{Requests: map[string]string{"cpu": "500m", "memory": "256Mi"}}}}},
		Status:   &api.PodStatus{Phase: api.PodRunning, StartTime: ts(-50 * time.Second)},
	}
	cs := &api.ContainerStatus{Name: "main", RestartCount: restarts, State: &api.ContainerState{Running: &api.ContainerStateRunning{}}}
	if exit != nil {
		p.Status.Phase = api.PodSucceeded
		if *exit != 0 {
			p.Status.Phase = api.PodFailed
		}
		cs.State = &api.ContainerState{Terminated: &api.ContainerStateTerminated{ExitCode: *exit}}
	}
	p.Status.ContainerStatuses = []*api.ContainerStatus{cs}
	return &api.Object{Kind: &api.Object_Pod{Pod: p}}
}

func node(name, ready string, labels map[string]string) *api.Object {
	return &api.Object{Kind: &api.Object_Node{Node: &api.Node{
		Metadata: &api.ObjectMeta{Name: name, Labels: labels},
		Status: &api.NodeStatus{
			Allocatable: map[string]string{"cpu": "2", "memory": "4Gi", "pods": "110"},
			Conditions:  []*api.NodeCondition{{Type: api.NodeReady, Status: ready}},
		},
	}}}
}

func cronJob(name, schedule, zone string, suspended bool) *api.Object {
	spec := &api.CronJobSpec{Schedule: schedule, Suspend: proto.Bool(suspended), ConcurrencyPolicy: "Allow",
		JobTemplate: &api.JobTemplateSpec{Spec: &api.JobSpec{Template: &api.PodTemplateSpec{Spec: &api.PodSpec{}}}}}
	if zone != "" {
		spec.TimeZone = proto.String(zone)
	}
	return &api.Object{Kind: &api.Object_CronJob{CronJob: &api.CronJob{Metadata: &api.ObjectMeta{Name: name}, Spec: spec}}}
}

func event(kind, name, reason, msg string, ago time.Duration) *api.Object {
	return &api.Object{Kind: &api.Object_Event{Event: &api.Event{
		Metadata:       &api.ObjectMeta{Name: fmt.Sprintf("%s.%d", name, ago)},
		InvolvedObject: &api.ObjectReference{Kind: kind, Name: name},
		Reason:         reason, Message: msg, Type: api.EventTypeNormal, LastTimestamp: ts(-ago), Count: 1,
	}}}
}

func int32p(v int32) *int32 { return &v }

// testCluster is a small cluster: three servers, two agents (one lost),
// Jobs in every state, a CronJob and events.
func testCluster() *fakeControl {
	f := newFakeControl()
	f.members = []*api.Member{
		{Name: "s2", Role: "server", Address: "10.0.0.2:7402", Status: "alive", RaftState: "Follower", AppliedIndex: 41, CommitIndex: 42},
		{Name: "s1", Role: "server", Address: "10.0.0.1:7402", Status: "alive", RaftState: "Leader", Leader: true, AppliedIndex: 42, CommitIndex: 42},
		{Name: "a1", Role: "agent", Address: "10.0.1.1:7410", Status: "alive"},
	}
	f.add(
		job("pi", jobOpts{completions: int32p(4), succeeded: 2, failed: 1, active: 1, labels: map[string]string{"app": "pi"}, startedAgo: 90 * time.Second, createdAgo: 2 * time.Minute}),
		job("done", jobOpts{succeeded: 1, complete: true, startedAgo: time.Hour, createdAgo: time.Hour}),
		job("held", jobOpts{suspended: true, createdAgo: time.Minute}),
		pod("pi-a", "pi", "a1", int32p(0), 0),
		pod("pi-b", "pi", "a2", int32p(3), 2),
		pod("pi-c", "pi", "a1", nil, 0),
		node("a1", api.ConditionTrue, map[string]string{"zone": "east"}),
		node("a2", api.ConditionFalse, nil),
		cronJob("nightly", "30 2 * * *", "Europe/Berlin", false),
		cronJob("paused", "*/5 * * * *", "", true),
		event(api.JobResource.Kind, "pi", "SuccessfulCreate", "Created pod: pi-a", 80*time.Second),
		event(api.CronJobResource.Kind, "nightly", "SawCompletedJob", "Saw completed job: nightly-123", 10*time.Hour),
	)
	f.logs["pi-a"] = []string{"line 1\n", "line 2\nline 3\n"}
	return f
}

func newTestHandler(f *fakeControl) http.Handler {
	return Handler(f, Config{Now: func() time.Time { return testNow }, Poll: 10 * time.Millisecond})
}

// get requests path and returns the status and body.
func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec.Code, rec.Body.String()
}

// post sends a same-origin form, as the UI's own pages do.
func post(t *testing.T, h http.Handler, path string, form url.Values) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// text strips tags and collapses spaces, so assertions read like the page.
func text(html string) string {
	html = regexp.MustCompile(`(?s)<[^>]*>`).ReplaceAllString(html, " ")
	html = strings.NewReplacer("&#34;", `"`, "&quot;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(html)
	return strings.Join(strings.Fields(html), " ")
}

func TestPagesShowTheCluster(t *testing.T) {
	tests := []struct {
		name string
		path string
		want []string
	}{
		{name: "overview: servers with role and applied index, agents ready or not, jobs by state", path: "/ui/",
			want: []string{"s1 leader 10.0.0.1:7402 alive Leader 42 42", "s2 10.0.0.2:7402 alive Follower 41 42",
				"a1 Ready 500m of 2 (25%) 256Mi of 4Gi (6%) 1 / 110", "a2 NotReady 0 of 2 (0%)", "3 Jobs 1 Running 1 Complete 0 Failed 1 Suspended",
				"SuccessfulCreate job/pi Created pod: pi-a"}},
		{name: "jobs: progress, duration and labels", path: "/ui/jobs",
			want: []string{"pi default Running 2/4 · 1 failed · 1 active 90s 2m app=pi", "done default Complete 1/1 60m 60m", "Showing 1–3 of 3 Jobs"}},
		{name: "jobs of a namespace that holds none", path: "/ui/jobs?namespace=team-a",
			want: []string{"No Jobs matching the filter (3 in all with this selector)", "Namespace all default State"}},
		{name: "a job: pods with node, status, restarts and exit codes; conditions; events", path: "/ui/jobs/pi",
			want: []string{"Job pi Running", "pi-a a1 Succeeded 0 0 50s ago", "pi-b a2 Failed 2 3", "pi-c a1 Running 0 —", "Created pod: pi-a"}},
		{name: "a finished job: its condition", path: "/ui/jobs/done",
			want: []string{"Complete True CompletionsReached"}},
		{name: "cronjobs: schedule, zone, suspension and next run", path: "/ui/cronjobs",
			want: []string{"nightly 30 2 * * * at 02:30 every day Europe/Berlin no 0 never in 13h", "paused */5 * * * * every 5 minutes UTC (none set) Suspended"}},
		{name: "a cronjob: next five times in its zone, and its decisions", path: "/ui/cronjobs/nightly",
			want: []string{"2026-03-02T01:30:00Z (2026-03-02 02:30:00 CET)", "2026-03-06T01:30:00Z (2026-03-06 02:30:00 CET)", "SawCompletedJob cronjob/nightly Saw completed job: nightly-123"}},
		{name: "nodes: labels, capacity use and pods", path: "/ui/nodes",
			want: []string{"a1 Ready zone=east 500m of 2 (25%) 256Mi of 4Gi (6%) 1 of 110 pi-c Running"}},
		{name: "submit: the form", path: "/ui/submit", want: []string{"Job or CronJob manifest"}},
	}
	h := newTestHandler(testCluster())
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, body := get(t, h, tc.path)
			if code != http.StatusOK {
				t.Fatalf("GET %s = %d, want 200\n%s", tc.path, code, text(body))
			}
			page := text(body)
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("GET %s: page lacks %q\npage: %s", tc.path, w, page)
				}
			}
		})
	}
}

func TestMissingObjectShowsTheServersWords(t *testing.T) {
	h := newTestHandler(testCluster())
	code, body := get(t, h, "/ui/jobs/nope")
	if code != http.StatusNotFound {
		t.Errorf("GET /ui/jobs/nope = %d, want 404", code)
	}
	if want := `jobs.batch "nope" not found`; !strings.Contains(text(body), want) {
		t.Errorf("page lacks %q: %s", want, text(body))
	}
	if code, _ := get(t, h, "/ui/nowhere"); code != http.StatusNotFound {
		t.Errorf("GET /ui/nowhere = %d, want 404", code)
	}
}

func TestUnreachableServiceIsShownOnThePage(t *testing.T) {
	f := testCluster()
	f.listErr = status.Error(codes.Unavailable, "no leader: last leader s1 in term 3")
	code, body := get(t, newTestHandler(f), "/ui/jobs")
	if code != http.StatusServiceUnavailable || !strings.Contains(text(body), "no leader: last leader s1 in term 3") {
		t.Errorf("GET /ui/jobs = %d %q, want 503 with the server's message", code, text(body))
	}
}

func TestJobsFilterAndSort(t *testing.T) {
	tests := []struct {
		name, query string
		wantOrder   []string
		wantSel     string
	}{
		{name: "newest first by default", query: "", wantOrder: []string{"held", "pi", "done"}},
		{name: "by name", query: "sort=name", wantOrder: []string{"done", "held", "pi"}},
		{name: "by name descending", query: "sort=-name", wantOrder: []string{"pi", "held", "done"}},
		{name: "by progress descending", query: "sort=-progress", wantOrder: []string{"done", "pi", "held"}},
		{name: "one state", query: "state=Complete", wantOrder: []string{"done"}},
		{name: "label selector goes to the server", query: "label=app%3Dpi", wantOrder: []string{"held", "pi", "done"}, wantSel: "app=pi"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testCluster()
			_, body := get(t, newTestHandler(f), "/ui/jobs?"+tc.query)
			var got []string
			for _, m := range regexp.MustCompile(`data-job="([^"]+)"`).FindAllStringSubmatch(body, -1) {
				got = append(got, m[1])
			}
			if strings.Join(got, ",") != strings.Join(tc.wantOrder, ",") {
				t.Errorf("rows %v, want %v", got, tc.wantOrder)
			}
			if tc.wantSel != "" && !slicesContains(f.selectors, tc.wantSel) {
				t.Errorf("label selectors asked %q, want %q among them", f.selectors, tc.wantSel)
			}
		})
	}
}

// A CronJob's page lists its Jobs in the Jobs table's order: newest first
// unless a column is asked for.
func TestCronJobPageOrdersItsJobs(t *testing.T) {
	f := testCluster()
	for _, o := range []struct {
		name string
		ago  time.Duration
	}{{"nightly-b", 2 * time.Hour}, {"nightly-c", time.Hour}, {"nightly-a", 3 * time.Hour}} {
		j := job(o.name, jobOpts{createdAgo: o.ago})
		j.GetJob().Metadata.OwnerReferences = []*api.OwnerReference{{Kind: api.CronJobResource.Kind, Name: "nightly"}}
		f.add(j)
	}
	h := newTestHandler(f)
	for path, want := range map[string]string{
		"/ui/cronjobs/nightly":                "nightly-c nightly-b nightly-a",
		"/ui/cronjobs/nightly?jobs-sort=name": "nightly-a nightly-b nightly-c",
		"/ui/cronjobs/nightly?jobs-sort=size": "nightly-c nightly-b nightly-a",
	} {
		code, body := get(t, h, path)
		var got []string
		for _, m := range regexp.MustCompile(`data-job="([^"]+)"`).FindAllStringSubmatch(body, -1) {
			got = append(got, m[1])
		}
		if code != http.StatusOK || strings.Join(got, " ") != want {
			t.Errorf("GET %s = %d, Jobs %v, want %s", path, code, got, want)
		}
	}
}

// A state no Job can be in is refused by the servers; the page says so
// and keeps its filter form.
func TestJobsPageNamesABadState(t *testing.T) {
	code, body := get(t, newTestHandler(testCluster()), "/ui/jobs?state=Done")
	if code != http.StatusBadRequest || !strings.Contains(text(body), `state: "Done" is not a Job state; give one of Running, Complete`) || !strings.Contains(body, `name="state"`) {
		t.Errorf("GET /ui/jobs?state=Done = %d %q, want 400 naming the state and the form to pick another", code, text(body))
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestJobsPaginate(t *testing.T) {
	f := newFakeControl()
	for i := range 250 {
		f.add(job(fmt.Sprintf("job-%03d", i), jobOpts{createdAgo: time.Duration(i) * time.Second}))
	}
	h := newTestHandler(f)
	tests := []struct {
		query       string
		rows        int
		first, last string
		prev, next  bool
	}{
		{query: "sort=name", rows: 100, first: "job-000", last: "job-099", next: true},
		{query: "sort=name&page=2", rows: 100, first: "job-100", last: "job-199", prev: true, next: true},
		{query: "sort=name&page=3", rows: 50, first: "job-200", last: "job-249", prev: true},
		{query: "sort=name&page=99", rows: 50, first: "job-200", last: "job-249", prev: true},
	}
	for _, tc := range tests {
		_, body := get(t, h, "/ui/jobs?"+tc.query)
		rows := regexp.MustCompile(`data-job="([^"]+)"`).FindAllStringSubmatch(body, -1)
		if len(rows) != tc.rows || rows[0][1] != tc.first || rows[len(rows)-1][1] != tc.last {
			t.Errorf("%s: %d rows from %s to %s, want %d from %s to %s", tc.query, len(rows), rows[0][1], rows[len(rows)-1][1], tc.rows, tc.first, tc.last)
		}
		if got := strings.Contains(body, `rel="prev"`); got != tc.prev {
			t.Errorf("%s: previous link %t, want %t", tc.query, got, tc.prev)
		}
		if got := strings.Contains(body, `rel="next"`); got != tc.next {
			t.Errorf("%s: next link %t, want %t", tc.query, got, tc.next)
		}
	}
}

func TestSortHeaderTogglesAndKeepsTheFilter(t *testing.T) {
	_, body := get(t, newTestHandler(testCluster()), "/ui/jobs?state=Running&sort=name&page=2")
	if want := `<th aria-sort="ascending"><a href="/ui/jobs?sort=-name&amp;state=Running">Name ▲</a></th>`; !strings.Contains(body, want) {
		t.Errorf("page lacks %s", want)
	}
	if want := `<a href="/ui/jobs?sort=age&amp;state=Running">Age</a>`; !strings.Contains(body, want) {
		t.Errorf("page lacks %s", want)
	}
}

func TestSubmitShowsTheCLIsValidationErrors(t *testing.T) {
	manifest := "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: Bad_Name\nspec:\n  completions: -1\n  template:\n    spec:\n      containers: []\n"
	_, decodeErr := api.DecodeManifests([]byte(manifest))
	if decodeErr == nil {
		t.Fatal("the test manifest decodes; it must be invalid")
	}
	f := testCluster()
	rec := post(t, newTestHandler(f), "/ui/submit", url.Values{"manifest": {manifest}})
	if rec.Code != http.StatusUnprocessableEntity {
		t.Errorf("POST /ui/submit = %d, want 422", rec.Code)
	}
	page := text(rec.Body.String())
	for _, line := range strings.Split(decodeErr.Error(), "\n") {
		if !strings.Contains(page, strings.Join(strings.Fields(line), " ")) {
			t.Errorf("page lacks the decode error %q\npage: %s", line, page)
		}
	}
	if !strings.Contains(rec.Body.String(), "Bad_Name") {
		t.Error("the pasted manifest is not kept in the form")
	}
	if len(f.submitted) != 0 {
		t.Errorf("an invalid manifest was submitted: %v", f.submitted)
	}
}

func TestSubmitCreatesAndShowsRefusals(t *testing.T) {
	manifest := `apiVersion: batch/v1
kind: Job
metadata: {name: fresh}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: [echo, hi]}]
---
apiVersion: batch/v1
kind: Job
metadata: {name: pi}
spec:
  template:
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox, command: [echo, hi]}]
`
	f := testCluster()
	rec := post(t, newTestHandler(f), "/ui/submit", url.Values{"manifest": {manifest}})
	page := text(rec.Body.String())
	for _, want := range []string{"job.batch/fresh created", `AlreadyExists jobs.batch "pi" already exists`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q: %s", want, page)
		}
	}
	if len(f.submitted) != 1 || f.submitted[0].GetApply() {
		t.Errorf("submitted %v, want one create request", f.submitted)
	}
	if !strings.Contains(rec.Body.String(), `href="/ui/jobs/fresh"`) {
		t.Error("no link to the created Job")
	}
}

func TestActionsAskFirst(t *testing.T) {
	f := testCluster()
	rec := post(t, newTestHandler(f), "/ui/action", url.Values{"kind": {"job"}, "name": {"pi"}, "do": {"delete"}, "next": {"/ui/jobs/pi"}})
	if rec.Code != http.StatusOK || !strings.Contains(text(rec.Body.String()), "Delete job.batch/pi and its pods?") {
		t.Errorf("unconfirmed delete = %d %q, want the question", rec.Code, text(rec.Body.String()))
	}
	if len(f.deleted) != 0 {
		t.Errorf("deleted %v before confirmation", f.deleted)
	}
}

func TestConfirmedActions(t *testing.T) {
	tests := []struct {
		name      string
		form      url.Values
		wantNext  string
		wantFlash string
		check     func(t *testing.T, f *fakeControl)
	}{
		{name: "suspend a job applies it with spec.suspend set",
			form: url.Values{"kind": {"job"}, "name": {"pi"}, "do": {"suspend"}, "next": {"/ui/jobs/pi"}}, wantNext: "/ui/jobs/pi", wantFlash: "job.batch/pi suspended",
			check: func(t *testing.T, f *fakeControl) {
				if len(f.submitted) != 1 || !f.submitted[0].GetApply() {
					t.Fatalf("submitted %v, want one apply", f.submitted)
				}
				j := f.submitted[0].GetObjects()[0].GetJob()
				if !j.GetSpec().GetSuspend() || j.GetStatus() != nil {
					t.Errorf("applied spec.suspend=%t status=%v, want true and no status", j.GetSpec().GetSuspend(), j.GetStatus())
				}
			}},
		{name: "resume a cronjob", form: url.Values{"kind": {"cronjob"}, "name": {"paused"}, "do": {"resume"}, "next": {"/ui/cronjobs"}}, wantNext: "/ui/cronjobs", wantFlash: "cronjob.batch/paused resumed",
			check: func(t *testing.T, f *fakeControl) {
				if cj := f.submitted[0].GetObjects()[0].GetCronJob(); cj.GetSpec().GetSuspend() {
					t.Error("applied suspend=true, want false")
				}
			}},
		{name: "delete from its own page returns to the list", form: url.Values{"kind": {"job"}, "name": {"pi"}, "do": {"delete"}, "next": {"/ui/jobs/pi?pod=pi-a"}}, wantNext: "/ui/jobs", wantFlash: "job.batch/pi deleted",
			check: func(t *testing.T, f *fakeControl) {
				if len(f.deleted) != 1 || f.deleted[0].GetKind() != "job" || f.deleted[0].GetName() != "pi" {
					t.Errorf("deleted %v, want job pi", f.deleted)
				}
			}},
		{name: "trigger a cronjob makes a manual job", form: url.Values{"kind": {"cronjob"}, "name": {"nightly"}, "do": {"trigger"}, "next": {"/ui/cronjobs/nightly"}}, wantNext: "/ui/cronjobs/nightly", wantFlash: "job.batch/nightly-manual-",
			check: func(t *testing.T, f *fakeControl) {
				if len(f.triggered) != 1 || !regexp.MustCompile(`^nightly-manual-[a-z0-9]{5}$`).MatchString(f.triggered[0].GetJobName()) || f.triggered[0].GetForce() {
					t.Errorf("triggered %v, want nightly-manual-XXXXX without force", f.triggered)
				}
			}},
		{name: "a next page elsewhere is not followed", form: url.Values{"kind": {"job"}, "name": {"pi"}, "do": {"resume"}, "next": {"https://evil.example/"}}, wantNext: "/ui/", wantFlash: "job.batch/pi resumed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := testCluster()
			tc.form.Set("confirmed", "yes")
			rec := post(t, newTestHandler(f), "/ui/action", tc.form)
			if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != tc.wantNext {
				t.Fatalf("POST = %d to %q, want 303 to %q\n%s", rec.Code, rec.Header().Get("Location"), tc.wantNext, text(rec.Body.String()))
			}
			var flashText string
			for _, c := range rec.Result().Cookies() {
				if c.Name == flashCookie {
					v, _ := url.ParseQuery(c.Value)
					flashText = v.Get("text")
				}
			}
			if !strings.HasPrefix(flashText, tc.wantFlash) {
				t.Errorf("flash %q, want it to start with %q", flashText, tc.wantFlash)
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func TestFailedActionShowsTheServersWords(t *testing.T) {
	f := testCluster()
	rec := post(t, newTestHandler(f), "/ui/action", url.Values{"kind": {"cronjob"}, "name": {"gone"}, "do": {"trigger"}, "confirmed": {"yes"}})
	if rec.Code != http.StatusNotFound || !strings.Contains(text(rec.Body.String()), `cronjobs.batch "gone" not found`) {
		t.Errorf("trigger of a missing cronjob = %d %q, want 404 with the server's message", rec.Code, text(rec.Body.String()))
	}
}

func TestCrossSiteWritesAreRefused(t *testing.T) {
	f := testCluster()
	h := newTestHandler(f)
	form := url.Values{"kind": {"job"}, "name": {"pi"}, "do": {"delete"}, "confirmed": {"yes"}}
	for _, path := range []string{"/ui/action", "/ui/submit"} {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		req.Header.Set("Origin", "https://evil.example")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusForbidden {
			t.Errorf("cross-site POST %s = %d, want 403", path, rec.Code)
		}
	}
	if code, _ := get(t, h, "/ui/action?kind=job&name=pi&do=delete&confirmed=yes"); code != http.StatusNotFound {
		t.Errorf("GET /ui/action = %d, want 404: actions are POSTs only", code)
	}
	if len(f.deleted)+len(f.submitted) != 0 {
		t.Errorf("refused requests still wrote: deleted %v, submitted %v", f.deleted, f.submitted)
	}
}

// readEvents reads server-sent events from r until n were read.
func readEvents(t *testing.T, r *bufio.Reader, n int) []sse {
	t.Helper()
	var (
		events []sse
		cur    sse
	)
	for len(events) < n {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read events: %v after %q", err, events)
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			events = append(events, cur)
			cur = sse{}
		case strings.HasPrefix(line, "event: "):
			cur.event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if cur.data != "" {
				cur.data += "\n"
			}
			cur.data += strings.TrimPrefix(line, "data: ")
		}
	}
	return events
}

type sse struct{ event, data string }

// openLive opens the live stream of path on a UI serving f, closed when
// the test ends.
func openLive(t *testing.T, f *fakeControl, path string) *bufio.Reader {
	t.Helper()
	srv := httptest.NewServer(newTestHandler(f))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type %q, want text/event-stream", ct)
	}
	return bufio.NewReader(resp.Body)
}

func TestLiveBlockStreamsChanges(t *testing.T) {
	f := testCluster()
	body := openLive(t, f, "/ui/live/jobs?state=Running")
	first := readEvents(t, body, 1)
	if len(first) != 1 || !strings.Contains(first[0].data, `aria-valuenow="50"`) || strings.Contains(first[0].data, "<html") {
		t.Fatalf("first event %q, want the live block with pi at 50%%", first)
	}
	// pi completes: the next event carries the full bar.
	f.mu.Lock()
	f.objects["job"][0] = job("pi", jobOpts{completions: int32p(4), succeeded: 4, startedAgo: time.Minute, createdAgo: time.Minute})
	f.mu.Unlock()
	next := readEvents(t, body, 1)
	if len(next) != 1 || !strings.Contains(next[0].data, `aria-valuenow="100"`) {
		t.Errorf("next event %q, want pi at 100%%", next)
	}
}

func TestPodLogStreams(t *testing.T) {
	srv := httptest.NewServer(newTestHandler(testCluster()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/ui/logs/pi-a?follow=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got := readEvents(t, bufio.NewReader(resp.Body), 3)
	want := []sse{{data: `"line 1\n"`}, {data: `"line 2\nline 3\n"`}, {event: "end"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events %q, want %q", got, want)
	}
	resp2, err := http.Get(srv.URL + "/ui/logs/nope")
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if got := readEvents(t, bufio.NewReader(resp2.Body), 1); len(got) != 1 || got[0].event != "fail" || got[0].data != `pods "nope" not found` {
		t.Errorf("log of a missing pod: %q, want a fail event with the server's message", got)
	}
}

func TestStaticAssetsAreEmbedded(t *testing.T) {
	h := newTestHandler(testCluster())
	for _, path := range []string{"/ui/static/ui.css", "/ui/static/ui.js"} {
		if code, body := get(t, h, path); code != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s = %d with %d bytes", path, code, len(body))
		}
	}
}

func TestManualJobNameFitsAName(t *testing.T) {
	name := manualJobName(strings.Repeat("a", 60))
	if len(name) > 63 || !strings.HasPrefix(name, strings.Repeat("a", 50)+"-manual-") {
		t.Errorf("manualJobName = %q (%d characters), want at most 63", name, len(name))
	}
}

// BenchmarkJobsPage10000 renders the first page of 10,000 Jobs, sorted by
// progress: the whole list is read and ordered, one page is drawn.
func BenchmarkJobsPage10000(b *testing.B) {
	f := newFakeControl()
	for i := range 10000 {
		f.add(job(fmt.Sprintf("job-%05d", i), jobOpts{completions: int32p(10), succeeded: int32(i % 11), startedAgo: time.Minute, createdAgo: time.Duration(i) * time.Second}))
	}
	h := newTestHandler(f)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/ui/jobs?sort=-progress", nil))
		if rec.Code != http.StatusOK {
			b.Fatalf("GET /ui/jobs = %d", rec.Code)
		}
	}
}

// With ACLs on, a page refused for want of a token offers to sign in; the
// token is kept in an HttpOnly cookie and sent with every call after.
func TestSignInWithAToken(t *testing.T) {
	f := testCluster()
	f.token = "s3cret"
	h := newTestHandler(f)
	code, body := get(t, h, "/ui/jobs?state=Running")
	if code != http.StatusUnauthorized || !strings.Contains(text(body), "This cluster uses ACL tokens: sign in with yours") {
		t.Fatalf("GET /ui/jobs without a token = %d %q, want 401 with a sign-in form", code, text(body))
	}
	rec := post(t, h, "/ui/token", url.Values{"token": {"s3cret"}, "next": {"/ui/jobs?state=Running"}})
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/ui/jobs?state=Running" {
		t.Fatalf("POST /ui/token = %d to %q, want 303 back to the page", rec.Code, rec.Header().Get("Location"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || !cookies[0].HttpOnly || cookies[0].SameSite != http.SameSiteStrictMode || cookies[0].Value != "s3cret" {
		t.Fatalf("token cookie = %+v, want an HttpOnly SameSite=Strict cookie", cookies)
	}
	req := httptest.NewRequest(http.MethodGet, "/ui/jobs", nil)
	req.AddCookie(cookies[0])
	page := httptest.NewRecorder()
	h.ServeHTTP(page, req)
	if page.Code != http.StatusOK || !strings.Contains(text(page.Body.String()), "Sign out") {
		t.Errorf("GET /ui/jobs signed in = %d %q, want the page and a sign-out button", page.Code, text(page.Body.String()))
	}
	// A request's own Authorization header is passed on too.
	req = httptest.NewRequest(http.MethodGet, "/ui/jobs", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	page = httptest.NewRecorder()
	h.ServeHTTP(page, req)
	if page.Code != http.StatusOK {
		t.Errorf("GET /ui/jobs with an Authorization header = %d, want 200", page.Code)
	}
	out := post(t, h, "/ui/token", url.Values{"token": {""}})
	if c := out.Result().Cookies(); len(c) != 1 || c[0].MaxAge >= 0 {
		t.Errorf("signing out left the cookie: %+v", c)
	}
}

func TestNextRenderWaitsAsTheRenderCosts(t *testing.T) {
	at := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		name    string
		cost    time.Duration
		changed bool
		want    time.Duration
	}{
		{"a cheap block, changed", 2 * time.Millisecond, true, time.Second},
		{"a cheap block, unchanged", 2 * time.Millisecond, false, time.Second},
		{"a block of 10 ms, unchanged", 10 * time.Millisecond, false, time.Second},
		{"a block of 300 ms, changed", 300 * time.Millisecond, true, 3 * time.Second},
		{"a block of 300 ms, unchanged", 300 * time.Millisecond, false, 30 * time.Second},
		{"a block of 3 s, changed", 3 * time.Second, true, 30 * time.Second},
	} {
		if got := nextRender(at, tt.cost, time.Second, tt.changed).Sub(at); got != tt.want {
			t.Errorf("%s: next render after %v, want %v", tt.name, got, tt.want)
		}
	}
}

// A live block that is slow to render is not rendered again every poll
// interval while nothing changed, and is soon after the state changes.
func TestSlowLiveBlockRendersOnChange(t *testing.T) {
	f := testCluster()
	f.jobsDelay = 40 * time.Millisecond // unchanged: next render after 4 s
	body := openLive(t, f, "/ui/live/jobs")
	readEvents(t, body, 1)
	lists := func() int {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.jobLists
	}
	// 100 poll intervals of 10 ms.
	time.Sleep(time.Second)
	if n := lists(); n != 1 {
		t.Errorf("the Jobs were listed %d times in a second with nothing changed, want once", n)
	}
	f.mu.Lock()
	f.objects["job"][0] = job("pi", jobOpts{completions: int32p(4), succeeded: 4, startedAgo: time.Minute, createdAgo: time.Minute})
	f.index++
	f.mu.Unlock()
	next := readEvents(t, body, 1)
	if len(next) != 1 || !strings.Contains(next[0].data, `aria-valuenow="100"`) {
		t.Errorf("next event %q, want pi at 100%%", next)
	}
}

// TestOverviewCountsJobsWithoutListingThem: the overview's counts come
// from the servers' counts, not from a list of every Job kept.
func TestOverviewCountsJobsWithoutListingThem(t *testing.T) {
	f := testCluster()
	f.add(job("old", jobOpts{succeeded: 1, complete: true}))
	code, body := get(t, newTestHandler(f), "/ui/")
	if code != http.StatusOK {
		t.Fatalf("GET /ui/: %d %s", code, body)
	}
	if got := text(body); !strings.Contains(got, "4 Jobs 1 Running 2 Complete 0 Failed 1 Suspended") {
		t.Errorf("overview does not count 4 Jobs, 2 Complete: %s", got)
	}
	if f.jobLists != 0 || f.jobCounts != 1 {
		t.Errorf("overview listed Jobs %d times and asked for counts %d times, want 0 and 1", f.jobLists, f.jobCounts)
	}
}

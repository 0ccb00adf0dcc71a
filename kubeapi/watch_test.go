package kubeapi

import (
	"bufio"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jobcluster/jobcluster/api"
)

// watchLines runs a watch of jobs and returns its event lines.
func watchLines(t *testing.T, f *fakeControl, query string, header ...string) []watchLine {
	t.Helper()
	w := serve(t, f, http.MethodGet, "/apis/batch/v1/namespaces/default/jobs?watch=true"+query, "", "", header...)
	if w.Code != http.StatusOK {
		t.Fatalf("code %d: %s", w.Code, w.Body)
	}
	var lines []watchLine
	sc := bufio.NewScanner(w.Body)
	for sc.Scan() {
		var l watchLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		lines = append(lines, l)
	}
	return lines
}

type watchLine struct {
	Type   string `json:"type"`
	Object struct {
		Kind              string                         `json:"kind"`
		Code              int                            `json:"code"`
		Reason            string                         `json:"reason"`
		Metadata          metav1.ObjectMeta              `json:"metadata"`
		ColumnDefinitions []metav1.TableColumnDefinition `json:"columnDefinitions"`
		Rows              []metav1.TableRow              `json:"rows"`
	} `json:"object"`
}

func jobEvent(typ string, index uint64) *api.WatchEvent {
	return &api.WatchEvent{Type: typ, Index: index, Object: &api.Object{Kind: &api.Object_Job{Job: storedJob()}}}
}

func TestWatchEvents(t *testing.T) {
	f := &fakeControl{events: []*api.WatchEvent{
		jobEvent("ADDED", 7), {Type: "BOOKMARK", Index: 8}, jobEvent("DELETED", 9),
	}}
	lines := watchLines(t, f, "&resourceVersion=6&allowWatchBookmarks=true&labelSelector=a%3Db")
	if f.watchReq.GetResourceVersion() != 6 || f.watchReq.GetSendInitialEvents() || f.watchReq.GetLabelSelector() != "a=b" {
		t.Errorf("watch request %+v", f.watchReq)
	}
	var got []string
	for _, l := range lines {
		got = append(got, l.Type+" "+l.Object.Kind+" "+l.Object.Metadata.ResourceVersion)
	}
	if want := "ADDED Job 7,BOOKMARK Job 8,DELETED Job 9"; strings.Join(got, ",") != want {
		t.Errorf("events %q, want %q", strings.Join(got, ","), want)
	}
}

func TestWatchTooOldIsExpired(t *testing.T) {
	f := &fakeControl{watchErr: status.Error(codes.OutOfRange, "too old resource version: 1")}
	lines := watchLines(t, f, "&resourceVersion=1")
	if len(lines) != 1 || lines[0].Type != "ERROR" || lines[0].Object.Code != http.StatusGone || lines[0].Object.Reason != string(metav1.StatusReasonExpired) {
		t.Errorf("lines %+v; want one ERROR with a 410 Expired Status", lines)
	}
}

func TestWatchTableSendsColumnsOnce(t *testing.T) {
	f := &fakeControl{events: []*api.WatchEvent{jobEvent("ADDED", 7), jobEvent("MODIFIED", 8)}}
	lines := watchLines(t, f, "", "Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	if !f.watchReq.GetSendInitialEvents() {
		t.Error("a watch without resourceVersion starts with the current objects")
	}
	if len(lines) != 2 || lines[0].Object.Kind != "Table" || len(lines[0].Object.ColumnDefinitions) == 0 ||
		len(lines[1].Object.ColumnDefinitions) != 0 || len(lines[1].Object.Rows) != 1 {
		t.Errorf("lines %+v; want two Tables, columns on the first only", lines)
	}
}

func TestWatchInitialEventsEndBookmark(t *testing.T) {
	f := &fakeControl{events: []*api.WatchEvent{jobEvent("ADDED", 7), {Type: "BOOKMARK", Index: 7, InitialEventsEnd: true}}}
	lines := watchLines(t, f, "&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true")
	if len(lines) != 2 || lines[1].Type != "BOOKMARK" || lines[1].Object.Metadata.Annotations[initialEventsEnd] != "true" {
		t.Errorf("lines %+v; want ADDED then the initial-events-end bookmark", lines)
	}
}

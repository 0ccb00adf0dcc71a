package cluster

import (
	"testing"

	"github.com/jobcluster/jobcluster/api"
)

// A selector keeps only unfinished pods when no Succeeded or Failed pod
// can match it; only then may a list read the unfinished pods alone.
func TestFieldSelectorKeepsOnlyUnfinishedPods(t *testing.T) {
	for _, tt := range []struct {
		selector string
		node     string
		live     bool
	}{
		{"", "", false},
		{"status.phase!=Succeeded,status.phase!=Failed", "", true},
		{"spec.nodeName=n1,status.phase!=Succeeded,status.phase!=Failed", "n1", true},
		{"status.phase!=Failed,spec.nodeName=n1,status.phase!=Succeeded", "n1", true},
		{"spec.nodeName=,status.phase!=Succeeded,status.phase!=Failed", "", true},
		{"status.phase=Running", "", true},
		{"status.phase==Pending,spec.nodeName=n2", "n2", true},
		{"status.phase!=Succeeded", "", false},
		{"status.phase!=Failed,spec.nodeName=n1", "n1", false},
		{"status.phase=Succeeded", "", false},
		{"status.phase=Unknown", "", false},
		{"spec.nodeName!=n1,status.phase!=Succeeded,status.phase!=Failed", "", true},
		{"metadata.name=p,status.phase!=Succeeded,status.phase!=Failed", "", true},
	} {
		sel, err := parseFieldSelector(api.PodResource, tt.selector)
		if err != nil {
			t.Fatalf("parse %q: %v", tt.selector, err)
		}
		if node, live := sel.liveOnly(); node != tt.node || live != tt.live {
			t.Errorf("%q: liveOnly() = %q, %v; want %q, %v", tt.selector, node, live, tt.node, tt.live)
		}
	}
}

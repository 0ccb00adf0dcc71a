package cluster

import "testing"

func TestSelectorsMatchLikeKubectl(t *testing.T) {
	labels := map[string]string{"app": "web", "tier": "front"}
	cases := []struct {
		selector string
		matches  bool
	}{
		{"", true},
		{"app=web", true},
		{"app==web", true},
		{"app = web , tier=front", true},
		{"app=db", false},
		{"app!=db", true},
		{"app!=web", false},
		{"missing!=x", true},
		{"tier", true},
		{"missing", false},
		{"!missing", true},
		{"!tier", false},
	}
	for _, tc := range cases {
		sel, err := parseSelector(tc.selector)
		if err != nil {
			t.Errorf("parse %q: %v", tc.selector, err)
			continue
		}
		if got := sel.matches(labels); got != tc.matches {
			t.Errorf("%q matches %v = %v, want %v", tc.selector, labels, got, tc.matches)
		}
	}
	for _, bad := range []string{"app in (web)", "=web", "!", "a b=c"} {
		if _, err := parseSelector(bad); err == nil {
			t.Errorf("parse %q: no error, want one", bad)
		}
	}
}

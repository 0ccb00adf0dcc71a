package cluster

import (
	"fmt"
	"strings"

	"github.com/jobcluster/jobcluster/fsm"
)

// selector is a parsed equality-based label selector: "a=b,c!=d,e,!f".
type selector []requirement

type requirement struct {
	key, value string
	op         string // "=", "!=", "exists", "!exists"
}

func parseSelector(s string) (selector, error) {
	var out selector
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
			continue
		case strings.Contains(part, "!="):
			k, v, _ := strings.Cut(part, "!=")
			out = append(out, requirement{key: strings.TrimSpace(k), value: strings.TrimSpace(v), op: "!="})
		case strings.Contains(part, "=="):
			k, v, _ := strings.Cut(part, "==")
			out = append(out, requirement{key: strings.TrimSpace(k), value: strings.TrimSpace(v), op: "="})
		case strings.Contains(part, "="):
			k, v, _ := strings.Cut(part, "=")
			out = append(out, requirement{key: strings.TrimSpace(k), value: strings.TrimSpace(v), op: "="})
		case strings.HasPrefix(part, "!"):
			out = append(out, requirement{key: strings.TrimSpace(part[1:]), op: "!exists"})
		default:
			out = append(out, requirement{key: part, op: "exists"})
		}
	}
	for _, r := range out {
		if r.key == "" || strings.ContainsAny(r.key, " ()") {
			return nil, fmt.Errorf("unable to parse requirement: %q: use key=value, key!=value, key or !key", s)
		}
	}
	return out, nil
}

func (sel selector) matches(labels map[string]string) bool {
	return sel.matchesLookup(fsm.MapLookup(labels))
}

// keep is matchesLookup for the store's walks, nil for a selector that
// keeps everything: the store then reads no object's labels.
func (sel selector) keep() func(fsm.LabelLookup) bool {
	if len(sel) == 0 {
		return nil
	}
	return sel.matchesLookup
}

// matchesLookup matches labels read through a lookup, which a store of
// compressed objects answers without decoding them.
func (sel selector) matchesLookup(labels fsm.LabelLookup) bool {
	for _, r := range sel {
		v, ok := labels(r.key)
		switch r.op {
		case "=":
			if !ok || v != r.value {
				return false
			}
		case "!=":
			if ok && v == r.value {
				return false
			}
		case "exists":
			if !ok {
				return false
			}
		case "!exists":
			if ok {
				return false
			}
		}
	}
	return true
}

package notify

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/jobcluster/jobcluster/api"
)

// ParseConfig reads a webhooks file (server --notify-config) into targets:
//
//	webhooks:
//	- url: https://ops.example.com/hook
//	  secretFile: /etc/jobcluster/ops.secret   # optional: signs the body
//	  events: [JobFailed, NodeNotReady]        # optional: every event
//
// source names the file in errors; readFile reads a secretFile. Every
// problem is reported, each with its field path and what to do about it.
func ParseConfig(source string, data []byte, readFile func(path string) ([]byte, error)) ([]Target, error) {
	var doc any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: not YAML: %w", source, err)
	}
	p := configParser{source: source, readFile: readFile}
	targets := p.file(doc)
	if len(p.problems) > 0 {
		return nil, errors.Join(p.problems...)
	}
	return targets, nil
}

// CheckURL refuses a webhook URL other than an absolute http:// or
// https:// one; field names where it was given.
func CheckURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q: want an http:// or https:// URL", field, raw)
	}
	return nil
}

// TrimSecret is a secret file's secret: its content without surrounding
// white space, which editors add.
func TrimSecret(content []byte) []byte {
	return []byte(strings.TrimSpace(string(content)))
}

type configParser struct {
	source   string
	readFile func(string) ([]byte, error)
	problems []error
}

func (p *configParser) problem(format string, args ...any) {
	p.problems = append(p.problems, fmt.Errorf("%s: "+format, append([]any{p.source}, args...)...))
}

const addWebhook = `add "webhooks:" with at least one "- url: https://..."`

func (p *configParser) file(doc any) []Target {
	if doc == nil {
		p.problem("webhooks: no webhook listed: %s", addWebhook)
		return nil
	}
	top, ok := doc.(map[string]any)
	if !ok {
		p.problem("want a mapping with a webhooks list: %s", addWebhook)
		return nil
	}
	for _, k := range unknownKeys(top, "webhooks") {
		p.problem("%s: unknown field: the file holds only webhooks", k)
	}
	raw, ok := top["webhooks"]
	if !ok {
		p.problem("webhooks: missing: %s", addWebhook)
		return nil
	}
	list, ok := raw.([]any)
	if !ok {
		p.problem("webhooks: want a list, each item starting with \"- url: ...\"")
		return nil
	}
	if len(list) == 0 {
		p.problem("webhooks: no webhook listed: %s", addWebhook)
		return nil
	}
	var out []Target
	first := map[string]int{} // URL to the item that listed it first
	for i, item := range list {
		t, ok := p.webhook(fmt.Sprintf("webhooks[%d]", i), item)
		if !ok {
			continue
		}
		if j, seen := first[t.URL]; seen {
			p.problem("webhooks[%d].url %q is listed twice (also webhooks[%d]): list each URL once, with every event it is to get", i, t.URL, j)
			continue
		}
		first[t.URL] = i
		out = append(out, t)
	}
	return out
}

// webhook reads one item of the list; ok is false when it has a problem.
func (p *configParser) webhook(field string, item any) (Target, bool) {
	m, ok := item.(map[string]any)
	if !ok {
		p.problem("%s: want a mapping with url, and optionally secretFile and events", field)
		return Target{}, false
	}
	before := len(p.problems)
	for _, k := range unknownKeys(m, "url", "secretFile", "events") {
		p.problem("%s.%s: unknown field: use url, secretFile or events", field, k)
	}
	var t Target
	switch u, ok := m["url"].(string); {
	case m["url"] == nil:
		p.problem("%s.url: missing: give the http:// or https:// URL to post to", field)
	case !ok:
		p.problem("%s.url: want a string, the http:// or https:// URL to post to", field)
	default:
		if err := CheckURL(field+".url", u); err != nil {
			p.problem("%v", err)
		}
		t.URL = u
	}
	if raw, set := m["secretFile"]; set {
		t.Secret = p.secret(field+".secretFile", raw)
	}
	if raw, set := m["events"]; set {
		t.Events = p.events(field+".events", raw)
	}
	return t, len(p.problems) == before
}

func (p *configParser) secret(field string, raw any) []byte {
	path, ok := raw.(string)
	if !ok || path == "" {
		p.problem("%s: want the path of a file holding the secret, or leave secretFile out to post unsigned", field)
		return nil
	}
	content, err := p.readFile(path)
	if err != nil {
		p.problem("%s: %v", field, err)
		return nil
	}
	secret := TrimSecret(content)
	if len(secret) == 0 {
		p.problem("%s %s is empty: write the secret into it, or leave secretFile out to post unsigned", field, path)
		return nil
	}
	return secret
}

func (p *configParser) events(field string, raw any) []string {
	list, ok := raw.([]any)
	if !ok {
		p.problem("%s: want a list like [JobFailed, NodeNotReady], or leave events out for every event", field)
		return nil
	}
	if len(list) == 0 {
		p.problem("%s: empty, so nothing would be posted: list events, or leave events out for every event", field)
		return nil
	}
	var out []string
	for j, e := range list {
		name, _ := e.(string)
		if !slices.Contains(api.Events, name) {
			p.problem("%s[%d]: unknown event %q: use one of %s", field, j, fmt.Sprint(e), strings.Join(api.Events, ", "))
			continue
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// unknownKeys lists m's keys other than known, sorted.
func unknownKeys(m map[string]any, known ...string) []string {
	var out []string
	for k := range m {
		if !slices.Contains(known, k) {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

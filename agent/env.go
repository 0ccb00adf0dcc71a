package agent

import (
	"fmt"
	"os"
	"regexp"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// envContext is what a container's environment draws on besides its pod:
// the node, its IP and the config of the pod set.
type envContext struct {
	node, hostIP string
	config       podConfig
}

// envVarNameRE is a valid environment variable name, as Kubernetes checks it.
var envVarNameRE = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)

// MaxExpandedBytes bounds what a container's env values, command and args
// may grow to once their $(VAR) references are expanded. References may
// nest (B="$(A)$(A)", C="$(B)$(B)", ...), so a small manifest could
// otherwise ask for an exponential amount of memory; Linux refuses an exec
// of more than 2 MiB of arguments and environment anyway.
const MaxExpandedBytes = 1 << 20

// containerEnv returns the environment of a container's process and its
// argv, with $(VAR) references expanded as kubelet does. It fails when
// the expansion would exceed MaxExpandedBytes.
func containerEnv(pod *api.Pod, c *api.Container, ec envContext) (env, argv []string, err error) {
	node := ec.node
	meta := pod.GetMetadata()
	system := []string{
		"HOSTNAME=" + meta.GetName(),
		"JOBCLUSTER_POD_NAME=" + meta.GetName(),
		"JOBCLUSTER_JOB_NAME=" + meta.GetLabels()[api.LabelJobName],
		"JOBCLUSTER_NODE_NAME=" + node,
	}
	index, hasIndex := meta.GetLabels()[api.LabelCompletionIndex]
	if !hasIndex {
		index, hasIndex = meta.GetAnnotations()[api.LabelCompletionIndex]
	}
	vars := map[string]string{"PATH": os.Getenv("PATH")}
	for _, kv := range system {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	if hasIndex {
		vars[api.EnvCompletionIndex] = index
	}
	lookup := func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}

	budget := MaxExpandedBytes
	expand := func(s string) string {
		out := expandVars(s, lookup, budget)
		budget -= len(out)
		return out
	}
	env = []string{"PATH=" + os.Getenv("PATH")}
	userSetIndex := false
	// envFrom first, then env, which wins, as kubelet orders them; values
	// from ConfigMaps and Secrets are not expanded.
	ns := api.NamespaceOf(meta)
	for _, kv := range ec.config.envFromSources(ns, c) {
		if !envVarNameRE.MatchString(kv[0]) {
			continue // kubelet skips keys that are no variable name
		}
		env = append(env, kv[0]+"="+kv[1])
		vars[kv[0]] = kv[1]
		budget -= len(kv[1])
	}
	for _, e := range c.GetEnv() {
		if src := e.GetValueFrom(); src != nil {
			value, ok := ec.config.valueFrom(pod, c, src, ec.hostIP)
			if !ok {
				continue // an optional source that is missing
			}
			env = append(env, e.GetName()+"="+value)
			vars[e.GetName()] = value
			budget -= len(value)
			if e.GetName() == api.EnvCompletionIndex {
				userSetIndex = true
			}
			continue
		}
		value := expand(e.GetValue())
		env = append(env, e.GetName()+"="+value)
		vars[e.GetName()] = value
		if e.GetName() == api.EnvCompletionIndex {
			userSetIndex = true
		}
	}
	env = append(env, system...)
	for _, kv := range system {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	if hasIndex && !userSetIndex {
		env = append(env, api.EnvCompletionIndex+"="+index)
	}

	for _, arg := range c.GetCommand() {
		argv = append(argv, expand(arg))
	}
	for _, arg := range c.GetArgs() {
		argv = append(argv, expand(arg))
	}
	if budget < 0 {
		return nil, nil, fmt.Errorf("container %q: expanding the $(VAR) references of its env, command and args gives more than %d bytes (1 MiB): nest fewer references", c.GetName(), MaxExpandedBytes)
	}
	return env, argv, nil
}

// expandVars replaces $(NAME) with the value of NAME, keeps references to
// unknown names as written, and turns $$ into $, like Kubernetes. It stops
// once the result passes limit bytes, returning what it has (longer than
// limit), so no input can make it use more.
func expandVars(s string, lookup func(string) (string, bool), limit int) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s) && b.Len() <= limit; i++ {
		if s[i] != '$' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i++
		case '(':
			end := strings.IndexByte(s[i+2:], ')')
			if end < 0 {
				b.WriteString(s[i:])
				return b.String()
			}
			name := s[i+2 : i+2+end]
			if v, ok := lookup(name); ok && name != "" {
				b.WriteString(v)
			} else {
				b.WriteString("$(" + name + ")")
			}
			i += 2 + end
		default:
			b.WriteByte('$')
		}
	}
	return b.String()
}

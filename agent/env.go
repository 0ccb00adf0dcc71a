package agent

import (
	"os"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// containerEnv returns the environment of a container's process and its
// argv, with $(VAR) references expanded as kubelet does.
func containerEnv(pod *api.Pod, c *api.Container, node string) (env, argv []string) {
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

	env = []string{"PATH=" + os.Getenv("PATH")}
	userSetIndex := false
	for _, e := range c.GetEnv() {
		value := expandVars(e.GetValue(), lookup)
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
		argv = append(argv, expandVars(arg, lookup))
	}
	for _, arg := range c.GetArgs() {
		argv = append(argv, expandVars(arg, lookup))
	}
	return env, argv
}

// expandVars replaces $(NAME) with the value of NAME, keeps references to
// unknown names as written, and turns $$ into $, like Kubernetes.
func expandVars(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
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

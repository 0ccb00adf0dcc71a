package testcluster

import (
	"encoding/json"
	"strings"
	"text/template"
)

// ShellJob is a Job manifest whose one container runs Script with sh -c.
// Zero fields are left out of the manifest. The agent turns $$ in a
// command into $, as kubelet does, so a script that wants the shell's PID
// writes $$$$.
type ShellJob struct {
	Name          string
	Parallelism   int
	Completions   int
	BackoffLimit  *int
	RestartPolicy string // Never when empty
	NodeSelector  map[string]string
	CPURequest    string // resources.requests.cpu, such as 800m
	Env           map[string]string
	WorkingDir    string
	Script        string
}

var shellJobTemplate = template.Must(template.New("job").Funcs(template.FuncMap{"quote": quoteYAML}).Parse(`apiVersion: batch/v1
kind: Job
metadata:
  name: {{.Name}}
spec:
{{- if .Parallelism}}
  parallelism: {{.Parallelism}}
{{- end}}
{{- if .Completions}}
  completions: {{.Completions}}
{{- end}}
{{- if .BackoffLimit}}
  backoffLimit: {{.BackoffLimit}}
{{- end}}
  template:
    spec:
      restartPolicy: {{or .RestartPolicy "Never"}}
{{- if .NodeSelector}}
      nodeSelector:
{{- range $k, $v := .NodeSelector}}
        {{quote $k}}: {{quote $v}}
{{- end}}
{{- end}}
      containers:
      - name: main
        image: busybox
        command: ["sh", "-c", {{quote .Script}}]
{{- if .WorkingDir}}
        workingDir: {{quote .WorkingDir}}
{{- end}}
{{- if .Env}}
        env:
{{- range $k, $v := .Env}}
        - name: {{quote $k}}
          value: {{quote $v}}
{{- end}}
{{- end}}
{{- if .CPURequest}}
        resources:
          requests:
            cpu: {{.CPURequest}}
{{- end}}
`))

// quoteYAML writes s as a double-quoted scalar: JSON strings are YAML.
func quoteYAML(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// YAML returns the manifest.
func (j ShellJob) YAML() string {
	var b strings.Builder
	if err := shellJobTemplate.Execute(&b, j); err != nil {
		panic(err)
	}
	return b.String()
}

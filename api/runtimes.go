package api

// Runtimes an agent can run pods with, as named in spec.runtimeClassName
// and `agent --runtime`.
const (
	RuntimeProcess = "process"
	RuntimeDocker  = "docker"
)

// PodRuntime returns the runtime a pod needs: its runtimeClassName when
// set, docker when a container has an image and no command (only a
// container runtime runs an image by itself), otherwise "" for the
// agent's default.
func PodRuntime(pod *Pod) string {
	if rc := pod.GetSpec().GetRuntimeClassName(); rc != "" {
		return rc
	}
	for _, c := range pod.GetSpec().GetContainers() {
		if c.GetImage() != "" && len(c.GetCommand()) == 0 {
			return RuntimeDocker
		}
	}
	return ""
}

package agent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// reasonConfigError is kubelet's waiting reason for a container whose
// ConfigMap or Secret is missing.
const reasonConfigError = "CreateContainerConfigError"

// podConfig is the ConfigMaps and Secrets of the latest pod set, by
// namespace/name: those the pods here refer to.
type podConfig struct {
	configMaps map[string]*api.ConfigMap
	secrets    map[string]*api.Secret
}

func newPodConfig(set *api.PodSet) podConfig {
	c := podConfig{configMaps: map[string]*api.ConfigMap{}, secrets: map[string]*api.Secret{}}
	for _, cm := range set.GetConfigMaps() {
		c.configMaps[api.KeyOf(cm.GetMetadata())] = cm
	}
	for _, s := range set.GetSecrets() {
		c.secrets[api.KeyOf(s.GetMetadata())] = s
	}
	return c
}

// missing says, in kubelet's words, what a pod's containers need that is
// not there (`configmap "x" not found`, `couldn't find key k in Secret
// ns/s`), or "" when nothing is missing. Optional references may be
// missing.
func (c podConfig) missing(pod *api.Pod) string {
	ns := api.NamespaceOf(pod.GetMetadata())
	for _, ctr := range pod.GetSpec().GetContainers() {
		for _, e := range ctr.GetEnvFrom() {
			if ref := e.GetConfigMapRef(); ref != nil && !ref.GetOptional() && c.configMaps[api.Key(ns, ref.GetName())] == nil {
				return fmt.Sprintf("configmap %q not found", ref.GetName())
			}
			if ref := e.GetSecretRef(); ref != nil && !ref.GetOptional() && c.secrets[api.Key(ns, ref.GetName())] == nil {
				return fmt.Sprintf("secret %q not found", ref.GetName())
			}
		}
		for _, e := range ctr.GetEnv() {
			if ref := e.GetValueFrom().GetConfigMapKeyRef(); ref != nil && !ref.GetOptional() {
				cm := c.configMaps[api.Key(ns, ref.GetName())]
				switch {
				case cm == nil:
					return fmt.Sprintf("configmap %q not found", ref.GetName())
				case !hasKey(cm, ref.GetKey()):
					return fmt.Sprintf("couldn't find key %s in ConfigMap %s/%s", ref.GetKey(), ns, ref.GetName())
				}
			}
			if ref := e.GetValueFrom().GetSecretKeyRef(); ref != nil && !ref.GetOptional() {
				s := c.secrets[api.Key(ns, ref.GetName())]
				switch {
				case s == nil:
					return fmt.Sprintf("secret %q not found", ref.GetName())
				case s.GetData()[ref.GetKey()] == nil:
					return fmt.Sprintf("couldn't find key %s in Secret %s/%s", ref.GetKey(), ns, ref.GetName())
				}
			}
		}
	}
	for _, v := range pod.GetSpec().GetVolumes() {
		if src := v.GetConfigMap(); src != nil && !src.GetOptional() {
			cm := c.configMaps[api.Key(ns, src.GetName())]
			if cm == nil {
				return fmt.Sprintf("configmap %q not found", src.GetName())
			}
			for _, it := range src.GetItems() {
				if !hasKey(cm, it.GetKey()) {
					return fmt.Sprintf("configmap references non-existent config key: %s", it.GetKey())
				}
			}
		}
		if src := v.GetSecret(); src != nil && !src.GetOptional() {
			s := c.secrets[api.Key(ns, src.GetSecretName())]
			if s == nil {
				return fmt.Sprintf("secret %q not found", src.GetSecretName())
			}
			for _, it := range src.GetItems() {
				if s.GetData()[it.GetKey()] == nil {
					return fmt.Sprintf("references non-existent secret key: %s", it.GetKey())
				}
			}
		}
	}
	return ""
}

// projectedFiles are the files of a pod's configMap or secret volume:
// path below the volume, content and mode, as kubelet writes them. Every
// key when no items are listed; a listed key missing from an optional
// source is left out.
func (c podConfig) projectedFiles(pod *api.Pod, v *api.Volume) []projectedFile {
	ns := api.NamespaceOf(pod.GetMetadata())
	data := map[string][]byte{}
	var items []*api.KeyToPath
	mode := int32(0o644)
	switch {
	case v.GetConfigMap() != nil:
		src := v.GetConfigMap()
		if cm := c.configMaps[api.Key(ns, src.GetName())]; cm != nil {
			for k, val := range cm.GetData() {
				data[k] = []byte(val)
			}
			for k, val := range cm.GetBinaryData() {
				data[k] = val
			}
		}
		items = src.GetItems()
		if src.DefaultMode != nil {
			mode = src.GetDefaultMode()
		}
	case v.GetSecret() != nil:
		src := v.GetSecret()
		if s := c.secrets[api.Key(ns, src.GetSecretName())]; s != nil {
			for k, val := range s.GetData() {
				data[k] = val
			}
		}
		items = src.GetItems()
		if src.DefaultMode != nil {
			mode = src.GetDefaultMode()
		}
	default:
		return nil
	}
	var out []projectedFile
	if len(items) == 0 {
		for _, k := range sortedKeys(data) {
			out = append(out, projectedFile{path: k, content: data[k], mode: mode})
		}
		return out
	}
	for _, it := range items {
		content, ok := data[it.GetKey()]
		if !ok {
			continue
		}
		m := mode
		if it.Mode != nil {
			m = it.GetMode()
		}
		out = append(out, projectedFile{path: it.GetPath(), content: content, mode: m})
	}
	return out
}

// projectedFile is one file of a configMap or secret volume.
type projectedFile struct {
	path    string
	content []byte
	mode    int32
}

func hasKey(cm *api.ConfigMap, key string) bool {
	_, inData := cm.GetData()[key]
	_, inBinary := cm.GetBinaryData()[key]
	return inData || inBinary
}

// configValue reads a key of a ConfigMap (text or binary data).
func configValue(cm *api.ConfigMap, key string) (string, bool) {
	if v, ok := cm.GetData()[key]; ok {
		return v, true
	}
	if v, ok := cm.GetBinaryData()[key]; ok {
		return string(v), true
	}
	return "", false
}

// envFromSources is what a container's envFrom gives, in order, later
// sources winning: each key that is a valid variable name, with the
// source's prefix.
func (c podConfig) envFromSources(ns string, ctr *api.Container) [][2]string {
	var out [][2]string
	for _, e := range ctr.GetEnvFrom() {
		if ref := e.GetConfigMapRef(); ref != nil {
			if cm := c.configMaps[api.Key(ns, ref.GetName())]; cm != nil {
				for _, k := range sortedKeys(cm.GetData()) {
					out = append(out, [2]string{e.GetPrefix() + k, cm.GetData()[k]})
				}
			}
		}
		if ref := e.GetSecretRef(); ref != nil {
			if s := c.secrets[api.Key(ns, ref.GetName())]; s != nil {
				for _, k := range sortedKeys(s.GetData()) {
					out = append(out, [2]string{e.GetPrefix() + k, string(s.GetData()[k])})
				}
			}
		}
	}
	return out
}

// valueFrom resolves one env var's valueFrom; ok is false when an
// optional source is missing (the variable is then not set).
func (c podConfig) valueFrom(pod *api.Pod, ctr *api.Container, src *api.EnvVarSource, hostIP string) (string, bool) {
	ns := api.NamespaceOf(pod.GetMetadata())
	switch {
	case src.GetConfigMapKeyRef() != nil:
		ref := src.GetConfigMapKeyRef()
		cm := c.configMaps[api.Key(ns, ref.GetName())]
		if cm == nil {
			return "", false
		}
		return configValue(cm, ref.GetKey())
	case src.GetSecretKeyRef() != nil:
		ref := src.GetSecretKeyRef()
		s := c.secrets[api.Key(ns, ref.GetName())]
		v, ok := s.GetData()[ref.GetKey()]
		return string(v), ok
	case src.GetFieldRef() != nil:
		return fieldValue(pod, src.GetFieldRef().GetFieldPath(), hostIP), true
	case src.GetResourceFieldRef() != nil:
		return resourceValue(pod, ctr, src.GetResourceFieldRef()), true
	}
	return "", false
}

// fieldValue is a downward API field of the pod. Pods use the node's
// network, so the pod's IP is the node's.
func fieldValue(pod *api.Pod, path, hostIP string) string {
	meta := pod.GetMetadata()
	if k, ok := strings.CutPrefix(path, "metadata.labels['"); ok {
		return meta.GetLabels()[strings.TrimSuffix(k, "']")]
	}
	if k, ok := strings.CutPrefix(path, "metadata.annotations['"); ok {
		return meta.GetAnnotations()[strings.TrimSuffix(k, "']")]
	}
	switch path {
	case "metadata.name":
		return meta.GetName()
	case "metadata.namespace":
		return api.NamespaceOf(meta)
	case "metadata.uid":
		return meta.GetUid()
	case "spec.nodeName":
		return pod.GetSpec().GetNodeName()
	case "spec.serviceAccountName":
		return ""
	case "status.hostIP", "status.podIP", "status.hostIPs", "status.podIPs":
		return hostIP
	}
	return ""
}

// resourceValue is a container's request or limit, in units of the
// divisor (1 byte for memory and 1 core for cpu when unset), rounded up,
// as kubelet gives it. An unset one is 0 (kubelet gives the node's
// allocatable for an unset limit).
func resourceValue(pod *api.Pod, ctr *api.Container, sel *api.ResourceFieldSelector) string {
	target := ctr
	if name := sel.GetContainerName(); name != "" {
		for _, c := range pod.GetSpec().GetContainers() {
			if c.GetName() == name {
				target = c
			}
		}
	}
	which, resource, _ := strings.Cut(sel.GetResource(), ".")
	var q string
	switch which {
	case "limits":
		q = target.GetResources().GetLimits()[resource]
	case "requests":
		q = target.GetResources().GetRequests()[resource]
	}
	if q == "" {
		return "0"
	}
	divisor := "1"
	if sel.Divisor != nil && sel.GetDivisor() != "" {
		divisor = sel.GetDivisor()
	}
	if resource == "cpu" {
		v, err1 := api.ParseCPUMillis(q)
		d, err2 := api.ParseCPUMillis(divisor)
		if err1 != nil || err2 != nil || d == 0 {
			return q
		}
		return strconv.FormatInt((v+d-1)/d, 10)
	}
	v, err1 := api.ParseBytes(q)
	d, err2 := api.ParseBytes(divisor)
	if err1 != nil || err2 != nil || d == 0 {
		return q
	}
	return strconv.FormatInt((v+d-1)/d, 10)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

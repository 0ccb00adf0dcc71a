package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"
)

const timestampName protoreflect.FullName = "google.protobuf.Timestamp"

// jsonNameOverrides holds the fields whose Kubernetes JSON name differs from
// protobuf's camelCase.
var jsonNameOverrides = map[protoreflect.FullName]string{
	"jobcluster.v1.PodStatus.host_ip":         "hostIP",
	"jobcluster.v1.NodeSystemInfo.machine_id": "machineID",
}

// jsonName returns the name a field has in manifests and in printed objects.
func jsonName(fd protoreflect.FieldDescriptor) string {
	if n, ok := jsonNameOverrides[fd.FullName()]; ok {
		return n
	}
	return fd.JSONName()
}

// typeMeta holds the apiVersion and kind printed for top-level objects that
// do not carry their own.
var typeMeta = map[protoreflect.FullName][2]string{
	"jobcluster.v1.Job":       {"batch/v1", "Job"},
	"jobcluster.v1.CronJob":   {"batch/v1", "CronJob"},
	"jobcluster.v1.Pod":       {"v1", "Pod"},
	"jobcluster.v1.Node":      {"v1", "Node"},
	"jobcluster.v1.Event":     {"v1", "Event"},
	"jobcluster.v1.ConfigMap": {"v1", "ConfigMap"},
	"jobcluster.v1.Secret":    {"v1", "Secret"},
}

// member is one field of an object whose fields keep the schema's order.
type member struct {
	key   string
	value any
}

// ordered is a JSON object that prints its members in order.
type ordered []member

// MarshalJSON prints a message of this schema in Kubernetes' JSON shape:
// camelCase names, 64-bit integers as numbers, timestamps in RFC 3339 with
// sub-second precision in UTC, unset and zero fields omitted (optional
// fields print when set, even to zero), indented by four spaces like
// kubectl, without a trailing newline. Jobs, CronJobs, Pods, Nodes and
// Events get apiVersion and kind when they have none; an *Object prints
// the object inside it.
func MarshalJSON(m proto.Message) ([]byte, error) {
	v, err := topValue(m)
	if err != nil {
		return nil, err
	}
	return writeIndented(v)
}

// MarshalYAML prints the same content as MarshalJSON as YAML, keys sorted
// as kubectl sorts them.
func MarshalYAML(m proto.Message) ([]byte, error) {
	j, err := MarshalJSON(m)
	if err != nil {
		return nil, err
	}
	return jsonToYAML(j)
}

// MarshalListJSON prints messages as a kubectl List:
// {"apiVersion": "v1", "items": [...], "kind": "List", "metadata": {...}}.
func MarshalListJSON(items []proto.Message) ([]byte, error) {
	values := make([]any, 0, len(items))
	for _, m := range items {
		v, err := topValue(m)
		if err != nil {
			return nil, err
		}
		values = append(values, v)
	}
	return writeIndented(ordered{
		{"apiVersion", "v1"},
		{"items", values},
		{"kind", "List"},
		{"metadata", ordered{{"resourceVersion", ""}}},
	})
}

// MarshalListYAML prints messages as a kubectl List in YAML.
func MarshalListYAML(items []proto.Message) ([]byte, error) {
	j, err := MarshalListJSON(items)
	if err != nil {
		return nil, err
	}
	return jsonToYAML(j)
}

// ToMap returns the message in the shape MarshalJSON prints, as nested
// map[string]any, []any and scalar values; nil for a nil message.
func ToMap(m proto.Message) map[string]any {
	v, err := topValue(m)
	if err != nil {
		return nil
	}
	return plain(v).(map[string]any)
}

func plain(v any) any {
	switch t := v.(type) {
	case ordered:
		out := make(map[string]any, len(t))
		for _, mem := range t {
			out[mem.key] = plain(mem.value)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

func jsonToYAML(j []byte) ([]byte, error) {
	y, err := yaml.JSONToYAML(j)
	if err != nil {
		return nil, fmt.Errorf("convert to yaml: %w", err)
	}
	return y, nil
}

// topValue converts a top-level object, unwrapping *Object and filling
// apiVersion and kind.
func topValue(m proto.Message) (ordered, error) {
	if obj, ok := m.(*Object); ok && MessageOf(obj) != nil {
		m = MessageOf(obj)
	}
	if m == nil || !m.ProtoReflect().IsValid() {
		return nil, errors.New("marshal: nil message")
	}
	if p, ok := m.(*Pod); ok && p.GetStatus() != nil {
		// A pod prints with the conditions kubelet would report.
		p = proto.Clone(p).(*Pod)
		p.Status.Conditions = PodConditions(p)
		m = p
	}
	rm := m.ProtoReflect()
	v := messageValue(rm).(ordered)
	if _, ok := m.(*Pod); ok {
		v = withPodIP(v)
	}
	meta, ok := typeMeta[rm.Descriptor().FullName()]
	if !ok {
		return v, nil
	}
	rest := make(ordered, 0, len(v)+2)
	apiVersion, kind := meta[0], meta[1]
	for _, mem := range v {
		switch mem.key {
		case "apiVersion":
			apiVersion = mem.value.(string)
		case "kind":
			kind = mem.value.(string)
		default:
			rest = append(rest, mem)
		}
	}
	return append(ordered{{"apiVersion", apiVersion}, {"kind", kind}}, rest...), nil
}

// withPodIP adds podIP and podIPs after a pod's hostIP: pods use the
// node's network, so their IP is the node's, as Kubernetes reports a
// hostNetwork pod's.
func withPodIP(pod ordered) ordered {
	for i, mem := range pod {
		status, ok := mem.value.(ordered)
		if mem.key != "status" || !ok {
			continue
		}
		for j, f := range status {
			ip, ok := f.value.(string)
			if f.key != "hostIP" || !ok {
				continue
			}
			out := make(ordered, 0, len(status)+2)
			out = append(out, status[:j+1]...)
			out = append(out, member{"podIP", ip}, member{"podIPs", []any{ordered{{"ip", ip}}}})
			pod[i].value = append(out, status[j+1:]...)
			return pod
		}
	}
	return pod
}

// messageValue converts a message; a Timestamp becomes its RFC 3339 string.
func messageValue(m protoreflect.Message) any {
	if m.Descriptor().FullName() == timestampName {
		if ts, ok := m.Interface().(*timestamppb.Timestamp); ok {
			return ts.AsTime().UTC().Format(time.RFC3339Nano)
		}
	}
	out := ordered{}
	fields := m.Descriptor().Fields()
	for i := range fields.Len() {
		fd := fields.Get(i)
		if !m.Has(fd) && !alwaysPrinted[fd.FullName()] {
			continue
		}
		out = append(out, member{jsonName(fd), fieldValue(fd, m.Get(fd))})
	}
	return out
}

func fieldValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch {
	case fd.IsList():
		list := v.List()
		out := make([]any, list.Len())
		for i := range list.Len() {
			out[i] = scalarValue(fd, list.Get(i))
		}
		return out
	case fd.IsMap():
		out := ordered{}
		entries := map[string]protoreflect.Value{}
		v.Map().Range(func(k protoreflect.MapKey, val protoreflect.Value) bool {
			entries[k.String()] = val
			return true
		})
		for _, k := range sortedKeys(entries) {
			out = append(out, member{k, scalarValue(fd.MapValue(), entries[k])})
		}
		return out
	}
	return scalarValue(fd, v)
}

// scalarValue converts one value of a singular field, list element or map
// value.
func scalarValue(fd protoreflect.FieldDescriptor, v protoreflect.Value) any {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return messageValue(v.Message())
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return int64(v.Enum())
	case protoreflect.BoolKind:
		return v.Bool()
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BytesKind:
		return v.Bytes()
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return v.Float()
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return v.Uint()
	}
	return v.Int()
}

// writeIndented prints v as JSON indented by four spaces, without
// escaping <, > and & so that shell commands stay readable.
func writeIndented(v any) ([]byte, error) {
	var b bytes.Buffer
	if err := writeJSON(&b, v, ""); err != nil {
		return nil, fmt.Errorf("marshal json: %w", err)
	}
	return b.Bytes(), nil
}

func writeJSON(b *bytes.Buffer, v any, indent string) error {
	inner := indent + "    "
	switch t := v.(type) {
	case ordered:
		if len(t) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteString("{\n")
		for i, mem := range t {
			b.WriteString(inner)
			if err := writeScalar(b, mem.key); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := writeJSON(b, mem.value, inner); err != nil {
				return err
			}
			if i < len(t)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "}")
	case []any:
		if len(t) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteString("[\n")
		for i, e := range t {
			b.WriteString(inner)
			if err := writeJSON(b, e, inner); err != nil {
				return err
			}
			if i < len(t)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	default:
		return writeScalar(b, v)
	}
	return nil
}

func writeScalar(b *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case string:
		if plainASCII(t) {
			b.WriteByte('"')
			b.WriteString(t)
			b.WriteByte('"')
			return nil
		}
	case int64:
		b.WriteString(strconv.FormatInt(t, 10))
		return nil
	case uint64:
		b.WriteString(strconv.FormatUint(t, 10))
		return nil
	case bool:
		b.WriteString(strconv.FormatBool(t))
		return nil
	}
	var scratch bytes.Buffer
	enc := json.NewEncoder(&scratch)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	b.Write(bytes.TrimSuffix(scratch.Bytes(), []byte("\n")))
	return nil
}

// plainASCII reports whether s prints in JSON as itself between quotes.
func plainASCII(s string) bool {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// alwaysPrinted are the fields Kubernetes prints even when zero or empty
// (their JSON tags in k8s.io/api lack omitempty); TestJSONShapeMatchesKubernetes
// keeps the list in step with k8s.io/api.
var alwaysPrinted = map[protoreflect.FullName]bool{
	"jobcluster.v1.ConfigMapKeySelector.key":                        true,
	"jobcluster.v1.KeyToPath.key":                                   true,
	"jobcluster.v1.KeyToPath.path":                                  true,
	"jobcluster.v1.ObjectFieldSelector.field_path":                  true,
	"jobcluster.v1.ResourceFieldSelector.resource":                  true,
	"jobcluster.v1.SecretKeySelector.key":                           true,
	"jobcluster.v1.Container.name":                                  true,
	"jobcluster.v1.ContainerStateTerminated.exit_code":              true,
	"jobcluster.v1.ContainerStatus.image":                           true,
	"jobcluster.v1.ContainerStatus.name":                            true,
	"jobcluster.v1.ContainerStatus.ready":                           true,
	"jobcluster.v1.ContainerStatus.restart_count":                   true,
	"jobcluster.v1.CronJobSpec.schedule":                            true,
	"jobcluster.v1.EnvVar.name":                                     true,
	"jobcluster.v1.HostPathVolumeSource.path":                       true,
	"jobcluster.v1.JobCondition.status":                             true,
	"jobcluster.v1.JobCondition.type":                               true,
	"jobcluster.v1.LabelSelectorRequirement.key":                    true,
	"jobcluster.v1.LabelSelectorRequirement.operator":               true,
	"jobcluster.v1.NodeAddress.address":                             true,
	"jobcluster.v1.NodeAddress.type":                                true,
	"jobcluster.v1.NodeCondition.status":                            true,
	"jobcluster.v1.NodeCondition.type":                              true,
	"jobcluster.v1.NodeSystemInfo.architecture":                     true,
	"jobcluster.v1.NodeSystemInfo.container_runtime_version":        true,
	"jobcluster.v1.NodeSystemInfo.kernel_version":                   true,
	"jobcluster.v1.NodeSystemInfo.kubelet_version":                  true,
	"jobcluster.v1.NodeSystemInfo.machine_id":                       true,
	"jobcluster.v1.NodeSystemInfo.operating_system":                 true,
	"jobcluster.v1.NodeSystemInfo.os_image":                         true,
	"jobcluster.v1.OwnerReference.api_version":                      true,
	"jobcluster.v1.OwnerReference.kind":                             true,
	"jobcluster.v1.OwnerReference.name":                             true,
	"jobcluster.v1.OwnerReference.uid":                              true,
	"jobcluster.v1.PodCondition.status":                             true,
	"jobcluster.v1.PodCondition.type":                               true,
	"jobcluster.v1.PodFailurePolicyOnExitCodesRequirement.operator": true,
	"jobcluster.v1.PodFailurePolicyOnPodConditionsPattern.status":   true,
	"jobcluster.v1.PodFailurePolicyOnPodConditionsPattern.type":     true,
	"jobcluster.v1.PodFailurePolicyRule.action":                     true,
	"jobcluster.v1.Volume.name":                                     true,
	"jobcluster.v1.VolumeMount.mount_path":                          true,
	"jobcluster.v1.VolumeMount.name":                                true,
}

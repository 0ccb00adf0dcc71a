package api

import (
	"reflect"
	"sort"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// k8sTypes maps each message of the schema that prints as a Kubernetes
// object part to the k8s.io/api type it mirrors.
var k8sTypes = map[protoreflect.FullName]reflect.Type{
	"jobcluster.v1.ObjectMeta":                             reflect.TypeFor[metav1.ObjectMeta](),
	"jobcluster.v1.OwnerReference":                         reflect.TypeFor[metav1.OwnerReference](),
	"jobcluster.v1.LabelSelectorRequirement":               reflect.TypeFor[metav1.LabelSelectorRequirement](),
	"jobcluster.v1.LabelSelector":                          reflect.TypeFor[metav1.LabelSelector](),
	"jobcluster.v1.EnvVar":                                 reflect.TypeFor[corev1.EnvVar](),
	"jobcluster.v1.ResourceRequirements":                   reflect.TypeFor[corev1.ResourceRequirements](),
	"jobcluster.v1.Container":                              reflect.TypeFor[corev1.Container](),
	"jobcluster.v1.SecurityContext":                        reflect.TypeFor[corev1.SecurityContext](),
	"jobcluster.v1.PodSecurityContext":                     reflect.TypeFor[corev1.PodSecurityContext](),
	"jobcluster.v1.VolumeMount":                            reflect.TypeFor[corev1.VolumeMount](),
	"jobcluster.v1.EmptyDirVolumeSource":                   reflect.TypeFor[corev1.EmptyDirVolumeSource](),
	"jobcluster.v1.HostPathVolumeSource":                   reflect.TypeFor[corev1.HostPathVolumeSource](),
	"jobcluster.v1.ConfigMapVolumeSource":                  reflect.TypeFor[corev1.ConfigMapVolumeSource](),
	"jobcluster.v1.SecretVolumeSource":                     reflect.TypeFor[corev1.SecretVolumeSource](),
	"jobcluster.v1.KeyToPath":                              reflect.TypeFor[corev1.KeyToPath](),
	"jobcluster.v1.Volume":                                 reflect.TypeFor[corev1.Volume](),
	"jobcluster.v1.PodSpec":                                reflect.TypeFor[corev1.PodSpec](),
	"jobcluster.v1.PodTemplateSpec":                        reflect.TypeFor[corev1.PodTemplateSpec](),
	"jobcluster.v1.JobSpec":                                reflect.TypeFor[batchv1.JobSpec](),
	"jobcluster.v1.PodFailurePolicy":                       reflect.TypeFor[batchv1.PodFailurePolicy](),
	"jobcluster.v1.PodFailurePolicyRule":                   reflect.TypeFor[batchv1.PodFailurePolicyRule](),
	"jobcluster.v1.PodFailurePolicyOnExitCodesRequirement": reflect.TypeFor[batchv1.PodFailurePolicyOnExitCodesRequirement](),
	"jobcluster.v1.PodFailurePolicyOnPodConditionsPattern": reflect.TypeFor[batchv1.PodFailurePolicyOnPodConditionsPattern](),
	"jobcluster.v1.SuccessPolicy":                          reflect.TypeFor[batchv1.SuccessPolicy](),
	"jobcluster.v1.SuccessPolicyRule":                      reflect.TypeFor[batchv1.SuccessPolicyRule](),
	"jobcluster.v1.JobCondition":                           reflect.TypeFor[batchv1.JobCondition](),
	"jobcluster.v1.JobStatus":                              reflect.TypeFor[batchv1.JobStatus](),
	"jobcluster.v1.Job":                                    reflect.TypeFor[batchv1.Job](),
	"jobcluster.v1.JobTemplateSpec":                        reflect.TypeFor[batchv1.JobTemplateSpec](),
	"jobcluster.v1.ObjectReference":                        reflect.TypeFor[corev1.ObjectReference](),
	"jobcluster.v1.CronJobSpec":                            reflect.TypeFor[batchv1.CronJobSpec](),
	"jobcluster.v1.CronJobStatus":                          reflect.TypeFor[batchv1.CronJobStatus](),
	"jobcluster.v1.CronJob":                                reflect.TypeFor[batchv1.CronJob](),
	"jobcluster.v1.ContainerStateWaiting":                  reflect.TypeFor[corev1.ContainerStateWaiting](),
	"jobcluster.v1.ContainerStateRunning":                  reflect.TypeFor[corev1.ContainerStateRunning](),
	"jobcluster.v1.ContainerStateTerminated":               reflect.TypeFor[corev1.ContainerStateTerminated](),
	"jobcluster.v1.ContainerState":                         reflect.TypeFor[corev1.ContainerState](),
	"jobcluster.v1.ContainerStatus":                        reflect.TypeFor[corev1.ContainerStatus](),
	"jobcluster.v1.PodCondition":                           reflect.TypeFor[corev1.PodCondition](),
	"jobcluster.v1.PodStatus":                              reflect.TypeFor[corev1.PodStatus](),
	"jobcluster.v1.Pod":                                    reflect.TypeFor[corev1.Pod](),
	"jobcluster.v1.NodeSpec":                               reflect.TypeFor[corev1.NodeSpec](),
	"jobcluster.v1.NodeCondition":                          reflect.TypeFor[corev1.NodeCondition](),
	"jobcluster.v1.NodeAddress":                            reflect.TypeFor[corev1.NodeAddress](),
	"jobcluster.v1.NodeSystemInfo":                         reflect.TypeFor[corev1.NodeSystemInfo](),
	"jobcluster.v1.NodeStatus":                             reflect.TypeFor[corev1.NodeStatus](),
	"jobcluster.v1.Node":                                   reflect.TypeFor[corev1.Node](),
	"jobcluster.v1.Event":                                  reflect.TypeFor[corev1.Event](),
	"jobcluster.v1.EnvVarSource":                           reflect.TypeFor[corev1.EnvVarSource](),
	"jobcluster.v1.ObjectFieldSelector":                    reflect.TypeFor[corev1.ObjectFieldSelector](),
	"jobcluster.v1.ResourceFieldSelector":                  reflect.TypeFor[corev1.ResourceFieldSelector](),
	"jobcluster.v1.ConfigMapKeySelector":                   reflect.TypeFor[corev1.ConfigMapKeySelector](),
	"jobcluster.v1.SecretKeySelector":                      reflect.TypeFor[corev1.SecretKeySelector](),
	"jobcluster.v1.ConfigMapEnvSource":                     reflect.TypeFor[corev1.ConfigMapEnvSource](),
	"jobcluster.v1.SecretEnvSource":                        reflect.TypeFor[corev1.SecretEnvSource](),
	"jobcluster.v1.EnvFromSource":                          reflect.TypeFor[corev1.EnvFromSource](),
	"jobcluster.v1.ConfigMap":                              reflect.TypeFor[corev1.ConfigMap](),
	"jobcluster.v1.Secret":                                 reflect.TypeFor[corev1.Secret](),
}

// k8sJSONFields reads a Go type's JSON fields (embedded structs such as
// TypeMeta inlined) and whether each is omitempty.
func k8sJSONFields(t reflect.Type) map[string]bool {
	out := map[string]bool{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && (name == "" || strings.Contains(opts, "inline")) {
			for k, v := range k8sJSONFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" || name == "-" {
			continue
		}
		out[name] = strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
	}
	return out
}

// jobclusterOnly are the fields Kubernetes lacks that jobcluster adds on
// purpose: clients that read Kubernetes' JSON ignore them.
var jobclusterOnly = map[protoreflect.FullName]bool{
	"jobcluster.v1.CronJobStatus.last_failure_time": true, // kubernetes#133662 asks for it
}

// Every field of the schema has Kubernetes' JSON name, and the fields
// Kubernetes always prints (no omitempty) are printed even when zero, so
// that `jq .status.containerStatuses[0].restartCount` gives 0, not null.
func TestJSONShapeMatchesKubernetes(t *testing.T) {
	var missing, wrongAlways, wrongOmit []string
	for msg, typ := range k8sTypes {
		desc, err := protoRegistryFind(msg)
		if err != nil {
			t.Fatalf("%s: %v", msg, err)
		}
		k8s := k8sJSONFields(typ)
		fields := desc.Fields()
		for i := range fields.Len() {
			fd := fields.Get(i)
			name := jsonName(fd)
			omit, ok := k8s[name]
			if !ok && jobclusterOnly[fd.FullName()] {
				continue
			}
			if !ok {
				missing = append(missing, string(fd.FullName())+" ("+name+")")
				continue
			}
			scalar := !fd.IsList() && !fd.IsMap() && (fd.Message() == nil || fd.Message().FullName() == timestampName)
			always := alwaysPrinted[fd.FullName()]
			switch {
			case !omit && scalar && !fd.HasPresence() && !always:
				wrongOmit = append(wrongOmit, string(fd.FullName()))
			case always && omit:
				wrongAlways = append(wrongAlways, string(fd.FullName()))
			}
		}
	}
	sort.Strings(missing)
	sort.Strings(wrongOmit)
	sort.Strings(wrongAlways)
	if len(missing) > 0 {
		t.Errorf("fields with no Kubernetes counterpart of that JSON name:\n  %s", strings.Join(missing, "\n  "))
	}
	if len(wrongOmit) > 0 {
		t.Errorf("fields Kubernetes always prints but that are left out when zero (add them to alwaysPrinted):\n  %s", strings.Join(wrongOmit, "\n  "))
	}
	if len(wrongAlways) > 0 {
		t.Errorf("fields in alwaysPrinted that Kubernetes omits when empty:\n  %s", strings.Join(wrongAlways, "\n  "))
	}
}

func protoRegistryFind(name protoreflect.FullName) (protoreflect.MessageDescriptor, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(name)
	if err != nil {
		return nil, err
	}
	return d.(protoreflect.MessageDescriptor), nil
}

func TestZeroCountsArePrinted(t *testing.T) {
	pod := &Pod{Metadata: &ObjectMeta{Name: "p"}, Status: &PodStatus{Phase: "Succeeded", ContainerStatuses: []*ContainerStatus{{
		Name: "main", State: &ContainerState{Terminated: &ContainerStateTerminated{Reason: "Completed"}},
	}}}}
	m := ToMap(pod)
	cs := m["status"].(map[string]any)["containerStatuses"].([]any)[0].(map[string]any)
	if cs["restartCount"] != int64(0) || cs["ready"] != false || cs["image"] != "" {
		t.Errorf("container status = %v, want restartCount 0, ready false and image \"\" printed", cs)
	}
	if code := cs["state"].(map[string]any)["terminated"].(map[string]any)["exitCode"]; code != int64(0) {
		t.Errorf("terminated.exitCode = %v, want 0", code)
	}
	if _, ok := m["status"].(map[string]any)["reason"]; ok {
		t.Error("an empty status.reason is printed; Kubernetes omits it")
	}
}

// manifestMessages are the messages a Job or CronJob manifest reaches.
func manifestMessages() map[protoreflect.FullName]bool {
	seen := map[protoreflect.FullName]bool{}
	var walk func(d protoreflect.MessageDescriptor)
	walk = func(d protoreflect.MessageDescriptor) {
		if seen[d.FullName()] || d.FullName() == timestampName {
			return
		}
		seen[d.FullName()] = true
		for i := range d.Fields().Len() {
			fd := d.Fields().Get(i)
			if fd.IsMap() {
				if m := fd.MapValue().Message(); m != nil {
					walk(m)
				}
				continue
			}
			if m := fd.Message(); m != nil {
				walk(m)
			}
		}
	}
	walk((&Job{}).ProtoReflect().Descriptor())
	walk((&CronJob{}).ProtoReflect().Descriptor())
	return seen
}

// Every field of the upstream types a manifest reaches is run, ignored
// with a warning or refused: a field added upstream fails this test until
// it is classified.
func TestEveryKubernetesFieldIsClassified(t *testing.T) {
	var unclassified, stale []string
	for msg := range manifestMessages() {
		typ, ok := k8sTypes[msg]
		if !ok {
			t.Errorf("%s has no k8s.io/api counterpart in k8sTypes", msg)
			continue
		}
		desc, err := protoRegistryFind(msg)
		if err != nil {
			t.Fatal(err)
		}
		ours := map[string]bool{}
		for i := range desc.Fields().Len() {
			ours[jsonName(desc.Fields().Get(i))] = true
		}
		upstream := k8sJSONFields(typ)
		for name := range upstream {
			if _, classified := k8sOnlyFields[msg][name]; !ours[name] && !classified {
				unclassified = append(unclassified, string(msg.Name())+"."+name)
			}
		}
		for name := range k8sOnlyFields[msg] {
			if _, ok := upstream[name]; !ok || ours[name] {
				stale = append(stale, string(msg.Name())+"."+name)
			}
		}
	}
	sort.Strings(unclassified)
	sort.Strings(stale)
	if len(unclassified) > 0 {
		t.Errorf("Kubernetes fields neither run nor classified in k8sOnlyFields:\n  %s", strings.Join(unclassified, "\n  "))
	}
	if len(stale) > 0 {
		t.Errorf("k8sOnlyFields entries that Kubernetes lacks or that the schema now holds:\n  %s", strings.Join(stale, "\n  "))
	}
}

func TestKubernetesFieldsWeDoNotRun(t *testing.T) {
	manifest := func(podSpecExtra, containerExtra string) []byte {
		return []byte(`apiVersion: batch/v1
kind: Job
metadata:
  name: x
spec:
  template:
    spec:
      restartPolicy: Never
` + podSpecExtra + `      containers:
      - name: main
        image: busybox
        command: ["true"]
` + containerExtra)
	}
	for _, tt := range []struct {
		name                 string
		pod, container       string
		wantErr, wantWarning string
	}{
		{name: "a harmless field is dropped with a warning", pod: "      serviceAccountName: builder\n",
			wantWarning: "spec.template.spec.serviceAccountName: ignored by jobcluster: there are no service accounts; pods get no API token"},
		{name: "a field we cannot honour is refused, not unknown", pod: "      initContainers: [{name: init, image: busybox}]\n",
			wantErr: "spec.template.spec.initContainers: Forbidden: not supported by jobcluster: init containers are not run"},
		{name: "valueFrom of a file is refused", container: "        env:\n        - name: A\n          valueFrom: {fileKeyRef: {path: a, volumeName: v, key: k}}\n",
			wantErr: "spec.template.spec.containers[0].env[0].valueFrom.fileKeyRef: Forbidden: not supported by jobcluster"},
		{name: "a typo stays an unknown field", container: "        comand: [\"true\"]\n",
			wantErr: `unknown field "spec.template.spec.containers[0].comand"`},
		{name: "status copied from get -o yaml is dropped silently", container: "status:\n  uncountedTerminatedPods: {}\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			objs, warnings, err := DecodeManifestsWithWarnings(manifest(tt.pod, tt.container))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(objs) != 1 {
				t.Fatalf("decode: %v", err)
			}
			if tt.wantWarning == "" && len(warnings) > 0 || tt.wantWarning != "" && (len(warnings) != 1 || warnings[0] != tt.wantWarning) {
				t.Errorf("warnings = %q, want %q", warnings, tt.wantWarning)
			}
		})
	}
}

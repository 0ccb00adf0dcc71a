package api

import (
	"fmt"
	"sort"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// Support says what jobcluster does with a valid Kubernetes field that the
// schema does not hold.
type Support int

const (
	// Refused: a manifest setting the field is refused, naming it
	// (`Forbidden: not supported by jobcluster`), since running the Job
	// without it would not do what the manifest asks.
	Refused Support = iota
	// Ignored: the field has no meaning here and is dropped with a
	// Warning line, since dropping it changes nothing the Job does.
	Ignored
	// Dropped: the field is read-only or status, which a manifest copied
	// from `get -o yaml` carries; it is dropped without a word.
	Dropped
)

// k8sField is one Kubernetes field the schema does not hold, with what
// becomes of it and why.
type k8sField struct {
	support Support
	why     string
}

func refused(why string) k8sField { return k8sField{Refused, why} }
func ignored(why string) k8sField { return k8sField{Ignored, why} }

var dropped = k8sField{Dropped, "read-only or status"}

// k8sOnlyFields lists, per message, every field of its k8s.io/api
// counterpart that the schema lacks, by JSON name. TestEveryKubernetesFieldIsClassified
// keeps it complete, so a field added upstream is noticed.
var k8sOnlyFields = map[protoreflect.FullName]map[string]k8sField{
	"jobcluster.v1.ObjectMeta": {
		"finalizers":                 ignored("nothing here waits on finalizers; deletion is immediate"),
		"managedFields":              dropped,
		"selfLink":                   dropped,
		"deletionGracePeriodSeconds": dropped,
	},
	"jobcluster.v1.JobSpec": {
		"scheduling": refused("gang scheduling is not implemented"),
	},
	"jobcluster.v1.PodSpec": {
		"serviceAccountName":           ignored("there are no service accounts; pods get no API token"),
		"serviceAccount":               ignored("there are no service accounts; pods get no API token"),
		"automountServiceAccountToken": ignored("there are no service accounts; pods get no API token"),
		"priorityClassName":            ignored("pods are not preempted; placement takes turns between Jobs"),
		"priority":                     ignored("pods are not preempted; placement takes turns between Jobs"),
		"preemptionPolicy":             ignored("pods are not preempted"),
		"tolerations":                  ignored("nodes have no taints"),
		"dnsPolicy":                    ignored("pods use the node's network and resolver"),
		"dnsConfig":                    ignored("pods use the node's network and resolver"),
		"enableServiceLinks":           ignored("there are no services"),
		"schedulerName":                ignored("jobcluster's scheduler places every pod"),
		"imagePullSecrets":             ignored("images are pulled with the agent's Docker credentials"),
		"topologySpreadConstraints":    ignored("pods are spread across agents already"),
		"readinessGates":               ignored("readiness does not gate Jobs"),
		"setHostnameAsFQDN":            ignored("HOSTNAME is the pod name"),
		"subdomain":                    ignored("there is no cluster DNS"),
		"hostNetwork":                  ignored("pods always use the node's network"),
		"os":                           ignored("agents run Linux"),
		"overhead":                     ignored("no per-pod runtime overhead is accounted"),
		"affinity":                     refused("use nodeSelector to pick nodes"),
		"initContainers":               refused("init containers are not run"),
		"ephemeralContainers":          refused("ephemeral containers are not run"),
		"hostAliases":                  refused("pods use the node's /etc/hosts"),
		"hostIPC":                      refused("pods use the node's namespaces already"),
		"hostPID":                      refused("pods use the node's namespaces already"),
		"hostUsers":                    refused("user namespaces are not used"),
		"shareProcessNamespace":        refused("containers of a pod do not share a PID namespace"),
		"resourceClaims":               refused("dynamic resource allocation is not implemented"),
		"resources":                    refused("set resources per container"),
		"schedulingGates":              refused("pods cannot be held back from scheduling"),
		"schedulingGroup":              refused("gang scheduling is not implemented"),
		"hostnameOverride":             refused("HOSTNAME is the pod name"),
		"evictionResponders":           refused("pods are not evicted"),
	},
	"jobcluster.v1.Container": {
		"terminationMessagePath":   ignored("the end of the log is the termination message"),
		"terminationMessagePolicy": ignored("the end of the log is the termination message"),
		"ports":                    ignored("pods use the node's network; ports are not mapped"),
		"readinessProbe":           ignored("readiness does not gate Jobs"),
		"startupProbe":             ignored("no probes are run"),
		"resizePolicy":             ignored("resources are not resized in place"),
		"livenessProbe":            refused("no probes are run, so a hung container would not be restarted"),
		"lifecycle":                refused("postStart and preStop hooks are not run"),
		"stdin":                    refused("containers have no stdin"),
		"stdinOnce":                refused("containers have no stdin"),
		"tty":                      refused("containers have no terminal"),
		"restartPolicy":            refused("sidecar containers are not run"),
		"restartPolicyRules":       refused("per-container restart rules are not implemented"),
		"volumeDevices":            refused("block devices are not attached"),
	},
	"jobcluster.v1.EnvVarSource": {
		"fileKeyRef": refused("env values are not read from files of volumes"),
	},
	"jobcluster.v1.ResourceRequirements": {
		"claims": refused("dynamic resource allocation is not implemented"),
	},
	"jobcluster.v1.SecurityContext": {
		"allowPrivilegeEscalation": ignored("processes run with the privileges runAsUser gives them"),
		"seLinuxOptions":           ignored("SELinux labels are not set"),
		"seccompProfile":           ignored("seccomp profiles are not applied"),
		"appArmorProfile":          ignored("AppArmor profiles are not applied"),
		"windowsOptions":           ignored("agents run Linux"),
		"capabilities":             refused("capabilities are not changed"),
		"procMount":                refused("/proc is not remounted"),
	},
	"jobcluster.v1.PodSecurityContext": {
		"seLinuxOptions":           ignored("SELinux labels are not set"),
		"seLinuxChangePolicy":      ignored("SELinux labels are not set"),
		"seccompProfile":           ignored("seccomp profiles are not applied"),
		"appArmorProfile":          ignored("AppArmor profiles are not applied"),
		"windowsOptions":           ignored("agents run Linux"),
		"fsGroupChangePolicy":      ignored("volume ownership is not changed"),
		"supplementalGroupsPolicy": ignored("supplementalGroups are added as given"),
		"fsGroup":                  refused("volume ownership is not changed"),
		"sysctls":                  refused("sysctls are not set"),
	},
	"jobcluster.v1.VolumeMount": {
		"mountPropagation":  ignored("mounts do not propagate"),
		"recursiveReadOnly": ignored("readOnly applies to the mount"),
		"bindMountOptions":  ignored("mount options are not set"),
		"subPathExpr":       refused("use subPath"),
	},
	"jobcluster.v1.EmptyDirVolumeSource": {
		"mode": ignored("emptyDir is a directory of the agent's disk"),
	},
	"jobcluster.v1.Volume": volumeSources(),
	// Status and read-only parts, which `get -o yaml` output carries.
	"jobcluster.v1.JobStatus":                droppedFields("uncountedTerminatedPods"),
	"jobcluster.v1.ContainerStateTerminated": droppedFields("containerID"),
	"jobcluster.v1.ContainerStatus": droppedFields("allocatedResources", "allocatedResourcesStatus", "containerID", "imageID",
		"resources", "stopSignal", "user", "volumeMounts"),
	"jobcluster.v1.PodCondition": droppedFields("lastProbeTime", "observedGeneration"),
	"jobcluster.v1.PodStatus": droppedFields("allocatedResources", "ephemeralContainerStatuses", "extendedResourceClaimStatus",
		"hostIPs", "initContainerStatuses", "nodeAllocatableResourceClaimStatuses", "nominatedNodeName", "observedGeneration",
		"podIP", "podIPs", "qosClass", "resize", "resourceClaimStatuses", "resources", "volumeHealth"),
	"jobcluster.v1.ObjectReference": droppedFields("fieldPath", "resourceVersion"),
	// Projected files are owned by root and readable as their mode says.
	"jobcluster.v1.ConfigMapVolumeSource": {"defaultUser": refused("projected files are owned by root: set defaultMode")},
	"jobcluster.v1.SecretVolumeSource":    {"defaultUser": refused("projected files are owned by root: set defaultMode")},
	"jobcluster.v1.KeyToPath":             {"user": refused("projected files are owned by root: set mode")},
}

// volumeSources refuses every volume source but emptyDir and hostPath.
func volumeSources() map[string]k8sField {
	out := map[string]k8sField{}
	for _, s := range []string{"awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "ephemeral", "fc",
		"flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "image", "iscsi", "nfs", "persistentVolumeClaim",
		"photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume"} {
		out[s] = refused("only emptyDir, hostPath, configMap and secret volumes are mounted")
	}
	for _, s := range []string{"downwardAPI", "projected"} {
		out[s] = refused("downwardAPI and projected volumes are not mounted: use env (fieldRef, resourceFieldRef) and configMap or secret volumes")
	}
	return out
}

func droppedFields(names ...string) map[string]k8sField {
	out := map[string]k8sField{}
	for _, n := range names {
		out[n] = dropped
	}
	return out
}

// k8sOnlyField tells what becomes of key, a field of m's Kubernetes
// counterpart that the schema lacks; ok is false for a name Kubernetes
// does not have either (a typo).
func k8sOnlyField(m protoreflect.MessageDescriptor, key string) (k8sField, bool) {
	f, ok := k8sOnlyFields[m.FullName()][key]
	return f, ok
}

// FieldsTable is the Markdown table of the Kubernetes fields jobcluster
// ignores or refuses, from the list the decoder uses; the README holds
// it, and a test keeps the two equal.
func FieldsTable() string {
	type row struct{ path, what, why string }
	var rows []row
	for msg, fields := range k8sOnlyFields {
		for name, f := range fields {
			if f.support == Dropped {
				continue
			}
			what := "refused"
			if f.support == Ignored {
				what = "ignored, with a warning"
			}
			rows = append(rows, row{string(msg.Name()) + "." + name, what, f.why})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].what != rows[j].what {
			return rows[i].what > rows[j].what // refused first
		}
		return rows[i].path < rows[j].path
	})
	var b strings.Builder
	b.WriteString("| field | jobcluster | why |\n|---|---|---|\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s |\n", r.path, r.what, r.why)
	}
	return b.String()
}

// SupportedFieldsTable is the Markdown table of the fields a manifest of a
// Job, CronJob, ConfigMap or Secret may set and jobcluster runs, by type:
// every field of the schema's messages reachable from those objects'
// metadata and spec, which is what the decoder reads.
func SupportedFieldsTable() string {
	fields := map[protoreflect.FullName][]string{}
	var walk func(m protoreflect.MessageDescriptor)
	walk = func(m protoreflect.MessageDescriptor) {
		if _, seen := fields[m.FullName()]; seen || m.FullName() == timestampName {
			return
		}
		fields[m.FullName()] = nil
		for i := range m.Fields().Len() {
			f := m.Fields().Get(i)
			if f.Name() == "status" {
				continue
			}
			fields[m.FullName()] = append(fields[m.FullName()], jsonName(f))
			switch {
			case f.IsMap() && f.MapValue().Message() != nil:
				walk(f.MapValue().Message())
			case !f.IsMap() && f.Message() != nil:
				walk(f.Message())
			}
		}
	}
	for _, m := range []protoreflect.ProtoMessage{&Job{}, &CronJob{}, &ConfigMap{}, &Secret{}} {
		walk(m.ProtoReflect().Descriptor())
	}
	names := make([]string, 0, len(fields))
	for n, f := range fields {
		if len(f) > 0 {
			names = append(names, string(n))
		}
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| type | fields read and run |\n|---|---|\n")
	for _, n := range names {
		f := fields[protoreflect.FullName(n)]
		sort.Strings(f)
		fmt.Fprintf(&b, "| `%s` | %s |\n", strings.TrimPrefix(n, "jobcluster.v1."), strings.Join(f, ", "))
	}
	return b.String()
}

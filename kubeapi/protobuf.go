package kubeapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// mediaTypeProtobuf is Kubernetes' protobuf encoding, which client-go's
// typed clients and `kubectl create job --from` send by default.
const mediaTypeProtobuf = "application/vnd.kubernetes.protobuf"

// protobufMagic starts every object in Kubernetes' protobuf encoding; a
// runtime.Unknown holding the object's own protobuf follows.
var protobufMagic = []byte("k8s\x00")

// readObjectBody reads the body of a create or update, in JSON, YAML or
// Kubernetes' protobuf, and returns it as JSON or YAML: the service's
// decoder reads those.
func readObjectBody(r *http.Request, k kind) ([]byte, *metav1.Status) {
	body, st := readBody(r, "application/json", "application/yaml", mediaTypeProtobuf, "")
	if st != nil {
		return nil, st
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != mediaTypeProtobuf {
		return body, nil
	}
	j, err := protobufToJSON(k, body)
	if err != nil {
		return nil, failure(http.StatusBadRequest, metav1.StatusReasonBadRequest, err.Error())
	}
	return j, nil
}

// protobufObject is a Kubernetes type with its generated protobuf decoder.
type protobufObject interface {
	runtime.Object
	Unmarshal([]byte) error
}

// protobufKinds are the kinds whose protobuf bodies are read: what POST
// and PUT take.
var protobufKinds = map[string]func() protobufObject{
	"Job":       func() protobufObject { return &batchv1.Job{} },
	"CronJob":   func() protobufObject { return &batchv1.CronJob{} },
	"ConfigMap": func() protobufObject { return &corev1.ConfigMap{} },
	"Secret":    func() protobufObject { return &corev1.Secret{} },
}

// unwrapProtobuf returns the runtime.Unknown a body in Kubernetes'
// protobuf encoding holds, and whether the body is in that encoding.
func unwrapProtobuf(body []byte) (runtime.Unknown, bool, error) {
	var u runtime.Unknown
	raw, ok := bytes.CutPrefix(body, protobufMagic)
	if !ok {
		return u, false, nil
	}
	if err := u.Unmarshal(raw); err != nil {
		return u, true, fmt.Errorf("decode protobuf body: %w", err)
	}
	return u, true, nil
}

// protobufToJSON decodes a Job, CronJob, ConfigMap or Secret in
// Kubernetes' protobuf encoding and encodes it as the JSON kubectl would
// have sent.
func protobufToJSON(k kind, body []byte) ([]byte, error) {
	u, ok, err := unwrapProtobuf(body)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("decode protobuf body: it does not start with Kubernetes' protobuf prefix")
	case u.Kind != "" && (u.Kind != k.kind || u.APIVersion != k.groupVersion()):
		return nil, fmt.Errorf("decode protobuf body: got %s %s on the %s endpoint", u.APIVersion, u.Kind, k.plural)
	}
	newObj, ok := protobufKinds[k.kind]
	if !ok {
		return nil, fmt.Errorf("protobuf bodies are read for Jobs, CronJobs, ConfigMaps and Secrets only: send %s as JSON", k.plural)
	}
	obj := newObj()
	if err := obj.Unmarshal(u.Raw); err != nil {
		return nil, fmt.Errorf("decode protobuf %s: %w", k.kind, err)
	}
	obj.GetObjectKind().SetGroupVersionKind(schema.GroupVersionKind{Group: k.group, Version: k.version, Kind: k.kind})
	b, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode %s as JSON: %w", k.kind, err)
	}
	// Typed structs encode their empty status and zero timestamps; a
	// manifest has neither.
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	delete(doc, "status")
	dropNullTimestamps(doc)
	return json.Marshal(doc)
}

// dropNullTimestamps removes "creationTimestamp": null at any depth, as
// typed objects encode an unset metav1.Time.
func dropNullTimestamps(v any) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			if k == "creationTimestamp" && e == nil {
				delete(v, k)
				continue
			}
			dropNullTimestamps(e)
		}
	case []any:
		for _, e := range v {
			dropNullTimestamps(e)
		}
	}
}

package api

import (
	"fmt"

	"google.golang.org/protobuf/proto"
)

// Admission limits, as the Kubernetes API server and etcd set them. Each is
// checked before anything is proposed, so no object can make a Raft entry
// large: list commands are split (fsm.Split), and an object is at most
// MaxObjectBytes.
const (
	// MaxObjectBytes bounds one stored object, as etcd's request limit
	// bounds one Kubernetes object.
	MaxObjectBytes = 1536 << 10
	// MaxAnnotationsBytes bounds the keys and values of an object's
	// annotations together, as in Kubernetes.
	MaxAnnotationsBytes = 256 << 10
)

// validateAnnotationsSize refuses annotations over MaxAnnotationsBytes with
// Kubernetes' wording.
func validateAnnotationsSize(path string, annotations map[string]string) []error {
	total := 0
	for k, v := range annotations {
		total += len(k) + len(v)
	}
	if total > MaxAnnotationsBytes {
		return []error{&FieldError{Type: ErrorTypeTooLong, Field: path, Detail: fmt.Sprintf("must have at most %d bytes", MaxAnnotationsBytes)}}
	}
	return nil
}

// validateObjectSize refuses an object whose encoding exceeds
// MaxObjectBytes, naming its size and the limit.
func validateObjectSize(obj *Object) []error {
	if size := proto.Size(obj); size > MaxObjectBytes {
		return []error{fmt.Errorf("the object is %d bytes, over the limit of %d bytes (1.5 MiB) for one object: move large data out of the manifest",
			size, MaxObjectBytes)}
	}
	return nil
}

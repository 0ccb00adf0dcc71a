package cluster

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// FuzzAdmitSubmit feeds arbitrary protobuf to the server's admission of
// a Submit, as a client that bypasses the CLI could send it: it never
// panics, and what it refuses it refuses as InvalidArgument.
func FuzzAdmitSubmit(f *testing.F) {
	for _, obj := range []*api.Object{testJob("pi"), testCronJob("tick", "*/5 * * * *", "Forbid"),
		{Kind: &api.Object_Pod{Pod: &api.Pod{}}}, {Kind: &api.Object_Secret{Secret: &api.Secret{Metadata: &api.ObjectMeta{Name: "s"}}}}} {
		b, err := proto.Marshal(&api.SubmitRequest{Objects: []*api.Object{obj}})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{0x0a, 0x02, 0x0a, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		var req api.SubmitRequest
		if proto.Unmarshal(data, &req) != nil {
			return
		}
		if err := admit(&req); err != nil && status.Code(err) != codes.InvalidArgument {
			t.Fatalf("admission refused with %v, want InvalidArgument", err)
		}
	})
}

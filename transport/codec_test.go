package transport

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/api"
)

// encodedWatch sends a pod set it encoded itself, then one gRPC encodes.
type encodedWatch struct {
	api.UnimplementedControlServer
	sets []*api.PodSet
}

func (w encodedWatch) WatchPods(_ *api.WatchPodsRequest, stream api.Control_WatchPodsServer) error {
	wire, err := proto.Marshal(w.sets[0])
	if err != nil {
		return err
	}
	if err := stream.SendMsg(Encoded(wire)); err != nil {
		return err
	}
	return stream.Send(w.sets[1])
}

func TestServerSendsEncodedMessagesAsTheyAre(t *testing.T) {
	sets := []*api.PodSet{
		{Index: 7, Pods: []*api.Pod{{Metadata: &api.ObjectMeta{Name: "a", Uid: "uid-a"}}}, Held: []string{"uid-a"}},
		{Index: 8},
	}
	addr := serveControl(t, Config{}, encodedWatch{sets: sets})
	cc, err := Dial(addr, Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := api.NewControlClient(cc).WatchPods(ctx, &api.WatchPodsRequest{Node: "n"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range sets {
		got, err := stream.Recv()
		if err != nil {
			t.Fatalf("receive set %d: %v", want.GetIndex(), err)
		}
		if diff := cmp.Diff(want, got, protocmp.Transform()); diff != "" {
			t.Errorf("set %d received (-want +got):\n%s", want.GetIndex(), diff)
		}
	}
}

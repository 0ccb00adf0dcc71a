package cluster

import (
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/pki"
)

func TestAuthorize(t *testing.T) {
	server := pki.Identity{Role: pki.RoleServer, Name: "s1"}
	agent := pki.Identity{Role: pki.RoleAgent, Name: "a1"}
	client := pki.Identity{Role: pki.RoleClient, Name: "ci"}
	tests := []struct {
		name string
		// setup
		method    string
		caller    pki.Identity
		forwarded bool
		req       any
		// want
		allowed bool
	}{
		{name: "client submits", method: api.Control_Submit_FullMethodName, caller: client, req: &api.SubmitRequest{}, allowed: true},
		{name: "client reads logs", method: api.Control_Logs_FullMethodName, caller: client, allowed: true},
		{name: "server forwards a submit", method: api.Control_Submit_FullMethodName, caller: server, forwarded: true, req: &api.SubmitRequest{}, allowed: true},
		{name: "server forwards another node's heartbeat", method: api.Control_Heartbeat_FullMethodName, caller: server, forwarded: true, req: &api.HeartbeatRequest{Node: "a2"}, allowed: true},
		{name: "client forwards a submit", method: api.Control_Submit_FullMethodName, caller: client, forwarded: true, req: &api.SubmitRequest{}},
		{name: "agent forwards its own heartbeat", method: api.Control_Heartbeat_FullMethodName, caller: agent, forwarded: true, req: &api.HeartbeatRequest{Node: "a1"}},
		{name: "agent heartbeats for its node", method: api.Control_Heartbeat_FullMethodName, caller: agent, req: &api.HeartbeatRequest{Node: "a1"}, allowed: true},
		{name: "agent heartbeats for another node", method: api.Control_Heartbeat_FullMethodName, caller: agent, req: &api.HeartbeatRequest{Node: "a2"}},
		{name: "agent reports for its node", method: api.Control_ReportPodStatus_FullMethodName, caller: agent, req: &api.ReportPodStatusRequest{Node: "a1"}, allowed: true},
		{name: "agent reports naming no node", method: api.Control_ReportPodStatus_FullMethodName, caller: agent, req: &api.ReportPodStatusRequest{}},
		{name: "agent reports for another node", method: api.Control_ReportPodStatus_FullMethodName, caller: agent, req: &api.ReportPodStatusRequest{Node: "a2"}},
		{name: "agent opens a pod watch, request not read yet", method: api.Control_WatchPods_FullMethodName, caller: agent, allowed: true},
		{name: "agent watches its node", method: api.Control_WatchPods_FullMethodName, caller: agent, req: &api.WatchPodsRequest{Node: "a1"}, allowed: true},
		{name: "agent watches another node", method: api.Control_WatchPods_FullMethodName, caller: agent, req: &api.WatchPodsRequest{Node: "a2"}},
		{name: "agent asks which pods exist", method: api.Control_PodsExist_FullMethodName, caller: agent, req: &api.PodsExistRequest{}, allowed: true},
		{name: "agent submits", method: api.Control_Submit_FullMethodName, caller: agent, req: &api.SubmitRequest{}},
		{name: "agent reads logs", method: api.Control_Logs_FullMethodName, caller: agent},
		{name: "client heartbeats as an agent", method: api.Control_Heartbeat_FullMethodName, caller: client, req: &api.HeartbeatRequest{Node: "ci"}},
		{name: "client reports pod status", method: api.Control_ReportPodStatus_FullMethodName, caller: client, req: &api.ReportPodStatusRequest{Node: "a1"}},
		{name: "client watches pods", method: api.Control_WatchPods_FullMethodName, caller: client, req: &api.WatchPodsRequest{Node: "a1"}},
		{name: "client asks which pods exist", method: api.Control_PodsExist_FullMethodName, caller: client, req: &api.PodsExistRequest{}},
		{name: "unknown method is for servers", method: "/jobcluster.v1.Control/Future", caller: server, allowed: true},
		{name: "unknown method refuses clients", method: "/jobcluster.v1.Control/Future", caller: client},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := authorize(tc.method, tc.caller, tc.forwarded, tc.req)
			if tc.allowed {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if status.Code(err) != codes.PermissionDenied {
				t.Fatalf("authorize = %v, want PermissionDenied", err)
			}
		})
	}
}

func TestEveryControlRPCHasARule(t *testing.T) {
	for _, m := range api.Control_ServiceDesc.Methods {
		if _, ok := rpcRules["/"+api.Control_ServiceDesc.ServiceName+"/"+m.MethodName]; !ok {
			t.Errorf("no authorization rule for %s: add it to rpcRules", m.MethodName)
		}
	}
	for _, s := range api.Control_ServiceDesc.Streams {
		if _, ok := rpcRules["/"+api.Control_ServiceDesc.ServiceName+"/"+s.StreamName]; !ok {
			t.Errorf("no authorization rule for %s: add it to rpcRules", s.StreamName)
		}
	}
}

func TestForeignPods(t *testing.T) {
	pods := map[string]*api.Pod{
		"mine":   {Metadata: &api.ObjectMeta{Name: "mine", Uid: "u1"}, Spec: &api.PodSpec{NodeName: "a1"}},
		"theirs": {Metadata: &api.ObjectMeta{Name: "theirs", Uid: "u2"}, Spec: &api.PodSpec{NodeName: "a2"}},
	}
	lookup := func(name string) *api.Pod { return pods[name] }
	tests := []struct {
		name    string
		updates []*api.PodStatusUpdate
		want    int
	}{
		{name: "own pod", updates: []*api.PodStatusUpdate{{Name: "mine", Uid: "u1"}}},
		{name: "pod that is gone", updates: []*api.PodStatusUpdate{{Name: "gone"}}},
		{name: "replaced pod of the same name", updates: []*api.PodStatusUpdate{{Name: "theirs", Uid: "old"}}},
		{name: "another node's pod", updates: []*api.PodStatusUpdate{{Name: "theirs", Uid: "u2"}}, want: 1},
		{name: "another node's pod without uid among own", updates: []*api.PodStatusUpdate{{Name: "mine"}, {Name: "theirs"}}, want: 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := foreignPods("a1", tc.updates, lookup); len(got) != tc.want {
				t.Fatalf("foreignPods = %v, want %d", got, tc.want)
			}
		})
	}
}

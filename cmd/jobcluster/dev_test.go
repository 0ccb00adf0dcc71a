package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/jobcluster/jobcluster/cluster"
)

func TestDevAddrs(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    devAddrs
		wantErr bool
	}{
		{name: "defaults are a server's and an agent's default addresses", want: devAddrs{
			rpc: cluster.DefaultRPCAddr, raft: cluster.DefaultRaftAddr, gossip: cluster.DefaultGossipAddr,
			agentGossip: defaultAgentGossipAddr, agentRPC: defaultAgentRPCAddr, http: "127.0.0.1:7480",
		}},
		{name: "every port moves with the base", args: []string{"--port-base", "9000"}, want: devAddrs{
			rpc: "127.0.0.1:9000", raft: "127.0.0.1:9001", gossip: "127.0.0.1:9002",
			agentGossip: "127.0.0.1:9010", agentRPC: "127.0.0.1:9011", http: "127.0.0.1:9080",
		}},
		{name: "given addresses win over the base", args: []string{"--port-base", "9000", "--rpc-addr", "127.0.0.2:1234", "--http-addr", ""}, want: devAddrs{
			rpc: "127.0.0.2:1234", raft: "127.0.0.1:9001", gossip: "127.0.0.1:9002",
			agentGossip: "127.0.0.1:9010", agentRPC: "127.0.0.1:9011", http: "",
		}},
		{name: "base too high for the HTTP port", args: []string{"--port-base", "65500"}, wantErr: true},
		{name: "base zero", args: []string{"--port-base", "0"}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o := &devOptions{}
			cmd := newDevCmd(&tlsFlags{})
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			o.portBase, _ = cmd.Flags().GetInt("port-base")
			o.rpcAddr, _ = cmd.Flags().GetString("rpc-addr")
			o.httpAddr, _ = cmd.Flags().GetString("http-addr")
			got, err := o.addrs(cmd)
			if (err != nil) != tc.wantErr {
				t.Fatalf("addrs error = %v, want error %t", err, tc.wantErr)
			}
			if diff := cmp.Diff(tc.want, got, cmp.AllowUnexported(devAddrs{})); diff != "" {
				t.Errorf("addrs (-want +got):\n%s", diff)
			}
		})
	}
}

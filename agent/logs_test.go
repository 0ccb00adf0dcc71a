package agent

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/internal/wait"
	"github.com/jobcluster/jobcluster/transport"
)

// serveLogs serves the supervisor's logs on 127.0.0.1 and returns a client.
func serveLogs(t *testing.T, s *supervisor) api.AgentClient {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := transport.NewServer(transport.Config{})
	svc := newLogService(s)
	svc.poll = 20 * time.Millisecond
	api.RegisterAgentServer(srv, svc)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	conn, err := transport.Dial(lis.Addr().String(), transport.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return api.NewAgentClient(conn)
}

// readLogs reads a Logs stream to its end.
func readLogs(client api.AgentClient, req *api.LogsRequest) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	stream, err := client.Logs(ctx, req)
	if err != nil {
		return "", err
	}
	var out []byte
	for {
		chunk, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return string(out), nil
		}
		if err != nil {
			return string(out), err
		}
		out = append(out, chunk.GetData()...)
	}
}

func TestLogs(t *testing.T) {
	tests := []struct {
		name    string
		pod     testPod
		running bool // ask while the pod runs rather than after it ended
		req     *api.LogsRequest
		want    string
	}{
		{
			name: "finished pod: stdout and stderr interleaved",
			pod:  testPod{scripts: []string{"echo one; echo two >&2; echo three"}},
			req:  &api.LogsRequest{Pod: "pod-a"},
			want: "one\ntwo\nthree\n",
		},
		{
			name:    "follow streams what is appended until the process ends",
			pod:     testPod{scripts: []string{"echo one; sleep 0.3; echo two; sleep 0.2; echo three"}},
			running: true,
			req:     &api.LogsRequest{Pod: "pod-a", Follow: true},
			want:    "one\ntwo\nthree\n",
		},
		{
			name: "current log after an in-place restart",
			pod: testPod{restartPolicy: "OnFailure", scripts: []string{
				"if [ -f marker ]; then echo second; exit 0; fi; touch marker; echo first; exit 1",
			}},
			req:  &api.LogsRequest{Pod: "pod-a"},
			want: "second\n",
		},
		{
			name: "previous log after an in-place restart",
			pod: testPod{restartPolicy: "OnFailure", scripts: []string{
				"if [ -f marker ]; then echo second; exit 0; fi; touch marker; echo first; exit 1",
			}},
			req:  &api.LogsRequest{Pod: "pod-a", Previous: true},
			want: "first\n",
		},
		{
			name: "first container of several",
			pod:  testPod{scripts: []string{"echo from c0", "echo from c1"}},
			req:  &api.LogsRequest{Pod: "pod-a"},
			want: "from c0\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := &fakeSink{}
			s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
			client := serveLogs(t, s)
			tt.pod.name, tt.pod.uid = "pod-a", "uid-a"
			s.Sync([]*api.Pod{tt.pod.build()})
			if tt.running {
				sink.waitRunning(t, "uid-a")
			} else {
				sink.waitFinal(t, "uid-a")
			}
			got, err := readLogs(client, tt.req)
			if err != nil || got != tt.want {
				t.Errorf("logs = %q, %v; want %q, nil", got, err, tt.want)
			}
		})
	}
}

func TestLogsErrors(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	client := serveLogs(t, s)
	s.Sync([]*api.Pod{testPod{name: "pod-a", uid: "uid-a", scripts: []string{"echo hi"}}.build()})
	sink.waitFinal(t, "uid-a")

	tests := []struct {
		name     string
		req      *api.LogsRequest
		wantCode codes.Code
		wantMsg  string
	}{
		{name: "unknown pod", req: &api.LogsRequest{Pod: "nope"}, wantCode: codes.NotFound, wantMsg: `pods "nope" not found`},
		{name: "name that leaves the pods directory", req: &api.LogsRequest{Pod: "../pods"}, wantCode: codes.NotFound, wantMsg: `pods "../pods" not found`},
		{name: "previous log of a container never restarted", req: &api.LogsRequest{Pod: "pod-a", Previous: true}, wantCode: codes.NotFound, wantMsg: `previous terminated container "c0" in pod "pod-a" not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := readLogs(client, tt.req)
			st, _ := status.FromError(err)
			if st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
				t.Errorf("error = %v, want %s %q", err, tt.wantCode, tt.wantMsg)
			}
		})
	}
}

func TestLogsOfForgottenPod(t *testing.T) {
	sink := &fakeSink{}
	s := newTestSupervisor(t, t.TempDir(), NewProcessRuntime(), sink)
	client := serveLogs(t, s)
	s.Sync([]*api.Pod{testPod{name: "pod-a", uid: "uid-a", scripts: []string{"echo kept"}}.build()})
	sink.waitFinal(t, "uid-a")
	s.markReported("uid-a")
	wait.For(t, "pod forgotten", func() (bool, string) {
		s.Sync(nil)
		rec, _ := s.lookup("pod-a")
		return rec == nil, "record still there"
	})
	got, err := readLogs(client, &api.LogsRequest{Pod: "pod-a", Follow: true})
	if err != nil || got != "kept\n" {
		t.Errorf("logs = %q, %v; want %q, nil", got, err, "kept\n")
	}
}

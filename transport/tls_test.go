package transport

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/pki"
)

// testCA is a cluster CA in a test's temporary directory.
type testCA struct {
	t    *testing.T
	dir  string
	ca   pki.CA
	file string
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	dir := t.TempDir()
	pair, err := pki.CreateCA(1, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.ParseCA(pair.CertPEM, pair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, pair.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return &testCA{t: t, dir: dir, ca: ca, file: file}
}

// files writes a key pair for id and returns the files of an endpoint
// using it.
func (c *testCA) files(role pki.Role, name string) TLSFiles {
	c.t.Helper()
	pair, err := pki.CreateCert(c.ca, pki.Request{Identity: pki.Identity{Role: role, Name: name}}, time.Now())
	if err != nil {
		c.t.Fatal(err)
	}
	f := TLSFiles{CAFile: c.file, CertFile: filepath.Join(c.dir, string(role)+"-"+name+".pem"), KeyFile: filepath.Join(c.dir, string(role)+"-"+name+"-key.pem")}
	if err := os.WriteFile(f.CertFile, pair.CertPEM, 0o600); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(f.KeyFile, pair.KeyPEM, 0o600); err != nil {
		c.t.Fatal(err)
	}
	return f
}

func (c *testCA) load(role pki.Role, name string) *TLS {
	c.t.Helper()
	tl, err := LoadTLS(c.files(role, name))
	if err != nil {
		c.t.Fatal(err)
	}
	return tl
}

// whoAmI answers Members with the caller's identity as the member name.
type whoAmI struct {
	api.UnimplementedControlServer
}

func (whoAmI) Members(ctx context.Context, _ *api.MembersRequest) (*api.MembersResponse, error) {
	id, ok := PeerIdentity(ctx)
	if !ok {
		return &api.MembersResponse{Items: []*api.Member{{Name: "plaintext"}}}, nil
	}
	return &api.MembersResponse{Items: []*api.Member{{Name: id.String()}}}, nil
}

// serveControl serves impl with NewServer(cfg) on a loopback port until
// the test ends and returns its address.
func serveControl(t *testing.T, cfg Config, impl api.ControlServer) string {
	t.Helper()
	return serveControlOn(t, "127.0.0.1:0", cfg, impl)
}

// serveControlOn is serveControl on a given address.
func serveControlOn(t *testing.T, addr string, cfg Config, impl api.ControlServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(cfg)
	api.RegisterControlServer(srv, impl)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-served
	})
	return lis.Addr().String()
}

func serveWhoAmI(t *testing.T, cfg Config) string {
	t.Helper()
	return serveControl(t, cfg, whoAmI{})
}

func callWhoAmI(t *testing.T, addr string, cfg Config, roles ...pki.Role) (string, error) {
	t.Helper()
	cc, err := Dial(addr, cfg, roles...)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := api.NewControlClient(cc).Members(ctx, &api.MembersRequest{})
	if err != nil {
		return "", err
	}
	return resp.GetItems()[0].GetName(), nil
}

func TestMutualTLS(t *testing.T) {
	ca := newTestCA(t)
	other := newTestCA(t)
	addr := serveWhoAmI(t, Config{TLS: ca.load(pki.RoleServer, "s1")})

	tests := []struct {
		name     string
		cfg      Config
		roles    []pki.Role
		want     string
		wantCode codes.Code
	}{
		{name: "client certificate from the ca", cfg: Config{TLS: ca.load(pki.RoleClient, "ci")}, want: "jobcluster://client/ci"},
		{name: "agent expecting a server", cfg: Config{TLS: ca.load(pki.RoleAgent, "a1")}, roles: []pki.Role{pki.RoleServer}, want: "jobcluster://agent/a1"},
		{name: "no certificate at all", cfg: Config{}, wantCode: codes.Unavailable},
		{name: "certificate from another ca", cfg: Config{TLS: other.load(pki.RoleServer, "s1")}, wantCode: codes.Unavailable},
		{name: "peer is not of the role expected", cfg: Config{TLS: ca.load(pki.RoleServer, "s2")}, roles: []pki.Role{pki.RoleAgent}, wantCode: codes.Unavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := callWhoAmI(t, addr, tc.cfg, tc.roles...)
			if tc.wantCode != codes.OK {
				if status.Code(err) != tc.wantCode {
					t.Fatalf("call = %q, %v; want code %s", got, err, tc.wantCode)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("call = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestTLSReloadAppliesToNewConnections(t *testing.T) {
	ca1, ca2 := newTestCA(t), newTestCA(t)
	oldServer := serveWhoAmI(t, Config{TLS: ca1.load(pki.RoleServer, "s1")})
	newServer := serveWhoAmI(t, Config{TLS: ca2.load(pki.RoleServer, "s1")})
	files := ca1.files(pki.RoleClient, "ci")
	cl, err := LoadTLS(files)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := callWhoAmI(t, oldServer, Config{TLS: cl}); err != nil {
		t.Fatalf("before reload: %v", err)
	}

	// Rotate the client to the second CA, files replaced in place.
	rotated := ca2.files(pki.RoleClient, "ci")
	for _, p := range [][2]string{{rotated.CAFile, files.CAFile}, {rotated.CertFile, files.CertFile}, {rotated.KeyFile, files.KeyFile}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.Reload(); err != nil {
		t.Fatal(err)
	}
	if got, err := callWhoAmI(t, newServer, Config{TLS: cl}); err != nil || got != "jobcluster://client/ci" {
		t.Fatalf("after reload, server of the new ca: %q, %v", got, err)
	}
	if _, err := callWhoAmI(t, oldServer, Config{TLS: cl}); err == nil {
		t.Fatal("after reload, the server of the old ca still answered")
	}

	other := ca2.files(pki.RoleClient, "someone-else")
	for _, p := range [][2]string{{other.CertFile, files.CertFile}, {other.KeyFile, files.KeyFile}} {
		if err := os.Rename(p[0], p[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.Reload(); err == nil || !strings.Contains(err.Error(), "identity cannot change") {
		t.Fatalf("reload to another identity = %v, want a refusal", err)
	}
	if err := os.WriteFile(files.CertFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cl.Reload(); err == nil {
		t.Fatal("reload of a broken certificate succeeded")
	}
	if _, err := callWhoAmI(t, newServer, Config{TLS: cl}); err != nil {
		t.Fatalf("after failed reloads the certificate in use changed: %v", err)
	}
}

func TestLoadTLSRefusesCertificateOfAnotherCA(t *testing.T) {
	ca, other := newTestCA(t), newTestCA(t)
	f := other.files(pki.RoleServer, "s1")
	f.CAFile = ca.file
	_, err := LoadTLS(f)
	if err == nil || !strings.Contains(err.Error(), "not valid under ca") {
		t.Fatalf("LoadTLS = %v, want a refusal naming the ca", err)
	}
}

func TestTLSRefusesOlderVersions(t *testing.T) {
	ca := newTestCA(t)
	lis, err := Listen("127.0.0.1:0", Config{TLS: ca.load(pki.RoleServer, "s1")})
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		conn, err := lis.Accept()
		if err == nil {
			_ = conn.(*tls.Conn).Handshake()
			conn.Close()
		}
	}()
	cert, err := tls.LoadX509KeyPair(ca.files(pki.RoleClient, "old").CertFile, filepath.Join(ca.dir, "client-old-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := tls.Dial("tcp", lis.Addr().String(), &tls.Config{MaxVersion: tls.VersionTLS12, InsecureSkipVerify: true, Certificates: []tls.Certificate{cert}})
	if err == nil {
		conn.Close()
		t.Fatal("a TLS 1.2 handshake succeeded")
	}
}

func TestListenAndDialConnCheckRoles(t *testing.T) {
	ca := newTestCA(t)
	lis, err := Listen("127.0.0.1:0", Config{TLS: ca.load(pki.RoleServer, "s1")}, pki.RoleServer)
	if err != nil {
		t.Fatal(err)
	}
	defer lis.Close()
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				_ = conn.(*tls.Conn).Handshake()
				_, _ = conn.Write([]byte("x"))
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := DialConn(ctx, lis.Addr().String(), Config{TLS: ca.load(pki.RoleServer, "s2")}, pki.RoleServer)
	if err != nil {
		t.Fatalf("server to server: %v", err)
	}
	if id, ok := ConnIdentity(conn); !ok || id != (pki.Identity{Role: pki.RoleServer, Name: "s1"}) {
		t.Errorf("peer identity %v, %v", id, ok)
	}
	conn.Close()

	// An agent's handshake completes on its side, but the listener
	// refuses it: the first read fails.
	conn, err = DialConn(ctx, lis.Addr().String(), Config{TLS: ca.load(pki.RoleAgent, "a1")}, pki.RoleServer)
	if err == nil {
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err = conn.Read(make([]byte, 1))
		conn.Close()
	}
	if err == nil {
		t.Fatal("an agent certificate was served by a listener for servers")
	}
}

func TestHTTPRequiresClientCertificate(t *testing.T) {
	ca := newTestCA(t)
	h, err := ListenHTTP("127.0.0.1:0", Config{TLS: ca.load(pki.RoleServer, "s1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close(context.Background()) })
	h.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })

	client := func(tl *TLS) *http.Client {
		tr := &http.Transport{}
		if tl != nil {
			tr.TLSClientConfig = tl.clientConfig(nil)
		}
		return &http.Client{Transport: tr, Timeout: 5 * time.Second}
	}
	resp, err := client(ca.load(pki.RoleClient, "ci")).Get("https://" + h.Addr() + "/ok")
	if err != nil {
		t.Fatalf("with a client certificate: %v", err)
	}
	resp.Body.Close()
	if resp, err := client(nil).Get("http://" + h.Addr() + "/ok"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP was served")
		}
	}
	noCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, Timeout: 5 * time.Second}
	if resp, err := noCert.Get("https://" + h.Addr() + "/ok"); err == nil {
		resp.Body.Close()
		t.Error("HTTPS without a client certificate was answered")
	}
}

func TestIsLoopback(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:7400", true},
		{"127.77.3.4:1", true},
		{"[::1]:7400", true},
		{"localhost:7400", true},
		{"0.0.0.0:7400", false},
		{":7400", false},
		{"10.1.2.3:7400", false},
		{"[::]:7400", false},
		{"no-port", false},
	}
	for _, tc := range tests {
		if got := IsLoopback(tc.addr); got != tc.want {
			t.Errorf("IsLoopback(%q) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

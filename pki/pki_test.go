package pki

import (
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"slices"
	"testing"
	"time"
)

func TestIdentityOf(t *testing.T) {
	uri := func(s string) *url.URL {
		u, err := url.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	tests := []struct {
		name    string
		uris    []*url.URL
		want    Identity
		wantErr bool
	}{
		{name: "server", uris: []*url.URL{uri("jobcluster://server/s1")}, want: Identity{Role: RoleServer, Name: "s1"}},
		{name: "agent with dotted name", uris: []*url.URL{uri("jobcluster://agent/worker-1.lan")}, want: Identity{Role: RoleAgent, Name: "worker-1.lan"}},
		{name: "client beside a foreign uri", uris: []*url.URL{uri("spiffe://example.org/x"), uri("jobcluster://client/ci")}, want: Identity{Role: RoleClient, Name: "ci"}},
		{name: "no uri at all", wantErr: true},
		{name: "only foreign uris", uris: []*url.URL{uri("spiffe://example.org/server/s1")}, wantErr: true},
		{name: "unknown role", uris: []*url.URL{uri("jobcluster://operator/s1")}, wantErr: true},
		{name: "empty name", uris: []*url.URL{uri("jobcluster://agent/")}, wantErr: true},
		{name: "name with a path", uris: []*url.URL{uri("jobcluster://agent/a/b")}, wantErr: true},
		{name: "two identities", uris: []*url.URL{uri("jobcluster://agent/a1"), uri("jobcluster://server/s1")}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := IdentityOf(&x509.Certificate{URIs: tc.uris})
			if tc.wantErr {
				if err == nil {
					t.Fatalf("IdentityOf = %v, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("IdentityOf = %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

func TestIdentityURIRoundTrip(t *testing.T) {
	for _, id := range []Identity{{RoleServer, "s1"}, {RoleAgent, "a_1.example"}, {RoleClient, "cli"}} {
		got, err := IdentityOf(&x509.Certificate{URIs: []*url.URL{id.URI()}})
		if err != nil || got != id {
			t.Errorf("%s read back as %v, %v", id, got, err)
		}
	}
}

func parseCert(t *testing.T, b []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("no PEM block")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestCreateCert(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	caPair, err := CreateCA(0, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ParseCA(caPair.CertPEM, caPair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if got := ca.Cert.NotAfter.Sub(now); got < 5*364*24*time.Hour {
		t.Errorf("ca lives %s, want five years", got)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)

	tests := []struct {
		name      string
		req       Request
		wantUsage []x509.ExtKeyUsage
		wantDNS   []string
		wantIPs   []string
	}{
		{
			name:      "server gets localhost beside its own names",
			req:       Request{Identity: Identity{RoleServer, "s1"}, DNSNames: []string{"s1.lan"}, IPs: []net.IP{net.ParseIP("10.0.0.5")}},
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
			wantDNS:   []string{"s1.lan", "localhost"},
			wantIPs:   []string{"10.0.0.5", "127.0.0.1"},
		},
		{
			name:      "agent serves and dials",
			req:       Request{Identity: Identity{RoleAgent, "a1"}},
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		},
		{
			name:      "client only dials",
			req:       Request{Identity: Identity{RoleClient, "cli"}, Days: 7},
			wantUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pair, err := CreateCert(ca, tc.req, now)
			if err != nil {
				t.Fatal(err)
			}
			cert := parseCert(t, pair.CertPEM)
			if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
				t.Errorf("certificate does not verify against its ca: %v", err)
			}
			id, err := IdentityOf(cert)
			if err != nil || id != tc.req.Identity {
				t.Errorf("identity %v, %v; want %v", id, err, tc.req.Identity)
			}
			if !slices.Equal(cert.ExtKeyUsage, tc.wantUsage) {
				t.Errorf("key usage %v, want %v", cert.ExtKeyUsage, tc.wantUsage)
			}
			if !slices.Equal(cert.DNSNames, tc.wantDNS) {
				t.Errorf("dns names %v, want %v", cert.DNSNames, tc.wantDNS)
			}
			var ips []string
			for _, ip := range cert.IPAddresses {
				ips = append(ips, ip.String())
			}
			if !slices.Equal(ips, tc.wantIPs) {
				t.Errorf("ip addresses %v, want %v", ips, tc.wantIPs)
			}
			days := tc.req.Days
			if days == 0 {
				days = DefaultCertDays
			}
			if want := now.AddDate(0, 0, days); !cert.NotAfter.Equal(want) {
				t.Errorf("expires %s, want %s", cert.NotAfter, want)
			}
		})
	}
}

func TestCreateCertRefusesBadIdentity(t *testing.T) {
	now := time.Now()
	caPair, err := CreateCA(1, now)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := ParseCA(caPair.CertPEM, caPair.KeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateCert(ca, Request{Identity: Identity{Role: "admin", Name: "x"}}, now); err == nil {
		t.Error("an unknown role was accepted")
	}
	if _, err := CreateCert(ca, Request{Identity: Identity{Role: RoleAgent}}, now); err == nil {
		t.Error("an empty name was accepted")
	}
}

func TestParseCARefusesAnotherKey(t *testing.T) {
	now := time.Now()
	a, err := CreateCA(1, now)
	if err != nil {
		t.Fatal(err)
	}
	b, err := CreateCA(1, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseCA(a.CertPEM, b.KeyPEM); err == nil {
		t.Fatal("a ca certificate with another ca's key was accepted")
	}
	if _, err := ParseCA(a.KeyPEM, a.KeyPEM); err == nil {
		t.Fatal("a key given as the certificate was accepted")
	}
}

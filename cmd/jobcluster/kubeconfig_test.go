package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteKubeconfig(t *testing.T) {
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte("CA PEM"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts kubeconfigOptions
		tls  tlsFlags
		want []string
	}{
		{"defaults", kubeconfigOptions{}, tlsFlags{}, []string{`server: "http://127.0.0.1:7480"`, "user:\n    {}\n", "current-context: jobcluster"}},
		{"token and server", kubeconfigOptions{server: "http://10.0.0.1:7480", token: "s3cret"}, tlsFlags{}, []string{`server: "http://10.0.0.1:7480"`, `token: "s3cret"`}},
		{"TLS embeds the CA", kubeconfigOptions{}, tlsFlags{caFile: ca}, []string{`server: "https://127.0.0.1:7480"`, "certificate-authority-data: " + base64.StdEncoding.EncodeToString([]byte("CA PEM"))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := writeKubeconfig(&out, &tt.opts, tt.tls); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(out.String(), w) {
					t.Errorf("kubeconfig lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
}

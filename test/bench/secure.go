package main

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/transport"
)

// securePKI is a CA and certificates made with `jobcluster tls`, for a
// cluster run with -secure (mutual TLS everywhere and ACL tokens).
type securePKI struct {
	bin, dir string
}

// cert makes a certificate of role for name and returns its flags.
func (p securePKI) cert(ctx context.Context, role, name string) ([]string, error) {
	cmd := exec.CommandContext(ctx, p.bin, "tls", "cert", "create", "--"+role, "--name", name)
	cmd.Dir = p.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("tls cert create --%s --name %s: %w\n%s", role, name, err, out)
	}
	base := filepath.Join(p.dir, role+"-"+name)
	return []string{"--ca-file", filepath.Join(p.dir, "jobcluster-ca.pem"), "--cert-file", base + ".pem", "--key-file", base + "-key.pem"}, nil
}

func newSecurePKI(ctx context.Context, bin, dir string) (securePKI, error) {
	p := securePKI{bin: bin, dir: filepath.Join(dir, "tls")}
	if err := exec.CommandContext(ctx, "mkdir", "-p", p.dir).Run(); err != nil {
		return p, err
	}
	cmd := exec.CommandContext(ctx, bin, "tls", "ca", "create")
	cmd.Dir = p.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return p, fmt.Errorf("tls ca create: %w\n%s", err, out)
	}
	return p, nil
}

// clientTLS is the benchmark client's certificate.
func (p securePKI) clientTLS(ctx context.Context) (*transport.TLS, error) {
	flags, err := p.cert(ctx, "client", "bench")
	if err != nil {
		return nil, err
	}
	return transport.LoadTLS(transport.TLSFiles{CAFile: flags[1], CertFile: flags[3], KeyFile: flags[5]})
}

// bootstrapToken makes the management token through the first server
// that answers, once a leader is elected.
func bootstrapToken(ctx context.Context, c *client) (string, error) {
	var secret string
	err := c.call(ctx, func(ctx context.Context, cl api.ControlClient) error {
		resp, err := cl.AclBootstrap(ctx, &api.AclBootstrapRequest{})
		if err != nil {
			return err
		}
		secret = resp.GetSecret()
		return nil
	})
	return secret, err
}

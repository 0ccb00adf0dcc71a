package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/pki"
)

// File names `jobcluster tls ca create` writes.
const (
	caCertFile = "jobcluster-ca.pem"
	caKeyFile  = "jobcluster-ca-key.pem"
)

func newTLSCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tls",
		Short: "Make the cluster CA and the certificates of servers, agents and clients",
		Long: `Make the certificates of a cluster with mutual TLS.

  jobcluster tls ca create                          # jobcluster-ca.pem, jobcluster-ca-key.pem
  jobcluster tls cert create --server --name s1     # server-s1.pem, server-s1-key.pem
  jobcluster tls cert create --agent --name a1      # agent-a1.pem, agent-a1-key.pem
  jobcluster tls cert create --client --name ci     # client-ci.pem, client-ci-key.pem

A certificate names its holder's role and name in a URI SAN,
jobcluster://ROLE/NAME; the servers authorize by it. A server's and an
agent's --name must be the name in their certificate. Keep
jobcluster-ca-key.pem off the cluster's machines.`,
	}
	ca := &cobra.Command{Use: "ca", Short: "Manage the cluster CA"}
	ca.AddCommand(newTLSCACreateCmd())
	cert := &cobra.Command{Use: "cert", Short: "Manage certificates signed by the cluster CA"}
	cert.AddCommand(newTLSCertCreateCmd())
	cmd.AddCommand(ca, cert)
	return cmd
}

func newTLSCACreateCmd() *cobra.Command {
	var days int
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Write a new cluster CA to " + caCertFile + " and " + caKeyFile,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pair, err := pki.CreateCA(days, time.Now())
			if err != nil {
				return err
			}
			if err := writeKeyPair(caCertFile, caKeyFile, pair); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "==> CA certificate saved to: %s\n==> CA key saved to: %s\n", caCertFile, caKeyFile)
			return nil
		},
	}
	cmd.Flags().IntVar(&days, "days", pki.DefaultCADays, "days the CA is valid")
	return cmd
}

type certOptions struct {
	server, agent, client bool
	name                  string
	dnsNames, ips         []string
	caFile, caKeyFile     string
	days                  int
}

func newTLSCertCreateCmd() *cobra.Command {
	o := &certOptions{}
	cmd := &cobra.Command{
		Use:   "create --server|--agent|--client [--name N]",
		Short: "Write a key pair signed by the cluster CA: ROLE-NAME.pem and ROLE-NAME-key.pem",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			req, err := o.request(cmd)
			if err != nil {
				return err
			}
			certPEM, err := os.ReadFile(o.caFile)
			if err != nil {
				return fmt.Errorf("read --ca %s: %w (make a CA first with jobcluster tls ca create)", o.caFile, err)
			}
			keyPEM, err := os.ReadFile(o.caKeyFile)
			if err != nil {
				return fmt.Errorf("read --ca-key %s: %w", o.caKeyFile, err)
			}
			ca, err := pki.ParseCA(certPEM, keyPEM)
			if err != nil {
				return fmt.Errorf("--ca %s and --ca-key %s: %w", o.caFile, o.caKeyFile, err)
			}
			pair, err := pki.CreateCert(ca, req, time.Now())
			if err != nil {
				return err
			}
			base := string(req.Identity.Role) + "-" + req.Identity.Name
			if err := writeKeyPair(base+".pem", base+"-key.pem", pair); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "==> Certificate for %s saved to: %s\n==> Key saved to: %s\n", req.Identity, base+".pem", base+"-key.pem")
			return nil
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.server, "server", false, "a server's certificate")
	f.BoolVar(&o.agent, "agent", false, "an agent's certificate")
	f.BoolVar(&o.client, "client", false, "a client's certificate, for the CLI")
	f.StringVar(&o.name, "name", "", "node name of the server or agent (its --name; default this host's name, <hostname>-agent for an agent), or the client's name (default cli)")
	f.StringArrayVar(&o.dnsNames, "additional-dnsname", nil, "extra DNS name in the certificate, repeatable")
	f.StringArrayVar(&o.ips, "additional-ipaddress", nil, "extra IP address in the certificate, repeatable")
	f.StringVar(&o.caFile, "ca", caCertFile, "CA certificate to sign with")
	f.StringVar(&o.caKeyFile, "ca-key", caKeyFile, "CA key to sign with")
	f.IntVar(&o.days, "days", pki.DefaultCertDays, "days the certificate is valid")
	return cmd
}

// request turns the flags into what to sign.
func (o *certOptions) request(cmd *cobra.Command) (pki.Request, error) {
	var role pki.Role
	n := 0
	for _, r := range []struct {
		set  bool
		role pki.Role
	}{{o.server, pki.RoleServer}, {o.agent, pki.RoleAgent}, {o.client, pki.RoleClient}} {
		if r.set {
			role = r.role
			n++
		}
	}
	if n != 1 {
		return pki.Request{}, errors.New("give exactly one of --server, --agent and --client")
	}
	name := o.name
	if name == "" {
		switch role {
		case pki.RoleClient:
			name = "cli"
		case pki.RoleAgent:
			name = defaultAgentName()
		default:
			name = defaultName()
		}
	}
	req := pki.Request{Identity: pki.Identity{Role: role, Name: name}, DNSNames: o.dnsNames, Days: o.days}
	for _, s := range o.ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return pki.Request{}, fmt.Errorf("--additional-ipaddress %q is not an IP address", s)
		}
		req.IPs = append(req.IPs, ip)
	}
	if err := req.Identity.Validate(); err != nil {
		return pki.Request{}, fmt.Errorf("--name %q: %w", name, err)
	}
	return req, nil
}

// writeKeyPair writes a certificate and its key to new files, the key
// readable by its owner only; an existing file is never overwritten.
func writeKeyPair(certFile, keyFile string, pair pki.KeyPair) error {
	for _, f := range []string{certFile, keyFile} {
		if _, err := os.Stat(f); err == nil {
			return fmt.Errorf("%s already exists: move it away or run in another directory; nothing was written", f)
		} else if !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	if err := writeNew(keyFile, pair.KeyPEM, 0o600); err != nil {
		return err
	}
	if err := writeNew(certFile, pair.CertPEM, 0o644); err != nil {
		os.Remove(keyFile)
		return err
	}
	return nil
}

func writeNew(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

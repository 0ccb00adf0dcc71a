package main

import (
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/spf13/cobra"
)

// defaultKubeAPIServer is where dev serves the Kubernetes API by default.
const defaultKubeAPIServer = "http://127.0.0.1:7480"

type kubeconfigOptions struct {
	server string
	token  string
}

func newKubeconfigCmd(copts *clientOptions) *cobra.Command {
	o := &kubeconfigOptions{}
	cmd := &cobra.Command{
		Use:   "kubeconfig",
		Short: "Print a kubeconfig for kubectl and client-go",
		Long: `Print a kubeconfig (cluster, user and context "jobcluster") for the
Kubernetes API a server serves on its --http-addr. Save it and use it with
kubectl --kubeconfig FILE or KUBECONFIG=FILE. With --ca-file, --cert-file and
--key-file the CA and the client certificate and key are embedded and the
default server URL is https.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return writeKubeconfig(cmd.OutOrStdout(), o, copts.tls)
		},
	}
	cmd.Flags().StringVar(&o.server, "server", "", "URL of a server's HTTP address (default "+defaultKubeAPIServer+", https with --ca-file)")
	cmd.Flags().StringVar(&o.token, "token", os.Getenv("JOBCLUSTER_TOKEN"), "ACL token secret sent as a bearer token (env JOBCLUSTER_TOKEN)")
	return cmd
}

// writeKubeconfig writes the kubeconfig for o and the TLS files to w.
func writeKubeconfig(w io.Writer, o *kubeconfigOptions, tls tlsFlags) error {
	server := o.server
	if server == "" {
		server = defaultKubeAPIServer
		if tls.caFile != "" {
			server = "https://127.0.0.1:7480"
		}
	}
	cluster := fmt.Sprintf("    server: %s\n", strconv.Quote(server))
	var user string
	for _, f := range []struct{ key, path string }{
		{"certificate-authority-data", tls.caFile},
		{"client-certificate-data", tls.certFile},
		{"client-key-data", tls.keyFile},
	} {
		if f.path == "" {
			continue
		}
		b, err := os.ReadFile(f.path)
		if err != nil {
			return fmt.Errorf("kubeconfig: %w", err)
		}
		line := fmt.Sprintf("    %s: %s\n", f.key, base64.StdEncoding.EncodeToString(b))
		if f.key == "certificate-authority-data" {
			cluster += line
		} else {
			user += line
		}
	}
	if o.token != "" {
		user += fmt.Sprintf("    token: %s\n", strconv.Quote(o.token))
	}
	if user == "" {
		user = "    {}\n"
	}
	_, err := fmt.Fprintf(w, `apiVersion: v1
kind: Config
clusters:
- name: jobcluster
  cluster:
%susers:
- name: jobcluster
  user:
%scontexts:
- name: jobcluster
  context:
    cluster: jobcluster
    user: jobcluster
current-context: jobcluster
`, cluster, user)
	return err
}

// writeDevKubeconfig writes dev's kubeconfig, for the Kubernetes API on
// httpAddr, to dir/kubeconfig and returns its path. With TLS only the CA is
// embedded: dev's own certificate is a server certificate, not a client's.
func writeDevKubeconfig(dir, httpAddr string, tls tlsFlags) (string, error) {
	scheme := "http://"
	if tls.caFile != "" {
		scheme = "https://"
	}
	path := filepath.Join(dir, "kubeconfig")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return "", fmt.Errorf("write kubeconfig: %w", err)
	}
	err = writeKubeconfig(f, &kubeconfigOptions{server: scheme + dialable(httpAddr)}, tlsFlags{caFile: tls.caFile})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("write kubeconfig %s: %w", path, err)
	}
	return path, nil
}

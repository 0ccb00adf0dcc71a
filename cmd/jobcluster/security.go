package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"github.com/jobcluster/jobcluster/gossip"
	"github.com/jobcluster/jobcluster/transport"
)

// tlsFlags are --ca-file, --cert-file and --key-file, shared by every
// command: clients dial with them, daemons listen and dial with them.
type tlsFlags struct {
	caFile, certFile, keyFile string
}

func (f *tlsFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.caFile, "ca-file", os.Getenv("JOBCLUSTER_CACERT"), "cluster CA certificate; with --cert-file and --key-file turns on mutual TLS (env JOBCLUSTER_CACERT)")
	fs.StringVar(&f.certFile, "cert-file", os.Getenv("JOBCLUSTER_CLIENT_CERT"), "this node's or client's certificate, signed by the CA (env JOBCLUSTER_CLIENT_CERT)")
	fs.StringVar(&f.keyFile, "key-file", os.Getenv("JOBCLUSTER_CLIENT_KEY"), "the certificate's key (env JOBCLUSTER_CLIENT_KEY)")
}

// load reads the files, or returns nil when none is given (no TLS).
func (f *tlsFlags) load() (*transport.TLS, error) {
	given := map[string]string{"--ca-file": f.caFile, "--cert-file": f.certFile, "--key-file": f.keyFile}
	var missing []string
	for _, name := range []string{"--ca-file", "--cert-file", "--key-file"} {
		if given[name] == "" {
			missing = append(missing, name)
		}
	}
	switch len(missing) {
	case 3:
		return nil, nil
	case 0:
	default:
		return nil, fmt.Errorf("TLS needs --ca-file, --cert-file and --key-file together: %s missing (or JOBCLUSTER_CACERT, JOBCLUSTER_CLIENT_CERT, JOBCLUSTER_CLIENT_KEY)", strings.Join(missing, " and "))
	}
	tl, err := transport.LoadTLS(transport.TLSFiles{CAFile: f.caFile, CertFile: f.certFile, KeyFile: f.keyFile})
	if err != nil {
		return nil, fmt.Errorf("--ca-file, --cert-file, --key-file: %w", err)
	}
	return tl, nil
}

// securityFlags are the daemons' own security flags.
type securityFlags struct {
	insecure      bool
	gossipKey     string
	gossipKeyFile string
}

func (f *securityFlags) register(fs *pflag.FlagSet) {
	fs.BoolVar(&f.insecure, "insecure", false, "listen on non-loopback addresses without TLS; anyone who reaches them controls the cluster")
	fs.StringVar(&f.gossipKey, "gossip-key", "", "gossip encryption key from jobcluster keygen (visible in the process list: prefer --gossip-key-file)")
	fs.StringVar(&f.gossipKeyFile, "gossip-key-file", "", "file holding the gossip encryption key; reread on SIGHUP")
}

// security is how a daemon is secured: its TLS and gossip keys, both
// reloadable on SIGHUP.
type security struct {
	tls     *transport.TLS
	keyring *gossip.Keyring
	keyFile string
}

// listenAddr is one address a daemon binds, with the flag that set it.
type listenAddr struct{ flag, addr string }

// setup loads TLS and the gossip key, and refuses to listen without TLS
// on an address other hosts can reach unless --insecure was given.
func (f *securityFlags) setup(tf *tlsFlags, what string, addrs []listenAddr, logger *slog.Logger) (security, error) {
	tl, err := tf.load()
	if err != nil {
		return security{}, err
	}
	sec := security{tls: tl, keyFile: f.gossipKeyFile}
	if f.gossipKey != "" && f.gossipKeyFile != "" {
		return security{}, errors.New("pass --gossip-key or --gossip-key-file, not both")
	}
	if f.gossipKey != "" || f.gossipKeyFile != "" {
		key, err := f.readGossipKey()
		if err != nil {
			return security{}, err
		}
		if sec.keyring, err = gossip.NewKeyring(key); err != nil {
			return security{}, err
		}
	}
	var exposed []string
	for _, a := range addrs {
		if a.addr != "" && !transport.IsLoopback(a.addr) {
			exposed = append(exposed, a.flag+" "+a.addr)
		}
	}
	if len(exposed) == 0 {
		return sec, nil
	}
	if tl == nil && !f.insecure {
		return security{}, fmt.Errorf("%s refuses to listen on %s without TLS: anyone who reaches it could run any command on every agent. "+
			"Pass --ca-file, --cert-file and --key-file (make them with jobcluster tls), or --insecure to run in the clear anyway",
			what, strings.Join(exposed, ", "))
	}
	if tl == nil {
		logger.Warn("listening without TLS on addresses other hosts may reach (--insecure)", "addrs", strings.Join(exposed, ", "))
	}
	if sec.keyring == nil {
		logger.Warn("gossip is not encrypted: anyone who reaches the gossip address can join and read it; pass --gossip-key-file (see jobcluster keygen)")
	}
	return sec, nil
}

func (f *securityFlags) readGossipKey() ([]byte, error) {
	if f.gossipKeyFile == "" {
		key, err := gossip.ParseKey(f.gossipKey)
		if err != nil {
			return nil, fmt.Errorf("--gossip-key: %w", err)
		}
		return key, nil
	}
	return readKeyFile(f.gossipKeyFile)
}

func readKeyFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--gossip-key-file: %w", err)
	}
	key, err := gossip.ParseKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("--gossip-key-file %s: %w", path, err)
	}
	return key, nil
}

// transport is the daemon's transport configuration.
func (s security) transport() transport.Config { return transport.Config{TLS: s.tls} }

// reload rereads the certificate, key and CA files and the gossip key
// file. What fails to load is logged and the old material stays.
func (s security) reload(logger *slog.Logger) {
	if s.tls == nil && s.keyFile == "" {
		logger.Info("SIGHUP: no certificate or gossip key file to reload")
		return
	}
	if s.tls != nil {
		if err := s.tls.Reload(); err != nil {
			logger.Error("SIGHUP: certificates not reloaded, the old ones stay in use", "err", err)
		} else {
			logger.Info("SIGHUP: certificates reloaded", "cert", s.tls.Files().CertFile)
		}
	}
	if s.keyFile != "" && s.keyring != nil {
		key, err := readKeyFile(s.keyFile)
		if err == nil {
			var changed bool
			if changed, err = s.keyring.Install(key); err == nil && changed {
				logger.Info("SIGHUP: new gossip key in use; the old one is accepted for a while", "retention", gossip.KeyRetention)
			}
		}
		if err != nil {
			logger.Error("SIGHUP: gossip key not reloaded, the old one stays in use", "err", err)
		}
	}
}

// reloadOnHangup reloads s on every SIGHUP until the returned function is
// called, which returns once reloading stopped. It takes SIGHUP over at
// once, so a hangup never stops the daemon.
func (s security) reloadOnHangup(logger *slog.Logger) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer signal.Stop(hup)
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				s.reload(logger)
			}
		}
	}()
	return func() {
		cancel()
		<-done
	}
}

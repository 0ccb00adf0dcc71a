package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/gossip"
)

func newKeygenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "keygen",
		Short: "Print a new key for --gossip-key-file (gossip) or --encryption-key-file (Secrets at rest)",
		Long: `Print a new random 32-byte key, base64 encoded, for either use:

Gossip: give the same key to every server and agent (--gossip-key-file F,
or --gossip-key K); members without it can neither join nor read the
cluster's gossip.

Secrets at rest: jobcluster keygen > secrets.key, then give the same file to
every server (--encryption-key-file secrets.key). The file may hold several
keys, one per line: the first encrypts, every one decrypts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			key, err := gossip.GenerateKey()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), key)
			return nil
		},
	}
}

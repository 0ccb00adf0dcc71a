package main

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

// versionInfo is one side of `version -o json`, in kubectl's field names.
type versionInfo struct {
	GitVersion string `json:"gitVersion"`
	GoVersion  string `json:"goVersion,omitempty"`
	Platform   string `json:"platform,omitempty"`
}

func newVersionCmd(copts *clientOptions) *cobra.Command {
	var output string
	var clientOnly bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the client and server versions",
		Long: `Print the version of this client and of the server it reaches, as kubectl
version does. --client prints the client's only and needs no server.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output, outputTable, outputJSON); err != nil {
				return err
			}
			out := map[string]versionInfo{"clientVersion": {GitVersion: api.Version(), GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}}
			var serverErr error
			if !clientOnly {
				serverErr = copts.withClient(cmd, func(ctx context.Context, c *client) error {
					return c.read(ctx, func(ctx context.Context, cl api.ControlClient) error {
						resp, err := cl.Members(ctx, &api.MembersRequest{Local: true})
						if err != nil {
							return err
						}
						v := "unknown"
						if items := resp.GetItems(); len(items) == 1 && items[0].GetVersion() != "" {
							v = items[0].GetVersion()
						}
						out["serverVersion"] = versionInfo{GitVersion: v}
						return nil
					})
				})
			}
			if output == outputJSON {
				data, err := json.MarshalIndent(out, "", "  ")
				if err != nil {
					return fmt.Errorf("encode version: %w", err)
				}
				if err := writeWithNewline(cmd.OutOrStdout(), data); err != nil {
					return err
				}
				return serverErr
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Client Version: %s\n", out["clientVersion"].GitVersion)
			if s, ok := out["serverVersion"]; ok {
				fmt.Fprintf(cmd.OutOrStdout(), "Server Version: %s\n", s.GitVersion)
			}
			return serverErr
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json")
	cmd.Flags().BoolVar(&clientOnly, "client", false, "print the client version only")
	return cmd
}

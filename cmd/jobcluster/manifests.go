package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

// stdinName is how kubectl names standard input in messages.
const stdinName = "STDIN"

// readManifests reads and decodes every file ("-" is stdin, a directory
// stands for its .yaml, .yml and .json files). Nothing is returned unless
// every file is valid; the error then names each file that is not. The
// fields dropped as meaningless here are written to warn as kubectl
// writes warnings ("Warning: ...").
func readManifests(stdin io.Reader, warn io.Writer, paths []string) ([]*api.Object, error) {
	var (
		objs []*api.Object
		errs []error
	)
	for _, p := range paths {
		files, err := expandPath(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, f := range files {
			data, err := readManifest(stdin, f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			decoded, warnings, err := api.DecodeManifestsWithWarnings(data)
			if err != nil {
				name := f
				if f == "-" {
					name = stdinName
				}
				errs = append(errs, fmt.Errorf("error validating %q: %w", name, err))
				continue
			}
			for _, w := range warnings {
				fmt.Fprintf(warn, "Warning: %s\n", w)
			}
			objs = append(objs, decoded...)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return objs, nil
}

// expandPath lists the manifest files a path stands for.
func expandPath(p string) ([]string, error) {
	if p == "-" {
		return []string{p}, nil
	}
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the path %q does not exist", p)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	if !info.IsDir() {
		return []string{p}, nil
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", p, err)
	}
	var files []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				files = append(files, filepath.Join(p, e.Name()))
			}
		}
	}
	sort.Strings(files)
	if len(files) == 0 {
		return nil, fmt.Errorf("error reading %q: recognized file extensions are [.json .yaml .yml]", p)
	}
	return files, nil
}

func readManifest(stdin io.Reader, path string) ([]byte, error) {
	name, r := stdinName, stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		defer f.Close()
		name, r = path, f
	}
	// Read one byte past the limit, so that decoding refuses an oversized
	// file without this reading all of it.
	data, err := io.ReadAll(io.LimitReader(r, api.MaxManifestBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	return data, nil
}

// addFilenameFlag adds kubectl's -f/--filename, so that "apply -f job.yaml"
// works as well as "apply job.yaml".
func addFilenameFlag(cmd *cobra.Command, files *[]string) {
	cmd.Flags().StringSliceVarP(files, "filename", "f", nil, "manifest file, directory or - for stdin (may be repeated; same as giving it as an argument)")
}

// manifestArgs joins the -f files and the arguments.
func manifestArgs(flagged, args []string) ([]string, error) {
	files := append(append([]string(nil), flagged...), args...)
	if len(files) == 0 {
		return nil, errors.New("must specify one or more manifest files, e.g. job.yaml, a directory or - for stdin")
	}
	return files, nil
}

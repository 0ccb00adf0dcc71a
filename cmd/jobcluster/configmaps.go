package main

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/jobcluster/jobcluster/api"
)

// configMapRow is `get configmaps`: NAME DATA AGE, as kubectl.
func configMapRow(cm *api.ConfigMap, now time.Time) []string {
	return []string{cm.GetMetadata().GetName(), fmt.Sprint(len(cm.GetData()) + len(cm.GetBinaryData())), age(cm.GetMetadata().GetCreationTimestamp(), now)}
}

// secretRow is `get secrets`: NAME TYPE DATA AGE, as kubectl.
func secretRow(s *api.Secret, now time.Time) []string {
	return []string{s.GetMetadata().GetName(), s.GetType(), fmt.Sprint(len(s.GetData())), age(s.GetMetadata().GetCreationTimestamp(), now)}
}

// configMap renders a ConfigMap as kubectl describe configmap does.
func (d describer) configMap(cm *api.ConfigMap, events []*api.Event) string {
	w := newPrefixWriter()
	meta := cm.GetMetadata()
	w.write(0, "Name:\t%s\n", meta.GetName())
	w.write(0, "Namespace:\t%s\n", namespace(meta))
	w.labels(0, "Labels", meta.GetLabels())
	w.labels(0, "Annotations", meta.GetAnnotations())
	w.write(0, "\nData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(cm.GetData())) {
		w.write(0, "%s:\n----\n%s\n\n", k, cm.GetData()[k])
	}
	w.write(0, "\nBinaryData\n====\n")
	for _, k := range slices.Sorted(maps.Keys(cm.GetBinaryData())) {
		w.write(0, "%s: %d bytes\n", k, len(cm.GetBinaryData()[k]))
	}
	w.events(d, events)
	return w.String()
}

// secret renders a Secret as kubectl describe secret does: its keys and
// their sizes, never their values.
func (d describer) secret(s *api.Secret, events []*api.Event) string {
	w := newPrefixWriter()
	meta := s.GetMetadata()
	w.write(0, "Name:\t%s\n", meta.GetName())
	w.write(0, "Namespace:\t%s\n", namespace(meta))
	w.labels(0, "Labels", meta.GetLabels())
	w.labels(0, "Annotations", meta.GetAnnotations())
	w.write(0, "\nType:\t%s\n\nData\n====\n", s.GetType())
	for _, k := range slices.Sorted(maps.Keys(s.GetData())) {
		w.write(0, "%s:\t%d bytes\n", k, len(s.GetData()[k]))
	}
	w.events(d, events)
	return w.String()
}

type configSourceFlags struct {
	literals []string
	files    []string
	envFiles []string
}

func (f *configSourceFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.literals, "from-literal", nil, "a key and its value, KEY=VALUE (repeatable)")
	cmd.Flags().StringArrayVar(&f.files, "from-file", nil, "a file whose content is a value, keyed by its base name or KEY=PATH; a directory gives each of its files (repeatable)")
	cmd.Flags().StringArrayVar(&f.envFiles, "from-env-file", nil, "a file of KEY=VALUE lines (repeatable)")
}

// data reads the flags into keys and values, as kubectl does; a key given
// twice is an error.
func (f *configSourceFlags) data() (map[string][]byte, error) {
	out := map[string][]byte{}
	put := func(k string, v []byte) error {
		if _, dup := out[k]; dup {
			return fmt.Errorf("cannot add key %q, another key by that name already exists", k)
		}
		out[k] = v
		return nil
	}
	for _, l := range f.literals {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("invalid literal source %q, expected key=value", l)
		}
		if err := put(k, []byte(v)); err != nil {
			return nil, err
		}
	}
	for _, spec := range f.files {
		key, path, named := strings.Cut(spec, "=")
		if !named {
			path = spec
		}
		info, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("--from-file %s: %w", path, err)
		}
		paths := []string{path}
		if info.IsDir() {
			if named {
				return nil, fmt.Errorf("--from-file %s: a directory takes no key", spec)
			}
			entries, err := os.ReadDir(path)
			if err != nil {
				return nil, err
			}
			paths = nil
			for _, e := range entries {
				if e.Type().IsRegular() {
					paths = append(paths, filepath.Join(path, e.Name()))
				}
			}
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, fmt.Errorf("--from-file %s: %w", p, err)
			}
			k := key
			if !named {
				k = filepath.Base(p)
			}
			if err := put(k, b); err != nil {
				return nil, err
			}
		}
	}
	for _, path := range f.envFiles {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("--from-env-file %s: %w", path, err)
		}
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return nil, fmt.Errorf("--from-env-file %s: line %d: expected KEY=VALUE", path, i+1)
			}
			if err := put(k, []byte(v)); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func newCreateConfigMapCmd(copts *clientOptions) *cobra.Command {
	var f configSourceFlags
	cmd := &cobra.Command{
		Use:     "configmap NAME [--from-literal=KEY=VALUE] [--from-file=[KEY=]PATH] [--from-env-file=PATH]",
		Aliases: []string{"cm"},
		Short:   "Create a ConfigMap from literals and files",
		Example: `  jobcluster create configmap app-config --from-literal=mode=fast --from-file=settings.ini`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := f.data()
			if err != nil {
				return err
			}
			cm := &api.ConfigMap{Metadata: &api.ObjectMeta{Name: args[0]}}
			for k, v := range data {
				if utf8.Valid(v) {
					if cm.Data == nil {
						cm.Data = map[string]string{}
					}
					cm.Data[k] = string(v)
				} else {
					if cm.BinaryData == nil {
						cm.BinaryData = map[string][]byte{}
					}
					cm.BinaryData[k] = v
				}
			}
			return submitCreated(cmd, copts, &api.Object{Kind: &api.Object_ConfigMap{ConfigMap: cm}})
		},
	}
	f.register(cmd)
	return cmd
}

func newCreateSecretCmd(copts *clientOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secret generic NAME [--from-literal=KEY=VALUE] [--from-file=[KEY=]PATH] [--from-env-file=PATH]",
		Short: "Create a Secret",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return errors.New("give the kind of secret: jobcluster create secret generic NAME")
		},
	}
	var f configSourceFlags
	var typ string
	generic := &cobra.Command{
		Use:     "generic NAME [--from-literal=KEY=VALUE] [--from-file=[KEY=]PATH] [--from-env-file=PATH] [--type=TYPE]",
		Short:   "Create a Secret from literals and files",
		Example: `  jobcluster create secret generic db --from-literal=user=admin --from-file=password=./db-password`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			data, err := f.data()
			if err != nil {
				return err
			}
			s := &api.Secret{Metadata: &api.ObjectMeta{Name: args[0]}, Data: data, Type: typ}
			return submitCreated(cmd, copts, &api.Object{Kind: &api.Object_Secret{Secret: s}})
		},
	}
	f.register(generic)
	generic.Flags().StringVar(&typ, "type", api.SecretTypeOpaque, "the Secret's type")
	cmd.AddCommand(generic)
	return cmd
}

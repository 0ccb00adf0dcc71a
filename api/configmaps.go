package api

import (
	"fmt"
	"maps"
	"regexp"
	"slices"

	"google.golang.org/protobuf/proto"
)

// MaxConfigBytes bounds the data of one ConfigMap or Secret, as
// Kubernetes bounds it.
const MaxConfigBytes = 1 << 20

// SecretTypeOpaque is a Secret's default type.
const SecretTypeOpaque = "Opaque"

var configKeyRE = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

const configKeyMsg = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"

func setConfigMapDefaults(c *ConfigMap) {
	c.ApiVersion, c.Kind = "v1", "ConfigMap"
	if c.Metadata == nil {
		c.Metadata = &ObjectMeta{}
	}
}

// setSecretDefaults fills the type and merges stringData into data, as
// the Kubernetes API server does on write: stringData is write-only.
func setSecretDefaults(s *Secret) {
	s.ApiVersion, s.Kind = "v1", "Secret"
	if s.Metadata == nil {
		s.Metadata = &ObjectMeta{}
	}
	if s.Type == "" {
		s.Type = SecretTypeOpaque
	}
	if len(s.StringData) > 0 {
		if s.Data == nil {
			s.Data = map[string][]byte{}
		}
		for k, v := range s.StringData {
			s.Data[k] = []byte(v)
		}
		s.StringData = nil
	}
}

func validateConfigMap(c *ConfigMap) []error {
	errs := validateConfigName(c.GetMetadata())
	size := 0
	for _, k := range slices.Sorted(maps.Keys(c.GetData())) {
		errs = append(errs, validateConfigKey("data", k)...)
		if _, dup := c.GetBinaryData()[k]; dup {
			errs = append(errs, invalid("data["+k+"]", k, "duplicate of key present in binaryData"))
		}
		size += len(k) + len(c.GetData()[k])
	}
	for _, k := range slices.Sorted(maps.Keys(c.GetBinaryData())) {
		errs = append(errs, validateConfigKey("binaryData", k)...)
		size += len(k) + len(c.GetBinaryData()[k])
	}
	if size > MaxConfigBytes {
		errs = append(errs, tooLong("data", "", MaxConfigBytes))
	}
	return errs
}

func validateSecret(s *Secret) []error {
	errs := validateConfigName(s.GetMetadata())
	size := 0
	for _, k := range slices.Sorted(maps.Keys(s.GetData())) {
		errs = append(errs, validateConfigKey("data", k)...)
		size += len(s.GetData()[k])
	}
	if size > MaxConfigBytes {
		errs = append(errs, tooLong("data", "", MaxConfigBytes))
	}
	return errs
}

func validateConfigName(meta *ObjectMeta) []error {
	var errs fieldErrors
	name := meta.GetName()
	switch {
	case name == "":
		errs.add(required("metadata.name", ""))
	case len(name) > 253 || !dns1123SubdomRE.MatchString(name):
		errs.add(invalid("metadata.name", name, dns1123SubdomMsg))
	}
	errs.add(validateMeta("metadata", meta)...)
	return errs
}

func validateConfigKey(field, k string) []error {
	if len(k) > 253 || !configKeyRE.MatchString(k) {
		return []error{invalid(fmt.Sprintf("%s[%s]", field, k), k, configKeyMsg)}
	}
	return nil
}

// UpdateConfigMap applies a new version of a stored ConfigMap: data,
// binaryData, labels and annotations change unless it is immutable,
// which only ever changes from false to true. It reports whether anything
// changed.
func UpdateConfigMap(old, updated *ConfigMap) (*ConfigMap, bool, error) {
	out := cloneConfigMap(old)
	if old.GetImmutable() {
		if !maps.Equal(old.GetData(), updated.GetData()) || !maps.EqualFunc(old.GetBinaryData(), updated.GetBinaryData(), bytesEqual) {
			return nil, false, forbidden("data", "field is immutable when `immutable` is set")
		}
		if !updated.GetImmutable() {
			return nil, false, forbidden("immutable", "field is immutable when `immutable` is set")
		}
	}
	changed := !maps.Equal(old.GetData(), updated.GetData()) || !maps.EqualFunc(old.GetBinaryData(), updated.GetBinaryData(), bytesEqual) ||
		old.GetImmutable() != updated.GetImmutable()
	out.Data, out.BinaryData, out.Immutable = updated.GetData(), updated.GetBinaryData(), updated.Immutable
	if out.Metadata == nil {
		out.Metadata = &ObjectMeta{}
	}
	if updateMeta(out.Metadata, updated.GetMetadata()) {
		changed = true
	}
	return out, changed, nil
}

// UpdateSecret applies a new version of a stored Secret, as
// UpdateConfigMap; its type cannot change.
func UpdateSecret(old, updated *Secret) (*Secret, bool, error) {
	up := cloneSecret(updated)
	setSecretDefaults(up)
	if up.GetType() != old.GetType() {
		return nil, false, invalid("type", up.GetType(), "field is immutable")
	}
	if old.GetImmutable() {
		if !maps.EqualFunc(old.GetData(), up.GetData(), bytesEqual) {
			return nil, false, forbidden("data", "field is immutable when `immutable` is set")
		}
		if !up.GetImmutable() {
			return nil, false, forbidden("immutable", "field is immutable when `immutable` is set")
		}
	}
	out := cloneSecret(old)
	changed := !maps.EqualFunc(old.GetData(), up.GetData(), bytesEqual) || old.GetImmutable() != up.GetImmutable()
	out.Data, out.Immutable = up.GetData(), up.Immutable
	if out.Metadata == nil {
		out.Metadata = &ObjectMeta{}
	}
	if updateMeta(out.Metadata, up.GetMetadata()) {
		changed = true
	}
	return out, changed, nil
}

func bytesEqual(a, b []byte) bool { return string(a) == string(b) }

func cloneConfigMap(c *ConfigMap) *ConfigMap { return proto.Clone(c).(*ConfigMap) }

func cloneSecret(s *Secret) *Secret { return proto.Clone(s).(*Secret) }

// ConfigRef names a ConfigMap or Secret a pod's containers use.
type ConfigRef struct {
	Kind, Name string
}

// ConfigRefs lists the ConfigMaps and Secrets a pod's containers refer
// to, through env valueFrom and envFrom, and its volumes, each once, in
// order.
func ConfigRefs(p *Pod) []ConfigRef {
	var out []ConfigRef
	seen := map[ConfigRef]bool{}
	add := func(kind, name string) {
		r := ConfigRef{kind, name}
		if name != "" && !seen[r] {
			seen[r] = true
			out = append(out, r)
		}
	}
	for _, c := range p.GetSpec().GetContainers() {
		for _, e := range c.GetEnv() {
			add(ConfigMapResource.Kind, e.GetValueFrom().GetConfigMapKeyRef().GetName())
			add(SecretResource.Kind, e.GetValueFrom().GetSecretKeyRef().GetName())
		}
		for _, e := range c.GetEnvFrom() {
			add(ConfigMapResource.Kind, e.GetConfigMapRef().GetName())
			add(SecretResource.Kind, e.GetSecretRef().GetName())
		}
	}
	for _, v := range p.GetSpec().GetVolumes() {
		add(ConfigMapResource.Kind, v.GetConfigMap().GetName())
		add(SecretResource.Kind, v.GetSecret().GetSecretName())
	}
	return out
}

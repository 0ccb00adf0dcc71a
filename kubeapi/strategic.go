package kubeapi

import (
	"fmt"
	"reflect"
	"strings"
)

// Strategic merge patch, as kubectl apply, edit and patch send it, applied
// on an object's JSON with the patch strategies Kubernetes declares on
// its types (the patchStrategy and patchMergeKey struct tags). Only the
// lists of the kinds served here are listed: apimachinery's strategicpatch
// package would add about 10 MB to the binary for the same result.
//
// Lists with a merge key are merged element by element; lists of scalars
// with the merge strategy (finalizers) are merged as sets; every other
// list is replaced, as in a merge patch. The directives are $patch
// (replace, merge, delete; in objects and in list elements),
// $retainKeys, $setElementOrder/<list> and $deleteFromPrimitiveList/<list>.

// listStrategy is how a list field is patched: merged by key, merged as a
// set of scalars, or (the zero value) replaced.
type listStrategy struct {
	key   string // merge key of a list of objects
	union bool   // a list of scalars merged as a set
}

// podListKeys are the merge keys of PodSpec's lists, by their path below
// the pod spec (list indexes left out).
var podListKeys = map[string]string{
	"containers":                           "name",
	"initContainers":                       "name",
	"ephemeralContainers":                  "name",
	"volumes":                              "name",
	"imagePullSecrets":                     "name",
	"hostAliases":                          "ip",
	"topologySpreadConstraints":            "topologyKey",
	"schedulingGates":                      "name",
	"resourceClaims":                       "name",
	"containers.env":                       "name",
	"containers.ports":                     "containerPort",
	"containers.volumeMounts":              "mountPath",
	"containers.volumeDevices":             "devicePath",
	"initContainers.env":                   "name",
	"initContainers.ports":                 "containerPort",
	"initContainers.volumeMounts":          "mountPath",
	"initContainers.volumeDevices":         "devicePath",
	"ephemeralContainers.env":              "name",
	"ephemeralContainers.ports":            "containerPort",
	"ephemeralContainers.volumeMounts":     "mountPath",
	"ephemeralContainers.volumeDevices":    "devicePath",
	"containers.resources.claims":          "name",
	"initContainers.resources.claims":      "name",
	"ephemeralContainers.resources.claims": "name",
}

// podSpecPaths are where each kind keeps a pod spec.
var podSpecPaths = map[string][]string{
	"Pod":     {"spec"},
	"Job":     {"spec", "template", "spec"},
	"CronJob": {"spec", "jobTemplate", "spec", "template", "spec"},
}

// objectMetaPaths are where each kind keeps object metadata.
var objectMetaPaths = map[string][][]string{
	"Pod":     {{"metadata"}},
	"Job":     {{"metadata"}, {"spec", "template", "metadata"}},
	"CronJob": {{"metadata"}, {"spec", "jobTemplate", "metadata"}, {"spec", "jobTemplate", "spec", "template", "metadata"}},
}

// strategyOf is the strategy of the list at path (field names only) in an
// object of the kind.
func strategyOf(kind string, path []string) listStrategy {
	for _, meta := range objectMetaPaths[kind] {
		if rest, ok := cutPrefix(path, meta); ok && len(rest) == 1 {
			switch rest[0] {
			case "finalizers":
				return listStrategy{union: true}
			case "ownerReferences":
				return listStrategy{key: "uid"}
			}
		}
	}
	if rest, ok := cutPrefix(path, podSpecPaths[kind]); ok {
		return listStrategy{key: podListKeys[strings.Join(rest, ".")]}
	}
	return listStrategy{}
}

func cutPrefix(path, prefix []string) ([]string, bool) {
	if len(prefix) == 0 || len(path) < len(prefix) {
		return nil, false
	}
	for i := range prefix {
		if path[i] != prefix[i] {
			return nil, false
		}
	}
	return path[len(prefix):], true
}

const (
	directivePatch            = "$patch"
	directiveRetainKeys       = "$retainKeys"
	prefixSetElementOrder     = "$setElementOrder/"
	prefixDeleteFromPrimitive = "$deleteFromPrimitiveList/"
)

// strategicMergePatch applies a strategic merge patch to doc, an object of
// the kind as JSON values, and returns the result.
func strategicMergePatch(kind string, doc, patch any) (any, error) {
	p, ok := patch.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a strategic merge patch must be a JSON object")
	}
	d, _ := doc.(map[string]any)
	out, err := smpObject(kind, nil, d, p)
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("$patch: delete of the whole object is not supported; delete it instead")
	}
	return out, nil
}

// smpObject patches the object at path; a nil result means deleted.
func smpObject(kind string, path []string, orig, patch map[string]any) (map[string]any, error) {
	where := pathString(path)
	switch d, _ := patch[directivePatch].(string); d {
	case "", "merge":
	case "replace":
		return withoutDirectives(patch), nil
	case "delete":
		return nil, nil
	default:
		return nil, fmt.Errorf("%s: unknown $patch %q: use replace, merge or delete", where, d)
	}
	out := make(map[string]any, len(orig)+len(patch))
	for k, v := range orig {
		out[k] = v
	}
	if keys, ok := patch[directiveRetainKeys]; ok {
		list, ok := keys.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: $retainKeys must be a list of field names", where)
		}
		keep := map[string]bool{}
		for _, k := range list {
			s, ok := k.(string)
			if !ok {
				return nil, fmt.Errorf("%s: $retainKeys must be a list of field names", where)
			}
			keep[s] = true
		}
		for k := range out {
			if !keep[k] {
				delete(out, k)
			}
		}
	}
	// Deletions from lists of scalars, then the fields, then the order of
	// the lists, as apimachinery applies them.
	for k, v := range patch {
		field, ok := strings.CutPrefix(k, prefixDeleteFromPrimitive)
		if !ok {
			continue
		}
		del, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s must be a list", where, k)
		}
		cur, _ := out[field].([]any)
		var kept []any
		for _, e := range cur {
			if !containsValue(del, e) {
				kept = append(kept, e)
			}
		}
		if cur != nil {
			out[field] = orEmpty(kept)
		}
	}
	for k, v := range patch {
		if strings.HasPrefix(k, "$") {
			if k != directivePatch && k != directiveRetainKeys && !strings.HasPrefix(k, prefixSetElementOrder) && !strings.HasPrefix(k, prefixDeleteFromPrimitive) {
				return nil, fmt.Errorf("%s: unknown strategic merge patch directive %q", where, k)
			}
			continue
		}
		fieldPath := append(append([]string(nil), path...), k)
		if v == nil {
			delete(out, k)
			continue
		}
		switch pv := v.(type) {
		case map[string]any:
			o, _ := out[k].(map[string]any)
			merged, err := smpObject(kind, fieldPath, o, pv)
			if err != nil {
				return nil, err
			}
			if merged == nil {
				delete(out, k)
			} else {
				out[k] = merged
			}
		case []any:
			o, _ := out[k].([]any)
			merged, err := smpList(kind, fieldPath, o, pv)
			if err != nil {
				return nil, err
			}
			out[k] = merged
		default:
			out[k] = v
		}
	}
	for k, v := range patch {
		field, ok := strings.CutPrefix(k, prefixSetElementOrder)
		if !ok {
			continue
		}
		order, ok := v.([]any)
		if !ok {
			return nil, fmt.Errorf("%s: %s must be a list", where, k)
		}
		cur, ok := out[field].([]any)
		if !ok {
			continue
		}
		out[field] = orderList(strategyOf(kind, append(append([]string(nil), path...), field)), cur, order)
	}
	return out, nil
}

// smpList patches the list at path.
func smpList(kind string, path []string, orig, patch []any) ([]any, error) {
	st := strategyOf(kind, path)
	where := pathString(path)
	// A {"$patch": "replace"} element replaces the list with the rest.
	for _, e := range patch {
		if m, ok := e.(map[string]any); ok && m[directivePatch] == "replace" {
			var rest []any
			for _, e := range patch {
				if m, ok := e.(map[string]any); !ok || m[directivePatch] != "replace" {
					rest = append(rest, e)
				}
			}
			return orEmpty(rest), nil
		}
	}
	switch {
	case st.union:
		out := append([]any(nil), orig...)
		for _, e := range patch {
			if !containsValue(out, e) {
				out = append(out, e)
			}
		}
		return orEmpty(out), nil
	case st.key != "":
		out := append([]any(nil), orig...)
		for i, e := range patch {
			pm, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("%s[%d]: want an object with %q, got %v", where, i, st.key, e)
			}
			key, ok := pm[st.key]
			if !ok {
				return nil, fmt.Errorf("%s[%d]: the element has no merge key %q", where, i, st.key)
			}
			at := -1
			for j, o := range out {
				if om, ok := o.(map[string]any); ok && valuesEqual(om[st.key], key) {
					at = j
					break
				}
			}
			if pm[directivePatch] == "delete" {
				if at >= 0 {
					out = append(out[:at], out[at+1:]...)
				}
				continue
			}
			var om map[string]any
			if at >= 0 {
				om, _ = out[at].(map[string]any)
			}
			merged, err := smpObject(kind, path, om, pm)
			if err != nil {
				return nil, err
			}
			switch {
			case merged == nil && at >= 0:
				out = append(out[:at], out[at+1:]...)
			case merged == nil:
			case at >= 0:
				out[at] = merged
			default:
				out = append(out, merged)
			}
		}
		return orEmpty(out), nil
	}
	for i, e := range patch {
		if m, ok := e.(map[string]any); ok && m[directivePatch] != nil {
			return nil, fmt.Errorf("%s[%d]: $patch in a list that is replaced, not merged", where, i)
		}
	}
	return patch, nil
}

// orderList reorders a merged list as $setElementOrder says: the elements
// it names in its order, each element it does not name (the server's
// own) kept after the element it followed.
func orderList(st listStrategy, list, order []any) []any {
	if st.key == "" && !st.union {
		return list // replaced lists keep the patch's order
	}
	keyOf := func(e any) (any, bool) {
		if st.union {
			return e, true
		}
		m, ok := e.(map[string]any)
		if !ok {
			return nil, false
		}
		k, ok := m[st.key]
		return k, ok
	}
	var orderKeys []any
	for _, o := range order {
		if k, ok := keyOf(o); ok {
			orderKeys = append(orderKeys, k)
		}
	}
	isNamed := func(e any) bool {
		k, ok := keyOf(e)
		return ok && containsValue(orderKeys, k)
	}
	out := make([]any, 0, len(list))
	// The server's own elements before the first named one stay first.
	for _, e := range list {
		if isNamed(e) {
			break
		}
		out = append(out, e)
	}
	for _, k := range orderKeys {
		after := false
		for _, e := range list {
			ek, _ := keyOf(e)
			switch {
			case isNamed(e) && valuesEqual(ek, k):
				out = append(out, e)
				after = true
			case isNamed(e):
				after = false
			case after:
				out = append(out, e)
			}
		}
	}
	return out
}

func withoutDirectives(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if !strings.HasPrefix(k, "$") {
			out[k] = v
		}
	}
	return out
}

func containsValue(list []any, v any) bool {
	for _, e := range list {
		if valuesEqual(e, v) {
			return true
		}
	}
	return false
}

func valuesEqual(a, b any) bool { return reflect.DeepEqual(a, b) }

// orEmpty keeps an emptied list a list: null would remove the field.
func orEmpty(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

func pathString(path []string) string {
	if len(path) == 0 {
		return "patch"
	}
	return strings.Join(path, ".")
}

package kubeapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The patch formats are applied here, on the object's JSON: RFC 7386
// merge patch and RFC 6902 JSON patch (strategic merge patch is in
// strategic.go).

// mergePatch applies an RFC 7386 merge patch to target: objects merge
// key by key, null removes a key, anything else replaces.
func mergePatch(target, patch any) any {
	p, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	t, ok := target.(map[string]any)
	if !ok {
		t = map[string]any{}
	}
	for k, v := range p {
		if v == nil {
			delete(t, k)
			continue
		}
		t[k] = mergePatch(t[k], v)
	}
	return t
}

// jsonPatchOp is one operation of an RFC 6902 JSON patch.
type jsonPatchOp struct {
	Op    string           `json:"op"`
	Path  string           `json:"path"`
	From  string           `json:"from"`
	Value *json.RawMessage `json:"value"`
}

// jsonPatch applies an RFC 6902 JSON patch (add, remove, replace, move,
// copy, test) to doc.
func jsonPatch(doc any, ops []jsonPatchOp) (any, error) {
	for i, op := range ops {
		var err error
		var value any
		if op.Value != nil {
			if err := json.Unmarshal(*op.Value, &value); err != nil {
				return nil, fmt.Errorf("operation %d: value: %w", i, err)
			}
		}
		switch op.Op {
		case "add":
			doc, err = pointerSet(doc, op.Path, value, true)
		case "replace":
			doc, err = pointerSet(doc, op.Path, value, false)
		case "remove":
			doc, _, err = pointerRemove(doc, op.Path)
		case "move":
			var v any
			if doc, v, err = pointerRemove(doc, op.From); err == nil {
				doc, err = pointerSet(doc, op.Path, v, true)
			}
		case "copy":
			var v any
			if v, err = pointerGet(doc, op.From); err == nil {
				doc, err = pointerSet(doc, op.Path, deepCopy(v), true)
			}
		case "test":
			var v any
			if v, err = pointerGet(doc, op.Path); err == nil && !jsonEqual(v, value) {
				err = fmt.Errorf("test failed at %q", op.Path)
			}
		default:
			err = fmt.Errorf("unknown op %q", op.Op)
		}
		if err != nil {
			return nil, fmt.Errorf("json patch operation %d (%s %s): %w", i, op.Op, op.Path, err)
		}
	}
	return doc, nil
}

// splitPointer splits an RFC 6901 JSON pointer into its unescaped tokens.
func splitPointer(p string) ([]string, error) {
	if p == "" {
		return nil, nil
	}
	if !strings.HasPrefix(p, "/") {
		return nil, fmt.Errorf("path %q does not start with /", p)
	}
	parts := strings.Split(p[1:], "/")
	for i, s := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(s, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

func pointerGet(doc any, p string) (any, error) {
	tokens, err := splitPointer(p)
	if err != nil {
		return nil, err
	}
	cur := doc
	for _, t := range tokens {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[t]
			if !ok {
				return nil, fmt.Errorf("%q not found", p)
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(c) {
				return nil, fmt.Errorf("%q: no index %s", p, t)
			}
			cur = c[i]
		default:
			return nil, fmt.Errorf("%q not found", p)
		}
	}
	return cur, nil
}

// pointerSet sets the value at p, adding it (insert into a list, "-"
// appends) or replacing one that must exist; it returns the new document.
func pointerSet(doc any, p string, value any, add bool) (any, error) {
	tokens, err := splitPointer(p)
	if err != nil {
		return nil, err
	}
	if len(tokens) == 0 {
		return value, nil
	}
	parentPath := parentPointer(tokens)
	parent, err := pointerGet(doc, parentPath)
	if err != nil {
		return nil, err
	}
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case map[string]any:
		if _, ok := c[last]; !ok && !add {
			return nil, fmt.Errorf("%q not found", p)
		}
		c[last] = value
		return doc, nil
	case []any:
		i := len(c)
		if last != "-" || !add {
			if i, err = strconv.Atoi(last); err != nil || i < 0 || i > len(c) || (!add && i == len(c)) {
				return nil, fmt.Errorf("%q: no index %s", p, last)
			}
		}
		var list []any
		if add {
			list = append(append(append([]any{}, c[:i]...), value), c[i:]...)
		} else {
			list = append([]any{}, c...)
			list[i] = value
		}
		// A list is a value in its parent: write the new one back.
		return pointerSet(doc, parentPath, list, false)
	}
	return nil, fmt.Errorf("%q not found", p)
}

// pointerRemove removes the value at p and returns the new document and
// the value removed.
func pointerRemove(doc any, p string) (any, any, error) {
	tokens, err := splitPointer(p)
	if err != nil {
		return nil, nil, err
	}
	if len(tokens) == 0 {
		return nil, nil, errors.New("cannot remove the whole document")
	}
	parentPath := parentPointer(tokens)
	parent, err := pointerGet(doc, parentPath)
	if err != nil {
		return nil, nil, err
	}
	last := tokens[len(tokens)-1]
	switch c := parent.(type) {
	case map[string]any:
		v, ok := c[last]
		if !ok {
			return nil, nil, fmt.Errorf("%q not found", p)
		}
		delete(c, last)
		return doc, v, nil
	case []any:
		i, err := strconv.Atoi(last)
		if err != nil || i < 0 || i >= len(c) {
			return nil, nil, fmt.Errorf("%q: no index %s", p, last)
		}
		v := c[i]
		list := append(append([]any{}, c[:i]...), c[i+1:]...)
		doc, err = pointerSet(doc, parentPath, list, false)
		return doc, v, err
	}
	return nil, nil, fmt.Errorf("%q not found", p)
}

// parentPointer is the pointer to the parent of the value tokens name.
func parentPointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens[:len(tokens)-1] {
		b.WriteString("/" + strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

func deepCopy(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

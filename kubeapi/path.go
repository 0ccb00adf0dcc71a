package kubeapi

import "strings"

// apiPath is a parsed resource URL:
// /api/v1[/namespaces/NS]/PLURAL[/NAME[/SUB]] or the same under
// /apis/GROUP/VERSION.
type apiPath struct {
	groupVersion string
	namespace    string
	plural       string
	name         string
	subresource  string
}

// parsePath parses p (without a trailing slash); ok is false for paths
// outside the API.
func parsePath(p string) (apiPath, bool) {
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	var out apiPath
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		out.groupVersion, parts = parts[1], parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		out.groupVersion, parts = parts[1]+"/"+parts[2], parts[3:]
	default:
		return apiPath{}, false
	}
	if len(parts) >= 3 && parts[0] == "namespaces" {
		out.namespace, parts = parts[1], parts[2:]
	}
	if len(parts) > 3 {
		return apiPath{}, false
	}
	for i, s := range parts {
		if s == "" {
			return apiPath{}, false
		}
		switch i {
		case 0:
			out.plural = s
		case 1:
			out.name = s
		case 2:
			out.subresource = s
		}
	}
	return out, true
}

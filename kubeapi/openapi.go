package kubeapi

import (
	"net/http"
	"strings"
)

// openAPIIndex is /openapi/v3: one document per served group version.
// kubectl downloads it before create and apply, and reads from the
// group version's document whether the server validates fields itself.
func openAPIIndex() map[string]any {
	paths := map[string]any{}
	for _, gv := range []string{"api/v1", "apis/batch/v1"} {
		paths[gv] = map[string]string{"serverRelativeURL": "/openapi/v3/" + gv}
	}
	return map[string]any{"paths": paths}
}

// openAPIDoc is a minimal OpenAPI v3 document for a group version: the
// collection and item paths, each operation declaring the fieldValidation parameter so
// kubectl sends fieldValidation=Strict and leaves validation to the
// server. It has no schemas yet, so `kubectl explain` does not work.
func openAPIDoc(gv string) map[string]any {
	paths := map[string]any{}
	param := []any{map[string]any{"name": "fieldValidation", "in": "query", "schema": map[string]string{"type": "string"}}}
	for _, k := range kinds {
		if "/"+strings.TrimPrefix(gv, "apis/") != "/"+k.groupVersion() && !(gv == "api/v1" && k.group == "") {
			continue
		}
		prefix := "/" + gv
		if k.namespaced {
			prefix += "/namespaces/{namespace}"
		}
		gvk := map[string]string{"group": k.group, "version": k.version, "kind": k.kind}
		op := map[string]any{"parameters": param, "responses": map[string]any{}, "x-kubernetes-group-version-kind": gvk}
		// kubectl reads the PATCH operation of the item path to decide
		// whether the server validates fields.
		paths[prefix+"/"+k.plural] = map[string]any{"post": op}
		paths[prefix+"/"+k.plural+"/{name}"] = map[string]any{"patch": op}
	}
	return map[string]any{
		"openapi": "3.0.0",
		"info":    map[string]string{"title": "jobcluster", "version": "v1.32.0"},
		"paths":   paths,
	}
}

// serveOpenAPI answers /openapi/v3 and /openapi/v3/{api/v1,apis/batch/v1}.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	p := strings.Trim(strings.TrimPrefix(r.URL.Path, "/openapi/v3"), "/")
	switch p {
	case "":
		writeJSON(w, http.StatusOK, openAPIIndex())
	case "api/v1", "apis/batch/v1":
		writeJSON(w, http.StatusOK, openAPIDoc(p))
	default:
		writeStatus(w, notFound(r.URL.Path))
	}
}

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"k8s.io/client-go/util/jsonpath"

	"github.com/jobcluster/jobcluster/api"
)

// objectJSON is obj in the Kubernetes JSON shape, as generic values, the
// way kubectl's jsonpath and custom-columns printers read objects.
func objectJSON(obj *api.Object) (any, error) {
	data, err := api.MarshalJSON(api.MessageOf(obj))
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// listJSON is objs as kubectl hands a list to jsonpath: a v1 List, or the
// object itself when the user named exactly one.
func listJSON(objs []*api.Object, single bool) (any, error) {
	items := make([]any, 0, len(objs))
	for _, obj := range objs {
		v, err := objectJSON(obj)
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	if single && len(items) == 1 {
		return items[0], nil
	}
	return map[string]any{"apiVersion": "v1", "kind": "List", "metadata": map[string]any{"resourceVersion": ""}, "items": items}, nil
}

// relaxedBraces turns a bare kubectl path (".metadata.name") into a
// template ("{.metadata.name}"), as kubectl's --sort-by and custom-columns
// accept both.
func relaxedBraces(path string) string {
	if strings.HasPrefix(path, "{") {
		return path
	}
	return "{" + path + "}"
}

// newJSONPath parses a template, naming the flag in errors.
func newJSONPath(what, tmpl string) (*jsonpath.JSONPath, error) {
	jp := jsonpath.New(what).AllowMissingKeys(true)
	if err := jp.Parse(tmpl); err != nil {
		return nil, fmt.Errorf("error parsing jsonpath %s: %w", tmpl, err)
	}
	return jp, nil
}

// printJSONPath writes what the template picks out of the objects, as
// kubectl -o jsonpath=TEMPLATE does.
func printJSONPath(out io.Writer, tmpl string, objs []*api.Object, single bool) error {
	jp, err := newJSONPath("jsonpath", tmpl)
	if err != nil {
		return err
	}
	data, err := listJSON(objs, single)
	if err != nil {
		return err
	}
	if err := jp.Execute(out, data); err != nil {
		return fmt.Errorf("error executing jsonpath %q: %w", tmpl, err)
	}
	return nil
}

var columnSpecRE = regexp.MustCompile(`^([^:]+):(.+)$`)

// customColumns parses kubectl's -o custom-columns=NAME:PATH,...
func customColumns(spec string) (header []string, paths []*jsonpath.JSONPath, err error) {
	if spec == "" {
		return nil, nil, fmt.Errorf("custom-columns format specified but no custom columns given")
	}
	for _, col := range strings.Split(spec, ",") {
		m := columnSpecRE.FindStringSubmatch(col)
		if m == nil {
			return nil, nil, fmt.Errorf("unexpected custom-columns spec: %s, expected <header>:<json-path-expr>", col)
		}
		jp, err := newJSONPath(m[1], relaxedBraces(m[2]))
		if err != nil {
			return nil, nil, err
		}
		header = append(header, m[1])
		paths = append(paths, jp)
	}
	return header, paths, nil
}

// printCustomColumns writes one row per object with the columns' values
// ("<none>" where a path finds nothing), as kubectl does.
func printCustomColumns(out io.Writer, spec string, objs []*api.Object) error {
	header, paths, err := customColumns(spec)
	if err != nil {
		return err
	}
	var rows [][]string
	for _, obj := range objs {
		v, err := objectJSON(obj)
		if err != nil {
			return err
		}
		row := make([]string, len(paths))
		for i, jp := range paths {
			row[i] = cellOf(jp, v)
		}
		rows = append(rows, row)
	}
	return writeTable(out, header, rows)
}

// cellOf is what jp finds in v, comma-joined, or "<none>".
func cellOf(jp *jsonpath.JSONPath, v any) string {
	results, err := jp.FindResults(v)
	if err != nil || len(results) == 0 || len(results[0]) == 0 {
		return "<none>"
	}
	var parts []string
	for _, r := range results[0] {
		var b bytes.Buffer
		if err := jp.PrintResults(&b, []reflect.Value{r}); err != nil {
			return "<none>"
		}
		parts = append(parts, b.String())
	}
	return strings.Join(parts, ",")
}

// sortByPath orders objs by the value path finds in each, as kubectl's
// --sort-by does: numbers by value, anything else by its text; objects
// where it finds nothing come first.
func sortByPath(objs []*api.Object, path string) error {
	jp, err := newJSONPath("sort-by", relaxedBraces(path))
	if err != nil {
		return err
	}
	type keyed struct {
		obj   *api.Object
		found bool
		num   float64
		isNum bool
		text  string
	}
	keys := make([]keyed, len(objs))
	for i, obj := range objs {
		v, err := objectJSON(obj)
		if err != nil {
			return err
		}
		keys[i].obj = obj
		results, err := jp.FindResults(v)
		if err != nil || len(results) == 0 || len(results[0]) == 0 {
			continue
		}
		keys[i].found = true
		switch x := results[0][0].Interface().(type) {
		case float64:
			keys[i].num, keys[i].isNum = x, true
		default:
			keys[i].text = fmt.Sprint(x)
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if !a.found || !b.found {
			return !a.found && b.found
		}
		if a.isNum && b.isNum {
			return a.num < b.num
		}
		return a.text < b.text
	})
	for i := range keys {
		objs[i] = keys[i].obj
	}
	return nil
}

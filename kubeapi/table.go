package kubeapi

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/jobcluster/jobcluster/api"
)

// TableFunc lays out objects of one Kubernetes kind ("Job") as our CLI's
// get does: the header and rows, with the -o wide columns appended when
// wide is set. The handler takes it from the CLI so both print the same
// columns.
type TableFunc func(kind string, objs []*api.Object, now time.Time, wide bool) (header []string, rows [][]string)

// wantsTable says whether the client asked for a server-side Table, as
// kubectl's get does: Accept: application/json;as=Table;v=v1;g=meta.k8s.io.
func wantsTable(r *http.Request) bool {
	for _, a := range strings.Split(r.Header.Get("Accept"), ",") {
		if strings.Contains(a, "as=Table") && strings.Contains(a, "g=meta.k8s.io") {
			return true
		}
	}
	return false
}

// buildTable is the metav1.Table of objs: the narrow columns at priority 0
// and the wide ones at priority 1, which kubectl shows with -o wide. Each
// row carries its object, so -o name and --show-labels work.
func buildTable(f TableFunc, k kind, objs []*api.Object, encoded []json.RawMessage, meta metav1.ListMeta, now time.Time) *metav1.Table {
	narrow, _ := f(k.kind, nil, now, false)
	header, rows := f(k.kind, objs, now, true)
	t := &metav1.Table{
		TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"},
		ListMeta: meta,
		Rows:     []metav1.TableRow{},
	}
	for i, name := range header {
		col := metav1.TableColumnDefinition{Name: columnName(name), Type: "string"}
		if i == 0 && name == "NAME" {
			col.Format = "name"
		}
		if i >= len(narrow) {
			col.Priority = 1
		}
		t.ColumnDefinitions = append(t.ColumnDefinitions, col)
	}
	for i, row := range rows {
		cells := make([]any, len(row))
		for j, c := range row {
			cells[j] = c
		}
		tr := metav1.TableRow{Cells: cells}
		if i < len(encoded) {
			tr.Object = runtime.RawExtension{Raw: encoded[i]}
		}
		t.Rows = append(t.Rows, tr)
	}
	return t
}

// columnName turns our header ("LAST SCHEDULE") into Kubernetes' column
// name ("Last Schedule"), which kubectl upper-cases again.
func columnName(h string) string {
	words := strings.Fields(strings.ToLower(h))
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

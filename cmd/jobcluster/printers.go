package main

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
)

// Output formats of -o.
const (
	outputTable = ""
	outputWide  = "wide"
	outputJSON  = "json"
	outputYAML  = "yaml"
	outputName  = "name"
)

// checkOutput refuses an -o value that is not among allowed, in kubectl's words.
func checkOutput(format string, allowed ...string) error {
	for _, a := range allowed {
		if format == a || (a == outputName && templateOutput(format)) {
			return nil
		}
	}
	var names []string
	for _, a := range allowed {
		if a != outputTable {
			names = append(names, a)
		}
	}
	if slices.Contains(allowed, outputName) {
		names = append(names, "jsonpath=TEMPLATE", "custom-columns=SPEC")
	}
	return fmt.Errorf("unable to match a printer suitable for the output format %q, allowed formats are: %s", format, strings.Join(names, ","))
}

// scope is where a listing looked: one namespace, or all of them (-A),
// which adds kubectl's NAMESPACE column; and the label columns asked for
// (--show-labels, -L).
type scope struct {
	namespace    string
	all          bool
	showLabels   bool
	labelColumns []string
}

// Output formats that take an argument, as kubectl's.
const (
	outputJSONPathPrefix      = "jsonpath="
	outputCustomColumnsPrefix = "custom-columns="
)

// templateOutput reports whether format is -o jsonpath=... or
// custom-columns=..., which checkOutput lets through wherever "name" is
// allowed.
func templateOutput(format string) bool {
	return strings.HasPrefix(format, outputJSONPathPrefix) || strings.HasPrefix(format, outputCustomColumnsPrefix)
}

// printObjects writes objects of one resource in the chosen format. single
// is true when the user named exactly one object: -o json and -o yaml then
// print the object itself rather than a List.
func printObjects(out, errOut io.Writer, r *api.Resource, objs []*api.Object, format string, single bool, now time.Time, sc scope) error {
	return buffered(out, func(out io.Writer) error {
		switch {
		case format == outputJSON || format == outputYAML:
			return printStructured(out, objs, format, single)
		case strings.HasPrefix(format, outputJSONPathPrefix):
			return printJSONPath(out, strings.TrimPrefix(format, outputJSONPathPrefix), objs, single)
		}
		if len(objs) == 0 {
			return printNoResources(errOut, r, sc)
		}
		if strings.HasPrefix(format, outputCustomColumnsPrefix) {
			return printCustomColumns(out, strings.TrimPrefix(format, outputCustomColumnsPrefix), objs)
		}
		if format == outputName {
			for _, obj := range objs {
				if _, err := fmt.Fprintln(out, nameLine(r, obj)); err != nil {
					return fmt.Errorf("print names: %w", err)
				}
			}
			return nil
		}
		header, rows := tableOf(r, objs, now, format == outputWide, sc)
		return writeTable(out, header, rows)
	})
}

// buffered runs print on a buffer that it then writes to out: a table or
// a list of names is written in a few calls instead of one per cell or
// line, which at 100,000 rows were half of get's time.
func buffered(out io.Writer, print func(io.Writer) error) error {
	bw := bufio.NewWriterSize(out, outputBuffer)
	err := print(bw)
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	return err
}

// nameLine is an object as -o name prints it.
func nameLine(r *api.Resource, obj *api.Object) string {
	return r.GroupKind() + "/" + api.NameOf(obj)
}

// tableOf is the table of the objects of kind r among objs, with the
// label and namespace columns sc asks for.
func tableOf(r *api.Resource, objs []*api.Object, now time.Time, wide bool, sc scope) (header []string, rows [][]string) {
	header, rows = table(r, objs, now, wide)
	if len(sc.labelColumns) > 0 || sc.showLabels {
		header, rows = addLabelColumns(header, rows, r, objs, sc)
	}
	if sc.all && r.Namespaced {
		header = append([]string{"NAMESPACE"}, header...)
		i := 0
		for _, obj := range objs {
			if api.ResourceOf(obj) == r {
				rows[i] = append([]string{api.NamespaceOf(api.MetadataOf(obj))}, rows[i]...)
				i++
			}
		}
	}
	return header, rows
}

// addLabelColumns adds a column per -L key (its value, empty when unset)
// and, with --show-labels, kubectl's LABELS column.
func addLabelColumns(header []string, rows [][]string, r *api.Resource, objs []*api.Object, sc scope) ([]string, [][]string) {
	for _, key := range sc.labelColumns {
		name := key
		if i := strings.LastIndex(name, "/"); i >= 0 {
			name = name[i+1:]
		}
		header = append(header, strings.ToUpper(name))
	}
	if sc.showLabels {
		header = append(header, "LABELS")
	}
	i := 0
	for _, obj := range objs {
		if api.ResourceOf(obj) != r {
			continue
		}
		labels := api.MetadataOf(obj).GetLabels()
		for _, key := range sc.labelColumns {
			rows[i] = append(rows[i], labels[key])
		}
		if sc.showLabels {
			rows[i] = append(rows[i], labelsText(labels))
		}
		i++
	}
	return header, rows
}

// labelsText is labels as kubectl's LABELS column shows them: k=v pairs
// ordered by key, or <none>.
func labelsText(labels map[string]string) string {
	if len(labels) == 0 {
		return "<none>"
	}
	keys := slices.Sorted(maps.Keys(labels))
	for i, k := range keys {
		keys[i] = k + "=" + labels[k]
	}
	return strings.Join(keys, ",")
}

// printNoResources tells, on stderr, that a list came back empty.
func printNoResources(errOut io.Writer, r *api.Resource, sc scope) error {
	msg := "No resources found"
	if r.Namespaced && !sc.all {
		msg += " in " + api.NamespaceOr(sc.namespace) + " namespace."
	}
	_, err := fmt.Fprintln(errOut, msg)
	return err
}

// printStructured prints objects as JSON or YAML in the Kubernetes shape.
func printStructured(out io.Writer, objs []*api.Object, format string, single bool) error {
	var (
		data []byte
		err  error
	)
	switch {
	case single && len(objs) == 1 && format == outputJSON:
		data, err = api.MarshalJSON(api.MessageOf(objs[0]))
	case single && len(objs) == 1:
		data, err = api.MarshalYAML(api.MessageOf(objs[0]))
	default:
		items := make([]proto.Message, len(objs))
		for i, obj := range objs {
			items[i] = api.MessageOf(obj)
		}
		if format == outputJSON {
			data, err = api.MarshalListJSON(items)
		} else {
			data, err = api.MarshalListYAML(items)
		}
	}
	if err != nil {
		return fmt.Errorf("encode %s: %w", format, err)
	}
	return writeWithNewline(out, data)
}

func writeWithNewline(out io.Writer, data []byte) error {
	if len(data) > 0 && data[len(data)-1] != '\n' {
		data = append(data, '\n')
	}
	if _, err := out.Write(data); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// outputBuffer is what printers gather before they write to the terminal
// or pipe.
const outputBuffer = 64 << 10

// writeTable prints rows under an upper-case header, columns aligned and
// separated by three spaces as kubectl does.
func writeTable(out io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(out, 6, 4, 3, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		fmt.Fprintln(tw, strings.Join(row, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// age is the time since ts in kubectl's short form, "<unknown>" when unset.
func age(ts *timestamppb.Timestamp, now time.Time) string {
	if ts == nil {
		return "<unknown>"
	}
	return humanDuration(now.Sub(ts.AsTime()))
}

// humanDuration renders d as kubectl does (apimachinery's HumanDuration):
// precise when short, coarser as it grows ("45s", "2m5s", "10m", "3h4m",
// "5d", "2y").
func humanDuration(d time.Duration) string {
	// Up to two seconds into the future counts as now: clocks differ a little.
	if seconds := int(d.Seconds()); seconds < -1 {
		return "<invalid>"
	} else if seconds < 0 {
		return "0s"
	} else if seconds < 60*2 {
		return fmt.Sprintf("%ds", seconds)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		if s := int(d/time.Second) % 60; s != 0 {
			return fmt.Sprintf("%dm%ds", minutes, s)
		}
		return fmt.Sprintf("%dm", minutes)
	} else if minutes < 60*3 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	if hours < 8 {
		if m := minutes % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", hours, m)
		}
		return fmt.Sprintf("%dh", hours)
	} else if hours < 48 {
		return fmt.Sprintf("%dh", hours)
	} else if hours < 24*8 {
		if h := hours % 24; h != 0 {
			return fmt.Sprintf("%dd%dh", hours/24, h)
		}
		return fmt.Sprintf("%dd", hours/24)
	} else if hours < 24*365*2 {
		return fmt.Sprintf("%dd", hours/24)
	} else if hours < 24*365*8 {
		if dy := (hours / 24) % 365; dy != 0 {
			return fmt.Sprintf("%dy%dd", hours/24/365, dy)
		}
		return fmt.Sprintf("%dy", hours/24/365)
	}
	return fmt.Sprintf("%dy", hours/24/365)
}

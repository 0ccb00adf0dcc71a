package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
	"sigs.k8s.io/yaml"
)

// MaxManifestBytes bounds the input of DecodeManifests: decoding costs time
// and memory in proportion to the input, and a server takes no request
// larger than this either.
const MaxManifestBytes = 3 << 20

// ErrNoObjects is returned by DecodeManifests for input that holds no
// object at all (only comments, separators or nothing).
var ErrNoObjects = errors.New("no objects found in the manifest")

// DecodeManifests decodes one file of YAML (several documents separated by
// `---` lines) or JSON into objects, strictly: unknown fields, values of the
// wrong type and duplicate keys are errors naming the field, as kubectl
// reports them. Empty documents are skipped. Accepted are batch/v1 Job,
// batch/v1 and batch/v1beta1 CronJob (stored as batch/v1) and v1 List of
// those. The objects come back with SetDefaults applied and valid. If any
// document has a problem, it returns no objects and an error listing every
// problem, each prefixed by the document's position when the file holds
// several: `document 2 (Job "pi"): spec.completions: Invalid value: -1: ...`.
// Input over MaxManifestBytes is refused before it is parsed.
func DecodeManifests(data []byte) ([]*Object, error) {
	objs, _, err := DecodeManifestsWithWarnings(data)
	return objs, err
}

// DecodeManifestsWithWarnings is DecodeManifests that also returns a
// warning for each valid Kubernetes field it dropped because it has no
// meaning here (`spec.template.spec.serviceAccountName: ignored by
// jobcluster: ...`), for the caller to print as kubectl prints the
// server's warnings. A Kubernetes field jobcluster cannot honour is an
// error (`Forbidden: not supported by jobcluster`), never "unknown field",
// which stays for names Kubernetes does not have either.
func DecodeManifestsWithWarnings(data []byte) ([]*Object, []string, error) {
	if len(data) > MaxManifestBytes {
		return nil, nil, fmt.Errorf("manifest is %d bytes, over the limit of %d (3 MiB): split it into several files", len(data), MaxManifestBytes)
	}
	docs, err := splitDocuments(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")))
	if err != nil {
		return nil, nil, err
	}
	type parsed struct {
		raw any
		err error
	}
	var parsedDocs []parsed
	for _, doc := range docs {
		raw, err := parseDocument(doc)
		if err == nil && raw == nil {
			continue
		}
		parsedDocs = append(parsedDocs, parsed{raw, err})
	}
	if len(parsedDocs) == 0 {
		return nil, nil, ErrNoObjects
	}
	var (
		objs     []*Object
		errs     fieldErrors
		warnings []string
		seen     = map[string]bool{}
	)
	for i, doc := range parsedDocs {
		prefix := ""
		if len(parsedDocs) > 1 {
			prefix = fmt.Sprintf("document %d", i+1)
		}
		if doc.err != nil {
			errs.add(withPrefix(prefix, doc.err))
			continue
		}
		for _, d := range decodeObject(doc.raw, "") {
			key := d.kind + "/" + d.name
			if len(d.errs) == 0 && seen[key] {
				d.errs = append(d.errs, duplicate("metadata.name", d.name))
			}
			seen[key] = true
			label := strings.TrimSpace(prefix + " " + d.where)
			if label != "" && d.kind != "" && d.name != "" {
				label = strings.TrimSpace(fmt.Sprintf("%s (%s %q)", label, d.kind, d.name))
			}
			for _, e := range d.errs {
				errs.add(withPrefix(label, e))
			}
			for _, w := range d.warnings {
				warnings = append(warnings, withPrefix(label, errors.New(w)).Error())
			}
			if d.obj != nil {
				objs = append(objs, d.obj)
			}
		}
	}
	if err := errs.join(); err != nil {
		return nil, nil, err
	}
	if len(objs) == 0 {
		return nil, nil, ErrNoObjects
	}
	return objs, warnings, nil
}

func withPrefix(prefix string, err error) error {
	if prefix == "" {
		return err
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// document is one YAML document of a file and the line it starts on.
type document struct {
	line int
	data []byte
}

// splitDocuments cuts a file at lines that start with `---` (or `...`)
// followed by nothing but spaces or a comment, as kubectl's YAML reader
// does.
func splitDocuments(data []byte) ([]document, error) {
	var docs []document
	start, startLine, line := 0, 1, 1
	for pos := 0; pos < len(data); line++ {
		next := len(data)
		if i := bytes.IndexByte(data[pos:], '\n'); i >= 0 {
			next = pos + i + 1
		}
		text := data[pos:next]
		if bytes.HasPrefix(text, []byte("---")) || bytes.HasPrefix(text, []byte("...")) {
			rest := strings.TrimSpace(string(text[3:]))
			if rest != "" && rest[0] != '#' {
				return nil, fmt.Errorf("yaml: line %d: invalid YAML document separator: %s", line, rest)
			}
			docs = append(docs, document{startLine, data[start:pos]})
			start, startLine = next, line+1
		}
		pos = next
	}
	return append(docs, document{startLine, data[start:]}), nil
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

// parseDocument turns one document into generic JSON values (numbers as
// json.Number); nil for an empty document. Line numbers in YAML errors are
// made relative to the whole file.
func parseDocument(doc document) (any, error) {
	j, err := yaml.YAMLToJSONStrict(doc.data)
	if err != nil {
		blockEnd := strings.Contains(err.Error(), "did not find expected")
		msg := yamlLineRE.ReplaceAllStringFunc(err.Error(), func(s string) string {
			n, _ := strconv.Atoi(strings.TrimPrefix(s, "line "))
			if blockEnd {
				// The parser names the last line of the block it was in;
				// the line at fault (mis-indented) is the next one.
				n = nextContentLine(doc.data, n)
			}
			return "line " + strconv.Itoa(n+doc.line-1)
		})
		head, list, ok := strings.Cut(msg, "unmarshal errors:\n")
		if !ok {
			return nil, errors.New(msg)
		}
		var errs []error
		for l := range strings.SplitSeq(list, "\n") {
			errs = append(errs, errors.New(head+strings.TrimSpace(l)))
		}
		return nil, errors.Join(errs...)
	}
	dec := json.NewDecoder(bytes.NewReader(j))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("decode document: %w", err)
	}
	return raw, nil
}

// nextContentLine is the number of the first line after line n (1-based)
// of data that holds more than blanks or a comment, or n when there is
// none.
func nextContentLine(data []byte, n int) int {
	lines := strings.Split(string(data), "\n")
	for i := n; i < len(lines); i++ {
		if t := strings.TrimSpace(lines[i]); t != "" && !strings.HasPrefix(t, "#") {
			return i + 1
		}
	}
	return n
}

// decoded is one object of a document (a List holds several) with what
// went wrong with it.
type decoded struct {
	obj        *Object
	where      string // "items[2]" inside a List
	kind, name string
	errs       []error
	warnings   []string
}

// decodeObject decodes a generic object by its apiVersion and kind.
func decodeObject(raw any, where string) []decoded {
	fields, ok := raw.(map[string]any)
	if !ok {
		return []decoded{{where: where, errs: []error{
			fmt.Errorf("expected an object with apiVersion and kind, got %s", jsonValue{raw})}}}
	}
	apiVersion, _ := fields["apiVersion"].(string)
	kind, _ := fields["kind"].(string)
	meta, _ := fields["metadata"].(map[string]any)
	name, _ := meta["name"].(string)
	d := decoded{where: where, kind: kind, name: name}
	switch {
	case kind == "":
		d.errs = []error{fmt.Errorf("Object 'Kind' is missing in '%s'", jsonValue{raw})}
	case apiVersion == "":
		d.errs = []error{fmt.Errorf("Object 'apiVersion' is missing in '%s'", jsonValue{raw})}
	case apiVersion == "v1" && kind == "List" && where == "":
		return decodeList(fields)
	case apiVersion == "batch/v1" && kind == "Job":
		j := &Job{}
		d.obj = &Object{Kind: &Object_Job{Job: j}}
		d.errs, d.warnings = decodeInto(fields, j)
	case (apiVersion == "batch/v1" || apiVersion == "batch/v1beta1") && kind == "CronJob":
		c := &CronJob{}
		d.obj = &Object{Kind: &Object_CronJob{CronJob: c}}
		d.errs, d.warnings = decodeInto(fields, c)
	case apiVersion == "v1" && kind == "ConfigMap":
		c := &ConfigMap{}
		d.obj = &Object{Kind: &Object_ConfigMap{ConfigMap: c}}
		d.errs, d.warnings = decodeInto(fields, c)
	case apiVersion == "v1" && kind == "Secret":
		s := &Secret{}
		d.obj = &Object{Kind: &Object_Secret{Secret: s}}
		d.errs, d.warnings = decodeInto(fields, s)
	default:
		d.errs = []error{fmt.Errorf("no matches for kind %q in version %q: jobcluster takes batch/v1 Job and CronJob (batch/v1beta1 CronJob too), and v1 ConfigMap and Secret", kind, apiVersion)}
	}
	if len(d.errs) > 0 {
		d.obj = nil
		return []decoded{d}
	}
	SetDefaults(d.obj)
	d.errs = validateObject(d.obj)
	if len(d.errs) > 0 {
		d.obj = nil
	}
	if c := d.obj.GetCronJob(); c != nil {
		c.ApiVersion = "batch/v1"
	}
	return []decoded{d}
}

// decodeList decodes the items of a kind List.
func decodeList(fields map[string]any) []decoded {
	var out []decoded
	for _, key := range sortedKeys(fields) {
		switch key {
		case "apiVersion", "kind", "metadata":
		case "items":
		default:
			out = append(out, decoded{errs: []error{&FieldError{Type: ErrorTypeUnknownField, Field: key}}})
		}
	}
	items, ok := fields["items"].([]any)
	if !ok && fields["items"] != nil {
		out = append(out, decoded{errs: []error{invalid("items", jsonValue{fields["items"]}, "expected list")}})
	}
	for i, item := range items {
		out = append(out, decodeObject(item, fmt.Sprintf("items[%d]", i))...)
	}
	return out
}

// decodeInto fills m from generic JSON values by walking the protobuf
// schema, reporting every problem with its field path.
func decodeInto(fields map[string]any, m proto.Message) ([]error, []string) {
	var w walker
	w.message("", fields, m.ProtoReflect())
	return w.errs, w.warnings
}

// walker converts generic JSON values into a message and collects errors
// and warnings.
type walker struct {
	errs     []error
	warnings []string
}

func (w *walker) wrongType(path string, raw any, want string) {
	if _, ok := raw.(string); !ok {
		if _, ok := raw.(json.Number); !ok {
			raw = jsonValue{raw}
		}
	}
	w.errs = append(w.errs, invalid(path, raw, "expected "+want))
}

func childPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func (w *walker) message(path string, raw any, m protoreflect.Message) {
	fields, ok := raw.(map[string]any)
	if !ok {
		w.wrongType(path, raw, "object")
		return
	}
	desc := m.Descriptor().Fields()
	for _, key := range sortedKeys(fields) {
		p := childPath(path, key)
		var fd protoreflect.FieldDescriptor
		for i := range desc.Len() {
			if jsonName(desc.Get(i)) == key {
				fd = desc.Get(i)
			}
		}
		if fd == nil {
			f, known := k8sOnlyField(m.Descriptor(), key)
			switch {
			case !known:
				w.errs = append(w.errs, &FieldError{Type: ErrorTypeUnknownField, Field: p})
			case f.support == Refused:
				w.errs = append(w.errs, &FieldError{Type: ErrorTypeForbidden, Field: p, Detail: "not supported by jobcluster: " + f.why})
			case f.support == Ignored:
				w.warnings = append(w.warnings, p+": ignored by jobcluster: "+f.why)
			}
			continue
		}
		val := fields[key]
		switch {
		case val == nil: // null leaves the field unset, as in Kubernetes
		case fd.IsList():
			w.list(p, val, m.Mutable(fd).List(), fd)
		case fd.IsMap():
			w.mapField(p, val, m.Mutable(fd).Map(), fd)
		case fd.Message() != nil && fd.Message().FullName() != timestampName:
			w.message(p, val, m.Mutable(fd).Message())
		default:
			if v, ok := w.value(p, val, fd, false); ok {
				m.Set(fd, v)
			}
		}
	}
}

func (w *walker) list(path string, raw any, list protoreflect.List, fd protoreflect.FieldDescriptor) {
	items, ok := raw.([]any)
	if !ok {
		w.wrongType(path, raw, "list")
		return
	}
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		if fd.Message() != nil && fd.Message().FullName() != timestampName {
			w.message(p, item, list.AppendMutable().Message())
		} else if v, ok := w.value(p, item, fd, false); ok {
			list.Append(v)
		}
	}
}

func (w *walker) mapField(path string, raw any, m protoreflect.Map, fd protoreflect.FieldDescriptor) {
	entries, ok := raw.(map[string]any)
	if !ok {
		w.wrongType(path, raw, "object")
		return
	}
	if fd.MapKey().Kind() != protoreflect.StringKind {
		w.errs = append(w.errs, forbidden(path, "maps with non-string keys cannot be decoded"))
		return
	}
	valueFD := fd.MapValue()
	for _, k := range sortedKeys(entries) {
		p := fmt.Sprintf("%s[%s]", path, k)
		key := protoreflect.ValueOfString(k).MapKey()
		if valueFD.Message() != nil && valueFD.Message().FullName() != timestampName {
			w.message(p, entries[k], m.Mutable(key).Message())
		} else if v, ok := w.value(p, entries[k], valueFD, quantityFields[fd.FullName()]); ok {
			m.Set(key, v)
		}
	}
}

// value converts a scalar (or a timestamp string). quantity lets a string
// field take a number, kept as written.
func (w *walker) value(path string, raw any, fd protoreflect.FieldDescriptor, quantity bool) (protoreflect.Value, bool) {
	s, isString := raw.(string)
	n, isNumber := raw.(json.Number)
	switch fd.Kind() {
	case protoreflect.MessageKind:
		if !isString {
			w.wrongType(path, raw, "RFC 3339 timestamp string")
			return protoreflect.Value{}, false
		}
		t, err := time.Parse(time.RFC3339, s)
		ts := timestamppb.New(t)
		if err != nil || ts.CheckValid() != nil {
			w.errs = append(w.errs, invalid(path, s, `expected RFC 3339 timestamp, e.g. "2006-01-02T15:04:05Z"`))
			return protoreflect.Value{}, false
		}
		return protoreflect.ValueOfMessage(ts.ProtoReflect()), true
	case protoreflect.StringKind:
		if isNumber && quantity {
			return protoreflect.ValueOfString(n.String()), true
		}
		if isString {
			return protoreflect.ValueOfString(s), true
		}
		if quantity {
			w.wrongType(path, raw, "quantity, a string or a number")
			break
		}
		w.wrongType(path, raw, "string")
	case protoreflect.BoolKind:
		if b, ok := raw.(bool); ok {
			return protoreflect.ValueOfBool(b), true
		}
		w.wrongType(path, raw, "boolean")
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if i, ok := w.integer(path, raw, math.MinInt32, math.MaxInt32); ok {
			return protoreflect.ValueOfInt32(int32(i)), true
		}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if i, ok := w.integer(path, raw, math.MinInt64, math.MaxInt64); ok {
			return protoreflect.ValueOfInt64(i), true
		}
	case protoreflect.BytesKind:
		if !isString {
			w.wrongType(path, raw, "base64 string")
			break
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			w.errs = append(w.errs, invalid(path, "<value omitted>", "illegal base64 data: "+err.Error()))
			break
		}
		return protoreflect.ValueOfBytes(b), true
	default:
		// Manifests hold no enums, floats or unsigned integers.
		w.errs = append(w.errs, forbidden(path, "a field of kind "+fd.Kind().String()+" cannot be set in a manifest"))
	}
	return protoreflect.Value{}, false
}

// integer reads a whole number; 5.0 and 1e3 are whole, 2.5 is not.
func (w *walker) integer(path string, raw any, lo, hi int64) (int64, bool) {
	n, ok := raw.(json.Number)
	if !ok {
		w.wrongType(path, raw, "integer")
		return 0, false
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	inRange := err == nil
	if err != nil {
		f, ferr := strconv.ParseFloat(n.String(), 64)
		if ferr == nil && f != math.Trunc(f) {
			w.wrongType(path, raw, "integer")
			return 0, false
		}
		if ferr == nil && f >= math.MinInt64 && f < math.MaxInt64 {
			i, inRange = int64(f), true
		}
	}
	if !inRange || i < lo || i > hi {
		w.errs = append(w.errs, invalid(path, n, fmt.Sprintf("must be an integer between %d and %d", lo, hi)))
		return 0, false
	}
	return i, true
}

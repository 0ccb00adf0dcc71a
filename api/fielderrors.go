package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// ErrorType says what is wrong with a field. Its String form is the wording
// Kubernetes prints ("Invalid value").
type ErrorType string

// The kinds of field errors, named as in k8s.io/apimachinery's field package.
const (
	// ErrorTypeInvalid is a value that is malformed or out of range.
	ErrorTypeInvalid ErrorType = "Invalid"
	// ErrorTypeRequired is a field that must be set and is not.
	ErrorTypeRequired ErrorType = "Required"
	// ErrorTypeNotSupported is a value outside a fixed set of choices.
	ErrorTypeNotSupported ErrorType = "NotSupported"
	// ErrorTypeDuplicate is a value that must be unique and is not.
	ErrorTypeDuplicate ErrorType = "Duplicate"
	// ErrorTypeTooLong is a value longer than allowed.
	ErrorTypeTooLong ErrorType = "TooLong"
	// ErrorTypeTooMany is a list with more items than allowed.
	ErrorTypeTooMany ErrorType = "TooMany"
	// ErrorTypeForbidden is a field that may not be set in this context.
	ErrorTypeForbidden ErrorType = "Forbidden"
	// ErrorTypeUnknownField is a manifest field the schema does not have.
	ErrorTypeUnknownField ErrorType = "UnknownField"
)

// String returns the wording Kubernetes uses for the error type.
func (t ErrorType) String() string {
	switch t {
	case ErrorTypeInvalid:
		return "Invalid value"
	case ErrorTypeRequired:
		return "Required value"
	case ErrorTypeNotSupported:
		return "Unsupported value"
	case ErrorTypeDuplicate:
		return "Duplicate value"
	case ErrorTypeTooLong:
		return "Too long"
	case ErrorTypeTooMany:
		return "Too many"
	case ErrorTypeForbidden:
		return "Forbidden"
	case ErrorTypeUnknownField:
		return "Unknown field"
	}
	return string(t)
}

// FieldError is one problem with one field of a manifest or object. Its
// Error text has the format of k8s.io/apimachinery's field.Error, for
// example `spec.completions: Invalid value: -1: must be greater than or
// equal to 0`.
type FieldError struct {
	Type     ErrorType
	Field    string // path like spec.template.spec.containers[0].image
	BadValue any
	Detail   string
}

// Error formats the problem the way kubectl prints it.
func (e *FieldError) Error() string {
	if e.Type == ErrorTypeUnknownField {
		return fmt.Sprintf("unknown field %q", e.Field)
	}
	return e.Field + ": " + e.body()
}

func (e *FieldError) body() string {
	var s string
	switch e.Type {
	case ErrorTypeRequired, ErrorTypeForbidden, ErrorTypeTooLong:
		s = e.Type.String()
	default:
		s = e.Type.String()
		if e.BadValue != omitValue {
			s += ": " + formatBadValue(e.BadValue)
		}
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// formatBadValue prints a value like field.Error does: strings quoted,
// numbers and booleans bare, nil as null.
func formatBadValue(v any) string {
	if v == nil {
		return "null"
	}
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer {
		if rv.IsNil() {
			return "null"
		}
		v = rv.Elem().Interface()
	}
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("%q", t)
	case int, int32, int64, uint32, uint64, float32, float64, bool:
		return fmt.Sprint(t)
	case fmt.Stringer:
		return t.String()
	}
	return fmt.Sprintf("%#v", v)
}

// jsonValue shows a structured bad value (a list, an object) as compact
// JSON instead of Go syntax.
type jsonValue struct{ v any }

func (j jsonValue) String() string {
	b, err := json.Marshal(j.v)
	if err != nil {
		return fmt.Sprint(j.v)
	}
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// omitValue as a FieldError's BadValue leaves the value out of its text,
// as field.OmitValueType does: for problems of a whole rule or list.
var omitValue any = omitValueType{}

type omitValueType struct{}

// Constructors keep validation code short and the wording uniform.

func invalid(field string, value any, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeInvalid, Field: field, BadValue: value, Detail: detail}
}

func required(field, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeRequired, Field: field, Detail: detail}
}

func notSupported(field string, value any, supported ...string) *FieldError {
	quoted := make([]string, len(supported))
	for i, s := range supported {
		quoted[i] = fmt.Sprintf("%q", s)
	}
	return &FieldError{Type: ErrorTypeNotSupported, Field: field, BadValue: value,
		Detail: "supported values: " + strings.Join(quoted, ", ")}
}

func duplicate(field string, value any) *FieldError {
	return &FieldError{Type: ErrorTypeDuplicate, Field: field, BadValue: value}
}

func tooMany(field string, actual, limit int) *FieldError {
	return &FieldError{Type: ErrorTypeTooMany, Field: field, BadValue: actual,
		Detail: fmt.Sprintf("must have at most %d items", limit)}
}

func tooLong(field string, value any, limit int) *FieldError {
	return &FieldError{Type: ErrorTypeTooLong, Field: field, BadValue: value,
		Detail: fmt.Sprintf("may not be more than %d bytes", limit)}
}

func forbidden(field, detail string) *FieldError {
	return &FieldError{Type: ErrorTypeForbidden, Field: field, Detail: detail}
}

// fieldErrors collects problems; join returns them as one error, nil when
// there are none.
type fieldErrors []error

func (fe *fieldErrors) add(errs ...error) {
	for _, err := range errs {
		if err != nil {
			*fe = append(*fe, err)
		}
	}
}

func (fe fieldErrors) join() error {
	if len(fe) == 0 {
		return nil
	}
	return errors.Join(fe...)
}

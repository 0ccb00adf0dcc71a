package ui

import (
	"cmp"
	"slices"
	"strings"
	"time"
)

// columns are the ways a table's rows can be ordered, by the key a
// header links to.
type columns[T any] map[string]func(a, b T) int

// sortRows orders rows by spec, a column key with "-" in front for
// descending, falling back to def when spec names no column. Rows that
// compare equal keep their order.
func sortRows[T any](rows []T, spec, def string, cols columns[T]) {
	key, desc := strings.CutPrefix(spec, "-")
	by, ok := cols[key]
	if !ok {
		key, desc = strings.CutPrefix(def, "-")
		by = cols[key]
	}
	if by == nil {
		return
	}
	slices.SortStableFunc(rows, func(a, b T) int {
		if desc {
			return by(b, a)
		}
		return by(a, b)
	})
}

func byString[T any](f func(T) string) func(a, b T) int {
	return func(a, b T) int { return cmp.Compare(f(a), f(b)) }
}

func byInt[T any, N int | int32 | int64 | uint64 | float64](f func(T) N) func(a, b T) int {
	return func(a, b T) int { return cmp.Compare(f(a), f(b)) }
}

func byTime[T any](f func(T) time.Time) func(a, b T) int {
	return func(a, b T) int { return f(a).Compare(f(b)) }
}

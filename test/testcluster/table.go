package testcluster

import "strings"

// TableRow finds the row whose first cell is name in a table the CLI
// printed and returns its cells keyed by the header's column names
// ("LAST SCHEDULE" is one). Columns are aligned under their headers, two
// spaces or more apart, and a cell may hold spaces ("1 (5s ago)").
func TableRow(table, name string) (map[string]string, bool) {
	lines := strings.Split(strings.TrimRight(table, "\n"), "\n")
	header := lines[0]
	var starts []int
	for i := range header {
		if header[i] != ' ' && (i == 0 || i >= 2 && header[i-2:i] == "  ") {
			starts = append(starts, i)
		}
	}
	for _, line := range lines[1:] {
		if f := strings.Fields(line); len(f) == 0 || f[0] != name {
			continue
		}
		row := map[string]string{}
		for i, start := range starts {
			colEnd, end := len(header), len(line)
			if i+1 < len(starts) {
				colEnd, end = starts[i+1], min(starts[i+1], len(line))
			}
			row[strings.TrimSpace(header[start:colEnd])] = strings.TrimSpace(line[min(start, len(line)):end])
		}
		return row, true
	}
	return nil, false
}

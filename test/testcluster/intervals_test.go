package testcluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMaxOverlap(t *testing.T) {
	tests := []struct {
		name      string
		intervals []Interval
		want      int
	}{
		{name: "none", want: 0},
		{name: "one after another", intervals: []Interval{{"a", 1, 2}, {"b", 3, 4}}, want: 1},
		{name: "end and start at the same instant", intervals: []Interval{{"a", 1, 2}, {"b", 2, 3}}, want: 1},
		{name: "two nested in a third", intervals: []Interval{{"a", 1, 10}, {"b", 2, 3}, {"c", 4, 5}}, want: 2},
		{name: "three at once", intervals: []Interval{{"a", 1, 5}, {"b", 2, 6}, {"c", 3, 7}}, want: 3},
		{name: "unfinished run lasts", intervals: []Interval{{"a", 1, 0}, {"b", 9, 10}}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaxOverlap(tt.intervals); got != tt.want {
				t.Errorf("MaxOverlap = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestRecorderIntervals(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		want    []Interval
		wantErr bool
	}{
		{name: "no file yet"},
		{
			name: "a pod restarted in place runs twice",
			file: "start 1 p1\nstart 2 p2\nend 3 p1\nstart 4 p1\nend 5 p2\n",
			want: []Interval{{"p1", 1, 3}, {"p2", 2, 5}, {"p1", 4, 0}},
		},
		{name: "end without start", file: "end 1 p1\n", wantErr: true},
		{name: "started twice", file: "start 1 p1\nstart 2 p1\n", wantErr: true},
		{name: "garbled", file: "start x p1\n", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &Recorder{Path: filepath.Join(t.TempDir(), "runs")}
			if tt.file != "" {
				if err := os.WriteFile(r.Path, []byte(tt.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := r.Intervals()
			if (err != nil) != tt.wantErr {
				t.Fatalf("Intervals error = %v, want error %t", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Intervals (-want +got):\n%s", diff)
			}
		})
	}
}

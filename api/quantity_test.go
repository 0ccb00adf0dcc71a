package api

import (
	"errors"
	"testing"
)

func TestParseCPUMillis(t *testing.T) {
	tests := []struct {
		name    string
		q       string
		want    int64
		wantErr error
	}{
		{name: "millicores", q: "500m", want: 500},
		{name: "one core", q: "1", want: 1000},
		{name: "half a core", q: "0.5", want: 500},
		{name: "two cores", q: "2", want: 2000},
		{name: "leading dot", q: ".25", want: 250},
		{name: "exponent", q: "1e3", want: 1000000},
		{name: "kilo cores", q: "100k", want: 100000000},
		{name: "below a millicore rounds up", q: "0.0001", want: 1},
		{name: "nano cores round up", q: "1n", want: 1},
		{name: "explicit plus", q: "+3", want: 3000},
		{name: "empty", q: "", wantErr: errQuantityFormat},
		{name: "words", q: "lots", wantErr: errQuantityFormat},
		{name: "unknown suffix", q: "1x", wantErr: errQuantityFormat},
		{name: "lowercase binary suffix", q: "1ki", wantErr: errQuantityFormat},
		{name: "two dots", q: "1.2.3", wantErr: errQuantityFormat},
		{name: "too large", q: "1e30", wantErr: errQuantityRange},
		{name: "huge exponent", q: "1e999999", wantErr: errQuantityRange},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCPUMillis(tt.q)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ParseCPUMillis(%q) = %d, %v; want %d, %v", tt.q, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestParseBytes(t *testing.T) {
	tests := []struct {
		name    string
		q       string
		want    int64
		wantErr error
	}{
		{name: "mebibytes", q: "128Mi", want: 134217728},
		{name: "gibibyte", q: "1Gi", want: 1 << 30},
		{name: "kibibytes", q: "64Ki", want: 65536},
		{name: "decimal gigabyte", q: "1G", want: 1000000000},
		{name: "decimal kilo", q: "100k", want: 100000},
		{name: "exponent", q: "1e3", want: 1000},
		{name: "upper-case exponent", q: "12E2", want: 1200},
		{name: "plain bytes", q: "4096", want: 4096},
		{name: "fraction of a gibibyte", q: "1.5Gi", want: 1610612736},
		{name: "exa", q: "1E", want: 1000000000000000000},
		{name: "fraction of a byte rounds up", q: "1500m", want: 2},
		{name: "negative", q: "-1Ki", want: -1024},
		{name: "overflows int64", q: "8Ei", wantErr: errQuantityRange},
		{name: "bare suffix", q: "Mi", wantErr: errQuantityFormat},
		{name: "space", q: "1 Gi", wantErr: errQuantityFormat},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseBytes(tt.q)
			if !errors.Is(err, tt.wantErr) || got != tt.want {
				t.Errorf("ParseBytes(%q) = %d, %v; want %d, %v", tt.q, got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPodRequests(t *testing.T) {
	tests := []struct {
		name             string
		spec             *PodSpec
		wantCPU, wantMem int64
	}{
		{name: "no spec"},
		{
			name: "two containers add up",
			spec: &PodSpec{Containers: []*Container{
				{Resources: &ResourceRequirements{Requests: map[string]string{"cpu": "250m", "memory": "64Mi"}}},
				{Resources: &ResourceRequirements{Requests: map[string]string{"cpu": "1", "memory": "1Gi"}}},
			}},
			wantCPU: 1250, wantMem: 64<<20 + 1<<30,
		},
		{
			name: "limits alone count nothing before defaults",
			spec: &PodSpec{Containers: []*Container{
				{Resources: &ResourceRequirements{Limits: map[string]string{"cpu": "1"}}},
			}},
		},
		{
			name: "unparsable quantity counts as zero",
			spec: &PodSpec{Containers: []*Container{
				{Resources: &ResourceRequirements{Requests: map[string]string{"cpu": "lots", "memory": "1Ki"}}},
			}},
			wantMem: 1024,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cpu, mem := PodRequests(tt.spec)
			if cpu != tt.wantCPU || mem != tt.wantMem {
				t.Errorf("PodRequests = %d millicores, %d bytes; want %d, %d", cpu, mem, tt.wantCPU, tt.wantMem)
			}
		})
	}
}

func TestSetDefaultsRequestsFromLimits(t *testing.T) {
	j := validJob()
	j.Spec.Template.Spec.Containers[0].Resources = &ResourceRequirements{
		Requests: map[string]string{"memory": "32Mi"},
		Limits:   map[string]string{"cpu": "2", "memory": "64Mi"},
	}
	setJobDefaults(j)
	cpu, mem := PodRequests(j.Spec.Template.Spec)
	if cpu != 2000 || mem != 32<<20 {
		t.Errorf("requests after defaults = %d millicores, %d bytes; want 2000, %d", cpu, mem, 32<<20)
	}
}

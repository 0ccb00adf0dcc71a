package api

import (
	"strings"
	"testing"
)

func TestAdmissionLimits(t *testing.T) {
	job := func(annotations map[string]string, env int) *Object {
		objs, err := DecodeManifests([]byte(jobYAML))
		if err != nil {
			t.Fatal(err)
		}
		j := objs[0].GetJob()
		j.Metadata.Annotations = annotations
		c := j.Spec.Template.Spec.Containers[0]
		for i := 0; i < env; i++ {
			c.Env = append(c.Env, &EnvVar{Name: "V" + strings.Repeat("x", 10) + string(rune('a'+i%26)), Value: strings.Repeat("v", 64<<10)})
		}
		return objs[0]
	}
	tests := []struct {
		name    string
		obj     *Object
		wantErr string
	}{
		{name: "annotations at the limit", obj: job(map[string]string{"a": strings.Repeat("x", MaxAnnotationsBytes-1)}, 0)},
		{name: "annotations one byte over the limit", obj: job(map[string]string{"a": strings.Repeat("x", MaxAnnotationsBytes)}, 0),
			wantErr: "metadata.annotations: Too long: must have at most 262144 bytes"},
		{name: "a 1.3 MiB object", obj: job(nil, 20)},
		{name: "an object of 2 MiB", obj: job(nil, 32),
			wantErr: "over the limit of 1572864 bytes (1.5 MiB) for one object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate(tt.obj)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want no error", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

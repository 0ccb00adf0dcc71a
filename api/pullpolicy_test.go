package api

import "testing"

func TestImagePullPolicy(t *testing.T) {
	for _, tc := range []struct {
		name, image, policy, want string
	}{
		{"no tag pulls always", "luksa/batch-job", "", PullAlways},
		{"latest pulls always", "luksa/batch-job:latest", "", PullAlways},
		{"a tag pulls if not present", "busybox:1.36", "", PullIfNotPresent},
		{"a registry port is not a tag", "localhost:5000/batch-job", "", PullAlways},
		{"a registry port and a tag", "localhost:5000/batch-job:v1", "", PullIfNotPresent},
		{"a digest pulls if not present", "busybox@sha256:0123", "", PullIfNotPresent},
		{"latest with a digest pulls always", "busybox:latest@sha256:0123", "", PullAlways},
		{"a set policy is kept", "luksa/batch-job", PullNever, PullNever},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &Container{Image: tc.image, ImagePullPolicy: tc.policy}
			if got := ImagePullPolicy(c); got != tc.want {
				t.Errorf("ImagePullPolicy(%q, %q) = %q, want %q", tc.image, tc.policy, got, tc.want)
			}
		})
	}
}

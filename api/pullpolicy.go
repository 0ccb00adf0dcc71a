package api

import "strings"

// Image pull policies, as Kubernetes spells them.
const (
	PullAlways       = "Always"
	PullIfNotPresent = "IfNotPresent"
	PullNever        = "Never"
)

// ImagePullPolicy returns the container's imagePullPolicy, or Kubernetes'
// default when it is unset: Always for an image tagged latest or not
// tagged at all (and not pinned by digest), IfNotPresent otherwise.
func ImagePullPolicy(c *Container) string {
	if p := c.GetImagePullPolicy(); p != "" {
		return p
	}
	if ImageTag(c.GetImage()) == "latest" {
		return PullAlways
	}
	return PullIfNotPresent
}

// ImageTag returns the tag of an image reference: "latest" when it has
// neither tag nor digest, "" when it is pinned by digest only.
func ImageTag(image string) string {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
		if !strings.Contains(image[strings.LastIndex(image, "/")+1:], ":") {
			return ""
		}
	}
	name := image[strings.LastIndex(image, "/")+1:]
	if i := strings.LastIndex(name, ":"); i >= 0 {
		return name[i+1:]
	}
	return "latest"
}

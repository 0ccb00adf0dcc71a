package api

import (
	"runtime/debug"
	"sync"
)

// Release is the jobcluster release this code is.
const Release = "v0.3.0"

// Tag, when a build sets it (-ldflags "-X
// github.com/jobcluster/jobcluster/api.Tag=rc1"), follows the release in
// Version: "v0.3.0-rc1".
var Tag string

// Version is the release (and Tag) with the commit it was built from when
// the build recorded one ("v0.3.0+1a2b3c4d5e6f", "+dirty" for uncommitted
// changes), as `version` prints it and members advertise it.
var Version = sync.OnceValue(func() string {
	v := Release
	if Tag != "" {
		v += "-" + Tag
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	var rev string
	dirty := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev != "" {
		v += "+" + rev
		if dirty {
			v += ".dirty"
		}
	}
	return v
})

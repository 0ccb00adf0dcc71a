package api

import (
	"runtime/debug"
	"sync"
)

// Release is the jobcluster release this code is.
const Release = "v0.3.0"

// Version is the release with the commit it was built from when the build
// recorded one ("v0.3.0+1a2b3c4d5e6f", "+dirty" for uncommitted changes),
// as `version` prints it and members advertise it.
var Version = sync.OnceValue(func() string {
	v := Release
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

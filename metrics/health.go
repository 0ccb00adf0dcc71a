package metrics

import (
	"fmt"
	"net/http"
	"strings"
)

// Check is one named condition of a health endpoint. Run returns nil when
// the condition holds, else why not; it must be quick and safe for
// concurrent use.
type Check struct {
	Name string
	Run  func() error
}

// Ping is the check every live process passes.
var Ping = Check{Name: "ping", Run: func() error { return nil }}

// HealthHandler serves a kube-apiserver style health endpoint: 200 "ok"
// when every check passes, else 500 naming the failed checks. With
// ?verbose every check is listed, "[+]name ok" or "[-]name failed:
// reason", and ?exclude=name (repeatable) skips a check.
func HealthHandler(endpoint string, checks ...Check) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		_, verbose := q["verbose"]
		excluded := map[string]bool{}
		for _, e := range q["exclude"] {
			excluded[e] = true
		}
		var out strings.Builder
		failed := false
		for _, c := range checks {
			if excluded[c.Name] {
				fmt.Fprintf(&out, "[+]%s excluded: ok\n", c.Name)
				continue
			}
			if err := c.Run(); err != nil {
				failed = true
				fmt.Fprintf(&out, "[-]%s failed: %v\n", c.Name, err)
				continue
			}
			fmt.Fprintf(&out, "[+]%s ok\n", c.Name)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		switch {
		case failed:
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, "%s%s check failed\n", out.String(), endpoint)
		case verbose:
			fmt.Fprintf(w, "%s%s check passed\n", out.String(), endpoint)
		default:
			fmt.Fprint(w, "ok")
		}
	})
}

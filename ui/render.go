package ui

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// page is one kind of page: its template set (the layout plus the page's
// own file), how its data is built and how it is titled.
type page struct {
	tmpl *template.Template
	view view
	nav  string
	// live pages refresh their "live" block from the server.
	live  bool
	title func(args []string) string
}

// pageData is what every template receives.
type pageData struct {
	Title string
	Nav   string
	Path  string
	Query url.Values
	Live  bool
	Flash *flash
	Err   string
	// NeedToken is set when the service refused the call for want of an
	// ACL token: the page offers to sign in with one.
	NeedToken bool
	// SignedIn is set when the browser holds a token.
	SignedIn bool
	Data     any
	Now      time.Time
	Prefix   string
}

// LiveURL is where the page's live block streams from.
func (p pageData) LiveURL() string {
	u := url.URL{Path: Prefix + "live/" + strings.TrimPrefix(p.Path, Prefix), RawQuery: p.Query.Encode()}
	return u.String()
}

// Self is the page's own URL, where actions return to.
func (p pageData) Self() string {
	u := url.URL{Path: p.Path, RawQuery: p.Query.Encode()}
	return u.String()
}

// With is the page's URL with one query parameter set (removed when value
// is empty).
func (p pageData) With(key, value string) string {
	q := url.Values{}
	for k, v := range p.Query {
		q[k] = v
	}
	if value == "" {
		q.Del(key)
	} else {
		q.Set(key, value)
	}
	u := url.URL{Path: p.Path, RawQuery: q.Encode()}
	return u.String()
}

// SortHeader is a table header cell linking to the page sorted by key,
// toggling the direction when the table is sorted by it already. param is
// the query parameter holding that table's order.
func (p pageData) SortHeader(param, key, label string) template.HTML {
	current := p.Query.Get(param)
	next, arrow, sorted := key, "", "none"
	switch current {
	case key:
		next, arrow, sorted = "-"+key, " ▲", "ascending"
	case "-" + key:
		arrow, sorted = " ▼", "descending"
	}
	// Changing the order starts again on the first page.
	q := url.Values{}
	for k, v := range p.Query {
		q[k] = v
	}
	q.Set(param, next)
	q.Del("page")
	u := url.URL{Path: p.Path, RawQuery: q.Encode()}
	return template.HTML(fmt.Sprintf(`<th aria-sort="%s"><a href="%s">%s%s</a></th>`,
		sorted, template.HTMLEscapeString(u.String()), template.HTMLEscapeString(label), arrow))
}

var funcs = template.FuncMap{
	"age": func(t time.Time, now time.Time) string {
		if t.IsZero() {
			return "<none>"
		}
		return humanDuration(now.Sub(t))
	},
	"duration": humanDuration,
	"stamp": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
	"pct": func(part, whole int64) int64 {
		if whole <= 0 {
			return 0
		}
		return min(100, part*100/whole)
	},
	"lower": strings.ToLower,
	"cpu":   formatMillicores,
	"bytes": formatBytes,
	"meter": func(used, total int64, usedText, totalText string) meter {
		m := meter{Pct: share(used, total), Text: usedText}
		if total > 0 {
			m.Text = fmt.Sprintf("%s of %s (%d%%)", usedText, totalText, m.Pct)
		}
		m.Pct = min(m.Pct, 100)
		return m
	},
	"button": func(kind, namespace, name, do, label, next string) actionButton {
		return actionButton{Action: Prefix + "action", Kind: kind, Namespace: namespace, Name: name, Do: do, Label: label, Next: next}
	},
	// nsq is the query naming a namespace on a link, empty for "default".
	"nsq":         namespaceQuery,
	"cronActions": func(c cronRow, next string) cronActions { return cronActions{Cron: c, Next: next} },
	"events": func(p pageData, param string, rows []eventRow) eventsTable {
		return eventsTable{Page: p, Param: param, Rows: rows}
	},
}

// meter is a bar of how much of a resource is used.
type meter struct {
	Pct  int64
	Text string
}

// actionButton is a form posting one action.
type actionButton struct {
	Action, Kind, Namespace, Name, Do, Label, Next string
}

type cronActions struct {
	Cron cronRow
	Next string
}

// eventsTable is an events table on a page, ordered by the query
// parameter Param.
type eventsTable struct {
	Page  pageData
	Param string
	Rows  []eventRow
}

// parsePages parses every page's template set once.
func parsePages() map[string]*page {
	pages := map[string]*page{
		"overview": {view: overviewView, nav: "overview", live: true, title: fixed("Overview")},
		"jobs":     {view: jobsView, nav: "jobs", live: true, title: fixed("Jobs")},
		"job":      {view: jobView, nav: "jobs", live: true, title: named("Job")},
		"cronjobs": {view: cronJobsView, nav: "cronjobs", live: true, title: fixed("CronJobs")},
		"cronjob":  {view: cronJobView, nav: "cronjobs", live: true, title: named("CronJob")},
		"nodes":    {view: nodesView, nav: "nodes", live: true, title: fixed("Nodes")},
		"submit":   {view: submitView, nav: "submit", title: fixed("Submit")},
		"action":   {nav: "", title: fixed("Confirm")},
	}
	for name, p := range pages {
		p.tmpl = template.Must(template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	return pages
}

func fixed(title string) func([]string) string {
	return func([]string) string { return title }
}

func named(kind string) func([]string) string {
	return func(args []string) string { return kind + " " + strings.Join(args, "/") }
}

// render writes a whole page; the template is executed into a buffer
// first, so a failure is a clean 500 rather than half a page.
func (s *server) render(w http.ResponseWriter, code int, p *page, data pageData) {
	var b bytes.Buffer
	if err := p.tmpl.ExecuteTemplate(&b, "layout", data); err != nil {
		s.logger.Error("render page", "page", p.tmpl.Name(), "err", err)
		http.Error(w, "render page: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
}

// flash is a message shown once on the next page, after an action.
type flash struct {
	Text string
	// Link, when set, is where the message points to (a created Job).
	Link string
}

const flashCookie = "jobcluster-ui-flash"

// setFlash leaves a message for the next page this browser loads.
func setFlash(w http.ResponseWriter, f flash) {
	v := url.Values{"text": {f.Text}, "link": {f.Link}}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v.Encode(), Path: Prefix, HttpOnly: true, SameSite: http.SameSiteStrictMode, MaxAge: 60})
}

// takeFlash returns the message left for this page, if any, and clears it.
func takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: Prefix, MaxAge: -1})
	v, err := url.ParseQuery(c.Value)
	if err != nil || v.Get("text") == "" {
		return nil
	}
	f := &flash{Text: v.Get("text")}
	if link := v.Get("link"); strings.HasPrefix(link, Prefix) {
		f.Link = link
	}
	return f
}

// humanDuration writes a duration as kubectl's ages do: "45s", "3m20s",
// "5h", "3d".
func humanDuration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch s := int64(d / time.Second); {
	case s < 120:
		return fmt.Sprintf("%ds", s)
	case s < 600:
		if s%60 == 0 {
			return fmt.Sprintf("%dm", s/60)
		}
		return fmt.Sprintf("%dm%ds", s/60, s%60)
	case s < 3*3600:
		return fmt.Sprintf("%dm", s/60)
	case s < 8*3600:
		if m := (s / 60) % 60; m != 0 {
			return fmt.Sprintf("%dh%dm", s/3600, m)
		}
		return fmt.Sprintf("%dh", s/3600)
	case s < 48*3600:
		return fmt.Sprintf("%dh", s/3600)
	default:
		return fmt.Sprintf("%dd", s/86400)
	}
}

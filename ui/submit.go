package ui

import (
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// submitForm is the Submit page: the pasted manifest and what became of it.
type submitForm struct {
	Manifest string
	// Invalid lists the problems decoding found, one per line, in the
	// words `jobcluster submit` prints.
	Invalid []string
	Results []submitResult
}

// submitResult is the server's answer for one object.
type submitResult struct {
	Object string // job.batch/pi
	Action string
	Link   string
	Error  string
	Code   string
}

func submitView(context.Context, *server, url.Values, []string) (any, error) {
	return submitForm{}, nil
}

// serveSubmit decodes the pasted manifest as `jobcluster submit -` does
// and creates its objects.
func (s *server) serveSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*api.MaxManifestBytes)
	form := submitForm{Manifest: r.PostFormValue("manifest")}
	p := s.pages["submit"]
	data := pageData{Title: "Submit", Nav: "submit", Path: r.URL.Path, Query: url.Values{}, Now: s.now(), Prefix: Prefix}
	objs, err := api.DecodeManifests([]byte(form.Manifest))
	if err != nil {
		form.Invalid = strings.Split(err.Error(), "\n")
		data.Data = form
		s.render(w, http.StatusUnprocessableEntity, p, data)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	resp, err := s.client.Submit(ctx, &api.SubmitRequest{Objects: objs})
	if err != nil {
		data.Err = errorText(err)
		data.Data = form
		s.render(w, httpStatus(err), p, data)
		return
	}
	code := http.StatusOK
	for _, res := range resp.GetResults() {
		form.Results = append(form.Results, newSubmitResult(res))
		if res.GetError() != "" {
			code = http.StatusConflict
		}
	}
	data.Data = form
	s.render(w, code, p, data)
}

func newSubmitResult(res *api.SubmitResult) submitResult {
	out := submitResult{Object: res.GetKind() + "/" + res.GetName(), Action: res.GetAction(), Error: res.GetError(), Code: res.GetCode()}
	r, ok := api.LookupResource(res.GetKind())
	if ok {
		out.Object = r.GroupKind() + "/" + res.GetName()
	}
	if out.Action == "" {
		out.Action = "created"
	}
	if ok && out.Error == "" && (r == api.JobResource || r == api.CronJobResource) {
		out.Link = Prefix + r.Plural + "/" + url.PathEscape(res.GetName())
	}
	return out
}

package ui

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// action is a change a user asks for from a page's button.
type action struct {
	Resource  *api.Resource
	Namespace string
	Name      string
	Do        string // suspend, resume, delete, trigger
	// Next is the page to return to afterwards.
	Next string
}

// actionPage is what the confirmation page shows.
type actionPage struct {
	Action   action
	Question string
	Err      string
}

// parseAction reads and checks an action form.
func parseAction(r *http.Request) (action, error) {
	a := action{Namespace: api.NamespaceOr(r.PostFormValue("namespace")), Name: r.PostFormValue("name"), Do: r.PostFormValue("do"), Next: r.PostFormValue("next")}
	res, ok := api.LookupResource(r.PostFormValue("kind"))
	if !ok || (res != api.JobResource && res != api.CronJobResource) {
		return a, &badRequestError{fmt.Sprintf("unknown kind %q: use job or cronjob", r.PostFormValue("kind"))}
	}
	a.Resource = res
	if a.Name == "" {
		return a, &badRequestError{"no name given"}
	}
	switch a.Do {
	case "suspend", "resume", "delete":
	case "trigger":
		if res != api.CronJobResource {
			return a, &badRequestError{"only a CronJob can be triggered"}
		}
	default:
		return a, &badRequestError{fmt.Sprintf("unknown action %q: use suspend, resume, delete or trigger", a.Do)}
	}
	if !strings.HasPrefix(a.Next, Prefix) || strings.HasPrefix(a.Next, "//") {
		a.Next = Prefix
	}
	if a.Do == "delete" && strings.HasPrefix(a.Next, a.detailPage()) {
		a.Next = Prefix + a.Resource.Plural
	}
	return a, nil
}

// detailPage is the path of the page about the action's object.
func (a action) detailPage() string {
	return Prefix + a.Resource.Plural + "/" + url.PathEscape(a.Name) + namespaceQuery(a.Namespace)
}

// namespaceQuery is the query naming a namespace on a page's URL, empty
// for "default".
func namespaceQuery(ns string) string {
	if ns == "" || ns == api.NamespaceDefault {
		return ""
	}
	return "?namespace=" + url.QueryEscape(ns)
}

// question asks the user to confirm the action.
func (a action) question() string {
	obj := a.Resource.GroupKind() + "/" + a.Name
	switch {
	case a.Do == "suspend" && a.Resource == api.JobResource:
		return fmt.Sprintf("Suspend %s? Its running pods are stopped.", obj)
	case a.Do == "suspend":
		return fmt.Sprintf("Suspend %s? It creates no new Jobs until resumed.", obj)
	case a.Do == "resume":
		return fmt.Sprintf("Resume %s?", obj)
	case a.Do == "delete" && a.Resource == api.JobResource:
		return fmt.Sprintf("Delete %s and its pods?", obj)
	case a.Do == "delete":
		return fmt.Sprintf("Delete %s, its Jobs and their pods?", obj)
	default:
		return fmt.Sprintf("Create a Job from %s now?", obj)
	}
}

// serveAction asks for confirmation unless the form carries it, then runs
// the action and returns to the page it came from with the outcome.
func (s *server) serveAction(w http.ResponseWriter, r *http.Request) {
	a, err := parseAction(r)
	p := s.pages["action"]
	data := pageData{Title: "Confirm", Path: r.URL.Path, Query: url.Values{}, Now: s.now(), Prefix: Prefix}
	if err != nil {
		data.Err = err.Error()
		s.render(w, http.StatusBadRequest, p, data)
		return
	}
	if r.PostFormValue("confirmed") != "yes" {
		data.Data = actionPage{Action: a, Question: a.question()}
		s.render(w, http.StatusOK, p, data)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), callTimeout)
	defer cancel()
	f, err := s.run(ctx, a)
	if err != nil {
		data.Title = "Action failed"
		data.Data = actionPage{Action: a, Err: errorText(err)}
		s.render(w, httpStatus(err), p, data)
		return
	}
	setFlash(w, f)
	http.Redirect(w, r, a.Next, http.StatusSeeOther)
}

// run carries out a confirmed action through the service.
func (s *server) run(ctx context.Context, a action) (flash, error) {
	obj := a.Resource.GroupKind() + "/" + a.Name
	switch a.Do {
	case "delete":
		_, err := s.client.Delete(ctx, &api.DeleteRequest{Kind: a.Resource.Singular, Name: a.Name, Namespace: a.Namespace})
		return flash{Text: obj + " deleted"}, err
	case "trigger":
		job := manualJobName(a.Name)
		resp, err := s.client.CreateJobFromCron(ctx, &api.CreateJobFromCronRequest{CronJob: a.Name, JobName: job, Namespace: a.Namespace})
		if err := firstRefusal(resp, err); err != nil {
			return flash{}, err
		}
		return flash{Text: api.JobResource.GroupKind() + "/" + job + " created", Link: Prefix + "jobs/" + url.PathEscape(job) + namespaceQuery(a.Namespace)}, nil
	}
	suspend := a.Do == "suspend"
	res, err := s.setSuspend(ctx, a.Resource, a.Namespace, a.Name, suspend)
	if err != nil {
		return flash{}, err
	}
	verb := "resumed"
	if suspend {
		verb = "suspended"
	}
	if res.GetAction() == "unchanged" {
		verb += " (no change)"
	}
	return flash{Text: obj + " " + verb}, nil
}

// setSuspend applies the object with spec.suspend changed, as `jobcluster
// suspend` and `resume` do.
func (s *server) setSuspend(ctx context.Context, r *api.Resource, namespace, name string, suspend bool) (*api.SubmitResult, error) {
	obj, err := s.client.Get(ctx, &api.GetRequest{Kind: r.Singular, Name: name, Namespace: namespace})
	if err != nil {
		return nil, err
	}
	updated := proto.Clone(obj).(*api.Object)
	switch {
	case updated.GetJob() != nil:
		updated.GetJob().GetSpec().Suspend = proto.Bool(suspend)
		updated.GetJob().Status = nil
		updated.GetJob().GetMetadata().ResourceVersion = ""
	case updated.GetCronJob() != nil:
		updated.GetCronJob().GetSpec().Suspend = proto.Bool(suspend)
		updated.GetCronJob().Status = nil
		updated.GetCronJob().GetMetadata().ResourceVersion = ""
	default:
		return nil, fmt.Errorf("%s %q: the server answered with a %s", r.GroupResource(), name, api.KindOf(obj))
	}
	resp, err := s.client.Submit(ctx, &api.SubmitRequest{Objects: []*api.Object{updated}, Apply: true})
	if err := firstRefusal(resp, err); err != nil {
		return nil, err
	}
	return resp.GetResults()[0], nil
}

// firstRefusal turns a one-object write's answer into an error: the call's
// own, or the refusal of the object, as a status carrying the server's
// code and message.
func firstRefusal(resp *api.SubmitResponse, err error) error {
	if err != nil {
		return err
	}
	if len(resp.GetResults()) != 1 {
		return fmt.Errorf("the server answered with %d results for one object", len(resp.GetResults()))
	}
	res := resp.GetResults()[0]
	if res.GetError() == "" {
		return nil
	}
	return status.Error(codeNamed(res.GetCode()), res.GetError())
}

// codeNamed is the gRPC code of a name ("AlreadyExists"), Unknown for
// others.
func codeNamed(name string) codes.Code {
	for c := codes.OK; c <= codes.Unauthenticated; c++ {
		if c.String() == name {
			return c
		}
	}
	if name == "Invalid" {
		return codes.InvalidArgument
	}
	return codes.Unknown
}

// manualJobName names a Job made by hand from a CronJob, as the
// Kubernetes dashboard does: the CronJob's name, "-manual-" and five
// random characters, within the 63 characters a name may have.
func manualJobName(cron string) string {
	const suffixLen = len("-manual-") + 5
	if len(cron) > 63-suffixLen {
		cron = strings.TrimRight(cron[:63-suffixLen], "-.")
	}
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return cron + "-manual-" + string(b)
}

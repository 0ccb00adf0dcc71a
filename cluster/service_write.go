package cluster

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/jobcluster/jobcluster/api"
	"github.com/jobcluster/jobcluster/fsm"
	"github.com/jobcluster/jobcluster/scheduler"
)

func (c *controlService) Submit(ctx context.Context, req *api.SubmitRequest) (*api.SubmitResponse, error) {
	if err := admit(req); err != nil {
		return nil, err
	}
	return toLeaderReadable(ctx, c.s,
		func() (*api.SubmitResponse, error) { return c.s.submit(ctx, req) },
		func(cl api.ControlClient, ctx context.Context) (*api.SubmitResponse, error) {
			return cl.Submit(ctx, req)
		})
}

// admit validates a submit on whichever server was asked, before anything
// is proposed: one bad object refuses the whole request, so nothing is
// half-applied.
func admit(req *api.SubmitRequest) error {
	if size := proto.Size(req); size > api.MaxManifestBytes {
		return status.Errorf(codes.InvalidArgument, "the request is %d bytes, over the limit of %d (3 MiB): submit its objects in several requests", size, api.MaxManifestBytes)
	}
	for _, obj := range req.GetObjects() {
		o := clone(obj)
		api.SetDefaults(o)
		if err := api.Validate(o); err != nil {
			return invalidObject(api.KindOf(o), api.NameOf(o), err)
		}
		switch api.ResourceOf(o) {
		case api.JobResource, api.CronJobResource, api.ConfigMapResource, api.SecretResource:
		default:
			return status.Errorf(codes.InvalidArgument, "cannot submit a %s: submit Jobs, CronJobs, ConfigMaps and Secrets", api.KindOf(o))
		}
	}
	return nil
}

// runtimeWarnings warns, as kubectl prints it, when no Ready node can run
// pods made from spec yet (an image without a command and no agent with
// --runtime docker): the object is accepted and its pods wait Pending.
func runtimeWarnings(st *fsm.State, spec *api.PodSpec) []string {
	if api.PodRuntime(&api.Pod{Spec: spec}) == "" {
		return nil
	}
	if w := scheduler.RuntimeWarning(spec, st.Nodes()); w != "" {
		return []string{w}
	}
	return nil
}

// submit creates (or with apply, updates) objects on the leader, in one
// Raft entry.
func (s *Server) submit(ctx context.Context, req *api.SubmitRequest) (*api.SubmitResponse, error) {
	st := s.fsm.State()
	now := timestamppb.New(s.clock.Now())
	resp := &api.SubmitResponse{}
	var cmds []*api.Command
	var cmdResult []int // index into resp.Results of each command, -1 for none
	var newJobs []*api.Job
	for _, obj := range req.GetObjects() {
		o := clone(obj)
		r, name := api.ResourceOf(o), api.NameOf(o)
		meta := api.MetadataOf(o)
		res := &api.SubmitResult{Kind: r.Kind, Name: name, Action: "created"}
		resp.Results = append(resp.Results, res)
		ns, refusal := submitNamespace(meta.GetNamespace(), req.GetNamespace())
		if refusal != "" {
			res.Error, res.Code = refusal, codes.InvalidArgument.String()
			continue
		}
		meta.Namespace, res.Namespace = ns, ns
		var cmd *api.Command
		switch r {
		case api.JobResource:
			job := o.GetJob()
			job.Status = nil
			old := st.Job(ns, name)
			if !fresh(res, req.GetApply(), old.GetMetadata(), meta) {
				continue
			}
			job, ok := decideSubmit(res, req.GetApply(), old != nil, job, func() (*api.Job, bool, error) {
				return api.UpdateJob(old, job)
			})
			if !ok {
				continue
			}
			if old == nil {
				stampNew(job.Metadata, now)
				api.SetDefaults(&api.Object{Kind: &api.Object_Job{Job: job}})
			}
			job.ApiVersion, job.Kind = r.APIVersion(), r.Kind
			res.Warnings = runtimeWarnings(st, job.GetSpec().GetTemplate().GetSpec())
			cmd = (&api.UpsertJob{Job: job, CreateOnly: res.Action == "created"}).Command()
			if old == nil {
				newJobs = append(newJobs, job)
			}
		case api.CronJobResource:
			cj := o.GetCronJob()
			cj.Status = nil
			old := st.CronJob(ns, name)
			if !fresh(res, req.GetApply(), old.GetMetadata(), meta) {
				continue
			}
			cj, ok := decideSubmit(res, req.GetApply(), old != nil, cj, func() (*api.CronJob, bool, error) {
				return api.UpdateCronJob(old, cj)
			})
			if !ok {
				continue
			}
			if old == nil {
				stampNew(cj.Metadata, now)
			}
			cj.ApiVersion, cj.Kind = r.APIVersion(), r.Kind
			res.Warnings = runtimeWarnings(st, cj.GetSpec().GetJobTemplate().GetSpec().GetTemplate().GetSpec())
			cmd = (&api.UpsertCronJob{CronJob: cj, CreateOnly: res.Action == "created"}).Command()
		case api.ConfigMapResource:
			cm := o.GetConfigMap()
			api.SetDefaults(o)
			old := st.ConfigMap(ns, name)
			if !fresh(res, req.GetApply(), old.GetMetadata(), meta) {
				continue
			}
			cm, ok := decideSubmit(res, req.GetApply(), old != nil, cm, func() (*api.ConfigMap, bool, error) {
				return api.UpdateConfigMap(old, cm)
			})
			if !ok {
				continue
			}
			if old == nil {
				stampNew(cm.Metadata, now)
			}
			cmd = (&api.UpsertConfigMap{ConfigMap: cm, CreateOnly: res.Action == "created"}).Command()
		case api.SecretResource:
			sec := o.GetSecret()
			api.SetDefaults(o)
			old := st.Secret(ns, name)
			if !fresh(res, req.GetApply(), old.GetMetadata(), meta) {
				continue
			}
			sec, ok := decideSubmit(res, req.GetApply(), old != nil, sec, func() (*api.Secret, bool, error) {
				return api.UpdateSecret(old, sec)
			})
			if !ok {
				continue
			}
			if old == nil {
				stampNew(sec.Metadata, now)
			}
			up, err := s.upsertSecret(sec, res.Action == "created")
			if err != nil {
				return nil, status.Errorf(codes.Internal, "seal secret %s/%s: %v", ns, name, err)
			}
			cmd = up.Command()
		}
		cmds = append(cmds, cmd)
		cmdResult = append(cmdResult, len(resp.Results)-1)
	}
	// New Jobs' first pods go in the same entry, placed, unless the job
	// controller is placing now: it creates them on its next pass.
	if len(newJobs) > 0 && s.placing.TryLock() {
		defer s.placing.Unlock()
		for _, c := range s.firstPods(s.fsm.State(), newJobs, now.AsTime()) {
			cmds = append(cmds, c)
			cmdResult = append(cmdResult, -1)
		}
	}
	errs, err := s.proposer.Propose(ctx, cmds...)
	if err != nil {
		return nil, err
	}
	for i, e := range errs {
		if e == nil || cmdResult[i] < 0 {
			continue
		}
		res := resp.Results[cmdResult[i]]
		st := toStatus(e)
		res.Error = status.Convert(st).Message()
		res.Code = status.Code(st).String()
		if errors.Is(e, fsm.ErrAlreadyExists) {
			res.Error = alreadyExists(res)
		}
	}
	// The leader has applied what it proposed: answer with the objects as
	// stored, resourceVersion included.
	st = s.fsm.State()
	for _, res := range resp.Results {
		if res.Error != "" {
			continue
		}
		switch res.GetKind() {
		case api.JobResource.Kind:
			if j := st.Job(res.GetNamespace(), res.GetName()); j != nil {
				res.Object = &api.Object{Kind: &api.Object_Job{Job: j}}
			}
		case api.CronJobResource.Kind:
			if cj := st.CronJob(res.GetNamespace(), res.GetName()); cj != nil {
				res.Object = &api.Object{Kind: &api.Object_CronJob{CronJob: cj}}
			}
		case api.ConfigMapResource.Kind:
			if cm := st.ConfigMap(res.GetNamespace(), res.GetName()); cm != nil {
				res.Object = &api.Object{Kind: &api.Object_ConfigMap{ConfigMap: cm}}
			}
		case api.SecretResource.Kind:
			if sec := st.Secret(res.GetNamespace(), res.GetName()); sec != nil {
				res.Object = &api.Object{Kind: &api.Object_Secret{Secret: sec}}
			}
		}
	}
	return resp, nil
}

// submitNamespace is the namespace a submitted object goes to: its own,
// else the request's, else "default". An object naming a namespace other
// than the request's is refused, in kubectl's words.
func submitNamespace(object, request string) (ns, refusal string) {
	switch {
	case object == "":
		return api.NamespaceOr(request), ""
	case request != "" && object != request:
		return "", fmt.Sprintf("the namespace from the provided object %q does not match the namespace %q. You must pass '--namespace=%s' to perform this operation.", object, request, object)
	}
	return object, ""
}

// fresh checks an update's resourceVersion precondition: an applied object
// that carries a resourceVersion must carry the stored one, or it was
// edited from an older copy. It records the refusal in res.
func fresh(res *api.SubmitResult, apply bool, stored, submitted *api.ObjectMeta) bool {
	rv := submitted.GetResourceVersion()
	if !apply || rv == "" || stored == nil || rv == stored.GetResourceVersion() {
		return true
	}
	r, _ := api.LookupResource(res.GetKind())
	res.Error = fmt.Sprintf("Operation cannot be fulfilled on %s %q: the object has been modified; please apply your changes to the latest version and try again", r.GroupResource(), res.GetName())
	res.Code = codes.Aborted.String()
	return false
}

// decideSubmit settles what a submitted object does when one of its name
// may be stored (exists): a create proposes it as given; an existing name
// is refused unless applying, which proposes the update only when it
// changes something. It records the outcome in res and reports whether
// there is something to propose.
func decideSubmit[T any](res *api.SubmitResult, apply, exists bool, obj T, update func() (T, bool, error)) (T, bool) {
	if !exists {
		return obj, true
	}
	if !apply {
		res.Error, res.Code = alreadyExists(res), codes.AlreadyExists.String()
		return obj, false
	}
	merged, changed, err := update()
	switch {
	case err != nil:
		res.Error, res.Code = fmt.Sprintf("The %s %q is invalid: %v", res.Kind, res.Name, err), codes.InvalidArgument.String()
		return obj, false
	case !changed:
		res.Action = "unchanged"
		return obj, false
	}
	res.Action = "configured"
	return merged, true
}

// alreadyExists is the message refusing a created object whose name is taken.
func alreadyExists(res *api.SubmitResult) string {
	r, _ := api.LookupResource(res.GetKind())
	return r.AlreadyExists(res.GetName())
}

func stampNew(meta *api.ObjectMeta, now *timestamppb.Timestamp) {
	meta.Uid = newUID()
	meta.CreationTimestamp = now
	meta.DeletionTimestamp = nil
	meta.ResourceVersion = ""
	if meta.Namespace == "" {
		meta.Namespace = "default"
	}
}

func (c *controlService) Delete(ctx context.Context, req *api.DeleteRequest) (*api.DeleteResponse, error) {
	r, _ := api.LookupResource(req.GetKind())
	var cmd *api.Command
	ns := api.NamespaceOr(req.GetNamespace())
	switch r {
	case api.JobResource:
		cmd = (&api.DeleteJob{Namespace: ns, Name: req.GetName(), Uid: req.GetUid()}).Command()
	case api.CronJobResource:
		cmd = (&api.DeleteCronJob{Namespace: ns, Name: req.GetName()}).Command()
	case api.ConfigMapResource:
		cmd = (&api.DeleteConfigMap{Namespace: ns, Name: req.GetName()}).Command()
	case api.SecretResource:
		cmd = (&api.DeleteSecret{Namespace: ns, Name: req.GetName()}).Command()
	case api.PodResource:
		cmd = (&api.DeletePods{Names: []string{req.GetName()}}).Command()
	case api.NodeResource:
		cmd = (&api.DeleteNode{Name: req.GetName()}).Command()
	default:
		return nil, badKind(req.GetKind())
	}
	return toLeaderReadable(ctx, c.s,
		func() (*api.DeleteResponse, error) {
			if r == api.PodResource {
				p := c.s.fsm.State().Pod(req.GetName())
				if p == nil || api.NamespaceOf(p.GetMetadata()) != ns {
					return nil, notFound(r, req.GetName())
				}
			}
			errs, err := c.s.proposer.Propose(ctx, cmd)
			if err != nil {
				return nil, err
			}
			if errs[0] != nil {
				if errors.Is(errs[0], fsm.ErrNotFound) {
					return nil, notFound(r, req.GetName())
				}
				if errors.Is(errs[0], fsm.ErrConflict) {
					return nil, status.Errorf(codes.Aborted, "Operation cannot be fulfilled on %s %q: the UID in the precondition (%s) does not match the UID in record. The object might have been deleted and then recreated",
						r.GroupResource(), req.GetName(), req.GetUid())
				}
				return nil, errs[0]
			}
			return &api.DeleteResponse{}, nil
		},
		func(cl api.ControlClient, ctx context.Context) (*api.DeleteResponse, error) {
			return cl.Delete(ctx, req)
		})
}

func (c *controlService) CreateJobFromCron(ctx context.Context, req *api.CreateJobFromCronRequest) (*api.SubmitResponse, error) {
	return toLeaderReadable(ctx, c.s,
		func() (*api.SubmitResponse, error) { return c.s.createJobFromCron(ctx, req) },
		func(cl api.ControlClient, ctx context.Context) (*api.SubmitResponse, error) {
			return cl.CreateJobFromCron(ctx, req)
		})
}

// createJobFromCron runs a CronJob's template by hand, as
// `kubectl create job NAME --from=cronjob/CRON` does.
func (s *Server) createJobFromCron(ctx context.Context, req *api.CreateJobFromCronRequest) (*api.SubmitResponse, error) {
	st := s.fsm.State()
	ns := api.NamespaceOr(req.GetNamespace())
	cj := st.CronJob(ns, req.GetCronJob())
	if cj == nil {
		return nil, notFound(api.CronJobResource, req.GetCronJob())
	}
	if cj.GetSpec().GetConcurrencyPolicy() == api.ConcurrencyPolicyForbid && !req.GetForce() {
		for _, j := range st.JobsOfCronJob(ns, req.GetCronJob()) {
			if _, done := api.JobFinished(j); !done {
				return nil, status.Errorf(codes.FailedPrecondition,
					"cronjob %q has concurrencyPolicy Forbid and job %q is still active: wait for it or pass --force",
					req.GetCronJob(), j.GetMetadata().GetName())
			}
		}
	}
	job := scheduler.JobFromTemplate(cj, req.GetJobName())
	// As kubectl, the template's own annotation wins.
	if _, set := job.Metadata.Annotations[api.AnnotationCronJobInstantiate]; !set {
		job.Metadata.Annotations[api.AnnotationCronJobInstantiate] = "manual"
	}
	obj := &api.Object{Kind: &api.Object_Job{Job: job}}
	api.SetDefaults(obj)
	if err := api.Validate(obj); err != nil {
		return nil, invalidObject(api.JobResource.Kind, req.GetJobName(), err)
	}
	return s.submit(ctx, &api.SubmitRequest{Objects: []*api.Object{obj}, Namespace: ns})
}

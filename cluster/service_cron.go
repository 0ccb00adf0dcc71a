package cluster

import (
	"context"

	"github.com/jobcluster/jobcluster/api"
)

// CronHistory lists a CronJob's ledger, newest first, with the outcome of
// each decision's Job joined in. Any server answers from its state.
func (c *controlService) CronHistory(ctx context.Context, req *api.CronHistoryRequest) (*api.CronHistoryResponse, error) {
	if err := c.s.readyForReads(ctx); err != nil {
		return nil, err
	}
	st := c.s.fsm.State()
	ns := api.NamespaceOr(req.GetNamespace())
	if st.CronJob(ns, req.GetName()) == nil {
		return nil, notFound(api.CronJobResource, req.GetName())
	}
	resp := &api.CronHistoryResponse{}
	for _, e := range st.CronLedger(ns, req.GetName()) {
		if since := req.GetSince(); since != nil && e.GetScheduledTime().AsTime().Before(since.AsTime()) {
			break
		}
		if limit := req.GetLimit(); limit > 0 && len(resp.Items) >= int(limit) {
			break
		}
		e = clone(e)
		if e.GetJob() != "" {
			e.JobOutcome = jobOutcome(st.Job(ns, e.GetJob()))
		}
		resp.Items = append(resp.Items, e)
	}
	return resp, nil
}

// jobOutcome is how a ledger entry's Job ended: Complete, Failed, Running,
// or Deleted once it is gone.
func jobOutcome(j *api.Job) string {
	if j == nil {
		return "Deleted"
	}
	if c, done := api.JobFinished(j); done {
		return c
	}
	return "Running"
}

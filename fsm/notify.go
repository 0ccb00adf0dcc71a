package fsm

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jobcluster/jobcluster/api"
)

// notifyLogLines is how many of the failing pod's last log lines a
// JobFailed notification carries.
const notifyLogLines = 10

// lastTailLines keeps the last n lines of b.
func lastTailLines(b []byte, n int) []byte {
	end := len(b)
	if end > 0 && b[end-1] == '\n' {
		end--
	}
	for i := end - 1; i >= 0; i-- {
		if b[i] == '\n' {
			if n--; n == 0 {
				return b[i+1:]
			}
		}
	}
	return b
}

// maxNotifiedPods is how many pods a NodeNotReady notification names.
const maxNotifiedPods = 100

// MaxNotifications bounds the outbox: past it, the oldest notifications
// go, delivered ones first.
const MaxNotifications = 10000

func notificationID(obj any) string { return obj.(*api.Notification).GetId() }

// notify adds a notification unless one with its id exists: applying an
// entry twice announces once.
func (w *writer) notify(n *api.Notification) {
	if first[*api.Notification](w.txn, tableNotifications, "id", n.GetId()) != nil {
		return
	}
	n.Index = w.index
	if err := w.txn.Insert(tableNotifications, n); err != nil {
		panic(err)
	}
	w.trimNotifications()
}

func (w *writer) trimNotifications() {
	stored := all[*api.Notification](w.txn, tableNotifications, "id")
	if len(stored) <= MaxNotifications {
		return
	}
	sort.SliceStable(stored, func(i, j int) bool {
		if a, b := settled(stored[i]), settled(stored[j]); a != b {
			return a
		}
		return stored[i].GetIndex() < stored[j].GetIndex()
	})
	for _, n := range stored[:len(stored)-MaxNotifications] {
		w.remove(tableNotifications, n)
	}
}

// settled reports a notification every target has delivered or given up.
func settled(n *api.Notification) bool {
	if len(n.GetDeliveries()) == 0 {
		return false
	}
	for _, d := range n.GetDeliveries() {
		if !d.GetDelivered() && !d.GetGaveUp() {
			return false
		}
	}
	return true
}

// applyAddNotifications adds the notifications the leader decided on;
// each id is added once.
func (w *writer) applyAddNotifications(c *api.AddNotifications) error {
	for _, n := range c.GetNotifications() {
		if n.GetId() == "" {
			return fmt.Errorf("add notification: no id")
		}
		n = clone(n)
		n.Deliveries = nil
		w.notify(n)
	}
	return nil
}

func (w *writer) applyRecordDeliveries(c *api.RecordDeliveries) error {
	for _, r := range c.GetResults() {
		n := first[*api.Notification](w.txn, tableNotifications, "id", r.GetId())
		if n == nil {
			continue // trimmed meanwhile
		}
		next := clone(n)
		var d *api.NotificationDelivery
		for _, x := range next.Deliveries {
			if x.GetTarget() == r.GetTarget() {
				d = x
			}
		}
		if d == nil {
			d = &api.NotificationDelivery{Target: r.GetTarget()}
			next.Deliveries = append(next.Deliveries, d)
		}
		if d.GetDelivered() {
			continue // a late result of an earlier leader
		}
		d.Attempts++
		d.Delivered, d.GaveUp = r.GetDelivered(), r.GetGaveUp()
		d.LastError, d.LastAttempt, d.NextAttempt = r.GetError(), r.GetTime(), r.GetNextAttempt()
		if err := w.txn.Insert(tableNotifications, next); err != nil {
			panic(err)
		}
	}
	return nil
}

// jobFinishedNotification announces a Job that just finished, as its
// (or, for a CronJob's Job, its CronJob's) annotations ask.
func (w *writer) jobFinishedNotification(job *api.Job) {
	cond, _ := api.JobFinished(job)
	meta := job.GetMetadata()
	ns := api.NamespaceOf(meta)
	event, kind, name, annotations := api.EventJobComplete, "Job", meta.GetName(), meta.GetAnnotations()
	if cond == api.JobFailed {
		event = api.EventJobFailed
	}
	details := map[string]string{"job": meta.GetName(), "succeeded": strconv.Itoa(int(job.GetStatus().GetSucceeded())),
		"failed": strconv.Itoa(int(job.GetStatus().GetFailed()))}
	for _, ref := range meta.GetOwnerReferences() {
		if ref.GetKind() != "CronJob" {
			continue
		}
		if cj := w.cronJob(ns, ref.GetName()); cj != nil {
			kind, name, annotations = "CronJob", ref.GetName(), cj.GetMetadata().GetAnnotations()
			if cond == api.JobFailed {
				event = api.EventCronJobFailed
			}
		}
	}
	if !api.Notifies(annotations, event) {
		return
	}
	c := api.FindJobCondition(job.GetStatus(), cond)
	if cond == api.JobFailed {
		for _, p := range podsOfJob(w.txn, api.KeyOf(meta)) {
			for _, cs := range p.GetStatus().GetContainerStatuses() {
				if t := cs.GetState().GetTerminated(); t != nil && t.GetExitCode() != 0 && p.GetStatus().GetPhase() == api.PodFailed {
					details["pod"], details["exitCode"] = p.GetMetadata().GetName(), strconv.Itoa(int(t.GetExitCode()))
					if tail := first[*api.LogTail](w.txn, tableLogTails, "id", tailKey(p.GetMetadata().GetName(), cs.GetName(), false)); tail != nil {
						details["lastLines"] = string(lastTailLines(tail.GetTail().GetData(), notifyLogLines))
					}
				}
			}
		}
	}
	w.notify(&api.Notification{
		Id: event + "/" + meta.GetUid(), Event: event, Namespace: ns, Kind: kind, Name: name,
		Reason: c.GetReason(), Message: c.GetMessage(), Time: c.GetLastTransitionTime(), Details: details,
	})
}

// cronSkipNotification announces a skipped or missed scheduled time.
func (w *writer) cronSkipNotification(cj *api.CronJob, d *api.CronDecision) {
	event, reason := api.EventCronJobSkipped, "JobAlreadyActive"
	msg := "concurrencyPolicy Forbid and an earlier Job still runs"
	switch d.GetAction() {
	case "JobAlreadyActive":
	case "MissSchedule":
		event, reason, msg = api.EventCronJobMissed, "MissSchedule", "later than startingDeadlineSeconds allows"
	default:
		return
	}
	if !api.Notifies(cj.GetMetadata().GetAnnotations(), event) {
		return
	}
	scheduled := d.GetScheduledTime().AsTime()
	w.notify(&api.Notification{
		Id:    fmt.Sprintf("%s/%s/%d", event, cj.GetMetadata().GetUid(), scheduled.Unix()),
		Event: event, Namespace: api.NamespaceOf(cj.GetMetadata()), Kind: "CronJob", Name: cj.GetMetadata().GetName(),
		Reason: reason, Message: msg, Time: d.GetDecidedAt(),
		Details: map[string]string{"scheduledTime": scheduled.UTC().Format("2006-01-02T15:04:05Z")},
	})
}

// nodeNotReadyNotification announces a node whose Ready condition left
// True.
func (w *writer) nodeNotReadyNotification(old, node *api.Node) {
	if !nodeReady(old) || nodeReady(node) {
		return
	}
	var c *api.NodeCondition
	for _, x := range node.GetStatus().GetConditions() {
		if x.GetType() == "Ready" {
			c = x
		}
	}
	at := c.GetLastTransitionTime()
	when := fmt.Sprintf("i%d", w.index) // no transition time: the entry's index
	if at != nil {
		when = fmt.Sprint(at.AsTime().Unix())
	}
	// The pods bound to it and not finished: those the node's loss hits.
	var pods []string
	for _, p := range all[*api.Pod](w.txn, tablePods, "node", node.GetMetadata().GetName()) {
		if !api.IsPodTerminal(p) {
			pods = append(pods, api.NamespaceOf(p.GetMetadata())+"/"+p.GetMetadata().GetName())
		}
	}
	sort.Strings(pods)
	msg := c.GetMessage()
	if msg != "" {
		msg += "; "
	}
	var details map[string]string
	switch len(pods) {
	case 0:
		msg += "no pods were running on it"
	case 1:
		msg += "1 pod was running on it"
	default:
		msg += fmt.Sprintf("%d pods were running on it", len(pods))
	}
	if len(pods) > 0 {
		details = map[string]string{"pods": notifiedPods(pods)}
	}
	w.notify(&api.Notification{
		Id:    fmt.Sprintf("%s/%s/%s", api.EventNodeNotReady, node.GetMetadata().GetName(), when),
		Event: api.EventNodeNotReady, Kind: "Node", Name: node.GetMetadata().GetName(),
		Reason: c.GetReason(), Message: msg, Time: at,
		Details: details,
	})
}

// notifiedPods joins the first maxNotifiedPods names with commas and says
// how many more there are.
func notifiedPods(names []string) string {
	if len(names) <= maxNotifiedPods {
		return strings.Join(names, ",")
	}
	return strings.Join(names[:maxNotifiedPods], ",") + fmt.Sprintf(",... and %d more", len(names)-maxNotifiedPods)
}

func nodeReady(n *api.Node) bool {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == api.ConditionTrue
		}
	}
	return false
}

// Notifications lists the outbox, newest first.
func (s *State) Notifications() []*api.Notification {
	out := all[*api.Notification](s.txn, tableNotifications, "id")
	sort.SliceStable(out, func(i, j int) bool { return out[i].GetIndex() > out[j].GetIndex() })
	return out
}

// NotificationsWithPrefix lists the notifications whose id starts with
// prefix, by id.
func (s *State) NotificationsWithPrefix(prefix string) []*api.Notification {
	return all[*api.Notification](s.txn, tableNotifications, "id_prefix", prefix)
}

package fsm

import (
	"errors"
	"fmt"
	"time"

	"github.com/jobcluster/jobcluster/api"
)

// Events are bounded, as in Kubernetes: per object, in age and in number;
// the oldest go first.
const (
	maxEventsPerObject = 64
	maxEvents          = 20000
	eventTTL           = time.Hour
)

func (w *writer) applyUpsertNode(c *api.UpsertNode) error {
	node := clone(c.GetNode())
	if unnamed(node) {
		return fmt.Errorf("upsert node: %w", errNoName)
	}
	old := first[*api.Node](w.txn, tableNodes, "id", node.GetMetadata().GetName())
	if old != nil {
		node.Metadata.CreationTimestamp = old.GetMetadata().GetCreationTimestamp()
		node.Metadata.Uid = old.GetMetadata().GetUid()
	}
	w.insert(tableNodes, node)
	if old != nil {
		w.nodeNotReadyNotification(old, node)
	}
	return nil
}

func (w *writer) applyDeleteNode(c *api.DeleteNode) error {
	node := first[*api.Node](w.txn, tableNodes, "id", c.GetName())
	if node == nil {
		return fmt.Errorf("node %q: %w", c.GetName(), ErrNotFound)
	}
	w.removeEvents("Node", "", c.GetName())
	w.remove(tableNodes, node)
	return nil
}

// applyRecordEvents stores events. An event with the name of a stored one
// updates its count and last timestamp, as Kubernetes aggregates repeats;
// one no later than the stored one is a repeat of the command and ignored.
func (w *writer) applyRecordEvents(c *api.RecordEvents) error {
	touched := map[string]bool{}
	var order []string
	var errs []error
	var newest time.Time
	for _, e := range c.GetEvents() {
		ev := keep(w, e)
		if unnamed(ev) {
			errs = append(errs, fmt.Errorf("record event: %w", errNoName))
			continue
		}
		if old := first[*api.Event](w.txn, tableEvents, "id", ev.GetMetadata().GetName()); old != nil {
			// An occurrence no later than the stored one was counted
			// already: the command is applied a second time.
			if !ev.GetLastTimestamp().AsTime().After(old.GetLastTimestamp().AsTime()) {
				continue
			}
			ev.FirstTimestamp = old.GetFirstTimestamp()
			ev.Count = old.GetCount() + max(ev.GetCount(), 1)
		} else {
			w.events++
		}
		w.insert(tableEvents, ev)
		if ts := ev.GetLastTimestamp().AsTime(); ts.After(newest) {
			newest = ts
		}
		ref := ev.GetInvolvedObject()
		key := involvedKey(ref.GetKind(), ref.GetNamespace(), ref.GetName())
		if !touched[key] {
			touched[key] = true
			order = append(order, key)
		}
	}
	for _, key := range order {
		evs := all[*api.Event](w.txn, tableEvents, "involved", key)
		if len(evs) <= maxEventsPerObject {
			continue
		}
		sortEvents(evs)
		for _, old := range evs[:len(evs)-maxEventsPerObject] {
			w.removeEvent(old)
		}
	}
	w.trimEvents(newest.Add(-eventTTL))
	return errors.Join(errs...)
}

// trimEvents drops events last seen before cutoff, and the oldest ones
// while more than maxEvents are kept. The cutoff comes from the command's
// own timestamps, so every replica drops the same ones.
func (w *writer) trimEvents(cutoff time.Time) {
	it, err := w.txn.Get(tableEvents, "time")
	if err != nil {
		panic(err)
	}
	var drop []*api.Event
	excess := w.events - maxEvents
	for o := it.Next(); o != nil; o = it.Next() {
		ev := o.(*api.Event)
		if len(drop) >= excess && !ev.GetLastTimestamp().AsTime().Before(cutoff) {
			break
		}
		drop = append(drop, ev)
	}
	for _, ev := range drop {
		w.removeEvent(ev)
	}
}

func (w *writer) removeEvent(ev *api.Event) {
	w.remove(tableEvents, ev)
	w.events--
}

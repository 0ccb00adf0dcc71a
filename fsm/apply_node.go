package fsm

import (
	"errors"
	"fmt"

	"github.com/jobcluster/jobcluster/api"
)

// maxEventsPerObject bounds the events kept about one object; the oldest go.
const maxEventsPerObject = 64

func (w *writer) applyUpsertNode(c *api.UpsertNode) error {
	node := clone(c.GetNode())
	if unnamed(node) {
		return fmt.Errorf("upsert node: %w", errNoName)
	}
	if old := first[*api.Node](w.txn, tableNodes, "id", node.GetMetadata().GetName()); old != nil {
		node.Metadata.CreationTimestamp = old.GetMetadata().GetCreationTimestamp()
		node.Metadata.Uid = old.GetMetadata().GetUid()
	}
	w.insert(tableNodes, node)
	return nil
}

func (w *writer) applyDeleteNode(c *api.DeleteNode) error {
	node := first[*api.Node](w.txn, tableNodes, "id", c.GetName())
	if node == nil {
		return fmt.Errorf("node %q: %w", c.GetName(), ErrNotFound)
	}
	w.removeEvents("Node", c.GetName())
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
	for _, e := range c.GetEvents() {
		ev := clone(e)
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
		}
		w.insert(tableEvents, ev)
		key := ev.GetInvolvedObject().GetKind() + "/" + ev.GetInvolvedObject().GetName()
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
			w.remove(tableEvents, old)
		}
	}
	return errors.Join(errs...)
}

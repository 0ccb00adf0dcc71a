package fsm

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/jobcluster/jobcluster/api"
)

// MaxEntryBytes is the hard cap on one Raft log entry. Replicating an entry
// sends it whole to every follower within one RPC and applies it in one
// transaction, so entries must stay small whatever a Job's size: commands
// whose payload is a list (pods, status updates, names, bindings, events)
// are split by Split to fit, and everything else is bounded by the
// admission limits on objects.
const MaxEntryBytes = 4 << 20

// MaxCommandBytes is the size Split cuts list payloads down to, leaving
// room for other commands in the same entry.
const MaxCommandBytes = 1 << 20

// ErrEntryTooLarge means a command cannot fit in one Raft entry even alone.
var ErrEntryTooLarge = fmt.Errorf("command over the Raft entry limit of %d bytes", MaxEntryBytes)

// Split returns c, or when its encoding exceeds limit and its payload is a
// list, commands of the same type carrying consecutive parts of that list,
// each within limit where a single element fits. Applying the parts in
// order has the same effect as applying c: every list command applies its
// elements one by one and re-checks each against the state.
func Split(c *api.Command, limit int) []*api.Command {
	if proto.Size(c) <= limit {
		return []*api.Command{c}
	}
	switch p := c.GetPayload().(type) {
	case *api.Command_CreatePods:
		return splitList(p.CreatePods.GetPods(), limit, func(part []*api.Pod) *api.Command {
			return (&api.CreatePods{Pods: part}).Command()
		})
	case *api.Command_UpdatePodStatus:
		return splitList(p.UpdatePodStatus.GetUpdates(), limit, func(part []*api.PodStatusUpdate) *api.Command {
			return (&api.UpdatePodStatus{Updates: part}).Command()
		})
	case *api.Command_StopPods:
		sp := p.StopPods
		return splitList(sp.GetNames(), limit, func(part []string) *api.Command {
			return (&api.StopPods{Names: part, Reason: sp.GetReason(), Message: sp.GetMessage(), Time: sp.GetTime()}).Command()
		})
	case *api.Command_DeletePods:
		return splitList(p.DeletePods.GetNames(), limit, func(part []string) *api.Command {
			return (&api.DeletePods{Names: part}).Command()
		})
	case *api.Command_BindPods:
		bp := p.BindPods
		return splitList(bp.GetBindings(), limit, func(part []*api.PodBinding) *api.Command {
			return (&api.BindPods{Bindings: part, Time: bp.GetTime()}).Command()
		})
	case *api.Command_RecordEvents:
		return splitList(p.RecordEvents.GetEvents(), limit, func(part []*api.Event) *api.Command {
			return (&api.RecordEvents{Events: part}).Command()
		})
	}
	return []*api.Command{c}
}

// splitList cuts items into runs whose command encodes within limit
// (estimated from the elements' sizes plus a fixed envelope).
func splitList[T any](items []T, limit int, build func([]T) *api.Command) []*api.Command {
	const envelope = 256 // type, shared fields and per-element framing
	var (
		out   []*api.Command
		start int
		size  = envelope
	)
	for i, item := range items {
		n := elementSize(item) + 8
		if i > start && size+n > limit {
			out = append(out, build(items[start:i]))
			start, size = i, envelope
		}
		size += n
	}
	if start < len(items) || len(out) == 0 {
		out = append(out, build(items[start:]))
	}
	return out
}

func elementSize(v any) int {
	switch e := v.(type) {
	case string:
		return len(e)
	case proto.Message:
		return proto.Size(e)
	}
	return 0
}

// SplitAll splits every command of cmds to fit MaxCommandBytes and refuses
// any that still exceeds MaxEntryBytes alone.
func SplitAll(cmds []*api.Command) ([]*api.Command, error) {
	out := make([]*api.Command, 0, len(cmds))
	for _, c := range cmds {
		for _, part := range Split(c, MaxCommandBytes) {
			if size := proto.Size(part); size > MaxEntryBytes-64 {
				return nil, fmt.Errorf("%v command of %d bytes: %w", part.GetType(), size, ErrEntryTooLarge)
			}
			out = append(out, part)
		}
	}
	return out, nil
}

package api

import (
	"testing"
)

// Every payload of the Command oneof has a constructor whose type agrees
// with it, and every command type but INVALID has a payload.
func TestEveryPayloadBuildsACommandOfItsOwnType(t *testing.T) {
	built := []*Command{
		(&UpsertJob{}).Command(), (&DeleteJob{}).Command(), (&UpsertCronJob{}).Command(),
		(&DeleteCronJob{}).Command(), (&CreatePods{}).Command(), (&UpdatePodStatus{}).Command(),
		(&StopPods{}).Command(), (&DeletePods{}).Command(), (&UpdateJobStatus{}).Command(),
		(&UpsertNode{}).Command(), (&DeleteNode{}).Command(), (&RecordEvents{}).Command(),
		(&BindPods{}).Command(), (&CronDecision{}).Command(), (&UpdateCronJobStatus{}).Command(),
		(&UpsertAclPolicy{}).Command(), (&DeleteAclPolicy{}).Command(), (&UpsertAclToken{}).Command(),
		(&DeleteAclToken{}).Command(), (&RecordAudit{}).Command(),
		(&UpsertConfigMap{}).Command(), (&DeleteConfigMap{}).Command(), (&UpsertSecret{}).Command(), (&DeleteSecret{}).Command(),
		(&RecordDeliveries{}).Command(), (&AddNotifications{}).Command(),
	}
	oneof := (&Command{}).ProtoReflect().Descriptor().Oneofs().ByName("payload")
	if len(built) != oneof.Fields().Len() {
		t.Fatalf("%d constructors for %d payloads: add the new payload's Command method", len(built), oneof.Fields().Len())
	}
	types := map[CommandType]bool{}
	for _, c := range built {
		if !c.PayloadMatchesType() {
			t.Errorf("%T.Command() has type %v", c.GetPayload(), c.GetType())
		}
		types[c.GetType()] = true
	}
	for i := 0; i < CommandType_COMMAND_TYPE_UPSERT_JOB.Descriptor().Values().Len(); i++ {
		typ := CommandType(CommandType_COMMAND_TYPE_UPSERT_JOB.Descriptor().Values().Get(i).Number())
		if typ != CommandType_COMMAND_TYPE_INVALID && !types[typ] {
			t.Errorf("command type %v has no payload constructor", typ)
		}
	}
	mismatched := &Command{Type: CommandType_COMMAND_TYPE_DELETE_JOB, Payload: &Command_UpsertJob{UpsertJob: &UpsertJob{}}}
	if mismatched.PayloadMatchesType() {
		t.Error("a DELETE_JOB command carrying an UpsertJob payload was accepted")
	}
}

package api

// Each Raft payload builds its own Command, so a command's type and payload
// cannot disagree: (&api.DeleteJob{Name: n}).Command().

// Command wraps the payload in a Command of type UPSERT_JOB.
func (x *UpsertJob) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPSERT_JOB, Payload: &Command_UpsertJob{UpsertJob: x}}
}

// Command wraps the payload in a Command of type DELETE_JOB.
func (x *DeleteJob) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_DELETE_JOB, Payload: &Command_DeleteJob{DeleteJob: x}}
}

// Command wraps the payload in a Command of type UPSERT_CRON_JOB.
func (x *UpsertCronJob) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPSERT_CRON_JOB, Payload: &Command_UpsertCronJob{UpsertCronJob: x}}
}

// Command wraps the payload in a Command of type DELETE_CRON_JOB.
func (x *DeleteCronJob) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_DELETE_CRON_JOB, Payload: &Command_DeleteCronJob{DeleteCronJob: x}}
}

// Command wraps the payload in a Command of type CREATE_PODS.
func (x *CreatePods) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_CREATE_PODS, Payload: &Command_CreatePods{CreatePods: x}}
}

// Command wraps the payload in a Command of type UPDATE_POD_STATUS.
func (x *UpdatePodStatus) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPDATE_POD_STATUS, Payload: &Command_UpdatePodStatus{UpdatePodStatus: x}}
}

// Command wraps the payload in a Command of type STOP_PODS.
func (x *StopPods) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_STOP_PODS, Payload: &Command_StopPods{StopPods: x}}
}

// Command wraps the payload in a Command of type DELETE_PODS.
func (x *DeletePods) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_DELETE_PODS, Payload: &Command_DeletePods{DeletePods: x}}
}

// Command wraps the payload in a Command of type UPDATE_JOB_STATUS.
func (x *UpdateJobStatus) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPDATE_JOB_STATUS, Payload: &Command_UpdateJobStatus{UpdateJobStatus: x}}
}

// Command wraps the payload in a Command of type UPSERT_NODE.
func (x *UpsertNode) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPSERT_NODE, Payload: &Command_UpsertNode{UpsertNode: x}}
}

// Command wraps the payload in a Command of type DELETE_NODE.
func (x *DeleteNode) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_DELETE_NODE, Payload: &Command_DeleteNode{DeleteNode: x}}
}

// Command wraps the payload in a Command of type RECORD_EVENTS.
func (x *RecordEvents) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_RECORD_EVENTS, Payload: &Command_RecordEvents{RecordEvents: x}}
}

// Command wraps the payload in a Command of type BIND_PODS.
func (x *BindPods) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_BIND_PODS, Payload: &Command_BindPods{BindPods: x}}
}

// Command wraps the payload in a Command of type CRON_DECISION.
func (x *CronDecision) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_CRON_DECISION, Payload: &Command_CronDecision{CronDecision: x}}
}

// Command wraps the payload in a Command of type UPDATE_CRON_JOB_STATUS.
func (x *UpdateCronJobStatus) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPDATE_CRON_JOB_STATUS, Payload: &Command_UpdateCronJobStatus{UpdateCronJobStatus: x}}
}

// Command wraps the payload in a Command of type UPSERT_ACL_POLICY.
func (x *UpsertAclPolicy) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPSERT_ACL_POLICY, Payload: &Command_UpsertAclPolicy{UpsertAclPolicy: x}}
}

// Command wraps the payload in a Command of type DELETE_ACL_POLICY.
func (x *DeleteAclPolicy) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_DELETE_ACL_POLICY, Payload: &Command_DeleteAclPolicy{DeleteAclPolicy: x}}
}

// Command wraps the payload in a Command of type UPSERT_ACL_TOKEN.
func (x *UpsertAclToken) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPSERT_ACL_TOKEN, Payload: &Command_UpsertAclToken{UpsertAclToken: x}}
}

// Command wraps the payload in a Command of type DELETE_ACL_TOKEN.
func (x *DeleteAclToken) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_DELETE_ACL_TOKEN, Payload: &Command_DeleteAclToken{DeleteAclToken: x}}
}

// Command wraps the payload in a Command of type RECORD_AUDIT.
func (x *RecordAudit) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_RECORD_AUDIT, Payload: &Command_RecordAudit{RecordAudit: x}}
}

// Command wraps the payload in a Command of type UPSERT_CONFIG_MAP.
func (x *UpsertConfigMap) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPSERT_CONFIG_MAP, Payload: &Command_UpsertConfigMap{UpsertConfigMap: x}}
}

// Command wraps the payload in a Command of type DELETE_CONFIG_MAP.
func (x *DeleteConfigMap) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_DELETE_CONFIG_MAP, Payload: &Command_DeleteConfigMap{DeleteConfigMap: x}}
}

// Command wraps the payload in a Command of type UPSERT_SECRET.
func (x *UpsertSecret) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_UPSERT_SECRET, Payload: &Command_UpsertSecret{UpsertSecret: x}}
}

// Command wraps the payload in a Command of type DELETE_SECRET.
func (x *DeleteSecret) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_DELETE_SECRET, Payload: &Command_DeleteSecret{DeleteSecret: x}}
}

// Command wraps the payload in a Command of type RECORD_DELIVERIES.
func (x *RecordDeliveries) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_RECORD_DELIVERIES, Payload: &Command_RecordDeliveries{RecordDeliveries: x}}
}

// Command wraps the payload in a Command of type ADD_NOTIFICATIONS.
func (x *AddNotifications) Command() *Command {
	return &Command{Type: CommandType_COMMAND_TYPE_ADD_NOTIFICATIONS, Payload: &Command_AddNotifications{AddNotifications: x}}
}

// PayloadMatchesType reports whether c's payload is the one its type
// names; the FSM refuses to apply a command where they disagree.
func (c *Command) PayloadMatchesType() bool {
	var want CommandType
	switch c.GetPayload().(type) {
	case *Command_UpsertJob:
		want = CommandType_COMMAND_TYPE_UPSERT_JOB
	case *Command_DeleteJob:
		want = CommandType_COMMAND_TYPE_DELETE_JOB
	case *Command_UpsertCronJob:
		want = CommandType_COMMAND_TYPE_UPSERT_CRON_JOB
	case *Command_DeleteCronJob:
		want = CommandType_COMMAND_TYPE_DELETE_CRON_JOB
	case *Command_CreatePods:
		want = CommandType_COMMAND_TYPE_CREATE_PODS
	case *Command_UpdatePodStatus:
		want = CommandType_COMMAND_TYPE_UPDATE_POD_STATUS
	case *Command_StopPods:
		want = CommandType_COMMAND_TYPE_STOP_PODS
	case *Command_DeletePods:
		want = CommandType_COMMAND_TYPE_DELETE_PODS
	case *Command_UpdateJobStatus:
		want = CommandType_COMMAND_TYPE_UPDATE_JOB_STATUS
	case *Command_UpsertNode:
		want = CommandType_COMMAND_TYPE_UPSERT_NODE
	case *Command_DeleteNode:
		want = CommandType_COMMAND_TYPE_DELETE_NODE
	case *Command_RecordEvents:
		want = CommandType_COMMAND_TYPE_RECORD_EVENTS
	case *Command_BindPods:
		want = CommandType_COMMAND_TYPE_BIND_PODS
	case *Command_CronDecision:
		want = CommandType_COMMAND_TYPE_CRON_DECISION
	case *Command_UpdateCronJobStatus:
		want = CommandType_COMMAND_TYPE_UPDATE_CRON_JOB_STATUS
	case *Command_UpsertAclPolicy:
		want = CommandType_COMMAND_TYPE_UPSERT_ACL_POLICY
	case *Command_DeleteAclPolicy:
		want = CommandType_COMMAND_TYPE_DELETE_ACL_POLICY
	case *Command_UpsertAclToken:
		want = CommandType_COMMAND_TYPE_UPSERT_ACL_TOKEN
	case *Command_DeleteAclToken:
		want = CommandType_COMMAND_TYPE_DELETE_ACL_TOKEN
	case *Command_RecordAudit:
		want = CommandType_COMMAND_TYPE_RECORD_AUDIT
	case *Command_UpsertConfigMap:
		want = CommandType_COMMAND_TYPE_UPSERT_CONFIG_MAP
	case *Command_DeleteConfigMap:
		want = CommandType_COMMAND_TYPE_DELETE_CONFIG_MAP
	case *Command_UpsertSecret:
		want = CommandType_COMMAND_TYPE_UPSERT_SECRET
	case *Command_DeleteSecret:
		want = CommandType_COMMAND_TYPE_DELETE_SECRET
	case *Command_RecordDeliveries:
		want = CommandType_COMMAND_TYPE_RECORD_DELIVERIES
	case *Command_AddNotifications:
		want = CommandType_COMMAND_TYPE_ADD_NOTIFICATIONS
	default:
		return false
	}
	return c.GetType() == want
}

// Package kubeapi serves the subset of the Kubernetes REST API that kubectl
// and client-go need, on a server's HTTP listener.
//
// The handler calls only the gRPC service operations, through an
// api.ControlClient connected to the server's own gRPC address, exactly as
// the web UI does: reads are answered by the server asked, writes are
// forwarded to the leader, and validation is the same as for our CLI. It
// never touches Raft or the FSM.
//
// Conversion between Kubernetes' types and our schema happens at this edge,
// through JSON: our protobuf field JSON names equal Kubernetes', api/encode.go
// writes kubectl-style JSON and api/decode.go decodes it strictly with
// field-path errors. We chose this over adopting k8s.io/api types as our
// schema because the schema stays ours (Raft commands, snapshots and the
// gRPC API keep their protobuf encoding and compatibility rules), because
// fields Kubernetes accepts but we cannot run must be refused with a field
// path rather than silently carried, and because the binary grows only by
// the apimachinery pieces this package imports (metav1 discovery, Status
// and version types) rather than by the full conversion machinery.
package kubeapi

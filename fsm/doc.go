// Package fsm is jobcluster's replicated state machine: the jobs, cronjobs,
// pods, nodes and events every server holds, changed only by typed commands
// that arrive through Raft.
//
// Apply is deterministic: no clock, no randomness, no I/O, no map order in
// results. Times, uids and names travel inside the commands. Every command
// can be applied twice, or arrive from a deposed leader, without breaking a
// Job's invariants: the FSM re-checks them (never more than parallelism
// active, never more than completions succeeded, nothing for a finished Job,
// a finished pod never changes phase again).
//
// Finished Jobs and their finished pods, most of a long-lived store, and
// the Succeeded pods of running Jobs are kept compressed and decoded when
// read (frozen.go); readers see the same objects either way. The job
// controller reads the sum of a running Job's Succeeded pods, kept as
// they succeed (succeeded.go), and walks only its other pods (JobPods).
//
// Secrets can be encrypted at rest (SetKeys, package seal): the leader
// puts a sealed Secret in UpsertSecret.Sealed instead of the Secret, the
// FSM opens it as it applies the entry, and snapshots hold every Secret
// sealed (recordSealedSecret), while the state in memory stays in the
// clear for every reader. Plaintext commands and snapshots written before
// the keys were given are read as ever, and the next snapshot seals what
// they stored. A server that cannot open a sealed entry stops (the failed
// func of SetKeys) rather than apply the log differently from the others.
//
// Adding a command brings, in this order:
//  1. an enum value appended to CommandType in api/jobcluster.proto, and its
//     payload message in the Command oneof (then `make generate`), and the
//     payload's Command method in api/commands.go, the only way a command
//     is built, so its type and payload never disagree;
//  2. an applyXxx method in apply_*.go and its case in FSM.applyCommand;
//  3. an encode/decode round trip and an FSM test of its effects and of
//     applying it twice;
//  4. coverage in the snapshot test if it adds state;
//  5. the proposer in cluster/ that builds it.
package fsm

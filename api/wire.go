package api

// MaxMessageBytes bounds one gRPC answer (a list of every Job, a node's pod
// set): gRPC's default of 4 MiB is too small for tens of thousands of
// objects.
const MaxMessageBytes = 256 << 20

// MaxRequestBytes bounds one gRPC request a server or agent accepts: a
// submit of the largest manifest (MaxManifestBytes) with its defaults
// fits, and nobody can make a server read more.
const MaxRequestBytes = 8 << 20

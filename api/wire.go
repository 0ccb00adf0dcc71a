package api

// MaxMessageBytes bounds one gRPC message between clients, servers and
// agents. gRPC's default of 4 MiB is too small for listing or submitting
// tens of thousands of objects at once.
const MaxMessageBytes = 256 << 20

package transport

import (
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
)

// Encoded is a message already in its wire form. A server's stream may
// send one (grpc.ServerStream.SendMsg) in place of the message it
// encodes: the server's codec passes its bytes on as they are. A stream
// that sends the same objects over and over (an agent's pod set) keeps
// their encodings instead of encoding them again each time.
type Encoded []byte

// codec is gRPC's proto codec, passing Encoded messages through.
type codec struct{ encoding.CodecV2 }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	if e, ok := v.(Encoded); ok {
		return mem.BufferSlice{mem.SliceBuffer(e)}, nil
	}
	return c.CodecV2.Marshal(v)
}

// serverCodec is the codec of every server NewServer builds.
func serverCodec() grpc.ServerOption {
	return grpc.ForceServerCodecV2(codec{encoding.GetCodecV2(proto.Name)})
}

"""gRPC servicers: protobuf in, the core's plain values out, core errors to status codes."""

"""The gRPC edge: a `grpc.aio` server over the same bound RPC methods as the REST gateway."""

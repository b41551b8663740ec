"""The running components of samenloop, one package per service.

`common` holds what every service shares (mTLS, caller identity, authorization, logging,
tracing, the gRPC server bootstrap, database engines); each service package holds only its own
handlers and state.
"""

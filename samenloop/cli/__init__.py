"""The `samenloop` command line: one Typer app, one subcommand group per role."""

# Before any command module imports grpc: its C core reads GRPC_VERBOSITY once, at import, and
# would otherwise write plain-text lines between the JSON log lines (ADR 0016).
from services.common.logging import quiet_grpc_core

quiet_grpc_core()

"""The `samenloop` command line: one Typer app, one subcommand group per role."""

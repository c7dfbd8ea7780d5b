"""The `dataos` command line: one Typer app, one module per group of verbs."""

"""The user-layer library: what the CLI, the shell and the TUI share (output and formats, manifests,
export, completion over a catalog snapshot). It imports none of them, nor Typer, prompt-toolkit or
Textual (an import-linter contract keeps it so), and reaches the kernel only through `syscalls`."""

"""The full-screen TUI (Textual): Operations, Workbench and Atlas, over syscalls only."""

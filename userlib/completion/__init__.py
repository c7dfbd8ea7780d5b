"""Completion split as pgcli splits it: `suggest` says what fits at the cursor, `candidates` which
names match, from the in-memory catalog snapshot of `source`; `commands` is the command tree."""

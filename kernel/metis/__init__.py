"""Metis, the catalog: every dataset behind every depot and every resource of the OS, described,
tracked over time, traced and searchable.

- `model.py`   URNs and aspect names (the vocabulary every other module uses)
- `store.py`   the catalog's own database: entities with versioned aspects, a change log, and a
               rebuildable full-text index (SQLite FTS5) with facets
- `scan.py`    scanners: collections, datasets, columns, row counts and profiles of a depot,
               incremental by fingerprint, within a sampling budget; `pii.py` suggests PII tags
- `lineage.py` column-level lineage of `sql` stack jobs (sqlglot)
- `service.py` the Metis service other services call (the Gateway reads column tags here);
               `syscalls.py` its syscall handlers (`catalog.*`)
"""

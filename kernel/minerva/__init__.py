"""Minerva: query engines. The embedded one is DuckDB, locked down before any user SQL runs."""

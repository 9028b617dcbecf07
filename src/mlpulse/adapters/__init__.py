"""Adapters: the ports implemented over real systems (DuckDB, SQLite, the wall clock)."""

"""Store adapters: DuckDB for events (columnar, one writer), SQLite for metadata."""

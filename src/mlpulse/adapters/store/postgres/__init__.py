"""Every storage port on PostgreSQL 15 (psycopg 3): the store a cluster of replicas shares.

``backend.PostgresBackend(url, settings)`` builds them all on one connection pool
(``database.Database``), whose schema is created by numbered forward migrations.
"""

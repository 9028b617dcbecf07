"""``POST /v1/ingest``: decode, validate, store durably, acknowledge."""

"""Adapters to model registries teams already keep (MLflow)."""

"""OTLP/HTTP intake: spans that describe inferences become prediction events."""

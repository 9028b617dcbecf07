"""Exporters: what mlpulse writes for other tools and for people (HTML reports)."""

"""Demo scenarios: simulated traffic through the real SDK into a real collector."""

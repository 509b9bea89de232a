"""Benchmarks: ``python -m lamer.bench NAME [--json]``; each prints one JSON object last."""

"""Benchmarks of newsmon: ``make bench`` runs them all and rewrites BENCHMARKS.md (see benchmarks/__main__.py)."""

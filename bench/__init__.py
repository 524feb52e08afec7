"""Benchmarks (not run as tests). `python -m bench.engine --help` for the engine benchmark."""

"""Benchmarks, next to PyTorch CPU: `python -m benchmarks` (or `python benchmarks/run.py`)."""

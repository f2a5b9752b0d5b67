"""Benchmarks, next to PyTorch CPU: `python -m benchmarks` (or `python benchmarks/run.py`); the
cold-start report: `python -m benchmarks coldstart`."""

"""The dev-only test kit that `tests/` and `bench/` share, so neither imports the other.

Process and port helpers, the reference renderer, the OpenAI expected-value tables and the fault
soak scenario. Not shipped (the wheel holds `exporter` alone); importable from the repository
root. Nothing here imports pytest: `python -m bench.soak` runs without it.
"""

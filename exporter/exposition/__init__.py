"""The snapshot stage: a ledger's samples and the self-metrics rendered once per change into the
bytes `/metrics` serves (`render.py`), and the same declarations written out as the metric
reference pages (`reference.py`, `make docs`)."""

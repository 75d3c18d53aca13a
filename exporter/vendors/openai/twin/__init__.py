"""The OpenAI organization Usage & Costs API, as the simulator speaks it: a catalogue of the
API (catalogue.py, independent of the exporter's tables on purpose), the generated usage
(usage.py), the HTTP protocol (protocol.py) and the ground truth (ground_truth.py). routes.py
mounts them on the simulator's frame.
"""

from __future__ import annotations

# the names admin_twin.py (the names and limits) takes from here
from exporter.vendors.openai.twin.protocol import authorize, error

__all__ = ["authorize", "error"]

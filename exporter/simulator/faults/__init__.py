"""Faults the simulator injects into the twins' answers, one idea a module: the vocabulary
(`kinds.py`), random faults (`chaos.py`), the injector that decides which call meets which fault
(`injector.py`), the answer a fault makes (`respond.py`) and the JSON rewrites of body faults
(`rewrite.py`). What a twin hands the frame (`Shape`, `Reviser`) is in simulator/twin.py."""

from exporter.simulator.faults.chaos import CARDS, Card, Chaos
from exporter.simulator.faults.injector import FaultInjector
from exporter.simulator.faults.kinds import KINDS, VARIANTS, Fault

__all__ = ["CARDS", "KINDS", "VARIANTS", "Card", "Chaos", "Fault", "FaultInjector"]

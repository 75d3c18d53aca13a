"""A state file with OpenAI cost history written through the ledger directly: two months, a
revision after the first one closed (a Correction), quantities, and a project name that is not
ASCII. For the dataset's own tests and the validator's run on a file with corrections."""

from __future__ import annotations

import time
from pathlib import Path

from exporter.ledger import Ledger
from exporter.model import Flow, Level, Stream, StreamRead, month_start
from exporter.vendors import plugin

# The current UTC month and the one before (the files must be inside the retention whenever the
# tests run): "NOV" closes, "DEC" observes the revision.
DEC = month_start(int(time.time()))
NOV = month_start(DEC - 1)
DAY = 86400
COSTS = Stream("costs", DAY, 2 * DAY, 40 * DAY, month_origin=True)
NAMES = Stream("projects", 0, 0, 0, every=60)
TARGET = "synthetic"
# (project_id, line_item, quantity_unit) -> price per unit in micro-dollars
ITEMS = {
    ("proj_a", "gpt-4o-mini, input", "1000_tokens"): 150,
    ("proj_a", "web search tool calls", "calls"): 10_000,
    ("proj_b", "gpt-4.1, input", "tokens"): 2,
}


def _cost_labels(project: str, item: str) -> tuple[str, ...]:
    return (project, item, "key_1", "", "")


def flows(day: int, scale: int) -> list[Flow]:
    out = []
    for (project, item, unit), micro in ITEMS.items():
        quantity = (day // DAY % 7 + 1) * scale
        cost = float(f"{quantity * micro / 1_000_000:.6f}")  # as the API's decimal string
        labels = _cost_labels(project, item)
        out.append(Flow("openai_cost_usd_total", labels, day, day + DAY, cost))
        out.append(
            Flow("openai_cost_quantity_total", (*labels, unit), day, day + DAY, float(quantity))
        )
    return out


def read(start: int, end: int, revised: int = -1) -> StreamRead:
    """Every day of [start, end); the day `revised` with 10 % more usage."""
    days = range(start, end, DAY)
    return StreamRead(
        "costs", start, end, [f for d in days for f in flows(d, 1100 if d == revised else 1000)]
    )


def names() -> StreamRead:
    return StreamRead(
        "projects",
        0,
        0,
        levels=[
            Level("openai_project_info", ("proj_a", "R\u00e9cherche", "active"), 1.0),
            Level("openai_project_info", ("proj_b", "Ops", "active"), 1.0),
        ],
    )


def month_text(start: int) -> str:
    return time.strftime("%Y-%m", time.gmtime(start))


def build(state: Path) -> Ledger:
    """The earlier month read day by day before each day ends; on the 3rd of the current one,
    its last day read again with more usage (late data after its month closed) and the
    current month's first days."""
    ledger = Ledger(state, clock=lambda: float(DEC + 3 * DAY))
    ledger.declare(TARGET, plugin("openai").families)
    ledger.commit(TARGET, NOV + 5, [(NAMES, names())])
    for day in range(NOV, DEC, DAY):
        ledger.commit(TARGET, day + DAY - 600, [(COSTS, read(max(NOV, day - DAY), day + DAY))])
    ledger.commit(TARGET, DEC + 3 * DAY, [(COSTS, read(DEC - DAY, DEC + 3 * DAY, DEC - DAY))])
    return ledger

"""Every registered vendor, from the registry: complete (twin, expected values, dashboard, docs,
demo target) and exact against its twin's ground truth over loopback."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from exporter.plugin import Plugin
from exporter.vendors import REGISTRY
from tests.vendor_checks import against_twin, missing


@pytest.mark.parametrize("plugin", list(REGISTRY), ids=lambda p: p.kind)
def test_every_vendor_has_every_piece(plugin: Plugin[Any]) -> None:
    assert missing(plugin) == []


DEMO_TARGETS = [(p, i) for p in REGISTRY for i in range(len(p.demo.sources))]


@pytest.mark.parametrize(
    ("plugin", "target"),
    DEMO_TARGETS,
    ids=[str(p.demo.sources[i].get("name", f"{p.kind}-{i}")) for p, i in DEMO_TARGETS],
)
def test_every_demo_target_counts_exactly_its_twins_truth(
    plugin: Plugin[Any], target: int, tmp_path: Path
) -> None:
    got, truth = against_twin(plugin, tmp_path, target)
    truth = {k: v for k, v in truth.items() if v != 0}
    assert len(truth) >= 3, truth
    wrong = [
        f"{k}: exporter {got.get(k)}, truth {v}"
        for k, v in truth.items()
        if not math.isclose(got.get(k, -1.0), v, rel_tol=1e-9, abs_tol=1e-9)
    ]
    extra = [k for k, v in got.items() if k not in truth and v != 0]
    assert not wrong and not extra, (wrong[:10], extra[:10])

"""Installs the sixth vendor the way a third party would ship one: a distribution whose metadata
declares the entry point `usage_exporter.vendors: tally = tests.sixth_vendor:PLUGIN`. Only the
metadata is written (a `.dist-info` folder on `PYTHONPATH`); the code is this repository's."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def dist_info(site: Path, entry_points: str, name: str = "tally_plugin") -> Path:
    """A `<name>-0.1.dist-info` in `site` declaring `entry_points` (the file's text)."""
    info = site / f"{name}-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(entry_points)
    return info


def install(site: Path) -> str:
    """Declare the sixth vendor in `site`; the `PYTHONPATH` a child process needs to see it."""
    dist_info(site, "[usage_exporter.vendors]\ntally = tests.sixth_vendor:PLUGIN\n")
    return os.pathsep.join([str(site), str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )

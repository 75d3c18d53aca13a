"""CONTRIBUTING.md's "Adding an upstream" checklist stays true: for every registered vendor, every
file the checklist names exists (paths with `<kind>` are the vendor's own)."""

from __future__ import annotations

import re
from pathlib import Path

from exporter.vendors import kinds

ROOT = Path(__file__).resolve().parents[2]


def checklist() -> list[str]:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("## Adding an upstream", 1)[1].split("\n## ", 1)[0]
    files: list[str] = []
    for line in re.findall(r"^- (.+?): ", section, re.M):  # a bullet's files, before its colon
        files += re.findall(r"`([\w./<>-]+\.(?:py|json|md|yaml))`", line)
    return files


def test_the_checklist_names_the_plugin_files() -> None:
    files = checklist()
    assert "exporter/vendors/<kind>/__init__.py" in files
    assert "exporter/vendors/__init__.py" in files
    assert len(files) >= 15


def present(path: Path) -> bool:
    """A module `x.py` may also be a package `x/` (a vendor's twin split into files)."""
    return path.is_file() or (
        path.suffix == ".py" and (path.with_suffix("") / "__init__.py").is_file()
    )


def test_every_registered_vendor_has_every_file_of_the_checklist() -> None:
    absent = [
        path.replace("<kind>", kind)
        for kind in kinds()
        for path in checklist()
        if not present(ROOT / path.replace("<kind>", kind))
    ]
    assert absent == []

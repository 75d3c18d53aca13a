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


def test_a_vendor_needs_no_end_to_end_test_file_of_its_own() -> None:
    """The registry-parametrised end-to-end test covers every vendor: the checklist names it,
    and no per-vendor file under tests/e2e/."""
    assert not [f for f in checklist() if f.startswith("tests/e2e/")]
    section = (
        (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8").split("## Adding an upstream")[1]
    )
    assert "`tests/e2e/test_prometheus_vendors.py`" in section
    assert (ROOT / "tests" / "e2e" / "test_prometheus_vendors.py").is_file()
    e2e = ROOT / "tests" / "e2e"
    assert [k for k in kinds() if (e2e / f"test_prometheus_{k}.py").exists()] == []


def test_every_registered_vendor_has_every_file_of_the_checklist() -> None:
    absent = [
        path.replace("<kind>", kind)
        for kind in kinds()
        for path in checklist()
        if not present(ROOT / path.replace("<kind>", kind))
    ]
    assert absent == []

"""The registry is the one place in the exporter that lists the vendors: a core module that names
two of them (even in a comment) has started to know about vendors again."""

from __future__ import annotations

from pathlib import Path

from exporter.vendors import kinds

PACKAGE = Path(__file__).resolve().parents[2] / "exporter"


def vendors_named(path: Path) -> set[str]:
    text = path.read_text(encoding="utf-8").lower()
    return {kind for kind in kinds() if kind.lower() in text}


def test_only_the_registry_names_two_or_more_vendors() -> None:
    assert len(kinds()) >= 2
    naming_several = {
        str(path.relative_to(PACKAGE.parent)): sorted(vendors_named(path))
        for path in sorted(PACKAGE.rglob("*.py"))
        if len(vendors_named(path)) >= 2
    }
    assert naming_several == {"exporter/vendors/__init__.py": sorted(kinds())}


def test_a_vendor_package_names_only_its_own_vendor() -> None:
    for kind in kinds():
        for path in (PACKAGE / "vendors" / kind).rglob("*.py"):
            assert vendors_named(path) <= {kind}, path

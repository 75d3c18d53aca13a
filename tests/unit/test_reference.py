"""docs/metrics.md is generated from the metric tables; it must match them."""

from pathlib import Path

from exporter.reference import reference
from exporter.vendors import plugins

DOC = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def test_metrics_reference_is_in_sync_with_the_code() -> None:
    assert DOC.read_text() == reference(), "run `make docs` to regenerate docs/metrics.md"


def test_every_declared_family_is_documented() -> None:
    text = DOC.read_text()
    for kind in plugins():
        for family in kind.families:
            assert f"`{family.name}`" in text

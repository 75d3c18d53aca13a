"""The metrics reference (docs/metrics.md and docs/metrics/*.md) is generated from the metric
tables; it must match them, page for page."""

from pathlib import Path

from exporter.exposition.reference import pages
from exporter.selfmetrics import SELF_FAMILIES
from exporter.vendors import plugins

ROOT = Path(__file__).resolve().parents[3]


def test_metrics_reference_is_in_sync_with_the_code() -> None:
    generated = pages()
    for path, text in generated.items():
        assert (ROOT / path).read_text() == text, f"run `make docs` to regenerate {path}"
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs" / "metrics").glob("*.md")}
    assert on_disk == {p for p in generated if p.startswith("docs/metrics/")}


def test_every_declared_family_is_documented_on_its_page() -> None:
    for vendor in plugins():
        text = (ROOT / "docs" / "metrics" / f"{vendor.kind}.md").read_text()
        assert text.startswith(f"# `{vendor.kind}`: {vendor.title}\n")
        for family in vendor.families:
            assert f"| `{family.name}` |" in text
        assert "```promql" in text  # example queries
    text = (ROOT / "docs" / "metrics" / "usage_exporter.md").read_text()
    for family in SELF_FAMILIES:
        assert f"| `{family.name}` |" in text

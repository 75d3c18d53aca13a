"""docs/architecture.md describes the code as it is: every module of the core is on the map,
every path it names exists, every registered vendor is one folder it names, and it points at no
document outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

from exporter.vendors import kinds

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"


def named_paths(text: str) -> set[str]:
    """Every backticked `exporter/...` path in the text (folders end in `/`)."""
    return set(re.findall(r"`(exporter/[\w/.<>]*)`", text))


def core_modules() -> set[str]:
    """The core's modules: `exporter/*.py` and the modules of its sub-packages, vendors aside."""
    out = set()
    for path in (ROOT / "exporter").rglob("*.py"):
        relative = path.relative_to(ROOT).as_posix()
        if path.name in {"__init__.py", "__main__.py"} or relative.startswith("exporter/vendors/"):
            continue
        out.add(relative)
    return out


def test_every_core_module_is_on_the_map() -> None:
    text = DOC.read_text(encoding="utf-8")
    named = named_paths(text)
    folders = {p for p in named if p.endswith("/")}
    unnamed = sorted(
        m for m in core_modules() if m not in named and not any(m.startswith(f) for f in folders)
    )
    assert unnamed == [], f"modules missing from docs/architecture.md: {unnamed}"


def test_every_path_it_names_exists() -> None:
    text = DOC.read_text(encoding="utf-8")
    absent = sorted(
        p for p in named_paths(text) if "<kind>" not in p and not (ROOT / p.rstrip("/")).exists()
    )
    assert absent == []


def test_every_vendor_is_one_folder_it_names() -> None:
    named = named_paths(DOC.read_text(encoding="utf-8"))
    assert "exporter/vendors/__init__.py" in named
    for kind in kinds():
        assert f"exporter/vendors/{kind}/" in named, kind
        assert (ROOT / "exporter" / "vendors" / kind / "__init__.py").is_file()


def test_the_path_and_the_ledger_semantics_are_there() -> None:
    text = DOC.read_text(encoding="utf-8")
    headings = re.findall(r"^## (.+)$", text, re.M)
    assert headings[:2] == ["The one-way path", "The ledger's counter semantics"]
    assert "How to add an upstream" in headings
    assert "Where the code departs from the original design" in headings
    for box in ("config", "source", "observations", "ledger", "snapshot", "HTTP"):
        assert re.search(rf"^\| {box}\b", text, re.M | re.I), box


def test_the_words_name_real_config_keys() -> None:
    """The "Words" table's config column names keys that exist (in the top level, `web`, or a
    source of some kind); a key it gives as renamed ("was `old:`") is in RENAMED_KEYS."""
    from exporter.config.load import RENAMED_KEYS, schema
    from exporter.vendors import plugins

    text = DOC.read_text(encoding="utf-8")
    section = text.split("## Words", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in section.splitlines() if line.startswith("| ")][2:]
    assert len(rows) >= 15
    known = set(schema().model_fields)
    for vendor in plugins():
        known |= set(vendor.config_model.model_fields)
    renamed = {r.old: r.new for r in RENAMED_KEYS}
    for row in rows:
        config = row[-1]
        for old in re.findall(r"was `(\w+):`", config):
            assert old in renamed, old
            config = config.replace(f"`{old}:`", "")
        for key in re.findall(r"`(\w+):`", config):
            assert key in known, (row[0], key)


def test_no_document_points_outside_the_repository() -> None:
    """Docs may say how committed data was derived from `../shared` (the spec-data script), but
    never send a reader there to understand the code."""
    for path in [ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").glob("*.md")]:
        for line in path.read_text(encoding="utf-8").splitlines():
            if "../shared" in line:
                assert "spec" in line, f"{path.name}: {line}"

"""tests/unit mirrors the package: every folder of it is a package of `exporter/` (the test of
`exporter/<package>/<module>.py` is `tests/unit/<package>/test_<module>.py`), and every folder of
tests is a package itself, so that two `test_source.py` of two vendors are two modules."""

from __future__ import annotations

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
PACKAGE = TESTS.parent / "exporter"


def folders(root: Path) -> list[Path]:
    return [p for p in sorted(root.rglob("*")) if p.is_dir() and p.name != "__pycache__"]


def test_every_folder_of_the_unit_tests_is_a_package_of_the_exporter() -> None:
    unit = TESTS / "unit"
    assert folders(unit), "tests/unit has no folder: it does not mirror the package"
    mirrorless = [
        str(folder.relative_to(TESTS))
        for folder in folders(unit)
        if not (PACKAGE / folder.relative_to(unit) / "__init__.py").is_file()
    ]
    assert mirrorless == []


def test_every_folder_of_tests_is_a_package() -> None:
    with_tests = {path.parent for path in TESTS.rglob("test_*.py")}
    without_init = [
        str(folder.relative_to(TESTS))
        for folder in sorted(with_tests)
        if not (folder / "__init__.py").is_file()
    ]
    assert without_init == []
